/**
 * The replica process: `node --import <tsx loader> src/runner/main.ts <replicaDir>`.
 * Reads `<replicaDir>/spec.json`, serves the runner protocol on 127.0.0.1 and exits with a
 * RunnerExitCodes value. SIGTERM and SIGINT drain. Everything it has to say goes to stdout/stderr
 * (the runtime points them at `<replicaDir>/runner.log`) and to `status.json`.
 */
import path from 'node:path';
import { RunnerExitCodes } from './replica-dir.js';
import { runReplica } from './run-replica.js';
import type { RunnerLog } from './runner.js';

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
  return runReplica(replicaDir, log);
}

// Exit explicitly: native inference threads or a stray handle must not keep a stopped replica alive.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    log('error', 'runner failed to start', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exit(RunnerExitCodes.crashed);
  },
);
