/**
 * Runs one replica in this process until it stops: shared by main.ts (a process replica, spec.json
 * written by the process runtime) and pod-main.ts (a Kubernetes pod, spec.json written from the
 * pod's environment).
 */
// Deliberately not '../engines/index.js': the index also exports the import, catalog and USE
// features, whose modules (tfjs, protobufjs) cost about a second of CPU at every replica start
// and are never used by a runner. load-engine.js pulls only the manifest check and the engines.
import { loadEngine } from '../engines/load-engine.js';
import { RunnerExitCodes, readRunnerSpec, writeStatusFile } from './replica-dir.js';
import { Runner, type RunnerLog } from './runner.js';

/**
 * Reads `<replicaDir>/spec.json`, serves until drained or stopped (first SIGTERM/SIGINT drains, a
 * second one while draining stops at once), records crashes in status.json. Resolves with the
 * RunnerExitCodes value to exit with.
 */
export async function runReplica(replicaDir: string, log: RunnerLog): Promise<number> {
  const startedAt = new Date().toISOString();
  let spec;
  try {
    spec = readRunnerSpec(replicaDir);
  } catch (err) {
    const error = `invalid replica spec: ${(err as Error).message}`;
    log('error', error);
    try {
      writeStatusFile(replicaDir, { pid: process.pid, port: null, phase: 'failed', error, startedAt, readyAt: null, exitCode: RunnerExitCodes.badSpec, stopReason: null });
    } catch {
      // No usable replica dir: the exit code and the log are all there is.
    }
    return RunnerExitCodes.badSpec;
  }

  const runner = new Runner({ replicaDir, spec, loadEngine, log });
  // First signal drains; a second one while draining stops at once (the runtime's escalation after its grace period).
  const onSignal = (signal: NodeJS.Signals): void => {
    if (runner.phase === 'draining') process.exit(runner.stopNow(`${signal} while draining`));
    runner.drain(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('uncaughtException', (err) => {
    log('error', 'uncaught exception', { error: err.stack ?? err.message });
    runner.recordCrash(err);
    process.exit(RunnerExitCodes.crashed);
  });
  process.on('unhandledRejection', (reason) => {
    log('error', 'unhandled rejection', { error: reason instanceof Error ? (reason.stack ?? reason.message) : String(reason) });
    runner.recordCrash(reason);
    process.exit(RunnerExitCodes.crashed);
  });
  try {
    await runner.start();
  } catch (err) {
    runner.recordCrash(err);
    throw err;
  }
  const outcome = await runner.done;
  return outcome.exitCode;
}
