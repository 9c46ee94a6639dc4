import { ClientErrorCodes, isModeldClientError, type Deployment, type DeploymentEvent, type EmbeddingPrediction, type Model } from '../client/index.js';
import { CliError } from './cli-error.js';

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
 * says plainly that no server runs at `url`.
 */
export function formatError(err: unknown, url: string): string {
  if (isModeldClientError(err)) {
    if (err.code === ClientErrorCodes.CONNECTION_REFUSED) {
      return `error: the modeld server is not running at ${url}; start it with \`modeld serve\` (${err.code})`;
    }
    return `error: ${err.message} (${err.code})`;
  }
  if (err instanceof CliError) return `error: ${err.message} (${err.code})`;
  if (err instanceof Error) return `error: ${err.message}`;
  return `error: ${String(err)}`;
}
