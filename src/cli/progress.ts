import type { Deployment, Model, TrainingPhase } from '../client/index.js';
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
  /** The last line given to update() (redrawn after a log() on a terminal). */
  #lastShown: string | null = null;
  #drawn = false;

  constructor(stream: OutputStream) {
    this.#stream = stream;
  }

  get isTTY(): boolean {
    return this.#stream.isTTY === true;
  }

  /**
   * Shows `line`. Off a terminal, a line is written when it differs from the last one written,
   * or, when `key` is given, when the key differs (so that a line whose numbers move all the
   * time, like a training step counter, is logged once per phase or epoch).
   */
  update(line: string, key: string = line): void {
    this.#lastShown = line;
    if (this.isTTY) {
      // A terminal of unknown size reports 0 columns (e.g. under `script`): assume 80.
      const max = (this.#stream.columns || 80) - 1;
      const shown = line.length > max ? `${line.slice(0, Math.max(0, max - 1))}…` : line;
      this.#stream.write(`\r\x1b[2K${shown}`);
      this.#drawn = true;
    } else if (key !== this.#last) {
      this.#stream.write(`${line}\n`);
    }
    this.#last = key;
  }

  /**
   * Writes `line` as a line of its own that stays (an epoch's result), above the progress line:
   * on a terminal the progress line is cleared, the line written, and the progress line drawn again.
   */
  log(line: string): void {
    if (this.isTTY && this.#drawn) {
      this.#stream.write(`\r\x1b[2K${line}\n`);
      this.#drawn = false;
      if (this.#lastShown !== null) this.update(this.#lastShown, this.#last ?? this.#lastShown);
      return;
    }
    this.#stream.write(`${line}\n`);
  }

  /** Ends the redrawn line on a terminal so that what follows starts on a new line. Idempotent. */
  finish(): void {
    if (this.#drawn) this.#stream.write('\n');
    this.#drawn = false;
  }
}

const PHASE_TEXT: Readonly<Record<TrainingPhase, string>> = {
  'loading-data': 'loading data',
  'learning-vocabulary': 'learning the vocabulary',
  training: 'training',
  exporting: 'exporting the model',
};

/**
 * The progress line of a model in training, a pure function of what the server reported
 * (`state`, `trainingProgress`, `errorMessage`):
 *
 *   TRAINING  starting
 *   TRAINING  loading data
 *   TRAINING  epoch 2/3  [#######-------------]  step 14/40  loss 0.4123  val ndcg@5 0.4012 (best epoch 1)  ETA 1m05s  1,840 pairs/s
 *   TRAINING  exporting the model
 *   AVAILABLE  32-d
 *   TRAINING_FAILED  catalog /data/c.csv: no column "name" (...)
 *
 * Fields the server has not reported yet (absent or null) are left out. The bar is the share of steps done in
 * the current epoch.
 */
export function renderTrainingProgress(model: Model, options: Pick<ProgressRenderOptions, 'barWidth'> = {}): string {
  const width = options.barWidth ?? 20;
  const state = model.state ?? 'AVAILABLE';
  if (state === 'TRAINING_FAILED') return `${state}  ${model.errorMessage ?? 'no error message'}`;
  if (state !== 'TRAINING') return model.vectorSize ? `${state}  ${model.vectorSize}-d` : state;
  const p = model.trainingProgress ?? {};
  if (p.phase == null) return `${state}  starting`;
  if (p.phase !== 'training') return `${state}  ${PHASE_TEXT[p.phase] ?? p.phase}`;
  const parts: string[] = [state];
  parts.push(p.epoch == null ? 'training' : `epoch ${p.epoch}${p.numEpochs == null ? '' : `/${p.numEpochs}`}`);
  if (p.step != null && p.steps != null) parts.push(bar(p.step, p.steps, width), `step ${p.step}/${p.steps}`);
  if (p.loss != null) parts.push(`loss ${p.loss.toFixed(4)}`);
  if (p.monitor != null) {
    const best = p.bestEpoch == null ? '' : ` (best epoch ${p.bestEpoch})`;
    parts.push(`val ${p.monitor.key} ${p.monitor.value.toFixed(4)}${best}`);
  }
  // Least important last: a narrow terminal cuts the line's end.
  if (p.etaSeconds != null) parts.push(`ETA ${formatDuration(p.etaSeconds)}`);
  if (p.pairsPerSecond != null) parts.push(`${Math.round(p.pairsPerSecond).toLocaleString('en-US')} pairs/s`);
  return parts.join('  ');
}

/**
 * What must change for a training progress line to be logged again off a terminal: the state,
 * the phase, or the epoch (steps, loss and ETA move too often for a log).
 */
export function trainingProgressKey(model: Model): string {
  const p = model.trainingProgress ?? {};
  return [model.state ?? 'AVAILABLE', p.phase ?? '', p.epoch ?? ''].join('|');
}

/** `45s`, `2m05s`, `1h02m`; negative or non-finite as `?`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** `512 B`, `1.5 KB`, `12.3 MB`, `1.07 GB` (powers of 1000: what `ls -l --si` shows). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`;
}

/**
 * The progress line of an upload: `uploading catalog.csv  [########------------]  40%  1.20 MB / 3.00 MB`,
 * or without a known total `uploading catalog.csv  1.20 MB`.
 */
export function renderUploadProgress(name: string, sentBytes: number, totalBytes: number | null, options: Pick<ProgressRenderOptions, 'barWidth'> = {}): string {
  if (totalBytes === null) return `uploading ${name}  ${formatBytes(sentBytes)}`;
  const share = totalBytes <= 0 ? 1 : Math.min(1, sentBytes / totalBytes);
  return `uploading ${name}  ${bar(sentBytes, totalBytes, options.barWidth ?? 20)}  ${Math.floor(share * 100)}%  ${formatBytes(sentBytes)} / ${formatBytes(totalBytes)}`;
}

/** The key an upload line is logged under off a terminal: once per quarter (0, 25, 50, 75, 100 %). */
export function uploadProgressKey(sentBytes: number, totalBytes: number | null): string {
  if (totalBytes === null) return 'unknown';
  const share = totalBytes <= 0 ? 1 : Math.min(1, sentBytes / totalBytes);
  return String(Math.floor(share * 4));
}
