import { ClientErrorCodes, isModeldClientError, type Model } from '../client/index.js';
import { StoppedWaiting } from './cli-error.js';
import type { CommandContext } from './context.js';
import { finalMetricsTable, trainingSummary } from './format.js';
import { ProgressLine, renderTrainingProgress, trainingProgressKey } from './progress.js';

/**
 * Follows a model's training until it is AVAILABLE, drawing the progress line on stderr (one
 * line redrawn on a terminal, one line per phase or epoch elsewhere), then prints the result on
 * stdout: the model as JSON with `--json`, else the summary (vector size, best epoch) and the
 * best epoch's validation metrics. TRAINING_FAILED propagates as ModeldClientError
 * MODELD_CLIENT_ERR_TRAINING_FAILED (exit 1, the error line carries `errorMessage`). Ctrl-C /
 * SIGTERM end the following only, by throwing StoppedWaiting (exit 130): the training goes on.
 */
export async function followTraining(ctx: CommandContext, modelId: string, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<Model> {
  const progress = new ProgressLine(ctx.io.stderr);
  const stop = new AbortController();
  const unregister = ctx.io.onStopSignal(() => stop.abort());
  const epochs = new EpochLines(ctx, modelId, progress, stop.signal);
  let last: Model | null = null;
  let model: Model;
  try {
    model = await ctx.client().waitForModel(modelId, {
      ...options,
      signal: stop.signal,
      onProgress: (m) => {
        last = m;
        progress.update(renderTrainingProgress(m), trainingProgressKey(m));
        epochs.poll();
      },
    });
    // A training faster than the polling still shows each of its epochs.
    await epochs.poll();
  } catch (err) {
    if (isModeldClientError(err) && err.code === ClientErrorCodes.ABORTED && stop.signal.aborted) {
      const seen = last as Model | null;
      const where = seen ? `is ${seen.state ?? 'AVAILABLE'}${stage(seen)}` : 'was not read yet';
      throw new StoppedWaiting(
        `stopped following; model ${modelId} ${where} and its training carries on without you (see: modeld models follow ${modelId})`,
      );
    }
    throw err;
  } finally {
    progress.finish();
    unregister();
  }
  if (ctx.json) {
    ctx.outJson(model);
  } else {
    ctx.out(trainingSummary(model));
    if (model.trainingMetrics) ctx.out(`validation metrics of the best epoch:\n${finalMetricsTable(model.trainingMetrics)}`);
  }
  return model;
}

/** `--timeout` and `--interval` (seconds) as the milliseconds followTraining takes. */
export function followOptions(opts: { timeout?: number; interval?: number }): { timeoutMs?: number; intervalMs?: number } {
  const out: { timeoutMs?: number; intervalMs?: number } = {};
  if (opts.timeout !== undefined) out.timeoutMs = opts.timeout * 1000;
  if (opts.interval !== undefined) out.intervalMs = opts.interval * 1000;
  return out;
}

/** ` (epoch 2/3)`, ` (loading-data)` or nothing. */
function stage(m: Model): string {
  const p = m.trainingProgress;
  if (m.state !== 'TRAINING' || !p) return '';
  if (p.phase === 'training' && p.epoch != null) return ` (epoch ${p.epoch}${p.numEpochs == null ? '' : `/${p.numEpochs}`})`;
  return p.phase ? ` (${p.phase})` : '';
}

/**
 * Writes each finished epoch as a line of its own (`epoch 2 of 3: ndcg@5 0.4012 on the validation
 * queries, loss 0.4123, best epoch 2`), from the model's EpochCompleted events: the progress
 * line shows only the latest state, and a poll may miss epochs a fast training went through;
 * the events miss none. Reads are serialized; a failed read is left to the next one.
 */
class EpochLines {
  readonly #ctx: CommandContext;
  readonly #modelId: string;
  readonly #progress: ProgressLine;
  readonly #signal: AbortSignal;
  #afterId = 0;
  #reading: Promise<void> = Promise.resolve();

  constructor(ctx: CommandContext, modelId: string, progress: ProgressLine, signal: AbortSignal) {
    this.#ctx = ctx;
    this.#modelId = modelId;
    this.#progress = progress;
    this.#signal = signal;
  }

  /** Reads the events after the last one seen and logs the epochs among them; resolves when written. */
  poll(): Promise<void> {
    this.#reading = this.#reading.then(() => this.#read()).catch(() => undefined);
    return this.#reading;
  }

  async #read(): Promise<void> {
    for (;;) {
      if (this.#signal.aborted) return;
      const events = await this.#ctx.client().listModelEvents(this.#modelId, { afterId: this.#afterId, limit: 100 });
      for (const e of events) {
        this.#afterId = Math.max(this.#afterId, e.id);
        if (e.reason === 'EpochCompleted') this.#progress.log(e.message);
      }
      if (events.length < 100) return;
    }
  }
}
