import { ClientErrorCodes, ModeldClientError } from './errors.js';
import type { Deployment, Model } from './types.js';

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
    throwIfAborted(options.signal, `deployment ${deploymentId}`);
    let d: Deployment | null = null;
    try {
      d = await read(options.signal);
    } catch (err) {
      if (!(err instanceof ModeldClientError)) throw err;
      if (options.signal?.aborted) throw abortedError(`deployment ${deploymentId}`, options.signal);
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
    await sleep(Math.min(intervalMs, Math.max(0, deadline - now())), options.signal, `deployment ${deploymentId}`);
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

/** `what` names the waited-for thing: `deployment <id>` or `model <id>`. */
function abortedError(what: string, signal: AbortSignal): ModeldClientError {
  return new ModeldClientError(0, ClientErrorCodes.ABORTED, `stopped waiting for ${what}`, { cause: signal.reason });
}

function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw abortedError(what, signal);
}

function sleep(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError(what, signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(what, signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface ModelWaitOptions {
  /** Give up after this long. Default: no limit (training takes minutes to hours). */
  timeoutMs?: number;
  /** Pause between two reads. Default 1000 ms. */
  intervalMs?: number;
  /** Called with every model read (with `trainingProgress` while TRAINING), before the wait decides whether it is done. */
  onProgress?: (model: Model) => void;
  /** Stops the wait (rejects with MODELD_CLIENT_ERR_ABORTED); the training goes on. */
  signal?: AbortSignal;
}

const DEFAULT_MODEL_INTERVAL_MS = 1000;

/**
 * The polling loop behind waitForModel. Outcomes per read:
 * - AVAILABLE -> resolve with that model;
 * - TRAINING_FAILED -> reject with MODELD_CLIENT_ERR_TRAINING_FAILED carrying `errorMessage`;
 * - DELETING / DELETING_FAILED -> reject (it will never become AVAILABLE);
 * - a 404 or any other 4xx -> reject with the server's error;
 * - no answer, 429 or 5xx -> retried: the server may be restarting, and training resumes or
 *   fails on its own, so the wait must outlive a restart;
 * - TRAINING (or a model without a state) -> read again after `intervalMs`, until `timeoutMs`.
 */
export async function pollModel(
  modelId: string,
  read: (signal: AbortSignal | undefined) => Promise<Model>,
  options: ModelWaitOptions,
  now: () => number,
): Promise<Model> {
  const timeoutMs = options.timeoutMs ?? Infinity;
  const intervalMs = options.intervalMs ?? DEFAULT_MODEL_INTERVAL_MS;
  const deadline = now() + timeoutMs;
  const what = `model ${modelId}`;
  let last: Model | null = null;
  let lastError: ModeldClientError | null = null;
  for (;;) {
    throwIfAborted(options.signal, what);
    let m: Model | null = null;
    try {
      m = await read(options.signal);
    } catch (err) {
      if (!(err instanceof ModeldClientError)) throw err;
      if (options.signal?.aborted) throw abortedError(what, options.signal);
      if (!isTransient(err)) throw err;
      lastError = err;
    }
    if (m) {
      last = m;
      lastError = null;
      options.onProgress?.(m);
      if (m.state === 'AVAILABLE' || m.state === undefined) return m;
      if (m.state === 'TRAINING_FAILED') {
        const errorMessage = m.errorMessage ?? 'the server gave no error message';
        throw new ModeldClientError(0, ClientErrorCodes.TRAINING_FAILED, `training of model ${m.id} failed: ${errorMessage}`, {
          details: { modelId: m.id, errorMessage },
        });
      }
      if (m.state === 'DELETING' || m.state === 'DELETING_FAILED') {
        throw new ModeldClientError(0, ClientErrorCodes.TRAINING_FAILED, `model ${m.id} is ${m.state}; it will not become AVAILABLE`, {
          details: { modelId: m.id, errorMessage: `the model is ${m.state}` },
        });
      }
    }
    if (now() >= deadline) {
      const where = last ? `it is ${last.state ?? 'unknown'}` : lastError ? `last error: ${lastError.message}` : 'no answer';
      throw new ModeldClientError(0, ClientErrorCodes.TIMEOUT, `model ${modelId} not AVAILABLE after ${Math.round(timeoutMs / 1000)}s: ${where}`, {
        details: { modelId, state: last?.state ?? null },
      });
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - now())), options.signal, what);
  }
}
