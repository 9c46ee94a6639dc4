/**
 * The replica process inside a Kubernetes pod (runtimes/kubernetes): `node --import tsx
 * /app/src/runner/pod-main.ts`. Everything comes from the pod's environment, which the runtime's
 * pod template sets (runtimes/kubernetes/objects.ts):
 *
 * - `POD_IP` (downward API status.podIP) and `MODELD_RUNNER_PORT`: the runner listens on TCP at
 *   that address, where the gateway reaches it directly (no Service in between, so that
 *   least-outstanding balancing, retries and drain work as on one machine);
 * - `POD_NAME`: the runner's replica id as it reports it in `/health`;
 * - `MODELD_ARTIFACT_DIR`: the artifact the `fetch-artifact` init container downloaded and checked;
 * - `MODELD_DEPLOYMENT_ID`, `MODELD_CUSTOMER_ID`, `MODELD_MODEL_ID`, `MODELD_GENERATION`,
 *   `MODELD_INTRA_OP_THREADS`, `MODELD_BATCH_WAIT_MS`, `MODELD_MAX_BATCH_ITEMS`;
 * - `MODEL_CONFIG_JSON` (and `PREDICTIVE_UNIT_PARAMETERS`, read by custom code only): the deployment's config.
 *
 * It writes the equivalent spec.json into a private state directory (`MODELD_STATE_DIR`, default
 * `<tmpdir>/modeld-replica`, an emptyDir: the root filesystem is read-only) and runs the same
 * replica code as a process replica. SIGTERM (pod deletion) drains: in-flight requests finish,
 * then the process exits 0. A bad environment exits 2 (badSpec) naming the variable. A runner that
 * fails writes its reason to `MODELD_TERMINATION_LOG` (the container's terminationMessagePath).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_RUNNER_SETTINGS, RunnerExitCodes, readStatusFile, writeJsonAtomic, type RunnerSpec } from './replica-dir.js';
import { runReplica } from './run-replica.js';
import type { RunnerLog } from './runner.js';

const log: RunnerLog = (level, msg, fields) => {
  const line = JSON.stringify({ time: new Date().toISOString(), level, pid: process.pid, msg, ...fields });
  if (level === 'error') process.stderr.write(`${line}\n`);
  else process.stdout.write(`${line}\n`);
};

/** Thrown for a missing or malformed variable; its message names it. */
class PodEnvError extends Error {}

/** The runner spec a pod's environment describes. Throws PodEnvError naming the first bad variable. */
export function podRunnerSpec(env: NodeJS.ProcessEnv, now: Date = new Date()): RunnerSpec {
  const text = (name: string): string => {
    const v = env[name];
    if (v === undefined || v === '') throw new PodEnvError(`${name} is not set`);
    return v;
  };
  const int = (name: string, fallback?: number): number => {
    const raw = env[name];
    if ((raw === undefined || raw === '') && fallback !== undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new PodEnvError(`${name} must be an integer >= 0, got ${JSON.stringify(raw)}`);
    return n;
  };
  let config: Record<string, unknown> = {};
  if (env.MODEL_CONFIG_JSON !== undefined && env.MODEL_CONFIG_JSON !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(env.MODEL_CONFIG_JSON);
    } catch {
      throw new PodEnvError('MODEL_CONFIG_JSON is not valid JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new PodEnvError('MODEL_CONFIG_JSON must be a JSON object');
    config = parsed as Record<string, unknown>;
  }
  const artifactDir = text('MODELD_ARTIFACT_DIR');
  if (!path.isAbsolute(artifactDir)) throw new PodEnvError('MODELD_ARTIFACT_DIR must be an absolute path');
  return {
    replicaId: text('POD_NAME'),
    deploymentId: text('MODELD_DEPLOYMENT_ID'),
    customerId: text('MODELD_CUSTOMER_ID'),
    modelId: text('MODELD_MODEL_ID'),
    generation: int('MODELD_GENERATION'),
    artifactDir,
    config,
    intraOpThreads: Math.max(1, int('MODELD_INTRA_OP_THREADS', 1)),
    batchWaitMs: int('MODELD_BATCH_WAIT_MS', DEFAULT_RUNNER_SETTINGS.batchWaitMs),
    maxBatchItems: Math.max(1, int('MODELD_MAX_BATCH_ITEMS', DEFAULT_RUNNER_SETTINGS.maxBatchItems)),
    // The kubelet's readiness probe calls /health every few seconds: a runner that stops being
    // probed has lost its pod, so the orphan rule of process replicas holds here too.
    orphanTimeoutMs: DEFAULT_RUNNER_SETTINGS.orphanTimeoutMs,
    socketPath: null,
    listen: { host: text('POD_IP'), port: int('MODELD_RUNNER_PORT') },
    createdAt: now.toISOString(),
  };
}

async function main(): Promise<number> {
  let spec: RunnerSpec;
  try {
    spec = podRunnerSpec(process.env);
  } catch (err) {
    if (!(err instanceof PodEnvError)) throw err;
    log('error', `invalid pod environment: ${err.message}`);
    return RunnerExitCodes.badSpec;
  }
  const stateDir = path.resolve(process.env.MODELD_STATE_DIR || path.join(os.tmpdir(), 'modeld-replica'));
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writeJsonAtomic(path.join(stateDir, 'spec.json'), spec);
  const code = await runReplica(stateDir, log);
  // Kubernetes shows a container's termination message (terminationMessagePath) as the reason
  // it ended: the runner's own error, rather than whatever log line came last.
  const error = code === 0 ? null : readStatusFile(stateDir)?.error;
  if (error && process.env.MODELD_TERMINATION_LOG) {
    try {
      writeFileSync(process.env.MODELD_TERMINATION_LOG, error.slice(0, 4000));
    } catch {
      // No termination log file: the log has it.
    }
  }
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log('error', 'runner failed to start', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exit(RunnerExitCodes.crashed);
  },
);
