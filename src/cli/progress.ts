import type { Deployment } from '../client/index.js';
import type { OutputStream } from './io.js';

export interface ProgressRenderOptions {
  /** Characters inside the brackets. Default 20. */
  barWidth?: number;
  /** Shown as `  12s` at the end when given (terminals only: it changes on every redraw). */
  elapsedMs?: number;
}

/**
 * The progress line of a deployment, a pure function of what the server reported:
 *
 *   DEPLOYING  ready 1/2 replicas  [##########----------]
 *   DEPLOYED  ready 2/2 replicas  [####################]
 *   DEPLOY_FAILED  ready 0/2 replicas  [--------------------]  CrashLoopBackOff: replica exited with code 1
 *   DELETING  1 replica left
 *
 * The target is `status.desiredReplicas` (what the controller aims for), falling back to
 * `minReplicas` before the controller has written a status.
 */
export function renderDeploymentProgress(d: Deployment, options: ProgressRenderOptions = {}): string {
  const width = options.barWidth ?? 20;
  const elapsed = options.elapsedMs === undefined ? '' : `  ${Math.floor(options.elapsedMs / 1000)}s`;
  if (d.state === 'DELETING' || d.state === 'DELETE_FAILED') {
    const left = d.status?.replicas ?? 0;
    const failure = d.status?.failure ? `  ${d.status.failure.reason}: ${d.status.failure.message}` : '';
    return `${d.state}  ${left} replica${left === 1 ? '' : 's'} left${failure}${elapsed}`;
  }
  const ready = d.status?.readyReplicas ?? 0;
  const desired = d.status && d.status.desiredReplicas > 0 ? d.status.desiredReplicas : d.minReplicas;
  const failure = d.state === 'DEPLOY_FAILED' && d.status?.failure ? `  ${d.status.failure.reason}: ${d.status.failure.message}` : '';
  return `${d.state}  ready ${ready}/${desired} replicas  ${bar(ready, desired, width)}${failure}${elapsed}`;
}

/** `[####------]`: the filled share is ready/total, clamped to 0..1 (total 0 counts as full). */
export function bar(done: number, total: number, width: number): string {
  const share = total <= 0 ? 1 : Math.min(1, Math.max(0, done / total));
  const filled = Math.round(share * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

/**
 * One progress line on a stream. On a terminal the line is redrawn in place (`\r` + erase line),
 * cut to the terminal width so that it never wraps. Elsewhere (a pipe, a CI log) each distinct
 * line is written once, followed by a newline, so logs show every change and no repeats.
 */
export class ProgressLine {
  readonly #stream: OutputStream;
  #last: string | null = null;
  #drawn = false;

  constructor(stream: OutputStream) {
    this.#stream = stream;
  }

  get isTTY(): boolean {
    return this.#stream.isTTY === true;
  }

  update(line: string): void {
    if (this.isTTY) {
      const max = (this.#stream.columns ?? 80) - 1;
      const shown = line.length > max ? `${line.slice(0, Math.max(0, max - 1))}…` : line;
      this.#stream.write(`\r\x1b[2K${shown}`);
      this.#drawn = true;
    } else if (line !== this.#last) {
      this.#stream.write(`${line}\n`);
    }
    this.#last = line;
  }

  /** Ends the redrawn line on a terminal so that what follows starts on a new line. Idempotent. */
  finish(): void {
    if (this.#drawn) this.#stream.write('\n');
    this.#drawn = false;
  }
}
