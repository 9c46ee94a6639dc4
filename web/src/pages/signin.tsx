import { useState } from 'preact/hooks';
import { signIn, type Session } from '../session.js';
import { ErrorBox, Field, valueOf } from '../ui.js';

/**
 * Sign-in with an API client's id and secret: the console asks modeld's token endpoint for a
 * token (client credentials). The secret stays in this page's memory only (to renew the token);
 * nothing is written to a cookie or storage.
 */
export function SignIn(props: { onSignedIn: (s: Session) => void }) {
  const [clientId, setClientId] = useState('');
  const [secret, setSecret] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      props.onSignedIn(await signIn(window.location.origin, clientId.trim(), secret));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  document.title = 'Sign in · modeld console';
  return (
    <main class="signin" id="main">
      <form onSubmit={(e) => void submit(e)} class="card" aria-labelledby="signin-title">
        <h1 id="signin-title">modeld console</h1>
        <p class="muted">Sign in with an API client of your customer (its id and secret). An admin client also manages customers and clients.</p>
        <Field id="client-id" label="Client id">
          <input id="client-id" name="clientId" autoComplete="username" required value={clientId} onInput={(e) => setClientId(valueOf(e))} autoFocus />
        </Field>
        <Field id="client-secret" label="Client secret">
          <input id="client-secret" name="clientSecret" type="password" autoComplete="current-password" required value={secret} onInput={(e) => setSecret(valueOf(e))} />
        </Field>
        <ErrorBox error={error} title="Sign-in failed" />
        <button type="submit" class="primary" disabled={busy || !clientId || !secret}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p class="muted small">The secret is kept in this tab's memory only; reloading the page or signing out forgets it.</p>
      </form>
    </main>
  );
}
