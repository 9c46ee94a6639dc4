import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ModeldError, invalidField } from '../errors/index.js';

/**
 * The replica directory: the only channel between a runtime and a runner besides HTTP. The runtime
 * writes `spec.json` before spawning and `pid` right after; the runner writes `status.json` at
 * every phase change and its stdout/stderr go to `runner.log`. Everything a runtime reports about a
 * replica after a server restart is re-derived from these files plus the live process.
 */
export const ReplicaFiles = {
  spec: 'spec.json',
  status: 'status.json',
  log: 'runner.log',
  pid: 'pid',
  /** The runner's Unix domain socket, when the runtime asked for one (spec.socketPath). */
  socket: 'runner.sock',
} as const;

/** Longest socket path a Unix domain socket can be bound to on Linux (sun_path is 108 bytes with the NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/**
 * The socket path a runner in `replicaDir` listens on: `<replicaDir>/runner.sock` when it fits in
 * a Unix socket address, else `<shortDir>/<hash of replicaDir>.sock` in a private directory with a
 * short path (see privateSocketDir). A runner never falls back to loopback TCP, where any local
 * user could call `/embed` or `/drain`. Throws MODELD_ERR_VALIDATION naming the data directory when
 * neither path fits (a TMPDIR longer than 60 bytes or so).
 */
export function socketPathFor(replicaDir: string, shortDir: () => string): string {
  const file = path.join(replicaDir, ReplicaFiles.socket);
  if (Buffer.byteLength(file) <= MAX_SOCKET_PATH_BYTES) return file;
  const short = path.join(shortDir(), `${createHash('sha256').update(replicaDir).digest('hex').slice(0, 24)}.sock`);
  if (Buffer.byteLength(short) <= MAX_SOCKET_PATH_BYTES) return short;
  throw invalidField('dataDir', `replica socket paths do not fit in a Unix socket address (${MAX_SOCKET_PATH_BYTES} bytes): neither ${file} nor ${short}; use a shorter data directory or TMPDIR`);
}

/**
 * A directory for runner sockets whose own path is short: `<tmpdir>/modeld-<uid>`, created mode
 * 0700. An existing one is used only when it is a real directory (not a symlink) owned by this
 * user with no access for group or others; anything else is refused (another local user could
 * have planted it), naming the directory.
 */
