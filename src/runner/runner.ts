import { lstatSync, unlinkSync } from 'node:fs';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EmbeddingEngine, LoadEngineOptions, TokenizeResult } from '../engines/index.js';
import { Batcher } from './batcher.js';
import { runnerEndpoint, type EmbedRequest, type RunnerErrorBody, type RunnerHealth } from './protocol.js';
import { RunnerExitCodes, writeStatusFile, type RunnerPhase, type RunnerSpec, type RunnerStatus } from './replica-dir.js';
import { createRunnerServer, type RunnerHost } from './server.js';

export type EngineLoader = (artifactDir: string, options: LoadEngineOptions) => Promise<EmbeddingEngine>;

/** One structured log line (the runner's stdout goes to `runner.log`). */
export type RunnerLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface RunnerOptions {
  /** Where `status.json` is written. */
  replicaDir: string;
  spec: RunnerSpec;
  loadEngine: EngineLoader;
  log?: RunnerLog;
}

/** How a runner ended: the process exits with `exitCode` (RunnerExitCodes). */
export interface RunnerOutcome {
  exitCode: number;
  phase: 'stopped' | 'failed';
  reason: string;
  error: string | null;
}

/** Text of the warm-up inference that must pass before the runner reports ready. */
const WARM_UP_TEXT = 'modeld warm-up inference';
/** After a stop, connections still open this long are cut. */
const CLOSE_GRACE_MS = 1_000;
/** How long a runner with no work left keeps reading its connections before closing them (see closeServer). */
const CLOSE_LINGER_MS = 100;

/**
 * One replica's lifecycle, in process: listen (on `spec.socketPath`, else on 127.0.0.1 with a
 * random port), load the engine, run one
 * warm-up inference, then serve until drained. `status.json` is rewritten at each phase change:
 * starting -> ready -> draining -> stopped, or -> failed (load error). `done` resolves once the
 * runner has stopped serving and released the engine; the caller (main.ts) then exits with
 * `outcome.exitCode`.
 *
 * Drain (POST /drain, a signal, or no health probe for `orphanTimeoutMs`): new work gets 503
 * `draining`; work admitted before the drain is finished; then the server closes.
 */
export class Runner implements RunnerHost {
  readonly #dir: string;
  readonly #spec: RunnerSpec;
  readonly #loadEngine: EngineLoader;
  readonly #log: RunnerLog;
  readonly #server: http.Server;
  readonly #startedAt = new Date().toISOString();
  readonly #done: Promise<RunnerOutcome>;
  #resolveDone!: (outcome: RunnerOutcome) => void;
  #phase: RunnerPhase = 'starting';
  #port: number | null = null;
  #socketPath: string | null = null;
  #readyAt: string | null = null;
  #error: string | null = null;
  #stopReason: string | null = null;
  #engine: EmbeddingEngine | null = null;
  #batcher: Batcher | null = null;
  #inflight = 0;
  /** Admitted embed requests whose texts are in the batcher (the rest of #inflight is still arriving). */
  #batching = 0;
  #idleWaiters: Array<() => void> = [];
  #orphanTimer: NodeJS.Timeout | null = null;
  #finished = false;

  constructor(options: RunnerOptions) {
    this.#dir = options.replicaDir;
    this.#spec = options.spec;
    this.#loadEngine = options.loadEngine;
    this.#log = options.log ?? (() => {});
    this.#server = createRunnerServer(this);
    this.#done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
  }

  /** Resolves once the runner has stopped (drained or failed); never rejects. */
  get done(): Promise<RunnerOutcome> {
    return this.#done;
  }

  /** Loopback TCP port, when the runner listens on TCP (no `spec.socketPath`). */
  get port(): number | null {
    return this.#port;
  }

  /** Where the gateway reaches this runner (protocol.ts runnerEndpoint); null before it listens. */
  get endpoint(): string | null {
    return this.#server.listening ? runnerEndpoint({ socketPath: this.#socketPath, port: this.#port }) : null;
  }

  get phase(): RunnerPhase {
    return this.#phase;
  }

