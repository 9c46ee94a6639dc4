import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, fstatSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { redactHostPaths } from '../../domain/index.js';
import { ModeldError, invalidField } from '../../errors/index.js';
import {
  DEFAULT_RUNNER_SETTINGS,
  ReplicaFiles,
  RUNNER_ENTRY,
  RunnerExitCodes,
  readRunnerSpec,
  runnerEndpoint,
  socketPathFor,
  privateSocketDir,
  readStatusFile,
  writeJsonAtomic,
  type RunnerHealth,
  type RunnerSettings,
  type RunnerSpec,
  type RunnerStatus,
} from '../../runner/index.js';
import type { ObservedReplica, ReplicaPhase, ReplicaSpec, Runtime } from '../types.js';
import { modelConfigEnv } from './model-env.js';
import { httpJson, isProcessOf, signalGroup, waitUntil } from './os-process.js';

/** pino-compatible subset the runtime logs through. */
export interface RuntimeLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

export interface ProcessRuntimeOptions {
  /** Directory holding one sub-directory per replica (`<dataDir>/replicas`); created if missing. */
  replicasDir: string;
  /**
   * Node arguments placed before the replica directory. Default: `--import <absolute tsx ESM
   * loader> <absolute runner main.ts>` (the absolute loader path spares the child a package lookup).
   */
  runnerArgs?: string[];
  /** Executable of the runner; default the current Node binary. */
  execPath?: string;
  /** Timeout of each health, drain probe (default 1000 ms). */
  probeTimeoutMs?: number;
  /** Batching and orphan settings handed to every runner (`config.runner` may be passed whole); defaults DEFAULT_RUNNER_SETTINGS. */
  runner?: Partial<RunnerSettings>;
  /**
   * Environment of runner processes, besides MODEL_CONFIG_JSON and PREDICTIVE_UNIT_PARAMETERS
   * (default: nothing else; the composition root passes what it wants inherited).
   */
  env?: Record<string, string>;
  /**
   * Runner sockets whose `<replica dir>/runner.sock` path is too long for a Unix socket address go
   * to `<socketParentDir>/modeld-<uid>/` (mode 0700, made on first need; see privateSocketDir).
   * Default: the OS temp directory.
   */
  socketParentDir?: string;
  /** After SIGTERM, how long a replica gets before SIGKILL (default 2000 ms). */
  killGraceMs?: number;
  /** Grace each replica gets in `stop({stopReplicas: true})` (default 30 000 ms). */
  stopGraceMs?: number;
  logger?: RuntimeLogger;
}

/** Replica ids become directory names: no separators, no dot-dot, bounded length. */
const REPLICA_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** After SIGKILL, how long to wait for the process to disappear before giving up. */
const KILL_WAIT_MS = 5_000;
/** Bytes of runner.log read to report the last lines of a replica that died. */
const LOG_TAIL_BYTES = 4096;
const LOG_TAIL_LINES = 12;

interface ChildRecord {
  pid: number | undefined;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  spawnError: string | null;
  exited: Promise<void>;
}

const silentLogger: RuntimeLogger = { info() {}, warn() {} };

function defaultRunnerArgs(): string[] {
  return ['--import', fileURLToPath(import.meta.resolve('tsx/esm')), RUNNER_ENTRY];
}

/**
 * The default runtime: each replica is a runner process on this machine, spawned detached (own
 * process group, not waited for, stdio to `<replicaDir>/runner.log`) so that it survives the server
 * being killed with -9. Nothing about replicas is kept only in memory: `listReplicas()` re-derives
 * everything from the replica directories, the live processes (pid + /proc command line) and a
 * `/health` probe, so a new instance over the same `replicasDir` adopts the replicas that are
 * still alive and reports dead ones as exited. The only in-memory state is the exit status of
 * children this instance spawned (a more precise exit code than the status file can give).
 */
