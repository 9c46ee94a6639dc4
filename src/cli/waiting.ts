import { ClientErrorCodes, isModeldClientError, type Deployment } from '../client/index.js';
import { StoppedWaiting } from './cli-error.js';
import type { CommandContext } from './context.js';
import { ProgressLine, renderDeploymentProgress } from './progress.js';

/**
 * Waits for a deployment to become DEPLOYED ('deployed') or to disappear ('deleted'), drawing
 * the progress line on stderr (stdout stays clean for the result). Ctrl-C / SIGTERM end the wait
 * only (the deployment is left as it is) by throwing StoppedWaiting. Other failures propagate as
 * ModeldClientError (DEPLOY_FAILED carries the reason and message).
 */
export async function waitWithProgress(ctx: CommandContext, deploymentId: string, target: 'deployed', timeoutMs: number): Promise<Deployment>;
export async function waitWithProgress(ctx: CommandContext, deploymentId: string, target: 'deleted', timeoutMs: number): Promise<null>;
export async function waitWithProgress(ctx: CommandContext, deploymentId: string, target: 'deployed' | 'deleted', timeoutMs: number): Promise<Deployment | null> {
  const progress = new ProgressLine(ctx.io.stderr);
  const stop = new AbortController();
  const unregister = ctx.io.onStopSignal(() => stop.abort());
  const started = Date.now();
  let last: Deployment | null = null;
  const options = {
    timeoutMs,
    signal: stop.signal,
    onProgress: (d: Deployment) => {
      last = d;
      progress.update(renderDeploymentProgress(d, { elapsedMs: progress.isTTY ? Date.now() - started : undefined }));
    },
  };
  try {
    if (target === 'deployed') return await ctx.client().waitForDeployment(deploymentId, options);
    await ctx.client().waitForDeploymentDeleted(deploymentId, options);
    return null;
  } catch (err) {
    if (isModeldClientError(err) && err.code === ClientErrorCodes.ABORTED && stop.signal.aborted) {
      const state = (last as Deployment | null)?.state ?? 'unknown';
      throw new StoppedWaiting(
        `stopped waiting; deployment ${deploymentId} is ${state} and carries on without you (see: modeld deployments get ${deploymentId})`,
      );
    }
    throw err;
  } finally {
    progress.finish();
    unregister();
  }
}
