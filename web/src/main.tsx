import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { AdminPage } from './pages/admin.js';
import { DeploymentPage } from './pages/deployment.js';
import { DeploymentsPage } from './pages/deployments.js';
import { ComparePage } from './pages/compare.js';
import { ImportPage } from './pages/import.js';
import { ModelPage } from './pages/model.js';
import { ModelsPage } from './pages/models.js';
import { SignIn } from './pages/signin.js';
import { TrainPage } from './pages/train.js';
import { TryPage } from './pages/try.js';
import { UploadsPage } from './pages/uploads.js';
import { match, navigate, useLocation } from './router.js';
import { can, type Session } from './session.js';
import { Link, Page } from './ui.js';

function Nav(props: { session: Session; path: string; onSignOut: () => void }) {
  const s = props.session;
  const items: Array<[string, string, boolean]> = [
    ['/models', 'Models', can.models(s)],
    ['/deployments', 'Deployments', can.models(s)],
    ['/uploads', 'Uploads', can.models(s)],
    ['/try', 'Try it', can.predict(s)],
    ['/admin', 'Admin', can.admin(s)],
  ];
  return (
    <header class="topbar">
      <Link class="brand" to="/">
        modeld
      </Link>
      <nav aria-label="Main">
        {items
          .filter(([, , shown]) => shown)
          .map(([to, label]) => (
            <Link key={to} to={to} aria-current={props.path.startsWith(to) ? 'page' : undefined}>
              {label}
            </Link>
          ))}
      </nav>
      <div class="who">
        <span class="muted" title={`client ${s.clientId}`}>
          customer <code data-testid="customer">{s.customerId.slice(0, 8)}</code>
        </span>
        <button type="button" onClick={props.onSignOut} data-testid="sign-out">
          Sign out
        </button>
      </div>
    </header>
  );
}

function Routes(props: { session: Session; path: string; query: URLSearchParams }) {
  const { session, path, query } = props;
  let m: Record<string, string> | null;
  if (path === '/' || path === '') {
    return <Redirect to={can.models(session) ? '/models' : can.predict(session) ? '/try' : '/admin'} />;
  }
  if (match('/models', path)) return <ModelsPage session={session} />;
  if (match('/models/import', path)) return <ImportPage session={session} />;
  if (match('/models/train', path)) return <TrainPage session={session} />;
  if (match('/models/compare', path)) return <ComparePage session={session} a={query.get('a') ?? ''} b={query.get('b') ?? ''} />;
  if ((m = match('/models/:id', path))) return <ModelPage session={session} id={m.id!} />;
  if (match('/deployments', path)) return <DeploymentsPage session={session} />;
  if ((m = match('/deployments/:id', path))) return <DeploymentPage session={session} id={m.id!} />;
  if (match('/uploads', path)) return <UploadsPage session={session} />;
  if (match('/try', path)) return <TryPage session={session} initialModel={query.get('model') ?? ''} />;
  if (match('/admin', path)) return <AdminPage session={session} />;
  return (
    <Page title="Not found">
      <p>
        No console page at <code>{path}</code>. <Link to="/models">Go to the models</Link>.
      </p>
    </Page>
  );
}

function Redirect(props: { to: string }) {
  useEffect(() => navigate(props.to, { replace: true }), [props.to]);
  return null;
}

function App() {
  const [session, setSession] = useState<Session | null>(null);
  const loc = useLocation();
  if (!session) return <SignIn onSignedIn={setSession} />;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Nav
        session={session}
        path={loc.path}
        onSignOut={() => {
          setSession(null);
          navigate('/', { replace: true });
        }}
      />
      <main id="main" tabIndex={-1}>
        <Routes session={session} path={loc.path} query={loc.query} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
