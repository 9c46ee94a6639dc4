import { fileURLToPath } from 'node:url';

/**
 * The runner: the replica process that loads one model artifact and serves the runner protocol
 * (protocol.ts) on loopback. Runtimes spawn `RUNNER_ENTRY` with a replica directory; the directory
 * layout, the spec and status files and the exit codes are in replica-dir.ts.
 */
export * from './protocol.js';
export {
  ReplicaFiles,
  MAX_SOCKET_PATH_BYTES,
  socketPathFor,
  privateSocketDir,
  RunnerExitCodes,
  DEFAULT_RUNNER_SETTINGS,
  readRunnerSpec,
  parseRunnerSpec,
  readStatusFile,
  writeStatusFile,
  writeJsonAtomic,
  type RunnerExitCode,
  type RunnerSettings,
  type RunnerSpec,
  type RunnerPhase,
  type RunnerStatus,
} from './replica-dir.js';
export { Batcher, type BatcherOptions, type BatcherStats, type BatchTarget } from './batcher.js';
export { Runner, type RunnerOptions, type RunnerOutcome, type EngineLoader, type RunnerLog } from './runner.js';
export { createRunnerServer, MAX_RUNNER_BODY_BYTES, type RunnerHost } from './server.js';

/** Absolute path of the runner's entry point (main.ts), run as `node --import <tsx> RUNNER_ENTRY <replicaDir>`. */
export const RUNNER_ENTRY = fileURLToPath(new URL('./main.ts', import.meta.url));
