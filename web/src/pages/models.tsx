import { useState } from 'preact/hooks';
import type { Model } from '../../../src/client/index.js';
import { navigate } from '../router.js';
import type { Session } from '../session.js';
import { ErrorBox, Link, Loading, Page, StateBadge, fmtTime, useAsync, valueOf } from '../ui.js';

const PRETRAINED = 'pre-trained (shared)';

/** M1 as a table: pre-trained and custom models, filtered and searched in the page; pick two to compare. */
export function ModelsPage(props: { session: Session }) {
  const { client } = props.session;
  const models = useAsync((signal) => client.listModels({ signal }), [], 5000);
  const [q, setQ] = useState('');
  const [category, setCategory] = useState('all');
  const [state, setState] = useState('all');
  const [type, setType] = useState('all');
  const [picked, setPicked] = useState<string[]>([]);

  const all = models.data ?? [];
  const types = [...new Set(all.map((m) => m.modelType))].sort();
  const states = [...new Set(all.map((m) => m.state ?? 'AVAILABLE'))].sort();
  const needle = q.trim().toLowerCase();
  const shown = all.filter(
    (m) =>
      (category === 'all' || (category === 'pretrained') === (m.category === PRETRAINED)) &&
      (state === 'all' || (m.state ?? 'AVAILABLE') === state) &&
      (type === 'all' || m.modelType === type) &&
      (needle === '' || `${m.name} ${m.id} ${m.description ?? ''}`.toLowerCase().includes(needle)),
  );
  const toggle = (id: string) => setPicked((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p.slice(-1), id]));

  return (
    <Page
      title="Models"
      subtitle="Pre-trained models first, then your custom models (trained or imported)."
      actions={
        <>
          <button type="button" onClick={() => navigate('/models/import')}>
            Import a model
          </button>
          <button type="button" class="primary" onClick={() => navigate('/models/train')}>
            Train a model
          </button>
        </>
      }
    >
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Search
          <input type="search" placeholder="name, id or description" value={q} onInput={(e) => setQ(valueOf(e))} data-testid="model-search" />
        </label>
        <label>
          Category
          <select value={category} onChange={(e) => setCategory(valueOf(e))}>
            <option value="all">all</option>
            <option value="pretrained">pre-trained</option>
            <option value="custom">custom</option>
          </select>
        </label>
        <label>
          State
          <select value={state} onChange={(e) => setState(valueOf(e))}>
            <option value="all">all</option>
            {states.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Type
          <select value={type} onChange={(e) => setType(valueOf(e))}>
            <option value="all">all</option>
            {types.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <button
          type="button"
          disabled={picked.length !== 2}
          onClick={() => navigate(`/models/compare?a=${encodeURIComponent(picked[0]!)}&b=${encodeURIComponent(picked[1]!)}`)}
          title="Tick two models to compare them"
        >
          Compare {picked.length}/2
        </button>
      </form>
      <ErrorBox error={models.error} />
      {models.loading && !models.data ? (
        <Loading what="models" />
      ) : (
        <div class="table-wrap">
          <table data-testid="models-table">
            <thead>
              <tr>
                <th scope="col">
                  <span class="sr-only">Compare</span>
                </th>
                <th scope="col">Name</th>
                <th scope="col">State</th>
                <th scope="col">Type</th>
                <th scope="col">Category</th>
                <th scope="col" class="num">
                  Vector size
                </th>
                <th scope="col">Training started</th>
                <th scope="col">Deployments</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((m: Model) => (
                <tr key={m.id}>
                  <td>
                    <input type="checkbox" aria-label={`compare ${m.name}`} checked={picked.includes(m.id)} onChange={() => toggle(m.id)} />
                  </td>
                  <td>
                    <Link to={`/models/${encodeURIComponent(m.id)}`}>{m.name}</Link>
                    {m.name !== m.id && <div class="muted small mono id-line">{m.id}</div>}
                  </td>
                  <td>
                    <StateBadge state={m.state ?? 'AVAILABLE'} />
                    {m.state === 'TRAINING' && m.trainingProgress?.epoch !== undefined && (
                      <span class="muted small">
                        {' '}
                        epoch {m.trainingProgress.epoch}/{m.trainingProgress.numEpochs}
                      </span>
                    )}
                  </td>
                  <td>{m.modelType}</td>
                  <td>{m.category === PRETRAINED ? 'pre-trained' : 'custom'}</td>
                  <td class="num">{m.vectorSize ?? '—'}</td>
                  <td>{fmtTime(m.trainingStarted)}</td>
                  <td>{m.deployments?.length ?? 0}</td>
                </tr>
              ))}
              {shown.length === 0 && (
                <tr>
                  <td colSpan={8} class="muted">
                    {all.length === 0 ? 'No models yet.' : 'No model matches these filters.'}
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}
