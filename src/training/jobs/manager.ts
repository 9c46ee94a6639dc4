import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelStates, isoAt, redactHostPaths, type Clock, type ModelRecord, type NewEvent } from '../../domain/index.js';
import type { Store, TrainingJobRecord } from '../../store/index.js';
import type { TrainingJobInput, TrainingJobResult, TrainingProgress } from '../job-types.js';
import { applyProgress, epochLine, initialProgress, phaseWords, progressFromStore, whereInRun, type TrainingProgressView } from './progress.js';
import { JobFiles, WORKER_ENTRY, WORKER_EXIT_ABORTED, type WorkerInputFile, type WorkerMessage } from './protocol.js';
import { FairQueue } from './fair-queue.js';
import { isProcessOf, signalGroup, waitUntil } from '../../runtimes/process/os-process.js';
import { checkChildEnv } from '../../engines/index.js';

/** pino-compatible subset the manager logs through. */
export interface JobLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

export interface TrainingJobMetrics {
  countTrainingJob(outcome: 'succeeded' | 'failed' | 'cancelled'): void;
  setRunningTrainingJobs(n: number): void;
}

export interface TrainingJobManagerOptions {
  store: Store;
  clock: Clock;
  /** `<dataDir>/training`: one directory per job (`<trainingDir>/<jobId>`). */
  trainingDir: string;
  /**
   * The installed pre-trained models a run with a base model (`e5_small_v2_rnn`) reads; default
   * `<trainingDir>/../models`, where dataPaths puts `<dataDir>/models` beside `<dataDir>/training`.
   */
  modelsDir?: string;
  /** The server's `training.dataRoots`, handed to every run. */
  dataRoots: readonly string[];
  /** Jobs running at once (config `training.concurrency`). */
  concurrency: number;
  /**
   * Copies a finished run's artifact directory into the artifact store (content-addressed, checked
   * in a child process, exactly as M2 imports do) and tells its address and vector size.
   */
  importArtifact(dir: string, meta: { name: string; modelType: string }): Promise<{ artifactId: string; vectorSize: number }>;
  logger?: JobLogger;
  metrics?: TrainingJobMetrics;
  /** Cores shared by the jobs (default os.availableParallelism()); each job gets max(1, floor(cores / concurrency)) threads. */
  cores?: number;
  /** Runs of one job (the first and each restart after an interruption); default 3. */
  maxAttempts?: number;
  /** Least time between two progress writes of one job during an epoch; default 1000 ms. Epoch ends are always written. */
  progressIntervalMs?: number;
  /** After SIGTERM at shutdown, how long a worker gets before SIGKILL; default 5000 ms. */
  stopGraceMs?: number;
  /** Largest data file a run reads, bytes (default: the data reader's). */
  maxDataBytes?: number;
  /**
   * With several instances on one store (docs/cluster.md): how often the manager, which runs on
   * the leader only, reads the store for jobs another instance queued (its `notify` reached no
   * manager) and for running jobs another instance cancelled (their workers are killed). 0 or
   * absent: never (one instance: notify and cancel arrive here directly).
   */
  rescanIntervalMs?: number;
}

const TERMINAL: ReadonlySet<TrainingJobRecord['state']> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
const LOG_TAIL_BYTES = 2048;
const silent: JobLogger = { info() {}, warn() {}, error() {} };

interface Running {
  jobId: string;
  modelId: string;
  customerId: string;
  dir: string;
  child: ChildProcess | null;
  pid: number | null;
  /** DELETE of the model: the exit is expected, the job becomes CANCELLED. */
  cancelled: boolean;
  /** Server shutdown: the exit is expected, the job stays RUNNING for the next start. */
  stopping: boolean;
  view: TrainingProgressView;
  epochsDone: number;
  lastWriteMs: number;
  trailing: NodeJS.Timeout | null;
  /** Store writes of this job, one after another. */
  writes: Promise<void>;
  result: TrainingJobResult | null;
  failure: string | null;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | null;
  /** Resolves when the job is handled completely (its final state written, or left for the next start). */
  done: Promise<void>;
}

