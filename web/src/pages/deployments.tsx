import { useState } from 'preact/hooks';
import type { Deployment, Model } from '../../../src/client/index.js';
import type { Session } from '../session.js';
import { ErrorBox, Link, Loading, Page, StateBadge, fmtAgo, fmtTime, useAsync, valueOf } from '../ui.js';

/** D1 as a table: state, ready/desired replicas, region, model. */
export function DeploymentsPage(props: { session: Session }) {
  const { client } = props.session;
  const data = useAsync(
    async (signal) => {
      const [deployments, models] = await Promise.all([client.listDeployments({ signal }), client.listModels({ signal })]);
      return { deployments, models: new Map(models.map((m: Model) => [m.id, m])) };
    },
    [],
    3000,
  );
  const [q, setQ] = useState('');
  const [state, setState] = useState('all');
  const all = data.data?.deployments ?? [];
  const needle = q.trim().toLowerCase();
  const shown = all.filter(
    (d) =>
      (state === 'all' || d.state === state) &&
      (needle === '' || `${d.id} ${d.modelId} ${d.region} ${data.data?.models.get(d.modelId)?.name ?? ''}`.toLowerCase().includes(needle)),
  );
  return (
    <Page title="Deployments" subtitle="Deploy a model from its page. Each deployment's id is also the model id for predictions.">
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Search
          <input type="search" placeholder="id, model or region" value={q} onInput={(e) => setQ(valueOf(e))} />
        </label>
        <label>
          State
          <select value={state} onChange={(e) => setState(valueOf(e))}>
            <option value="all">all</option>
            {['DEPLOYING', 'DEPLOYED', 'DEPLOY_FAILED', 'DELETING', 'DELETE_FAILED'].map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
      </form>
      <ErrorBox error={data.error} />
      {data.loading && !data.data ? (
        <Loading what="deployments" />
      ) : (
        <div class="table-wrap">
          <table data-testid="deployments-table">
            <thead>
              <tr>
                <th scope="col">Deployment</th>
                <th scope="col">State</th>
                <th scope="col" class="num">
                  Ready / desired
                </th>
                <th scope="col" class="num">
                  Min–max
                </th>
                <th scope="col">Region</th>
                <th scope="col">Model</th>
                <th scope="col">Deployed</th>
                <th scope="col">Last used</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((d: Deployment) => (
                <tr key={d.id}>
                  <td>
                    <Link to={`/deployments/${d.id}`}>
                      <span class="mono">{d.id.slice(0, 8)}</span>
                    </Link>
                  </td>
                  <td>
                    <StateBadge state={d.state} />
                    {d.status?.failure && <div class="small bad-text">{d.status.failure.reason}</div>}
                  </td>
                  <td class="num">
                    {d.status?.readyReplicas ?? 0} / {d.status?.desiredReplicas ?? d.minReplicas}
                  </td>
                  <td class="num">
                    {d.minReplicas}–{d.maxReplicas}
                  </td>
                  <td>{d.region}</td>
                  <td>
                    <Link to={`/models/${encodeURIComponent(d.modelId)}`}>{data.data?.models.get(d.modelId)?.name ?? d.modelId.slice(0, 8)}</Link>
                  </td>
                  <td title={d.deployedAt}>{fmtTime(d.deployedAt)}</td>
                  <td>{fmtAgo(d.lastUsedAt)}</td>
                </tr>
              ))}
              {shown.length === 0 && (
                <tr>
                  <td colSpan={8} class="muted">
                    {all.length === 0 ? 'No deployments. Open an AVAILABLE model to deploy it.' : 'No deployment matches.'}
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
