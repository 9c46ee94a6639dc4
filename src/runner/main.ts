/**
 * The replica process: `node --import <tsx loader> src/runner/main.ts <replicaDir>`.
 * Reads `<replicaDir>/spec.json`, serves the runner protocol on 127.0.0.1 and exits with a
 * RunnerExitCodes value. SIGTERM and SIGINT drain. Everything it has to say goes to stdout/stderr
 * (the runtime points them at `<replicaDir>/runner.log`) and to `status.json`.
 */
import path from 'node:path';
// Deliberately not '../engines/index.js': the index also exports the import, catalog and USE
// features, whose modules (tfjs, protobufjs) cost about a second of CPU at every replica start
// and are never used by a runner. load-engine.js pulls only the manifest check and the engines.
import { loadEngine } from '../engines/load-engine.js';
import { RunnerExitCodes, readRunnerSpec, writeStatusFile } from './replica-dir.js';
import { Runner, type RunnerLog } from './runner.js';

const log: RunnerLog = (level, msg, fields) => {
  const line = JSON.stringify({ time: new Date().toISOString(), level, pid: process.pid, msg, ...fields });
  if (level === 'error') process.stderr.write(`${line}\n`);
  else process.stdout.write(`${line}\n`);
};

async function main(argv: string[]): Promise<number> {
  const dirArg = argv[0];
  if (dirArg === undefined || argv.length !== 1) {
    log('error', 'usage: runner <replicaDir>');
    return RunnerExitCodes.badSpec;
  }
  const replicaDir = path.resolve(dirArg);
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

// Exit explicitly: native inference threads or a stray handle must not keep a stopped replica alive.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    log('error', 'runner failed to start', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exit(RunnerExitCodes.crashed);
  },
);