/**
 * Runs training jobs, each in a worker child process (worker-main.ts, spawned detached with the
 * tsx loader and an IPC channel), at most `concurrency` at a time, fair between customers (see
 * FairQueue: fewest running first, then round-robin by who started last, then oldest job). The
 * store is the truth: the API writes a model TRAINING and its job QUEUED and calls
 * `notify(jobId, customerId)`; after a
 * restart `start()` picks every QUEUED and RUNNING job up again. A job's worker resumes from the
 * checkpoint in its directory. Outcomes, each written to the model (state, errorMessage) and as
 * a model event:
 *
 * - the run succeeds: the artifact is imported, the model becomes AVAILABLE with vectorSize,
 *   trainingCompleted, trainingMetrics and the compiled config; the job directory is removed;
 * - the run throws (bad data, a bug): TRAINING_FAILED with the error's message;
 * - the worker dies (exit code, signal) without being asked to: TRAINING_FAILED saying so and
 *   in which epoch; not retried, since a crash that repeats would only burn the attempts;
 * - the server stops or dies: the job stays RUNNING and is started again by the next server, at
 *   most `maxAttempts` runs in all; then TRAINING_FAILED saying it was interrupted.
 *
 * `cancel(modelId)` kills the worker's process group and marks the job CANCELLED.
 * A model is never left TRAINING without a job that will run: `start()` fails such models.
 */
export class TrainingJobManager {
  readonly #o: Required<Omit<TrainingJobManagerOptions, 'maxDataBytes' | 'metrics' | 'rescanIntervalMs'>> & Pick<TrainingJobManagerOptions, 'maxDataBytes' | 'metrics' | 'rescanIntervalMs'>;
  readonly #log: JobLogger;
  readonly #queue = new FairQueue();
  readonly #running = new Map<string, Running>();
  #started = false;
  #stopping = false;
  #rescan: NodeJS.Timeout | null = null;
  #rescanning = false;

