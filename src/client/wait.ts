import { ClientErrorCodes, ModeldClientError } from './errors.js';
import type { Deployment } from './types.js';

export interface WaitOptions {
  /** Give up after this long. Default 600 000 ms (10 min). */
  timeoutMs?: number;
  /** Pause between two reads. Default 500 ms. */
  intervalMs?: number;
  /** Called with every deployment read, before the wait decides whether it is done. */
  onProgress?: (deployment: Deployment) => void;
  /** Stops the wait (rejects with MODELD_CLIENT_ERR_ABORTED); the deployment is left alone. */
  signal?: AbortSignal;
}

const DEFAULT_WAIT_TIMEOUT_MS = 600_000;
const DEFAULT_INTERVAL_MS = 500;

/**
 * The polling loop behind waitForDeployment ('deployed') and waitForDeploymentDeleted
 * ('deleted'). Outcomes per read:
 * - target reached (DEPLOYED; or a 404 while waiting for deletion) -> resolve;
 * - terminal failure (DEPLOY_FAILED, DELETE_FAILED, a deletion while waiting to be deployed,
 *   a 404 while waiting to be deployed, any other 4xx) -> reject;
 * - no answer, 429 or 5xx -> retried: the server may be restarting, and its state survives;
 * - anything else -> read again after `intervalMs`, until `timeoutMs`.
 */
export async function pollDeployment(
  target: 'deployed',
  deploymentId: string,
  read: (signal: AbortSignal | undefined) => Promise<Deployment>,
  options: WaitOptions,
  now: () => number,
): Promise<Deployment>;
export async function pollDeployment(
  target: 'deleted',
  deploymentId: string,
  read: (signal: AbortSignal | undefined) => Promise<Deployment>,
  options: WaitOptions,
  now: () => number,
): Promise<null>;
export async function pollDeployment(
  target: 'deployed' | 'deleted',
  deploymentId: string,
  read: (signal: AbortSignal | undefined) => Promise<Deployment>,
  options: WaitOptions,
  now: () => number,
): Promise<Deployment | null> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const deadline = now() + timeoutMs;
  let last: Deployment | null = null;
  let lastError: ModeldClientError | null = null;

  for (;;) {
    throwIfAborted(options.signal, deploymentId);
    let d: Deployment | null = null;
    try {
      d = await read(options.signal);
    } catch (err) {
      if (!(err instanceof ModeldClientError)) throw err;
      if (options.signal?.aborted) throw abortedError(deploymentId, options.signal);
      if (err.status === 404 && target === 'deleted') return null;
      if (!isTransient(err)) throw err;
      lastError = err;
    }
    if (d) {
      last = d;
      lastError = null;
      options.onProgress?.(d);
      const outcome = judge(target, d);
      if (outcome === 'done') return d;
      if (outcome !== 'continue') throw outcome;
    }
    if (now() >= deadline) {
      const where = last ? `it is ${last.state}${progressText(last)}` : lastError ? `last error: ${lastError.message}` : 'no answer';
      const goal = target === 'deployed' ? 'DEPLOYED' : 'deleted';
      throw new ModeldClientError(0, ClientErrorCodes.TIMEOUT, `deployment ${deploymentId} not ${goal} after ${Math.round(timeoutMs / 1000)}s: ${where}`, {
        details: { deploymentId, state: last?.state ?? null },
      });
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - now())), options.signal, deploymentId);
  }
}

function judge(target: 'deployed' | 'deleted', d: Deployment): 'done' | 'continue' | ModeldClientError {
  const failure = d.status?.failure ?? null;
  if (target === 'deployed') {
    if (d.state === 'DEPLOYED') return 'done';
    if (d.state === 'DEPLOY_FAILED') {
      const reason = failure?.reason ?? 'Unknown';
      const message = failure?.message ?? 'the server gave no failure message';
      return new ModeldClientError(0, ClientErrorCodes.DEPLOY_FAILED, `deployment ${d.id} failed: ${reason}: ${message}`, {
        details: { deploymentId: d.id, reason, message },
      });
    }
    if (d.state === 'DELETING' || d.state === 'DELETE_FAILED') {
      return new ModeldClientError(0, ClientErrorCodes.DEPLOY_FAILED, `deployment ${d.id} is ${d.state}; it will not become DEPLOYED`, {
        details: { deploymentId: d.id, reason: d.state, message: 'the deployment is being deleted' },
      });
    }
    return 'continue';
  }
  if (d.state === 'DELETE_FAILED') {
    const reason = failure?.reason ?? 'Unknown';
    const message = failure?.message ?? 'the server gave no failure message';
    return new ModeldClientError(0, ClientErrorCodes.DELETE_FAILED, `deleting deployment ${d.id} failed: ${reason}: ${message}`, {
      details: { deploymentId: d.id, reason, message },
    });
  }
  return 'continue';
}

function isTransient(err: ModeldClientError): boolean {
  if (err.status === 0) return err.code === ClientErrorCodes.CONNECTION_REFUSED || err.code === ClientErrorCodes.NETWORK || err.code === ClientErrorCodes.TIMEOUT;
  return err.status === 429 || err.status >= 500;
}

/** ` (ready 1/2)` when the deployment has a status. */
function progressText(d: Deployment): string {
  return d.status ? ` (ready ${d.status.readyReplicas}/${d.status.desiredReplicas})` : '';
}

function abortedError(deploymentId: string, signal: AbortSignal): ModeldClientError {
  return new ModeldClientError(0, ClientErrorCodes.ABORTED, `stopped waiting for deployment ${deploymentId}`, { cause: signal.reason });
}

function throwIfAborted(signal: AbortSignal | undefined, deploymentId: string): void {
  if (signal?.aborted) throw abortedError(deploymentId, signal);
}

function sleep(ms: number, signal: AbortSignal | undefined, deploymentId: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError(deploymentId, signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(deploymentId, signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
