import { useEffect, useState } from 'preact/hooks';
import type { Model, ModelEvent } from '../../../src/client/index.js';
import { navigate } from '../router.js';
import type { Session } from '../session.js';
import { ConfirmButton, ErrorBox, Field, Link, Loading, Page, StateBadge, fmtDuration, fmtNum, fmtTime, useAsync, useEvents, valueOf } from '../ui.js';
import { EpochChart, FinalMetricsTable, KS, MetricCurves, SummaryList, epochPoints } from './model-parts.js';

const PRETRAINED = 'pre-trained (shared)';

/** One model: its facts, live training progress and curves, final metrics, deployments, events; deploy and delete. */
export function ModelPage(props: { session: Session; id: string }) {
  const { client } = props.session;
  const [poll, setPoll] = useState<number | null>(2000);
  const model = useAsync(
    async (signal) => {
      const m = await client.getModel(props.id, { signal, metrics: true });
      setPoll(m.state === 'TRAINING' || m.state === 'DELETING' ? 2000 : 15000);
      return m;
    },
    [props.id],
    poll,
  );
  const custom = model.data ? model.data.category !== PRETRAINED : false;
  const events = useEvents<ModelEvent>(
    (query, signal) => (custom ? client.listModelEvents(props.id, query, { signal }) : Promise.resolve([])),
    [props.id, custom],
    model.data?.state === 'TRAINING' || model.data?.state === 'DELETING' ? 2000 : 15_000,
  );
  const [k, setK] = useState('5');
  // The last epochs' events land as the state changes (TRAINING -> AVAILABLE): read them at once.
  const state = model.data?.state;
  useEffect(() => {
    if (state) void events.reload();
  }, [state]);

  if (model.loading && !model.data) return <Loading what="the model" />;
  const m = model.data;
  if (!m)
    return (
      <Page title="Model">
        <ErrorBox error={model.error} />
        <Link to="/models">Back to the models</Link>
      </Page>
    );
  const points = epochPoints(events.data ?? []);
  const deletable = custom && m.state !== 'DELETING';

  return (
    <Page
      title={m.name}
      subtitle={
        <>
          <StateBadge state={m.state ?? 'AVAILABLE'} /> <span class="mono small">{m.id}</span>
        </>
      }
      actions={
        <>
          {m.state === 'AVAILABLE' && props.session.scopes.includes('machinelearning.predict') && (
            <button type="button" onClick={() => navigate(`/try?model=${encodeURIComponent(m.category === PRETRAINED ? m.id : (m.deployments?.[0]?.id ?? ''))}`)}>
              Try it
            </button>
          )}
          {deletable && (
            <ConfirmButton
              label="Delete"
              title={`Delete model ${m.name}?`}
              danger
              onConfirm={async () => {
                await client.deleteModel(m.id);
                navigate('/models');
              }}
            >
              <p>
                The model <strong>{m.name}</strong> and its artifact are removed{m.state === 'TRAINING' ? ' and its training is stopped' : ''}. A model
                with deployments cannot be deleted: delete them first.
              </p>
            </ConfirmButton>
          )}
        </>
      }
    >
      <ErrorBox error={model.error} />
      {m.state === 'TRAINING_FAILED' && (
        <div class="error" role="alert" data-testid="training-error">
          <strong>Training failed: </strong>
          {m.errorMessage ?? 'no reason recorded'}
        </div>
      )}
      <div class="grid two">
        <section class="card">
          <h2>Facts</h2>
          <dl class="props">
            <div>
              <dt>type</dt>
              <dd>{m.modelType}</dd>
            </div>
            <div>
              <dt>category</dt>
              <dd>{m.category === PRETRAINED ? 'pre-trained (shared)' : 'custom'}</dd>
            </div>
            <div>
              <dt>vector size</dt>
              <dd data-testid="vector-size">{m.vectorSize ?? '—'}</dd>
            </div>
            {m.region && (
              <div>
                <dt>region</dt>
                <dd>{m.region}</dd>
              </div>
            )}
            {m.createdBy && (
              <div>
                <dt>created by</dt>
                <dd class="mono">{m.createdBy}</dd>
              </div>
            )}
            {m.trainingStarted && (
              <div>
                <dt>training started</dt>
                <dd>{fmtTime(m.trainingStarted)}</dd>
              </div>
            )}
            {m.trainingCompleted && (
              <div>
                <dt>training completed</dt>
                <dd>{fmtTime(m.trainingCompleted)}</dd>
              </div>
            )}
            {m.description && (
              <div>
                <dt>description</dt>
                <dd>{m.description}</dd>
              </div>
            )}
          </dl>
        </section>
        {m.trainingProgress && <Progress model={m} />}
        {m.trainingMetrics && (
          <section class="card">
            <h2>Training summary</h2>
            <SummaryList model={m} />
          </section>
        )}
      </div>

      {custom && (points.length > 0 || m.state === 'TRAINING') && (
        <section class="card">
          <h2>Training curve</h2>
          {points.length === 0 ? <p class="muted">The first epoch has not ended yet.</p> : <EpochChart points={points} />}
          <ErrorBox error={events.error} />
        </section>
      )}

      {m.trainingMetrics && (
        <section class="card">
          <h2>Metrics</h2>
          <div class="grid two">
            <FinalMetricsTable metrics={m.trainingMetrics} />
            <FinalMetricsTable metrics={m.trainingMetrics} split="trn" />
          </div>
          <label class="inline">
            k{' '}
            <select value={k} onChange={(e) => setK(valueOf(e))}>
              {KS.map((x) => (
                <option key={x}>{x}</option>
              ))}
            </select>
          </label>
          <MetricCurves metrics={m.trainingMetrics} k={k} />
        </section>
      )}

      {custom && <Deployments session={props.session} model={m} onChange={() => void model.reload()} />}

      {m.config && (
        <details class="card">
          <summary>Training config ({Object.keys(m.config).length} keys)</summary>
          <pre>{JSON.stringify(m.config, null, 2)}</pre>
        </details>
      )}
      {custom && (
        <section class="card">
          <h2>Events</h2>
          <EventList events={events.data ?? []} />
        </section>
      )}
    </Page>
  );
}