  constructor(options: TrainingJobManagerOptions) {
    this.#o = {
      logger: silent,
      cores: os.availableParallelism(),
      maxAttempts: 3,
      progressIntervalMs: 1000,
      stopGraceMs: 5000,
      ...options,
      modelsDir: options.modelsDir ?? path.join(path.dirname(options.trainingDir), 'models'),
    };
    this.#log = this.#o.logger;
  }

  /** Compute threads of one job: max(1, floor(cores / concurrency)). */
  get threadsPerJob(): number {
    return Math.max(1, Math.floor(this.#o.cores / this.#o.concurrency));
  }

  /** Jobs whose worker runs now (or is being prepared or finished). */
  get runningJobIds(): string[] {
    return [...this.#running.keys()];
  }

  /**
   * Picks up the jobs a previous server left QUEUED or RUNNING (oldest first) and fails every
   * TRAINING model that has no such job. Idempotent.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#stopping = false;
    await mkdir(this.#o.trainingDir, { recursive: true });
    const open = await this.#o.store.listTrainingJobs(['QUEUED', 'RUNNING']);
    const withJob = new Set(open.map((j) => j.modelId));
    for (const model of await this.#o.store.listModelsByState(ModelStates.TRAINING)) {
      if (withJob.has(model.id)) continue;
      const job = await this.#o.store.getTrainingJobByModel(model.id);
      await this.#failModel(model, job, 'training was interrupted and its job is gone (the server stopped while the model was being created); submit the model again');
    }
    // Oldest first (the store's order), so each customer's jobs keep their order in the queue.
    for (const job of open) this.#queue.push({ jobId: job.id, customerId: job.customerId, resumed: job.state === 'RUNNING' });
    if (open.length > 0) this.#log.info({ jobs: open.map((j) => j.id) }, 'training jobs picked up after a restart');
    this.#pump();
    const every = this.#o.rescanIntervalMs ?? 0;
    if (every > 0) {
      this.#rescan = setInterval(() => void this.rescan(), every);
      this.#rescan.unref();
    }
  }

  /**
   * Reads the store for what other instances did: QUEUED jobs this manager does not know yet
   * join the queue, and a running job whose record says CANCELLED (its model was deleted through
   * another instance) has its worker killed and its directory removed.
   */
  async rescan(): Promise<void> {
    if (!this.#started || this.#stopping || this.#rescanning) return;
    this.#rescanning = true;
    try {
      for (const job of await this.#o.store.listTrainingJobs(['QUEUED'])) this.notify(job.id, job.customerId);
      for (const r of [...this.#running.values()]) {
        const job = await this.#o.store.getTrainingJob(r.jobId);
        if (r.cancelled || (job && job.state !== 'CANCELLED')) continue;
        r.cancelled = true;
        if (r.pid !== null) signalGroup(r.pid, 'SIGKILL');
        this.#log.info({ jobId: r.jobId }, 'training job cancelled by another instance');
        void r.done.then(() => rm(r.dir, { recursive: true, force: true }));
      }
    } catch (err) {
      this.#log.warn({ err }, 'training: rescan of the store failed');
    } finally {
      this.#rescanning = false;
    }
  }

  /** Tells the manager a job of `customerId` was written QUEUED (by M2). Ignored before start() and after stop(); start() finds it then. */
  notify(jobId: string, customerId: string): void {
    if (!this.#started || this.#stopping) return;
    if (this.#queue.has(jobId) || this.#running.has(jobId)) return;
    this.#queue.push({ jobId, customerId, resumed: false });
    this.#pump();
  }

  /**
   * Stops the model's training: a queued job leaves the queue, a running worker's process group
   * is killed (SIGKILL) and waited for; the job becomes CANCELLED (unless it had already ended)
   * and its directory is removed. Resolves when no process of the job is left. Never throws for a
   * model without a job.
   */
  async cancel(modelId: string): Promise<void> {
    const job = await this.#o.store.getTrainingJobByModel(modelId);
    if (!job) return;
    this.#queue.remove(job.id);
    const running = this.#running.get(job.id);
    if (running) {
      running.cancelled = true;
      if (running.pid !== null) signalGroup(running.pid, 'SIGKILL');
      await running.done;
    }
    const fresh = await this.#o.store.getTrainingJob(job.id);
    if (fresh && !TERMINAL.has(fresh.state)) {
      await this.#o.store.updateTrainingJob(job.id, { state: 'CANCELLED', error: 'cancelled: the model was deleted' }, this.#now());
      this.#o.metrics?.countTrainingJob('cancelled');
      this.#log.info({ jobId: job.id, modelId }, 'training job cancelled');
    }
    await rm(this.#jobDir(job.id), { recursive: true, force: true });
  }

  /**
   * Server shutdown: no new job starts; running workers get SIGTERM (they stop after the current
   * step, their last epoch's checkpoint on disk), then SIGKILL after `stopGraceMs`. Their jobs stay
   * RUNNING in the store and resume at the next start(). Idempotent. `graceMs` 0 (a leader that
   * lost its lease: another instance may resume the jobs soon) kills them at once; each resumes
   * from its last finished epoch's checkpoint.
   */
  async stop(options: { graceMs?: number } = {}): Promise<void> {
    if (!this.#started) return;
    const graceMs = options.graceMs ?? this.#o.stopGraceMs;
    this.#stopping = true;
    if (this.#rescan) clearInterval(this.#rescan);
    this.#rescan = null;
    this.#queue.clear();
    const all = [...this.#running.values()];
    for (const r of all) {
      r.stopping = true;
      if (r.pid !== null) signalGroup(r.pid, 'SIGTERM');
    }
    await Promise.all(
      all.map(async (r) => {
        const timer = setTimeout(() => {
          if (r.pid !== null) signalGroup(r.pid, 'SIGKILL');
        }, graceMs);
        await r.done;
        clearTimeout(timer);
      }),
    );
    this.#started = false;
  }

  #now(): string {
    return isoAt(this.#o.clock.now());
  }

  #jobDir(jobId: string): string {
    return path.join(this.#o.trainingDir, jobId);
  }

  #pump(): void {
    while (!this.#stopping && this.#running.size < this.#o.concurrency && this.#queue.size > 0) {
      const running = new Map<string, number>();
      for (const r of this.#running.values()) running.set(r.customerId, (running.get(r.customerId) ?? 0) + 1);
      const next = this.#queue.take(running)!;
      const jobId = next.jobId;
      if (this.#running.has(jobId)) continue;
      const entry: Running = {
        jobId,
        modelId: '',
        // Known from the queue, so that the fair pick counts this job for its customer at once.
        customerId: next.customerId,
        dir: this.#jobDir(jobId),
        child: null,
        pid: null,
        cancelled: false,
        stopping: false,
        view: initialProgress(this.#now()),
        epochsDone: 0,
        lastWriteMs: 0,
        trailing: null,
        writes: Promise.resolve(),
        result: null,
        failure: null,
        exited: null,
        done: Promise.resolve(),
      };
      this.#running.set(jobId, entry);
      this.#o.metrics?.setRunningTrainingJobs(this.#running.size);
      entry.done = this.#run(entry)
        .catch((err: unknown) => this.#log.error({ err, jobId }, 'training job handling failed'))
        .finally(() => {
          if (entry.trailing) clearTimeout(entry.trailing);
          this.#running.delete(jobId);
          this.#o.metrics?.setRunningTrainingJobs(this.#running.size);
          this.#pump();
        });
    }
  }

  /** One attempt of one job, from the store record to its final write. */
  async #run(r: Running): Promise<void> {
    const { store } = this.#o;
    const job = await store.getTrainingJob(r.jobId);
    if (!job || TERMINAL.has(job.state)) return;
    r.modelId = job.modelId;
    r.customerId = job.customerId;
    const model = await store.getModelById(job.modelId);
    if (!model) {
      await store.updateTrainingJob(job.id, { state: 'CANCELLED', error: 'the model is gone' }, this.#now());
      return;
    }
    if (model.state !== ModelStates.TRAINING) {
      await store.updateTrainingJob(job.id, { state: 'CANCELLED', error: `the model is ${model.state}, not TRAINING` }, this.#now());
      return;
    }
    if (r.cancelled || r.stopping) return;
    r.view = progressFromStore(job.progress, this.#now());
    if (job.attempts >= this.#o.maxAttempts) {
      await this.#failModel(
        model,
        job,
        `training was interrupted ${job.attempts} time${job.attempts === 1 ? '' : 's'} (the server stopped or restarted while it ran) and is not started again after ${this.#o.maxAttempts} attempts; submit the model again`,
      );
      return;
    }

    await mkdir(r.dir, { recursive: true });
    await killStaleWorker(r.dir);
    const attempt = job.attempts + 1;
    const input: TrainingJobInput = {
      modelId: model.id,
      modelName: model.name,
      modelType: model.modelType,
      config: model.config ?? {},
      trainingData: { catalog: model.trainingData?.catalog ?? '', signals: model.trainingData?.signals ?? '' },
      dataRoots: [...this.#o.dataRoots],
      modelsDir: this.#o.modelsDir,
      workDir: r.dir,
      threads: this.threadsPerJob,
      ...(this.#o.maxDataBytes !== undefined && { maxDataBytes: this.#o.maxDataBytes }),
    };
    const file: WorkerInputFile = { input };
    await writeFile(path.join(r.dir, JobFiles.input), JSON.stringify(file, null, 2));
    const now = this.#now();
    await store.updateTrainingJob(job.id, { state: 'RUNNING', attempts: attempt, checkpoint: path.join(r.dir, 'checkpoint') }, now);
    if (model.trainingStarted === null) await store.updateModel(model.id, { trainingStarted: now }, now);
    await this.#event(
      r,
      'Normal',
      attempt === 1 ? 'TrainingStarted' : 'TrainingRestarted',
      attempt === 1
        ? `training started (${input.threads} thread${input.threads === 1 ? '' : 's'})`
        : `training started again after an interruption (attempt ${attempt} of ${this.#o.maxAttempts}); it resumes from the last finished epoch`,
      { attempt, threads: input.threads },
    );
    if (r.cancelled || r.stopping) return;

    await this.#spawn(r);
    const exit = await r.exited!;
    await r.writes;
    if (r.trailing) clearTimeout(r.trailing);
    if (r.cancelled) return;
    if (r.stopping) {
      this.#log.info({ jobId: r.jobId, ...exit }, 'training worker stopped for the shutdown; the job resumes at the next start');
      return;
    }
    if (r.result) {
      await this.#succeed(r, r.result);
      return;
    }
    const fresh = await store.getModelById(r.modelId);
    if (!fresh) return;
    if (r.failure !== null) {
      await this.#failModel(fresh, await store.getTrainingJob(r.jobId), r.failure);
      return;
    }
    const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
    // Its last output (stack traces, host paths) is for the operator log; the customer gets how it ended.
    const tail = await logTail(path.join(r.dir, JobFiles.log));
    this.#log.warn({ jobId: r.jobId, modelId: r.modelId, ...exit, logTail: tail }, 'training process ended with an error');
    const aborted = exit.code === WORKER_EXIT_ABORTED ? ' (it was told to stop by someone else than this server)' : '';
    await this.#failModel(
      fresh,
      await store.getTrainingJob(r.jobId),
      `the training process exited with ${how} ${whereInRun(r.view, r.epochsDone)}${aborted}; the server log has its last output`,
    );
  }

  async #spawn(r: Running): Promise<void> {
    const logFd = await open(path.join(r.dir, JobFiles.log), 'a');
    let child: ChildProcess;
    let spawned: Promise<void>;
    try {
      child = spawn(process.execPath, ['--import', fileURLToPath(import.meta.resolve('tsx/esm')), WORKER_ENTRY, r.dir], {
        cwd: r.dir,
        // Own process group: cancel and stop signal the whole group (the worker and anything it starts).
        detached: true,
        stdio: ['ignore', logFd.fd, logFd.fd, 'ipc'],
        // The worker parses a customer's data files: it gets nothing of the server's environment
        // (database URL, credentials), only what node needs to start, as the import check child.
        env: checkChildEnv(),
      });
      // Listeners first, before any await: 'spawn', 'error' and 'exit' may come on the next tick.
      r.child = child;
      r.exited = new Promise((resolve) => {
        child.once('exit', (code, signal) => {
          // Never signal this pid again: it may be reused by an unrelated process.
          r.pid = null;
          resolve({ code, signal });
        });
        child.once('error', (err) => {
          r.failure ??= `the training process could not be started: ${err.message}`;
          resolve({ code: null, signal: null });
        });
      });
      child.on('message', (m: WorkerMessage) => this.#onMessage(r, m));
      spawned = new Promise<void>((resolve) => {
        child.once('spawn', resolve);
        child.once('error', () => resolve());
      });
    } finally {
      await logFd.close();
    }
    await spawned;
    r.pid = child.pid ?? null;
    if (r.pid !== null) {
      // Temp file + rename: a reader never sees a half-written pid (an empty one reads as 0, the caller's own group).
      const pidFile = path.join(r.dir, JobFiles.pid);
      await writeFile(`${pidFile}.tmp`, String(r.pid));
      await rename(`${pidFile}.tmp`, pidFile);
    }
    this.#log.info({ jobId: r.jobId, modelId: r.modelId, pid: r.pid }, 'training worker spawned');
    // A cancel or stop that arrived while spawning.
    if (r.pid !== null && (r.cancelled || r.stopping)) signalGroup(r.pid, r.cancelled ? 'SIGKILL' : 'SIGTERM');
  }

  #onMessage(r: Running, m: WorkerMessage): void {
    if (m.type === 'done') {
      r.result = m.result;
      return;
    }
    if (m.type === 'failed') {
      r.failure = m.message;
      return;
    }
    if (m.type !== 'progress') return;
    const p = m.progress;
    const before = r.view;
    r.view = applyProgress(r.view, p, this.#now());
    if (p.kind === 'epoch') r.epochsDone = p.epoch;
    if (p.kind === 'resumed') r.epochsDone = p.fromEpoch;
    if (p.kind === 'step') {
      // Throttled: at most one write per interval, the latest values written by a trailing timer.
      const due = this.#o.clock.now() - r.lastWriteMs >= this.#o.progressIntervalMs;
      if (due) this.#writeProgress(r);
      else if (!r.trailing) {
        r.trailing = setTimeout(() => {
          r.trailing = null;
          this.#writeProgress(r);
        }, this.#o.progressIntervalMs);
        r.trailing.unref();
      }
      return;
    }
    this.#writeProgress(r);
    if (p.kind === 'phase' && p.phase !== before.phase) {
      this.#queueEvent(r, 'Normal', 'TrainingPhase', p.message || phaseWords(p.phase), { phase: p.phase });
    } else if (p.kind === 'epoch') {
      this.#queueEvent(
        r,
        'Normal',
        'EpochCompleted',
        epochLine(p),
        {
          epoch: p.epoch,
          numEpochs: p.numEpochs,
          loss: p.loss,
          monitor: p.monitor,
          bestEpoch: p.bestEpoch,
          trainSeconds: p.trainSeconds,
          evalSeconds: p.evalSeconds,
          stopping: p.stopping,
        },
      );
    } else if (p.kind === 'resumed') {
      this.#queueEvent(r, 'Normal', 'Resumed', `resumed from the checkpoint of epoch ${p.fromEpoch}`, { fromEpoch: p.fromEpoch });
    }
  }

  #writeProgress(r: Running): void {
    r.lastWriteMs = this.#o.clock.now();
    const view = { ...r.view, updatedAt: this.#now() };
    r.writes = r.writes
      .then(async () => {
        await this.#o.store.updateTrainingJob(r.jobId, { progress: view as unknown as Record<string, unknown> }, view.updatedAt);
      })
      .catch((err: unknown) => this.#log.warn({ err, jobId: r.jobId }, 'training progress write failed'));
  }

  #queueEvent(r: Running, type: NewEvent['type'], reason: string, message: string, data: Record<string, unknown> | null): void {
    r.writes = r.writes
      .then(() => this.#event(r, type, reason, message, data))
      .catch((err: unknown) => this.#log.warn({ err, jobId: r.jobId }, 'training event write failed'));
  }

  async #event(r: Pick<Running, 'modelId' | 'customerId'>, type: NewEvent['type'], reason: string, message: string, data: Record<string, unknown> | null): Promise<void> {
    await this.#o.store.appendEvent({ objectKind: 'model', objectId: r.modelId, customerId: r.customerId, type, reason, message, data, at: this.#now() });
  }

  async #succeed(r: Running, result: TrainingJobResult): Promise<void> {
    const { store } = this.#o;
    const model = await store.getModelById(r.modelId);
    if (!model) return;
    r.view = { ...r.view, phase: 'exporting', updatedAt: this.#now() };
    await store.updateTrainingJob(r.jobId, { progress: r.view as unknown as Record<string, unknown> }, r.view.updatedAt);
    let imported: { artifactId: string; vectorSize: number };
    try {
      imported = await this.#o.importArtifact(result.artifactDir, { name: model.name, modelType: model.modelType });
    } catch (err) {
      if (r.cancelled) return;
      await this.#failModel(model, await store.getTrainingJob(r.jobId), `the trained model could not be stored: ${redactHostPaths((err as Error).message)}`);
      return;
    }
    // Deleted while the artifact was imported: the model goes, the (shared, content-addressed) artifact stays for others.
    if (r.cancelled) return;
    // The artifact is in the artifact store now: the checkpoints are no longer needed. (A server
    // dying right here retrains from the start at the next start, it never loses the model.)
    await rm(r.dir, { recursive: true, force: true });
    const now = this.#now();
    const updated = await store.updateModel(
      model.id,
      {
        state: ModelStates.AVAILABLE,
        errorMessage: null,
        artifactId: imported.artifactId,
        vectorSize: imported.vectorSize,
        trainingCompleted: now,
        trainingMetrics: result.metrics as unknown as Record<string, unknown>,
        config: result.config,
      },
      now,
    );
    if (!updated) return;
    await store.updateTrainingJob(r.jobId, { state: 'SUCCEEDED', error: null, progress: { ...r.view, updatedAt: now } as unknown as Record<string, unknown> }, now);
    const best = result.metrics.summary.best_epoch;
    await this.#event(r, 'Normal', 'TrainingCompleted', `trained: vector size ${imported.vectorSize}, best epoch ${best}`, {
      artifactId: imported.artifactId,
      vectorSize: imported.vectorSize,
      bestEpoch: best,
    });
    this.#o.metrics?.countTrainingJob('succeeded');
    this.#log.info({ jobId: r.jobId, modelId: model.id, artifactId: imported.artifactId }, 'training job succeeded');
  }

  /** TRAINING_FAILED with `message`, the job FAILED, a Warning event. Does nothing to a model no longer TRAINING. */
  async #failModel(model: ModelRecord, job: TrainingJobRecord | null, message: string): Promise<void> {
    const { store } = this.#o;
    const now = this.#now();
    const current = await store.getModelById(model.id);
    if (!current || current.state !== ModelStates.TRAINING) return;
    await store.updateModel(model.id, { state: ModelStates.TRAINING_FAILED, errorMessage: message }, now);
    if (job && !TERMINAL.has(job.state)) await store.updateTrainingJob(job.id, { state: 'FAILED', error: message }, now);
    await this.#event({ modelId: model.id, customerId: model.customerId }, 'Warning', 'TrainingFailed', message, job ? { jobId: job.id, attempts: job.attempts } : null);
    this.#o.metrics?.countTrainingJob('failed');
    this.#log.warn({ modelId: model.id, jobId: job?.id, reason: message }, 'training failed');
  }
}

/**
 * A worker of a previous server may still be running on this job directory (it stops by itself
 * when its server goes away, after its current step). Kill it, so that two runs never share a
 * directory: the pid from `worker.pid`, only if /proc says its command line names the directory.
 */
async function killStaleWorker(dir: string): Promise<void> {
  let pid: number;
  try {
    pid = Number((await readFile(path.join(dir, JobFiles.pid), 'utf8')).trim());
  } catch {
    return;
  }
  if (!isProcessOf(pid, dir)) return;
  signalGroup(pid, 'SIGKILL');
  await waitUntil(() => !isProcessOf(pid, dir), 5000);
}

/** The last lines of the worker log (a crash's stack trace or the runtime's last words), at most LOG_TAIL_BYTES, one line. */
async function logTail(file: string): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    const lines = text.slice(-LOG_TAIL_BYTES).split('\n').map((l) => l.trim()).filter((l) => l !== '');
    return lines.slice(-3).join(' | ').slice(-500);
  } catch {
    return '';
  }
}
