import { useEffect, useState } from 'preact/hooks';
import type { Deployment, DeploymentMetrics, Replica } from '../../../src/client/index.js';
import { LineChart } from '../chart.js';
import { navigate } from '../router.js';
import type { Session } from '../session.js';
import { ConfirmButton, ErrorBox, Field, Link, Loading, Page, StateBadge, fmtAgo, fmtTime, useAsync, useEvents, valueOf } from '../ui.js';
import { EventList } from './model.js';

/** One deployment: failure, replicas, metrics of the last hour, events; PATCH and delete. */
export function DeploymentPage(props: { session: Session; id: string }) {
  const { client } = props.session;
  const dep = useAsync((signal) => client.getDeployment(props.id, { signal }), [props.id], 2000);
  const replicas = useAsync((signal) => client.listReplicas(props.id, { signal }), [props.id], 2000);
  const events = useEvents((query, signal) => client.listDeploymentEvents(props.id, query, { signal }), [props.id], 3000);
  const metrics = useAsync((signal) => client.getDeploymentMetrics(props.id, { signal }), [props.id], 10_000);
  const modelId = dep.data?.modelId;
  const model = useAsync((signal) => (modelId ? client.getModel(modelId, { signal }) : Promise.resolve(null)), [modelId]);

  if (dep.loading && !dep.data) return <Loading what="the deployment" />;
  const d = dep.data;
  if (!d)
    return (
      <Page title="Deployment">
        <ErrorBox error={dep.error} />
        <Link to="/deployments">Back to the deployments</Link>
      </Page>
    );
  return (
    <Page
      title={`Deployment ${d.id.slice(0, 8)}`}
      subtitle={
        <>
          <StateBadge state={d.state} /> <span class="mono small">{d.id}</span>
        </>
      }
      actions={
        <>
          {d.state === 'DEPLOYED' && props.session.scopes.includes('machinelearning.predict') && (
            <button type="button" onClick={() => navigate(`/try?model=${d.id}`)}>
              Try it
            </button>
          )}
          <ConfirmButton
            label="Delete"
            title="Delete this deployment?"
            danger
            disabled={d.state === 'DELETING'}
            onConfirm={async () => {
              await client.deleteDeployment(d.id);
              navigate('/deployments');
            }}
          >
            <p>
              Its replicas are stopped and requests to <code>{d.id}</code> will fail. The model stays.
            </p>
          </ConfirmButton>
        </>
      }
    >
      <ErrorBox error={dep.error} />
      {d.status?.failure && (
        <div class="error" role="alert" data-testid="failure">
          <strong>{d.state === 'DELETE_FAILED' ? 'Delete failed' : 'Deploy failed'}: </strong>
          <span data-testid="failure-reason">{d.status.failure.reason}</span>: <span data-testid="failure-message">{d.status.failure.message}</span>
          <div class="small">{fmtTime(d.status.failure.at)}</div>
        </div>
      )}
      <div class="grid two">
        <section class="card">
          <h2>Facts</h2>
          <dl class="props">
            <div>
              <dt>model</dt>
              <dd>
                <Link to={`/models/${encodeURIComponent(d.modelId)}`}>{model.data?.name ?? d.modelId}</Link>
                {model.data && <div class="mono small muted">{d.modelId}</div>}
              </dd>
            </div>
            <div>
              <dt>region</dt>
              <dd>{d.region}</dd>
            </div>
            <div>
              <dt>replicas ready / desired</dt>
              <dd data-testid="ready">
                {d.status?.readyReplicas ?? 0} / {d.status?.desiredReplicas ?? '—'}
              </dd>
            </div>
            <div>
              <dt>min – max</dt>
              <dd>
                {d.minReplicas} – {d.maxReplicas}
              </dd>
            </div>
            <div>
              <dt>deployed</dt>
              <dd>{fmtTime(d.deployedAt)}</dd>
            </div>
            <div>
              <dt>updated</dt>
              <dd>{fmtTime(d.updatedAt)}</dd>
            </div>
            <div>
              <dt>last used</dt>
              <dd>{fmtAgo(d.lastUsedAt)}</dd>
            </div>
            <div>
              <dt>created by</dt>
              <dd class="mono">{d.createdBy}</dd>
            </div>
          </dl>
          {d.status && d.status.conditions.length > 0 && (
            <table class="small">
              <caption>Conditions</caption>
              <thead>
                <tr>
                  <th scope="col">type</th>
                  <th scope="col">status</th>
                  <th scope="col">reason</th>
                  <th scope="col">message</th>
                </tr>
              </thead>
              <tbody>
                {d.status.conditions.map((c) => (
                  <tr key={c.type}>
                    <td>{c.type}</td>
                    <td>{c.status}</td>
                    <td>{c.reason}</td>
                    <td>{c.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        <PatchForm session={props.session} deployment={d} onDone={() => void dep.reload()} />
      </div>
      <section class="card">
        <h2>Replicas</h2>
        <ErrorBox error={replicas.error} />
        <ReplicaTable replicas={replicas.data ?? []} />
      </section>
      <section class="card">
        <h2>Last hour</h2>
        <ErrorBox error={metrics.error} />
        {metrics.data && <MetricsCharts metrics={metrics.data} />}
      </section>
      <section class="card">
        <h2>Events</h2>
        <p class="muted small">Newest first. Scaling events carry the autoscaler's inputs; failures their reason.</p>
        <ErrorBox error={events.error} />
        <EventList events={events.data ?? []} />
      </section>
    </Page>
  );
}

function ReplicaTable(props: { replicas: Replica[] }) {
  if (props.replicas.length === 0) return <p class="muted">No replica now.</p>;
  return (
    <div class="table-wrap">
      <table data-testid="replicas-table">
        <thead>
          <tr>
            <th scope="col">Replica</th>
            <th scope="col">Phase</th>
            <th scope="col">Process</th>
            <th scope="col" class="num">
              Gen.
            </th>
            <th scope="col" class="num">
              In flight
            </th>
            <th scope="col" class="num">
              Served
            </th>
            <th scope="col">Routed</th>
            <th scope="col">Started</th>
            <th scope="col">Ready</th>
            <th scope="col">Last error</th>
          </tr>
        </thead>
        <tbody>
          {props.replicas.map((r) => (
            <tr key={r.replicaId}>
              <td class="mono small">{r.replicaId}</td>
              <td>
                <StateBadge state={r.phase} />
                {r.waitingReason && <div class="small muted">{r.waitingReason}</div>}
              </td>
              <td class="mono">{r.pod ? `pod ${r.pod}` : r.pid !== null ? `pid ${r.pid}` : '—'}</td>
              <td class="num">{r.generation}</td>
              <td class="num">{r.inflight}</td>
              <td class="num">{r.served}</td>
              <td>{r.routed ? 'yes' : 'no'}</td>
              <td>{fmtAgo(r.startedAt)}</td>
              <td>{fmtAgo(r.readyAt)}</td>
              <td class="small">{r.lastError ?? (r.exitCode !== null ? `exit code ${r.exitCode}` : '')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function MetricsCharts(props: { metrics: DeploymentMetrics }) {
  const s = props.metrics.samples;
  if (s.length === 0) return <p class="muted">No sample yet: the server samples every {props.metrics.intervalSeconds} s.</p>;
  const labels = s.map((x) => new Date(x.at).toISOString().slice(11, 19));
  return (
    <div class="grid two">
      <LineChart
        title="Requests/s and replicas"
        labels={labels}
        series={[
          { label: 'requests/s', data: s.map((x) => x.requestsPerSecond) },
          { label: 'ready replicas', data: s.map((x) => x.readyReplicas), axis: 'y1', stepped: true },
          { label: 'desired replicas', data: s.map((x) => x.desiredReplicas), axis: 'y1', stepped: true, dashed: true },
        ]}
        yTitle="requests/s"
        y1Title="replicas"
        y1Counts
        xTitle="UTC"
        testId="traffic-chart"
        yMin={0}
      />
      <LineChart
        title="Latency (ms)"
        labels={labels}
        series={[
          { label: 'p50', data: s.map((x) => x.latencyP50Ms) },
          { label: 'p99', data: s.map((x) => x.latencyP99Ms), dashed: true },
        ]}
        yTitle="ms"
        xTitle="UTC"
        testId="latency-chart"
        yMin={0}
      />
    </div>
  );
}

function PatchForm(props: { session: Session; deployment: Deployment; onDone: () => void }) {
  const d = props.deployment;
  const [min, setMin] = useState(String(d.minReplicas));
  const [max, setMax] = useState(String(d.maxReplicas));
  const [config, setConfig] = useState(JSON.stringify(d.config ?? {}, null, 2));
  const [target, setTarget] = useState(d.autoscaling ? String(d.autoscaling.targetConcurrencyPerReplica) : '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    setMin(String(d.minReplicas));
    setMax(String(d.maxReplicas));
  }, [d.id]);
  let configError: string | null = null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(config);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) configError = 'must be a JSON object';
  } catch (e) {
    configError = `not JSON: ${(e as Error).message}`;
  }
  const minN = Number(min);
  const maxN = Number(max);
  const minError = !Number.isInteger(minN) || minN < 1 ? 'an integer >= 1' : null;
  const targetN = target.trim() === '' ? null : Number(target);
  const targetError = targetN !== null && !(Number.isFinite(targetN) && targetN > 0 && targetN <= 10_000) ? 'a number above 0 (at most 10000), or empty for the server default' : null;
  const maxError = !Number.isInteger(maxN) || maxN < 1 ? 'an integer >= 1' : maxN < minN ? 'must be at least min replicas' : null;
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      const patch: Record<string, unknown> = {};
      if (minN !== d.minReplicas) patch.minReplicas = minN;
      if (maxN !== d.maxReplicas) patch.maxReplicas = maxN;
      if (JSON.stringify(parsed) !== JSON.stringify(d.config ?? {})) patch.config = parsed;
      if (targetN !== (d.autoscaling?.targetConcurrencyPerReplica ?? null)) patch.autoscaling = targetN === null ? null : { targetConcurrencyPerReplica: targetN };
      if (Object.keys(patch).length === 0) throw new Error('nothing changed');
      await props.session.client.patchDeployment(d.id, patch);
      setSaved(true);
      props.onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card stack" onSubmit={(e) => void submit(e)} aria-label="Change the deployment">
      <h2>Change</h2>
      <div class="grid two">
        <Field id="patch-min" label="Min replicas" error={minError}>
          <input id="patch-min" type="number" min={1} value={min} onInput={(e) => setMin(valueOf(e))} />
        </Field>
        <Field id="patch-max" label="Max replicas" error={maxError}>
          <input id="patch-max" type="number" min={1} value={max} onInput={(e) => setMax(valueOf(e))} />
        </Field>
      </div>
      <Field
        id="patch-target"
        label="Autoscaler target: concurrent requests per replica"
        error={targetError}
        hint="Empty: the server's default (autoscale.targetConcurrencyPerReplica). Changing it restarts no replica."
      >
        <input id="patch-target" inputMode="decimal" value={target} placeholder="server default" onInput={(e) => setTarget(valueOf(e))} />
      </Field>
      <Field id="patch-config" label="Config (JSON object, handed to the replicas; a change rolls them)" error={configError}>
        <textarea id="patch-config" rows={4} value={config} onInput={(e) => setConfig(valueOf(e))} class="mono" />
      </Field>
      <ErrorBox error={error} title="Not changed" />
      {saved && (
        <p class="ok-text" role="status">
          Saved.
        </p>
      )}
      <div class="actions">
        <button type="submit" class="primary" disabled={busy || !!minError || !!maxError || !!configError || !!targetError || d.state === 'DELETING'}>
          {busy ? 'Saving…' : 'Save'}
        </button>
      </div>
    </form>
  );
}
