import {
  ClientErrorCodes,
  isModeldClientError,
  type Deployment,
  type DeploymentEvent,
  type EmbeddingPrediction,
  type MetricK,
  type Model,
  type TrainingMetrics,
  type Upload,
} from '../client/index.js';
import { CliError } from './cli-error.js';
import type { ServerTarget } from './context.js';

/**
 * Pure text rendering for the CLI: tables, error lines, embedding summaries. No I/O here, so
 * every output format is testable as a string.
 */

/** Left-aligned columns separated by two spaces; the last column is not padded. Empty cells print `-`. */
export function renderTable(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | null | undefined>>): string {
  const cells = rows.map((r) => headers.map((_, i) => cellText(r[i])));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n') + '\n';
}

function cellText(v: string | number | null | undefined): string {
  if (v === null || v === undefined || v === '') return '-';
  return String(v).replaceAll(/\s*\n\s*/g, ' ');
}

export function modelsTable(models: readonly Model[]): string {
  return renderTable(
    ['ID', 'NAME', 'CATEGORY', 'TYPE', 'STATE', 'DIM', 'DEPLOYMENTS'],
    models.map((m) => [m.id, m.name, m.category, m.modelType, m.state ?? 'AVAILABLE', m.vectorSize, m.deployments?.length ?? 0]),
  );
}

export function deploymentsTable(deployments: readonly Deployment[]): string {
  return renderTable(
    ['ID', 'MODEL', 'REGION', 'STATE', 'READY', 'REPLICAS', 'DEPLOYED'],
    deployments.map((d) => [
      d.id,
      d.modelId,
      d.region,
      d.state,
      d.status ? `${d.status.readyReplicas}/${d.status.desiredReplicas}` : null,
      `${d.minReplicas}..${d.maxReplicas}`,
      shortTime(d.deployedAt),
    ]),
  );
}

export function eventsTable(events: readonly DeploymentEvent[]): string {
  return renderTable(
    ['TIME', 'TYPE', 'REASON', 'MESSAGE'],
    events.map((e) => [shortTime(e.at), e.type, e.reason, e.message]),
  );
}

export function uploadsTable(uploads: readonly Upload[]): string {
  return renderTable(
    ['NAME', 'BYTES', 'SHA256', 'UPLOADED', 'URI'],
    uploads.map((u) => [u.name, u.bytes, u.sha256.slice(0, 12), shortTime(u.uploadedAt), u.uri]),
  );
}

const METRIC_KS: readonly MetricK[] = ['1', '3', '5', '10'];

/**
 * The best epoch's ranking metrics as a table, one row per metric, a column per k; `splits`
 * picks validation (`val`, the default) and/or sampled training queries (`trn`):
 *
 *   METRIC  VAL@1   VAL@3   VAL@5   VAL@10
 *   hit     0.3400  0.5200  0.6100  0.7300
 */
export function finalMetricsTable(metrics: TrainingMetrics, splits: ReadonlyArray<'val' | 'trn'> = ['val']): string {
  const headers = ['METRIC', ...splits.flatMap((split) => METRIC_KS.map((k) => `${split.toUpperCase()}@${k}`))];
  const rows = Object.entries(metrics.final_metrics).map(([name, bySplit]) => [
    name,
    ...splits.flatMap((split) => METRIC_KS.map((k) => (typeof bySplit[split]?.[k] === 'number' ? bySplit[split][k].toFixed(4) : null))),
  ]);
  return renderTable(headers, rows);
}

/**
 * The one-paragraph account of a trained model:
 *
 *   model 5b0c... (shoes) AVAILABLE, ecommerce-rnn, 32-d vectors
 *   best epoch 2 of 3; 200 catalog items; 540 training and 60 validation queries; 590 training pairs; 14.2 s of training
 */
export function trainingSummary(model: Model): string {
  const head = `model ${model.id} (${model.name}) ${model.state ?? 'AVAILABLE'}, ${model.modelType}${model.vectorSize ? `, ${model.vectorSize}-d vectors` : ''}`;
  const m = model.trainingMetrics;
  if (!m) return `${head}
`;
  const s = m.summary;
  const epochs = Object.values(m.epoch_metrics)[0]?.val['1']?.length;
  const lines = [
    head,
    `best epoch ${s.best_epoch}${epochs ? ` of ${epochs}` : ''}; ${s.index_size} catalog items; ${s.num_trn_queries} training and ${s.num_val_queries} validation queries; ` +
      `${s.num_unique_training_pairs} training pairs; ${s.training_time.toFixed(1)} s of training`,
  ];
  return `${lines.join('\n')}\n`;
}

/** One event as a line, for `events --follow` on a terminal. */
export function eventLine(e: DeploymentEvent): string {
  return `${shortTime(e.at)}  ${e.type.padEnd(7)}  ${e.reason}  ${e.message}`;
}

/** `2024-05-01T10:00:00.123Z` -> `2024-05-01 10:00:00`; anything else unchanged. */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)/.exec(iso);
  return m ? `${m[1]} ${m[2]}` : iso;
}

/**
 * The one-line summary of an embedding printed on a terminal:
 * `"hello world"  2 tokens  512-d  [0.0123, -0.0456, 0.0789, …]`.
 */
export function embeddingSummary(text: string, p: EmbeddingPrediction, shown = 4): string {
  const quoted = JSON.stringify(text.length > 40 ? `${text.slice(0, 39)}…` : text);
  // Quantized vectors are all integers and print as such; float vectors print 4 decimals.
  const integers = p.vector.every((v) => Number.isInteger(v));
  const head = p.vector.slice(0, shown).map((v) => (integers ? String(v) : v.toFixed(4)));
  const more = p.vector.length > shown ? ', …' : '';
  const warning = p.warning ? `  warning: ${p.warning}` : '';
  return `${quoted}  ${p.tokensUsed.inputTokens} tokens  ${p.vector.length}-d  [${head.join(', ')}${more}]${warning}`;
}

/**
 * The line printed for a failed command: `error: <message> (<code>)`. A refused connection
 * names the URL tried and where it came from (`target.from`), and both ways out: start the
 * server, or point the CLI at the one that runs with --url / MODELD_URL.
 */
export function formatError(err: unknown, target: ServerTarget): string {
  if (isModeldClientError(err)) {
    if (err.code === ClientErrorCodes.CONNECTION_REFUSED) {
      const from = target.from === 'default' ? 'the default address' : target.from;
      return (
        `error: no modeld server answers at ${target.url} (${from}); start one with \`modeld serve\`, ` +
        `or point the CLI at the one that runs with --url URL or MODELD_URL (MODELD_HOST and MODELD_PORT are read as the server reads them) (${err.code})`
      );
    }
    return `error: ${err.message} (${err.code})`;
  }
  if (err instanceof CliError) return `error: ${err.message} (${err.code})`;
  if (err instanceof Error) return `error: ${err.message}`;
  return `error: ${String(err)}`;
}