  /**
   * Listens, writes `starting`, loads the model and warms it up, writes `ready` (or `failed`).
   * Resolves when the load attempt is over, whatever its result (see `phase` and `done`); rejects
   * only when the server cannot listen.
   */
  async start(): Promise<void> {
    const socketPath = this.#spec.socketPath ?? null;
    if (socketPath !== null) removeStaleSocket(socketPath);
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      const listening = () => {
        this.#server.off('error', reject);
        resolve();
      };
      if (socketPath !== null) this.#server.listen(socketPath, listening);
      else this.#server.listen(this.#spec.listen?.port ?? 0, this.#spec.listen?.host ?? '127.0.0.1', listening);
    });
    if (socketPath !== null) this.#socketPath = socketPath;
    else this.#port = (this.#server.address() as AddressInfo).port;
    this.#writeStatus(null);
    this.#log('info', 'listening', { endpoint: this.endpoint, replicaId: this.#spec.replicaId });
    this.#orphanTimer = setTimeout(() => this.drain(`orphaned: no health probe for ${this.#spec.orphanTimeoutMs} ms`), this.#spec.orphanTimeoutMs);
    await this.#load();
  }

  async #load(): Promise<void> {
    const t0 = performance.now();
    let engine: EmbeddingEngine | null = null;
    try {
      engine = await this.#loadEngine(this.#spec.artifactDir, { intraOpThreads: this.#spec.intraOpThreads });
      const loadedMs = performance.now() - t0;
      const warm = await engine.embed([WARM_UP_TEXT]);
      if (warm.vectors.length !== engine.vectorSize) {
        throw new Error(`warm-up inference returned ${warm.vectors.length} values, expected ${engine.vectorSize}`);
      }
      if (!warm.vectors.every(Number.isFinite)) throw new Error('warm-up inference returned non-finite values');
      this.#log('info', 'model loaded', { loadMs: Math.round(loadedMs), warmUpMs: Math.round(performance.now() - t0 - loadedMs) });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.#log('error', 'model load failed', { error: message });
      if (engine !== null) await engine.close().catch(() => {});
      await this.#finish({ exitCode: RunnerExitCodes.loadFailed, phase: 'failed', reason: 'load failed', error: `model load failed: ${message}` });
      return;
    }
    if (this.#phase !== 'starting') {
      // Asked to stop while loading: nothing was admitted, so there is nothing to drain.
      await engine.close().catch(() => {});
      await this.#finish({ exitCode: RunnerExitCodes.stopped, phase: 'stopped', reason: this.#stopReason ?? 'stopped', error: null });
      return;
    }
    this.#engine = engine;
    // Requests admitted but not yet handed to the batcher are still being received: worth waiting for.
    this.#batcher = new Batcher(engine, {
      batchWaitMs: this.#spec.batchWaitMs,
      maxBatchItems: this.#spec.maxBatchItems,
      arriving: () => this.#inflight - this.#batching,
    });
    this.#phase = 'ready';
    this.#readyAt = new Date().toISOString();
    this.#writeStatus(null);
    this.#log('info', 'ready', {
      startupMs: Math.round(Date.parse(this.#readyAt) - Date.parse(this.#startedAt)),
      processUptimeMs: Math.round(process.uptime() * 1000),
    });
  }

  /** Stops taking work and stops once in-flight work is done. Idempotent; `reason` ends up in status.json. */
  drain(reason: string): void {
    if (this.#phase !== 'starting' && this.#phase !== 'ready') return;
    const wasReady = this.#phase === 'ready';
    this.#phase = 'draining';
    this.#stopReason = reason;
    this.#clearOrphanTimer();
    this.#writeStatus(null);
    this.#log('info', 'draining', { reason, inflight: this.#inflight });
    // While starting, #load sees the phase change and stops once the engine is loaded.
    if (wasReady) {
      void this.#whenIdle().then(() =>
        this.#finish({ exitCode: RunnerExitCodes.stopped, phase: 'stopped', reason, error: null }),
      );
    }
  }

  /**
   * Stops at once, abandoning work in flight (a second SIGTERM while draining): writes the final
   * status, cuts every connection and returns the exit code for the caller to exit with right away
   * (`done` also resolves, once the engine is released).
   */
  stopNow(reason: string): number {
    if (this.#finished) return RunnerExitCodes.stopped;
    this.#finished = true;
    this.#clearOrphanTimer();
    this.#phase = 'stopped';
    this.#stopReason = this.#inflight > 0 ? `${reason} (${this.#inflight} requests abandoned)` : reason;
    this.#writeStatus(RunnerExitCodes.stopped);
    this.#log('warn', 'stopped without finishing in-flight work', { reason, inflight: this.#inflight });
    this.#server.closeAllConnections();
    this.#server.close();
    const engine = this.#engine;
    void (engine === null ? Promise.resolve() : engine.close().catch(() => {})).then(() =>
      this.#resolveDone({ exitCode: RunnerExitCodes.stopped, phase: 'stopped', reason: this.#stopReason!, error: null }),
    );
    return RunnerExitCodes.stopped;
  }

  /**
   * Records a crash in status.json synchronously (for an uncaught exception, before the process
   * exits with RunnerExitCodes.crashed).
   */
  recordCrash(err: unknown): void {
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    this.#phase = 'failed';
    this.#error = `runner crashed: ${message}`;
    try {
      this.#writeStatus(RunnerExitCodes.crashed);
    } catch {
      // The replica dir is gone or unwritable: the exit code still tells the story.
    }
  }

  // RunnerHost: called by the HTTP server.

  probe(): RunnerHealth {
    this.#orphanTimer?.refresh();
    return {
      replicaId: this.#spec.replicaId,
      deploymentId: this.#spec.deploymentId,
      generation: this.#spec.generation,
      phase: this.#phase === 'stopped' ? 'draining' : this.#phase,
      vectorSize: this.#engine?.vectorSize ?? null,
      inflight: this.#inflight,
      error: this.#error,
    };
  }

  info(): Record<string, unknown> {
    return {
      replicaId: this.#spec.replicaId,
      deploymentId: this.#spec.deploymentId,
      customerId: this.#spec.customerId,
      generation: this.#spec.generation,
      modelId: this.#spec.modelId,
      config: this.#spec.config,
      pid: process.pid,
      phase: this.#phase,
      vectorSize: this.#engine?.vectorSize ?? null,
      intraOpThreads: this.#spec.intraOpThreads,
      batchWaitMs: this.#spec.batchWaitMs,
      maxBatchItems: this.#spec.maxBatchItems,
      batching: this.#batcher?.stats() ?? null,
      startedAt: this.#startedAt,
      readyAt: this.#readyAt,
    };
  }

  admit(): RunnerErrorBody | null {
    if (this.#phase === 'ready') {
      this.#inflight++;
      return null;
    }
    if (this.#phase === 'starting') return { code: 'not_ready', error: 'the model is still loading' };
    if (this.#phase === 'failed') return { code: 'not_ready', error: this.#error ?? 'the runner failed' };
    return { code: 'draining', error: 'the replica is draining and takes no new work' };
  }

  release(): void {
    this.#inflight--;
    if (this.#inflight === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  async embed(request: EmbedRequest): Promise<{ result: Awaited<ReturnType<Batcher['embed']>>; dim: number }> {
    this.#batching++;
    try {
      const result = await this.#batcher!.embed(request.texts, request.dataType);
      return { result, dim: this.#engine!.vectorSize };
    } finally {
      this.#batching--;
    }
  }

  tokenize(texts: string[]): TokenizeResult {
    return this.#engine!.tokenize(texts);
  }

  // Internals.

  #whenIdle(): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #clearOrphanTimer(): void {
    if (this.#orphanTimer !== null) clearTimeout(this.#orphanTimer);
    this.#orphanTimer = null;
  }

  async #finish(outcome: RunnerOutcome): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    this.#clearOrphanTimer();
    this.#phase = outcome.phase;
    this.#error = outcome.error;
    this.#stopReason = outcome.reason;
    this.#writeStatus(outcome.exitCode);
    await closeServer(this.#server);
    if (this.#engine !== null) await this.#engine.close().catch(() => {});
    this.#log('info', 'stopped', { phase: outcome.phase, reason: outcome.reason, exitCode: outcome.exitCode });
    this.#resolveDone(outcome);
  }

  #writeStatus(exitCode: number | null): void {
    const status: RunnerStatus = {
      pid: process.pid,
      port: this.#port,
      socketPath: this.#socketPath,
      phase: this.#phase,
      error: this.#error,
      startedAt: this.#startedAt,
      readyAt: this.#readyAt,
      exitCode,
      stopReason: this.#stopReason,
    };
    writeStatusFile(this.#dir, status);
  }
}

/**
 * Removes a socket file left at `file` by a runner that was killed (a live listener's file is
 * only ever this runner's: one runner per replica directory). Anything that is not a socket is
 * left alone, and listen then fails with EADDRINUSE.
 */
function removeStaleSocket(file: string): void {
  try {
    if (lstatSync(file).isSocket()) unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Closes the server: after CLOSE_LINGER_MS, idle keep-alive connections at once, busy ones after
 * CLOSE_GRACE_MS. The linger is for requests already on their way when the runner went idle (the
 * gateway stops choosing a replica before draining it, but a call it sent just before can sit
 * unread in the socket): closing a connection with unread bytes resets it, and the gateway cannot
 * tell whether the work ran; read during the linger, the request is answered 503 `draining` and
 * retried elsewhere cleanly. (server.close() closes idle connections too, so it waits as well.)
 */
function closeServer(server: http.Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    setTimeout(() => {
      const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
      server.close(() => {
        clearTimeout(cut);
        resolve();
      });
      server.closeIdleConnections();
    }, CLOSE_LINGER_MS);
  });
}
