import type { Model, ModelEvent, TrainingMetrics } from '../../../src/client/index.js';
import { LineChart, type LineSeries } from '../chart.js';
import { fmtNum } from '../ui.js';

export const METRICS = ['ndcg', 'map', 'mrr', 'recall', 'hit', 'f1'] as const;
export const KS = ['1', '3', '5', '10'] as const;

/** Per-epoch points read from the model's EpochCompleted events (live while it trains). */
export interface EpochPoint {
  epoch: number;
  loss: number | null;
  monitorKey: string | null;
  monitor: number | null;
}

export function epochPoints(events: readonly ModelEvent[]): EpochPoint[] {
  const byEpoch = new Map<number, EpochPoint>();
  for (const e of events) {
    if (e.reason !== 'EpochCompleted' || !e.data) continue;
    const d = e.data as { epoch?: unknown; loss?: unknown; monitor?: { key?: unknown; value?: unknown } | null };
    if (typeof d.epoch !== 'number') continue;
    byEpoch.set(d.epoch, {
      epoch: d.epoch,
      loss: typeof d.loss === 'number' ? d.loss : null,
      monitorKey: typeof d.monitor?.key === 'string' ? d.monitor.key : null,
      monitor: typeof d.monitor?.value === 'number' ? d.monitor.value : null,
    });
  }
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

/** Loss (left axis) and the monitored validation metric (right axis) per epoch. */
export function EpochChart(props: { points: EpochPoint[] }) {
  const key = props.points.find((p) => p.monitorKey)?.monitorKey ?? 'monitored metric';
  const series: LineSeries[] = [
    { label: 'loss', data: props.points.map((p) => p.loss) },
    { label: `val ${key}`, data: props.points.map((p) => p.monitor), axis: 'y1' },
  ];
  return (
    <LineChart
      title={`Training curve: loss and val ${key} per epoch`}
      labels={props.points.map((p) => p.epoch)}
      series={series}
      xTitle="epoch"
      yTitle="loss"
      y1Title={key}
      testId="epoch-chart"
    />
  );
}

/** Every validation metric at one k per epoch, from trainingMetrics.epoch_metrics. */
export function MetricCurves(props: { metrics: TrainingMetrics; k: string; split?: 'val' | 'trn' }) {
  const split = props.split ?? 'val';
  const names = METRICS.filter((m) => props.metrics.epoch_metrics?.[m]);
  const length = Math.max(0, ...names.map((m) => props.metrics.epoch_metrics[m]![split]?.[props.k as '1']?.length ?? 0));
  const labels = Array.from({ length }, (_, i) => i + 1);
  const series = names.map((m) => ({ label: `${m}@${props.k}`, data: props.metrics.epoch_metrics[m]![split]?.[props.k as '1'] ?? [] }));
  return <LineChart title={`${split} metrics @${props.k} per epoch`} labels={labels} series={series} xTitle="epoch" yTitle="score" testId="metric-curves" />;
}

/** final_metrics as a table: a row per metric, a column per k. */
export function FinalMetricsTable(props: { metrics: TrainingMetrics; split?: 'val' | 'trn'; caption?: string }) {
  const split = props.split ?? 'val';
  const names = METRICS.filter((m) => props.metrics.final_metrics?.[m]);
  return (
    <div class="table-wrap">
      <table class="metrics" data-testid={`final-metrics-${split}`}>
        <caption>{props.caption ?? `Final ${split === 'val' ? 'validation' : 'training'} metrics`}</caption>
        <thead>
          <tr>
            <th scope="col">metric</th>
            {KS.map((k) => (
              <th scope="col" class="num" key={k}>
                @{k}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {names.map((m) => (
            <tr key={m}>
              <th scope="row">{m}</th>
              {KS.map((k) => (
                <td class="num" key={k}>
                  {fmtNum(props.metrics.final_metrics[m]![split]?.[k])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function SummaryList(props: { model: Model }) {
  const s = props.model.trainingMetrics?.summary;
  if (!s) return null;
  const rows: Array<[string, string]> = [
    ['best epoch', String(s.best_epoch)],
    ['index size', String(s.index_size)],
    ['vector size', String(s.vector_size)],
    ['training time', `${fmtNum(s.training_time, 1)} s`],
    ['training queries', String(s.num_trn_queries)],
    ['validation queries', String(s.num_val_queries)],
    ['unique training pairs', String(s.num_unique_training_pairs)],
  ];
  return (
    <dl class="props">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}