function Progress(props: { model: Model }) {
  const p = props.model.trainingProgress!;
  const pct = p.epoch && p.numEpochs ? ((p.epoch - 1 + (p.step && p.steps ? p.step / p.steps : 0)) / p.numEpochs) * 100 : 0;
  const done = props.model.state !== 'TRAINING';
  return (
    <section class="card" data-testid="training-progress" aria-live="polite">
      <h2>Training progress</h2>
      <dl class="props">
        <div>
          <dt>phase</dt>
          <dd data-testid="phase">{p.phase ?? 'queued'}</dd>
        </div>
        <div>
          <dt>epoch</dt>
          <dd data-testid="epoch">{p.epoch !== undefined ? `${p.epoch} / ${p.numEpochs ?? '?'}` : '—'}</dd>
        </div>
        <div>
          <dt>step</dt>
          <dd>{p.step !== undefined ? `${p.step} / ${p.steps ?? '?'}` : '—'}</dd>
        </div>
        <div>
          <dt>loss</dt>
          <dd>{fmtNum(p.loss)}</dd>
        </div>
        <div>
          <dt>{p.monitor ? `val ${p.monitor.key}` : 'monitored metric'}</dt>
          <dd>{fmtNum(p.monitor?.value)}</dd>
        </div>
        <div>
          <dt>best epoch</dt>
          <dd>{p.bestEpoch ?? '—'}</dd>
        </div>
        <div>
          <dt>pairs/s</dt>
          <dd>{fmtNum(p.pairsPerSecond, 0)}</dd>
        </div>
        <div>
          <dt>ETA</dt>
          <dd>{done ? '—' : fmtDuration(p.etaSeconds)}</dd>
        </div>
      </dl>
      {!done && <progress max={100} value={pct} aria-label="training progress" />}
      <p class="muted small">Updated {fmtTime(p.updatedAt)}</p>
    </section>
  );
}

function Deployments(props: { session: Session; model: Model; onChange: () => void }) {
  const { client } = props.session;
  const m = props.model;
  const [region, setRegion] = useState(m.region ?? 'local');
  const [min, setMin] = useState('1');
  const [max, setMax] = useState('1');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const deploy = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const d = await client.createDeployment({ modelId: m.id, region: region.trim(), minReplicas: Number(min), maxReplicas: Number(max) });
      navigate(`/deployments/${d.id}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const minN = Number(min);
  const maxN = Number(max);
  const invalid = !Number.isInteger(minN) || !Number.isInteger(maxN) || minN < 1 || maxN < minN;
  return (
    <section class="card">
      <h2>Deployments</h2>
      {m.deployments && m.deployments.length > 0 ? (
        <ul class="plain">
          {m.deployments.map((d) => (
            <li key={d.id}>
              <Link to={`/deployments/${d.id}`}>{d.id}</Link> <StateBadge state={d.state} /> <span class="muted">{d.region}</span>
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">Not deployed.</p>
      )}
      {m.state === 'AVAILABLE' && (
        <form class="inline-form" onSubmit={(e) => void deploy(e)} aria-label="Deploy this model">
          <Field id="deploy-region" label="Region">
            <input id="deploy-region" value={region} onInput={(e) => setRegion(valueOf(e))} required />
          </Field>
          <Field id="deploy-min" label="Min replicas">
            <input id="deploy-min" type="number" min={1} value={min} onInput={(e) => setMin(valueOf(e))} required />
          </Field>
          <Field id="deploy-max" label="Max replicas" error={maxN < minN ? 'must be at least min replicas' : null}>
            <input id="deploy-max" type="number" min={1} value={max} onInput={(e) => setMax(valueOf(e))} required />
          </Field>
          <button type="submit" class="primary" disabled={busy || invalid}>
            {busy ? 'Deploying…' : 'Deploy'}
          </button>
        </form>
      )}
      <ErrorBox error={error} title="Deploy failed" />
    </section>
  );
}

export function EventList(props: { events: readonly ModelEvent[] }) {
  if (props.events.length === 0) return <p class="muted">No events.</p>;
  return (
    <ol class="timeline" data-testid="events">
      {[...props.events].reverse().map((e) => (
        <li key={e.id} class={e.type === 'Warning' ? 'warning' : ''}>
          <time dateTime={e.at}>{fmtTime(e.at)}</time> <strong class="reason">{e.reason}</strong> <span class="message">{e.message}</span>
          {e.data && Object.keys(e.data).length > 0 && <EventData data={e.data} />}
        </li>
      ))}
    </ol>
  );
}

function EventData(props: { data: Record<string, unknown> }) {
  return (
    <dl class="event-data">
      {Object.entries(props.data).map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}</dd>
        </div>
      ))}
    </dl>
  );
}