export class ProcessRuntime implements Runtime {
  readonly kind = 'process' as const;
  readonly #dir: string;
  readonly #runnerArgs: string[];
  readonly #execPath: string;
  readonly #probeTimeoutMs: number;
  readonly #settings: RunnerSettings;
  readonly #env: Record<string, string>;
  readonly #killGraceMs: number;
  readonly #stopGraceMs: number;
  readonly #log: RuntimeLogger;
  readonly #socketDir: (() => string);
  readonly #children = new Map<string, ChildRecord>();
  /** Replicas whose exit (with its log tail) was written to the operator log already: once each. */
  readonly #exitLogged = new Set<string>();
  /** Replicas whose createReplica has not returned yet (no pid file yet). */
  readonly #creating = new Set<string>();
  #started = false;

  constructor(options: ProcessRuntimeOptions) {
    this.#dir = path.resolve(options.replicasDir);
    this.#runnerArgs = options.runnerArgs ?? defaultRunnerArgs();
    this.#execPath = options.execPath ?? process.execPath;
    this.#probeTimeoutMs = options.probeTimeoutMs ?? 1_000;
    // Picked key by key: callers may pass config.runner whole, whose other keys are not runner settings.
    const r = options.runner ?? {};
    this.#settings = {
      batchWaitMs: r.batchWaitMs ?? DEFAULT_RUNNER_SETTINGS.batchWaitMs,
      maxBatchItems: r.maxBatchItems ?? DEFAULT_RUNNER_SETTINGS.maxBatchItems,
      orphanTimeoutMs: r.orphanTimeoutMs ?? DEFAULT_RUNNER_SETTINGS.orphanTimeoutMs,
    };
    this.#env = { ...options.env };
    this.#killGraceMs = options.killGraceMs ?? 2_000;
    this.#stopGraceMs = options.stopGraceMs ?? 30_000;
    this.#log = options.logger ?? silentLogger;
    const parent = options.socketParentDir;
    this.#socketDir = () => privateSocketDir(parent);
  }

  /** Creates `replicasDir` and probes what is there, which resets the orphan timer of every surviving runner. */
  async start(): Promise<void> {
    if (this.#started) return;
    mkdirSync(this.#dir, { recursive: true });
    this.#started = true;
    const found = await this.listReplicas();
    const live = found.filter((r) => r.phase !== 'exited');
    if (found.length > 0) {
      this.#log.info({ adopted: live.map((r) => r.replicaId), exited: found.length - live.length }, 'process runtime found existing replicas');
    }
  }

  /**
   * `stopReplicas: true` drains and removes every replica (each gets `stopGraceMs`); false leaves
   * them running for the next instance to adopt (their orphan timers stop them if none comes).
   */
  async stop(options: { stopReplicas?: boolean } = {}): Promise<void> {
    if (options.stopReplicas) {
      const replicas = await this.listReplicas();
      await Promise.all(replicas.map((r) => this.deleteReplica(r.replicaId, { graceMs: this.#stopGraceMs })));
    }
    this.#children.clear();
    this.#started = false;
  }

  /**
   * Writes `<replicasDir>/<replicaId>/spec.json` and spawns the runner; returns once it is spawned
   * (readiness shows in listReplicas). `intraOpThreads` below 1 becomes 1. Throws
   * MODELD_ERR_VALIDATION for an unusable replicaId or artifactDir, MODELD_ERR_CONFLICT when the
   * replica exists, MODELD_ERR_UNAVAILABLE when the process cannot be spawned.
   */
  async createReplica(spec: ReplicaSpec): Promise<void> {
    if (!REPLICA_ID.test(spec.replicaId)) throw invalidField('replicaId', `must match ${REPLICA_ID}, got ${JSON.stringify(spec.replicaId)}`);
    if (!path.isAbsolute(spec.artifactDir)) throw invalidField('artifactDir', `must be an absolute path, got ${JSON.stringify(spec.artifactDir)}`);
    mkdirSync(this.#dir, { recursive: true });
    const dir = path.join(this.#dir, spec.replicaId);
    const socketPath = socketPathFor(dir, this.#socketDir);
    try {
      mkdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new ModeldError('MODELD_ERR_CONFLICT', `replica ${spec.replicaId} already exists`, { details: { replicaId: spec.replicaId } });
      }
      throw err;
    }
    this.#creating.add(spec.replicaId);
    try {
      const runnerSpec: RunnerSpec = {
        replicaId: spec.replicaId,
        deploymentId: spec.deploymentId,
        customerId: spec.customerId,
        generation: spec.generation,
        modelId: spec.modelId,
        artifactDir: spec.artifactDir,
        config: spec.config,
        intraOpThreads: Math.max(1, Math.floor(spec.intraOpThreads)),
        ...this.#settings,
        socketPath,
        createdAt: new Date().toISOString(),
      };
      writeJsonAtomic(path.join(dir, ReplicaFiles.spec), runnerSpec);
      const record = await this.#spawn(spec.replicaId, dir, spec.config);
      if (record.pid === undefined) {
        rmSync(dir, { recursive: true, force: true });
        throw new ModeldError('MODELD_ERR_UNAVAILABLE', `cannot start replica ${spec.replicaId}: ${record.spawnError ?? 'spawn failed'}`, {
          details: { replicaId: spec.replicaId },
        });
      }
      writeFileSync(path.join(dir, ReplicaFiles.pid), `${record.pid}\n`);
      this.#children.set(spec.replicaId, record);
      this.#log.info({ replicaId: spec.replicaId, deploymentId: spec.deploymentId, pid: record.pid }, 'replica spawned');
    } finally {
      this.#creating.delete(spec.replicaId);
    }
  }

  async #spawn(replicaId: string, dir: string, config: Record<string, unknown>): Promise<ChildRecord> {
    const logFd = openSync(path.join(dir, ReplicaFiles.log), 'a');
    let child;
    try {
      child = spawn(this.#execPath, [...this.#runnerArgs, dir], {
        cwd: dir,
        detached: true,
        stdio: ['ignore', logFd, logFd],
        env: { ...this.#env, ...modelConfigEnv(config) },
      });
    } finally {
      closeSync(logFd);
    }
    let resolveExited!: () => void;
    const record: ChildRecord = {
      pid: child.pid,
      exit: null,
      spawnError: null,
      exited: new Promise((resolve) => {
        resolveExited = resolve;
      }),
    };
    child.on('exit', (code, signal) => {
      record.exit = { code, signal };
      this.#log.info({ replicaId, pid: record.pid, code, signal }, 'replica exited');
      resolveExited();
    });
    const spawned = new Promise<void>((resolve) => {
      child.once('spawn', resolve);
      child.once('error', (err) => {
        record.spawnError = err.message;
        record.pid = undefined;
        resolveExited();
        resolve();
      });
    });
    await spawned;
    child.unref();
    return record;
  }

  async listReplicas(deploymentId?: string): Promise<ObservedReplica[]> {
    let names: string[];
    try {
      names = readdirSync(this.#dir, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const observed = await Promise.all(names.map((name) => this.#observe(name, deploymentId)));
    return observed.filter((r): r is ObservedReplica => r !== null);
  }

  /** Observes one replica dir; null when it is not (yet) a replica or belongs to another deployment. */
  async #observe(name: string, deploymentId: string | undefined): Promise<ObservedReplica | null> {
    const dir = path.join(this.#dir, name);
    let spec: RunnerSpec;
    try {
      spec = readRunnerSpec(dir);
    } catch {
      return null; // being created (spec not written yet) or not ours
    }
    if (deploymentId !== undefined && spec.deploymentId !== deploymentId) return null;
    const status = readStatusFile(dir);
    const pid = readPidFile(dir) ?? status?.pid ?? null;
    const child = this.#children.get(spec.replicaId);
    const base = {
      replicaId: spec.replicaId,
      deploymentId: spec.deploymentId,
      generation: spec.generation,
      pid,
      startedAt: status?.startedAt ?? spec.createdAt,
      readyAt: status?.readyAt ?? null,
    };

    const alive = child?.exit != null ? false : pid !== null ? isProcessOf(pid, dir) : this.#creating.has(spec.replicaId);
    if (!alive) return { ...base, ...this.#describeExit(dir, spec, pid, status, child) };

    // A runner from before Unix sockets wrote only its port: it is reached (and adopted) over TCP.
    const endpoint = status === null ? null : runnerEndpoint(status);
    const loadFailed = status?.phase === 'failed' && status.exitCode === RunnerExitCodes.loadFailed;
    if (endpoint === null) {
      return { ...base, phase: 'starting', endpoint, exitCode: null, lastError: forCustomer(status?.error), loadFailed, inflight: 0 };
    }
    try {
      const health = await httpJson('GET', endpoint, '/health', this.#probeTimeoutMs);
      const body = health.body as Partial<RunnerHealth>;
      const phase: ReplicaPhase =
        health.status === 200 && body.phase === 'ready' ? 'ready' : body.phase === 'starting' ? 'starting' : 'draining';
      return {
        ...base,
        readyAt: phase === 'ready' ? (base.readyAt ?? new Date().toISOString()) : base.readyAt,
        phase,
        endpoint,
        exitCode: null,
        lastError: forCustomer(body.error ?? status?.error),
        loadFailed: loadFailed || (body.phase === 'failed' && /load failed/.test(body.error ?? '')),
        inflight: typeof body.inflight === 'number' ? body.inflight : 0,
      };
    } catch (err) {
      // Alive but not answering: never reported ready (the gateway must not route to it). A runner
      // that is stopping closes its socket first, hence `draining` for those phases.
      const leaving = status?.phase === 'draining' || status?.phase === 'stopped' || status?.phase === 'failed';
      return {
        ...base,
        phase: leaving ? 'draining' : 'starting',
        endpoint,
        exitCode: null,
        lastError: forCustomer(status?.error) ?? 'health probe failed (the runner did not answer)',
        loadFailed,
        inflight: 0,
      };
    }
  }

  /** Exit facts of a replica whose process is gone: our child's exit status, else what the runner wrote. */
  #describeExit(
    dir: string,
    spec: RunnerSpec,
    pid: number | null,
    status: RunnerStatus | null,
    child: ChildRecord | undefined,
  ): Pick<ObservedReplica, 'phase' | 'endpoint' | 'exitCode' | 'lastError' | 'operatorDetail' | 'loadFailed' | 'inflight'> {
    let exitCode: number | null = status?.exitCode ?? null;
    let how: string;
    if (child?.spawnError) {
      how = `runner could not be spawned: ${child.spawnError}`;
    } else if (child?.exit) {
      const { code, signal } = child.exit;
      exitCode = code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : null);
      how = signal ? `runner was killed by ${signal}` : `runner exited with code ${code}`;
    } else if (pid === null) {
      how = 'runner was never spawned (the server stopped while creating it)';
    } else if (status?.exitCode != null) {
      how = `runner exited with code ${status.exitCode}`;
    } else {
      how = `runner process ${pid} is gone without a final status (killed or crashed) in phase ${status?.phase ?? 'starting'}`;
    }
    const clean = exitCode === RunnerExitCodes.stopped && status?.phase === 'stopped';
    // The customer sees the runner's own reason (host paths cut) or how it ended; its log lines
    // (stack traces, host paths, other output) go to the operator log once, and ride along as
    // operatorDetail, never into events or status.
    const lastError = forCustomer(status?.error) ?? (clean ? null : how);
    const operatorDetail = clean ? null : readLogTail(path.join(dir, ReplicaFiles.log)) || null;
    if (!clean && !this.#exitLogged.has(spec.replicaId)) {
      this.#exitLogged.add(spec.replicaId);
      this.#log.warn(
        { replicaId: spec.replicaId, deploymentId: spec.deploymentId, pid, exitCode, how, error: status?.error ?? null, logTail: operatorDetail },
        'replica ended with an error',
      );
    }
    return {
      phase: 'exited',
      endpoint: null,
      exitCode,
      lastError,
      operatorDetail,
      loadFailed: exitCode === RunnerExitCodes.loadFailed || (status?.phase === 'failed' && status.exitCode === RunnerExitCodes.loadFailed),
      inflight: 0,
    };
  }

  /**
   * POST /drain, wait up to graceMs for the runner to finish its in-flight work and exit, then
   * SIGTERM and, after killGraceMs, SIGKILL its process group; then remove its directory.
   * Idempotent: an unknown replica is already deleted. Throws MODELD_ERR_UNAVAILABLE when the
   * process survives SIGKILL (the directory is kept so that a retry can find it).
   */
  async deleteReplica(replicaId: string, options: { graceMs: number }): Promise<void> {
    if (!REPLICA_ID.test(replicaId)) return;
    const dir = path.join(this.#dir, replicaId);
    if (!existsSync(dir)) {
      this.#children.delete(replicaId);
      return;
    }
    const status = readStatusFile(dir);
    const pid = readPidFile(dir) ?? status?.pid ?? null;
    const child = this.#children.get(replicaId);
    const alive = (): boolean => pid !== null && child?.exit == null && isProcessOf(pid, dir);

    if (alive()) {
      const endpoint = status === null ? null : runnerEndpoint(status);
      if (endpoint !== null) {
        await httpJson('POST', endpoint, '/drain', this.#probeTimeoutMs).catch(() => {
          // Not listening yet, or already closing: the signals below take over.
        });
      } else {
        signalGroup(pid!, 'SIGTERM'); // still loading: SIGTERM makes it stop as soon as the model is loaded
      }
      let gone = await waitUntil(() => !alive(), options.graceMs);
      if (!gone) {
        this.#log.warn({ replicaId, pid, graceMs: options.graceMs }, 'replica did not drain in time: SIGTERM');
        signalGroup(pid!, 'SIGTERM');
        gone = await waitUntil(() => !alive(), this.#killGraceMs);
      }
      if (!gone) {
        this.#log.warn({ replicaId, pid }, 'replica ignored SIGTERM: SIGKILL');
        signalGroup(pid!, 'SIGKILL');
        gone = await waitUntil(() => !alive(), KILL_WAIT_MS);
      }
      if (!gone) {
        throw new ModeldError('MODELD_ERR_UNAVAILABLE', `replica ${replicaId} (pid ${pid}) did not stop after SIGKILL`, { details: { replicaId, pid } });
      }
    }
    // A socket outside the directory (a long replica path, see socketPathFor) goes with it.
    if (status?.socketPath && path.dirname(status.socketPath) !== dir) rmSync(status.socketPath, { force: true });
    rmSync(dir, { recursive: true, force: true });
    this.#children.delete(replicaId);
    this.#exitLogged.delete(replicaId);
    this.#log.info({ replicaId, pid }, 'replica deleted');
  }
}

/** A runner's error as a customer may see it (events, deployment status): host paths cut to their last name; null for none. */
function forCustomer(error: string | null | undefined): string | null {
  return error == null || error === '' ? null : redactHostPaths(error);
}

function readPidFile(dir: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path.join(dir, ReplicaFiles.pid), 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Last lines of a log file (at most LOG_TAIL_BYTES), or '' when there is none. */
function readLogTail(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, LOG_TAIL_BYTES);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    const lines = buf.toString('utf8').split('\n').filter((l) => l.trim() !== '');
    if (size > length) lines.shift(); // probably cut in the middle
    return lines.slice(-LOG_TAIL_LINES).join('\n');
  } finally {
    closeSync(fd);
  }
}
