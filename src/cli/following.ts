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
  let last: Model | null = null;
  let model: Model;
  try {
    model = await ctx.client().waitForModel(modelId, {
      ...options,
      signal: stop.signal,
      onProgress: (m) => {
        last = m;
        progress.update(renderTrainingProgress(m), trainingProgressKey(m));
      },
    });
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
