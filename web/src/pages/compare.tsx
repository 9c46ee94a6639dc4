import type { Model } from '../../../src/client/index.js';
import { LineChart } from '../chart.js';
import { navigate } from '../router.js';
import type { Session } from '../session.js';
import { ErrorBox, Link, Loading, Page, StateBadge, fmtNum, useAsync, valueOf } from '../ui.js';
import { KS, METRICS } from './model-parts.js';

/** Two models side by side: facts, final validation metrics with the difference, and their curves. */
export function ComparePage(props: { session: Session; a: string; b: string }) {
  const { client } = props.session;
  const list = useAsync((signal) => client.listModels({ signal }), []);
  const pair = useAsync(
    (signal) =>
      props.a && props.b ? Promise.all([client.getModel(props.a, { signal, metrics: true }), client.getModel(props.b, { signal, metrics: true })]) : Promise.resolve(null),
    [props.a, props.b],
  );
  const pick = (which: 'a' | 'b', id: string) => {
    const next = { a: props.a, b: props.b, [which]: id };
    navigate(`/models/compare?a=${encodeURIComponent(next.a)}&b=${encodeURIComponent(next.b)}`, { replace: true });
  };
  const models = list.data ?? [];
  return (
    <Page title="Compare two models" subtitle={<Link to="/models">Back to the models</Link>}>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        {(['a', 'b'] as const).map((w) => (
          <label key={w}>
            Model {w.toUpperCase()}
            <select value={props[w]} onChange={(e) => pick(w, valueOf(e))}>
              <option value="">(choose)</option>
              {models.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.name} ({m.state ?? 'AVAILABLE'})
                </option>
              ))}
            </select>
          </label>
        ))}
      </form>
      <ErrorBox error={list.error ?? pair.error} />
      {pair.loading && props.a && props.b && <Loading what="the models" />}
      {pair.data && <Comparison a={pair.data[0]} b={pair.data[1]} />}
    </Page>
  );
}

function Comparison(props: { a: Model; b: Model }) {
  const { a, b } = props;
  const rows: Array<[string, (m: Model) => unknown]> = [
    ['state', (m) => <StateBadge state={m.state ?? 'AVAILABLE'} />],
    ['type', (m) => m.modelType],
    ['vector size', (m) => m.vectorSize ?? '—'],
    ['best epoch', (m) => m.trainingMetrics?.summary.best_epoch ?? '—'],
    ['training time (s)', (m) => fmtNum(m.trainingMetrics?.summary.training_time, 1)],
    ['epochs (config)', (m) => String(m.config?.['trainer_config.num_epochs'] ?? '—')],
    ['encoder units', (m) => JSON.stringify(m.config?.['trainer_config.encoder_config.rnn_units_list'] ?? '—')],
  ];
  const metricRows = METRICS.flatMap((metric) => KS.map((k) => [metric, k] as const)).filter(
    ([metric]) => a.trainingMetrics?.final_metrics?.[metric] || b.trainingMetrics?.final_metrics?.[metric],
  );
  const curve = (m: Model, metric: string, k: string) => m.trainingMetrics?.epoch_metrics?.[metric]?.val?.[k as '5'] ?? [];
  const monitor = String(a.config?.['dataset_config.metrics_config.monitor_metric'] ?? 'ndcg@5');
  const [metric, k] = monitor.split('@') as [string, string];
  const ca = curve(a, metric, k);
  const cb = curve(b, metric, k);
  const length = Math.max(ca.length, cb.length);
  return (
    <>
      <div class="table-wrap">
        <table data-testid="compare-table">
          <thead>
            <tr>
              <th scope="col" />
              <th scope="col">
                A: <Link to={`/models/${encodeURIComponent(a.id)}`}>{a.name}</Link>
              </th>
              <th scope="col">
                B: <Link to={`/models/${encodeURIComponent(b.id)}`}>{b.name}</Link>
              </th>
              <th scope="col" class="num">
                B − A
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([label, get]) => (
              <tr key={label}>
                <th scope="row">{label}</th>
                <td>{get(a) as string}</td>
                <td>{get(b) as string}</td>
                <td />
              </tr>
            ))}
            {metricRows.map(([metric, k]) => {
              const va = a.trainingMetrics?.final_metrics?.[metric]?.val?.[k];
              const vb = b.trainingMetrics?.final_metrics?.[metric]?.val?.[k];
              const diff = va !== undefined && vb !== undefined ? vb - va : undefined;
              return (
                <tr key={`${metric}@${k}`}>
                  <th scope="row">
                    val {metric}@{k}
                  </th>
                  <td class="num">{fmtNum(va)}</td>
                  <td class="num">{fmtNum(vb)}</td>
                  <td class={`num ${diff === undefined ? '' : diff > 0 ? 'better' : diff < 0 ? 'worse' : ''}`}>{diff === undefined ? '—' : (diff > 0 ? '+' : '') + diff.toFixed(4)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {length > 0 && (
        <section class="card">
          <LineChart
            title={`val ${monitor} per epoch`}
            labels={Array.from({ length }, (_, i) => i + 1)}
            series={[
              { label: `A: ${a.name}`, data: ca },
              { label: `B: ${b.name}`, data: cb, dashed: true },
            ]}
            xTitle="epoch"
            yTitle={monitor}
            testId="compare-chart"
          />
        </section>
      )}
      {metricRows.length === 0 && <p class="muted">Neither model has training metrics (pre-trained and imported models have none).</p>}
    </>
  );
}