export function privateSocketDir(tmpdir: string = os.tmpdir()): string {
  const uid = process.getuid?.() ?? 0;
  const dir = path.join(tmpdir, `modeld-${uid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new ModeldError('MODELD_ERR_UNAVAILABLE', `${dir} cannot hold replica sockets: it must be a directory owned by uid ${uid} with mode 0700 (remove it, modeld makes it)`, {
      details: { dir },
    });
  }
  return dir;
}

/**
 * Exit codes of the runner process, stable: a runtime reads them to tell a clean stop from a
 * crash and a model that will never load from a transient failure.
 */
export const RunnerExitCodes = {
  /** Drained and stopped: `/drain`, SIGTERM/SIGINT, or orphaned (no health probe for orphanTimeoutMs). */
  stopped: 0,
  /** Unexpected error after start (uncaught exception, listen failure). */
  crashed: 1,
  /** `spec.json` missing or invalid, or bad command line. */
  badSpec: 2,
  /** The model could not be loaded or the warm-up inference failed: restarting with the same artifact will not help. */
  loadFailed: 3,
} as const;
export type RunnerExitCode = (typeof RunnerExitCodes)[keyof typeof RunnerExitCodes];

/** Runner tuning the runtime passes along with the replica spec (config `runner.*`). */
export interface RunnerSettings {
  /** How long an idle engine waits for more requests to merge into one batch. */
  batchWaitMs: number;
  /**
   * Most texts in one engine call (per dataType). Default 32, the API's largest batch: a GRU or
   * transformer pads every row to the longest one and works on a larger state, so CPU per text
   * grows with the batch past a few dozen texts (BiGRU reference, min of 8 runs: 0.25 ms per text
   * at 8, 0.30 at 32, 0.35 at 64, 0.53 at 256). Merging small requests up to 32 pays; merging
   * full 32-text requests into one call of 256 made each text almost twice as dear.
   */
  maxBatchItems: number;
  /** With no `/health` probe for this long the runner drains and exits (no orphans). */
  orphanTimeoutMs: number;
}

export const DEFAULT_RUNNER_SETTINGS: Readonly<RunnerSettings> = Object.freeze({
  batchWaitMs: 1,
  maxBatchItems: 32,
  orphanTimeoutMs: 300_000,
});

/**
 * `spec.json`: the runtime port's ReplicaSpec (same fields, declared here so that the runner does
 * not depend on runtimes/), the runner settings, and when the runtime created the replica.
 */
export interface RunnerSpec extends RunnerSettings {
  replicaId: string;
  deploymentId: string;
  customerId: string;
  generation: number;
  modelId: string;
  artifactDir: string;
  config: Record<string, unknown>;
  intraOpThreads: number;
  /** Absolute path of the Unix domain socket to serve on; absent or null: TCP (see `listen`). */
  socketPath?: string | null;
  /**
   * TCP address to serve on when there is no socket: absent, loopback (127.0.0.1) on a random
   * port (the process runtime). A pod's runner listens on its pod IP and the pod's fixed port
   * (pod-main.ts), where the gateway reaches it directly.
   */
  listen?: { host: string; port: number } | null;
  createdAt: string;
}

/** Phases the runner writes; `stopped` and `failed` are written just before the process exits. */
export type RunnerPhase = 'starting' | 'ready' | 'draining' | 'failed' | 'stopped';

/** `status.json`, replaced atomically at each phase change. */
export interface RunnerStatus {
  pid: number;
  /** Loopback port of the runner's HTTP server; null before it listens, or when it listens on a socket. */
  port: number | null;
  /** Unix domain socket the runner listens on; null or absent (a runner that predates sockets) when it uses `port`. */
  socketPath?: string | null;
  phase: RunnerPhase;
  /** Why the runner failed (load failure, crash); null otherwise. */
  error: string | null;
  startedAt: string;
  readyAt: string | null;
  /** Set with the final phase: the exit code the process is about to exit with. */
  exitCode: number | null;
  /** Why a stopped runner stopped (`drain request`, `SIGTERM`, `orphaned`, ...). */
  stopReason: string | null;
}

/** Writes JSON so that readers see the old or the new content, never a torn file. */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, file);
}

export function writeStatusFile(replicaDir: string, status: RunnerStatus): void {
  writeJsonAtomic(path.join(replicaDir, ReplicaFiles.status), status);
}

/** The runner's last status, or null when it has not written one yet (or the file is unreadable). */
export function readStatusFile(replicaDir: string): RunnerStatus | null {
  const raw = readJsonOrNull(path.join(replicaDir, ReplicaFiles.status));
  if (raw === null || typeof raw !== 'object') return null;
  return raw as RunnerStatus;
}

/**
 * Reads and validates `spec.json`. Throws a MODELD_ERR_VALIDATION ModeldError naming the field
 * (or the file, when it is missing or not JSON).
 */
export function readRunnerSpec(replicaDir: string): RunnerSpec {
  const file = path.join(replicaDir, ReplicaFiles.spec);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw invalidField(file, `cannot read (${(err as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw invalidField(file, `not valid JSON (${(err as Error).message})`);
  }
  return parseRunnerSpec(raw);
}

/** Validates a runner spec object; throws a MODELD_ERR_VALIDATION ModeldError naming the first bad field. */
export function parseRunnerSpec(raw: unknown): RunnerSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalidField('spec', 'must be an object');
  const o = raw as Record<string, unknown>;
  for (const key of ['replicaId', 'deploymentId', 'customerId', 'modelId', 'artifactDir', 'createdAt'] as const) {
    if (typeof o[key] !== 'string' || o[key] === '') throw invalidField(`spec.${key}`, 'must be a non-empty string');
  }
  if (!path.isAbsolute(o.artifactDir as string)) throw invalidField('spec.artifactDir', 'must be an absolute path');
  if (!Number.isInteger(o.generation) || (o.generation as number) < 0) throw invalidField('spec.generation', 'must be an integer >= 0');
  if (!Number.isInteger(o.intraOpThreads) || (o.intraOpThreads as number) < 1) throw invalidField('spec.intraOpThreads', 'must be an integer >= 1');
  if (typeof o.config !== 'object' || o.config === null || Array.isArray(o.config)) throw invalidField('spec.config', 'must be an object');
  if (typeof o.batchWaitMs !== 'number' || !(o.batchWaitMs >= 0)) throw invalidField('spec.batchWaitMs', 'must be a number >= 0');
  if (!Number.isInteger(o.maxBatchItems) || (o.maxBatchItems as number) < 1) throw invalidField('spec.maxBatchItems', 'must be an integer >= 1');
  if (!Number.isInteger(o.orphanTimeoutMs) || (o.orphanTimeoutMs as number) < 1) throw invalidField('spec.orphanTimeoutMs', 'must be an integer >= 1');
  if (o.socketPath !== undefined && o.socketPath !== null) {
    if (typeof o.socketPath !== 'string' || !path.isAbsolute(o.socketPath)) throw invalidField('spec.socketPath', 'must be an absolute path or null');
    if (Buffer.byteLength(o.socketPath) > MAX_SOCKET_PATH_BYTES) throw invalidField('spec.socketPath', `must be at most ${MAX_SOCKET_PATH_BYTES} bytes (a Unix socket path)`);
  }
  if (o.listen !== undefined && o.listen !== null) {
    const l = o.listen as Record<string, unknown>;
    if (typeof l !== 'object' || typeof l.host !== 'string' || l.host === '') throw invalidField('spec.listen.host', 'must be a non-empty string');
    if (!Number.isInteger(l.port) || (l.port as number) < 0 || (l.port as number) > 65535) throw invalidField('spec.listen.port', 'must be an integer port (0-65535)');
  }
  return o as unknown as RunnerSpec;
}

function readJsonOrNull(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch {
    return null;
  }
}
