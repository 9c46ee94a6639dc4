import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import {
  FailureReasons,
  isoAt,
  type Clock,
  type DeploymentLoad,
  type DeploymentRecord,
  type EndpointSink,
  type EventRecord,
  type LoadSource,
  type ServingModelInfo,
} from '../domain/index.js';
import { ModeldError } from '../errors/index.js';
import type { ObservedReplica, Runtime } from '../runtimes/index.js';
import type { Store } from '../store/types.js';
import { ConditionTypes, findCondition, upsertCondition } from './conditions.js';
import { WorkQueue } from './queue.js';
import { READINESS_POLL_MS, reconcile } from './reconcile.js';
import { systemTimers, type Timers } from './timers.js';
import { RemovalReasons, type ArtifactInput, type ControllerSettings, type PlanEvent, type ReplicaRemoval } from './types.js';

/** pino-compatible subset the controller logs through. */
export interface ControllerLogger {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

/** Where the controller reports per-deployment figures (api/metrics.ts ApiMetrics fits). */
export interface ControllerMetrics {
  setReadyReplicas(deploymentId: string, n: number): void;
  /** The replica count the controller aims for (autoscaler's wish within [min, max]). */
  setDesiredReplicas?(deploymentId: string, n: number): void;
  /** One stored ScaledUp / ScaledDown decision. */
  countScaling?(deploymentId: string, direction: 'up' | 'down'): void;
  forgetDeployment(deploymentId: string): void;
}

export interface ControllerOptions {
  store: Store;
  /**
   * The runtime of a region; undefined (or a throw) for a region with none, which makes the
   * deployment DEPLOY_FAILED `RuntimeError` (configuration, not worth retrying).
   */
  runtimes: (region: string) => Runtime | undefined;
  /** Regions whose runtimes start() starts up front, so they adopt surviving replicas (default none; others start on first use). */
  regions?: readonly string[];
  /** The artifact a deployment's replicas load. Throws for transient errors (retried); answers ok:false when it is definitely unusable. */
  resolveArtifact: (deployment: DeploymentRecord) => Promise<ArtifactInput>;
  endpoints: EndpointSink;
  /**
   * Desired replica count from the observed load (clamped by reconcile), alone or with the reason
   * recorded in the ScaledUp / ScaledDown event (Autoscaler.decide fits). Default: minReplicas.
   */
  autoscaler?: AutoscalerFn;
  load?: LoadSource;
  settings: ControllerSettings;
  clock: Clock;
  /** Default: real timers (unref'd). Tests pass a ManualClock. */
  timers?: Timers;
  logger?: ControllerLogger;
  /** Called after each event is stored. */
  onEvent?: (event: EventRecord) => void;
  metrics?: ControllerMetrics;
  /** config.runner.intraOpThreads: threads per replica, 0 = cores / maxReplicas (at least 1). */
  intraOpThreads?: number;
  /** Cores of this machine (default os.availableParallelism()). */
  cores?: number;
}

/** The controller's autoscaler: a count, or a count with the reason and figures behind it. */
export type AutoscalerFn = (
  deployment: DeploymentRecord,
  load: DeploymentLoad | null,
) => number | { desired: number; reason: string; inputs: Record<string, unknown> };

/** Errors on a key back off from this delay, doubling, up to ERROR_BACKOFF_MAX_MS. */
const ERROR_BACKOFF_BASE_MS = 100;
const ERROR_BACKOFF_MAX_MS = 30_000;

const silentLogger: ControllerLogger = { debug() {}, info() {}, warn() {}, error() {} };

interface Leaving {
  deploymentId: string;
  runtime: Runtime;
  /** The deleteReplica call in progress, null between attempts. */
  inFlight: Promise<void> | null;
  failures: number;
  /** After a failed delete, not retried before this time. */
  retryAt: number;
}

type SyncOutcome = { kind: 'done'; requeueAfterMs: number | null } | { kind: 'stale' };

/**
 * The level-triggered reconcile loop. Deployment ids go into a work queue (from the API through
 * notify(), from the periodic resync, from the end of a replica's drain); `workers` workers take
 * them one id at a time. One sync reads the deployment from the store and its replicas from the
 * runtime, asks the pure `reconcile()` for a plan, and applies it: endpoints first (a leaving
 * replica gets no new request before it drains), then replica deletions (in the background, each
 * through the runtime's drain) and creations, then the status write (guarded by generation) and
 * the events. Loop outcomes: done (maybe check again after N ms), stale (the spec moved: again at
 * once), error (retried with per-deployment backoff, a runtime error also shows as a condition),
 * terminal failures are written to status by reconcile and not retried.
 */
export class Controller {
  readonly #store: Store;
  readonly #runtimes: (region: string) => Runtime | undefined;
  readonly #regions: readonly string[];
  readonly #resolveArtifact: (deployment: DeploymentRecord) => Promise<ArtifactInput>;
  readonly #endpoints: EndpointSink;
  readonly #autoscaler: AutoscalerFn | undefined;
  readonly #load: LoadSource | undefined;
  readonly #settings: ControllerSettings;
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #log: ControllerLogger;
  readonly #onEvent: ((event: EventRecord) => void) | undefined;
  readonly #metrics: ControllerMetrics | undefined;
  readonly #intraOpThreads: number;
  readonly #cores: number;

  #queue: WorkQueue;
  #running: Promise<void> | null = null;
  #workers: Promise<void>[] = [];
  #resyncHandle: unknown = null;
  readonly #runtimeStarts = new Map<Runtime, Promise<void>>();
  readonly #leaving = new Map<string, Leaving>();
  /** Last model published per deployment, reused while its artifact cannot be resolved. */
  readonly #models = new Map<string, ServingModelInfo>();
  /** Resolved artifacts per deployment, valid for one generation (resolving may checksum files). */
  readonly #artifacts = new Map<string, { generation: number; artifact: ArtifactInput }>();

  constructor(options: ControllerOptions) {
    this.#store = options.store;
    this.#runtimes = options.runtimes;
    this.#regions = options.regions ?? [];
    this.#resolveArtifact = options.resolveArtifact;
    this.#endpoints = options.endpoints;
    this.#autoscaler = options.autoscaler;
    this.#load = options.load;
    this.#settings = options.settings;
    this.#clock = options.clock;
    this.#timers = options.timers ?? systemTimers;
    this.#log = options.logger ?? silentLogger;
    this.#onEvent = options.onEvent;
    this.#metrics = options.metrics;
    this.#intraOpThreads = options.intraOpThreads ?? 0;
    this.#cores = options.cores ?? availableParallelism();
    this.#queue = this.#newQueue();
  }

  /**
   * Idempotent. Starts the runtimes of `regions` (they adopt the replicas that survived a
   * restart), starts the workers and the periodic resync, and queues every deployment in the
   * store plus every deployment that still has replicas in those runtimes (orphans are removed).
   * A runtime that fails to start is logged and retried on first use.
   */
  start(): Promise<void> {
    this.#running ??= this.#start().catch((err: unknown) => {
      this.#running = null;
      throw err;
    });
    return this.#running;
  }

  async #start(): Promise<void> {
    if (this.#queue.shuttingDown) this.#queue = this.#newQueue();
    const ids = new Set<string>();
    for (const region of this.#regions) {
      const runtime = this.#runtimeOf(region);
      if (!runtime) continue;
      try {
        await this.#ensureStarted(runtime);
        for (const r of await runtime.listReplicas()) ids.add(r.deploymentId);
      } catch (err) {
        this.#log.warn({ region, err }, 'runtime did not start; retried when a deployment needs it');
      }
    }
    for (const id of await this.#store.listAllDeploymentIds()) ids.add(id);
    for (let i = 0; i < this.#settings.workers; i++) this.#workers.push(this.#work());
    for (const id of ids) this.#queue.add(id);
    this.#scheduleResync();
    this.#log.info({ deployments: ids.size, workers: this.#settings.workers }, 'controller started');
  }

  /**
   * Idempotent. Stops taking work, waits for the syncs and replica drains in progress, then stops
   * the runtimes it started: `stopReplicas` true stops every replica, false (default) leaves them
   * running for the next start to adopt.
   */
  async stop(options: { stopReplicas?: boolean } = {}): Promise<void> {
    const running = this.#running;
    if (!running) return;
    await running.catch(() => undefined);
    this.#queue.shutDown();
    if (this.#resyncHandle !== null) this.#timers.clearTimeout(this.#resyncHandle);
    this.#resyncHandle = null;
    await Promise.allSettled(this.#workers);
    this.#workers = [];
    await Promise.allSettled([...this.#leaving.values()].map((l) => l.inFlight));
    for (const runtime of this.#runtimeStarts.keys()) {
      try {
        await runtime.stop({ stopReplicas: options.stopReplicas ?? false });
      } catch (err) {
        this.#log.warn({ err, runtime: runtime.kind }, 'runtime did not stop cleanly');
      }
    }
    this.#runtimeStarts.clear();
    this.#running = null;
    this.#log.info({}, 'controller stopped');
  }

  /** The deployment's desired state changed (or may have): reconcile it soon. Never blocks. */
  notify(deploymentId: string): void {
    this.#queue.add(deploymentId);
  }

  /**
   * Resolves once nothing is queued and no sync runs, and the replica deletions in flight have
   * either finished (and their follow-up syncs ran) or still wait after one more turn of the event
   * loop (a drain held by requests in flight, or by a manual clock that has to move). Delayed
   * requeues do not count. For tests; stop() waits for every deletion instead.
   */
  async idle(): Promise<void> {
    for (;;) {
      await this.#queue.whenIdle();
      const inFlight = [...this.#leaving.values()].flatMap((l) => (l.inFlight ? [l.inFlight] : []));
      const settled = inFlight.length > 0 && (await Promise.race([Promise.race(inFlight).then(() => true), nextTurn().then(() => false)]));
      if (!settled && this.#queue.length === 0) {
        await this.#queue.whenIdle();
        return;
      }
    }
  }

  #newQueue(): WorkQueue {
    return new WorkQueue({ clock: this.#clock, timers: this.#timers, backoffBaseMs: ERROR_BACKOFF_BASE_MS, backoffMaxMs: ERROR_BACKOFF_MAX_MS });
  }

  async #work(): Promise<void> {
    for (;;) {
      const id = await this.#queue.get();
      if (id === null) return;
      try {
        const outcome = await this.#sync(id);
        this.#queue.forget(id);
        if (outcome.kind === 'stale') this.#queue.add(id);
        else if (outcome.requeueAfterMs !== null) this.#queue.addAfter(id, outcome.requeueAfterMs);
      } catch (err) {
        // Store or runtime trouble, or an artifact that could not be resolved for now: none of
        // these is a verdict on the deployment, so the sync is retried with a growing delay.
        const retryInMs = this.#queue.addRateLimited(id);
        this.#log.warn({ deploymentId: id, err, retryInMs, failures: this.#queue.failures(id) }, 'sync failed; retrying');
      } finally {
        this.#queue.done(id);
      }
    }
  }

  #scheduleResync(): void {
    this.#resyncHandle = this.#timers.setTimeout(() => {
      this.#resyncHandle = null;
      if (this.#queue.shuttingDown) return;
      this.#store.listAllDeploymentIds().then(
        (ids) => {
          for (const id of ids) this.#queue.add(id);
          for (const l of this.#leaving.values()) this.#queue.add(l.deploymentId);
        },
        // The store is down: the next resync tries again; syncs already queued report the error.
        (err: unknown) => this.#log.warn({ err }, 'resync could not list deployments'),
      );
      if (!this.#queue.shuttingDown) this.#scheduleResync();
    }, this.#settings.resyncIntervalMs);
  }

  #runtimeOf(region: string): Runtime | undefined {
    try {
      return this.#runtimes(region);
    } catch {
      return undefined;
    }
  }

  #ensureStarted(runtime: Runtime): Promise<void> {
    let started = this.#runtimeStarts.get(runtime);
    if (!started) {
      started = runtime.start();
      this.#runtimeStarts.set(runtime, started);
      // A failed start is forgotten so that the next use tries again.
      started.catch(() => this.#runtimeStarts.delete(runtime));
    }
    return started;
  }

  async #sync(id: string): Promise<SyncOutcome> {
    const now = this.#clock.now();
    const dep = await this.#store.getDeploymentById(id);
    if (!dep) return this.#syncOrphan(id);

    const runtime = this.#runtimeOf(dep.region);
    let observed: ObservedReplica[] = [];
    let artifact: ArtifactInput;
    if (!runtime) {
      // Terminal: which runtime serves a region is configuration; no retry can change it.
      artifact = { ok: false, reason: FailureReasons.RUNTIME_ERROR, message: `region ${JSON.stringify(dep.region)} has no runtime on this server` };
    } else {
      try {
        await this.#ensureStarted(runtime);
        observed = await runtime.listReplicas(id);
      } catch (err) {
        await this.#reportRuntimeError(dep, err, now);
        throw err;
      }
      artifact = dep.deletionRequestedAt !== null ? notNeeded : await this.#artifactFor(dep);
    }

    // Replicas this controller is deleting are leaving whatever the runtime says: their exit is
    // no crash, and they are not counted twice.
    this.#pruneLeaving(id, observed);
    const replicas = observed.map((r) => (this.#leaving.has(r.replicaId) ? { ...r, phase: 'draining' as const } : r));
    const load = this.#load?.loadOf(id) ?? null;
    const wish = this.#autoscaler ? this.#autoscaler(dep, load) : dep.minReplicas;
    const desiredReplicas = typeof wish === 'number' ? wish : wish.desired;
    const plan = reconcile({
      deployment: dep,
      replicas,
      artifact,
      desiredReplicas,
      now,
      settings: this.#settings,
      idSeed: randomBytes(3).toString('hex'),
      intraOpThreads: this.#intraOpThreads > 0 ? this.#intraOpThreads : Math.max(1, Math.floor(this.#cores / dep.maxReplicas)),
      ...(typeof wish === 'number' ? {} : { scaleReason: { reason: wish.reason, inputs: wish.inputs } }),
    });

    // 1. Endpoints first, so the gateway stops choosing a leaving replica before it drains.
    if (artifact.ok) this.#models.set(id, artifact.model);
    const model = this.#models.get(id);
    if (model) this.#endpoints.publish(id, model, plan.endpoints);

    // 2. Deletions run in the background through the runtime's drain; their end queues the deployment.
    if (runtime) for (const removal of plan.remove) this.#startRemoval(runtime, id, removal, now);

    // 3. Creations; a refusal is reported in status and retried with backoff.
    const refused: { replicaId: string; err: unknown }[] = [];
    if (runtime) {
      await Promise.all(
        plan.create.map(async (spec) => {
          try {
            await runtime.createReplica(spec);
          } catch (err) {
            refused.push({ replicaId: spec.replicaId, err });
          }
        }),
      );
    }
    let status = plan.status;
    let events = plan.events;
    if (refused.length > 0) {
      const ids = new Set(refused.map((r) => r.replicaId));
      events = events.filter((e) => !(e.reason === 'ReplicaStarted' && ids.has(String(e.data?.replicaId))));
      const message = `runtime refused ${refused.length} replica(s): ${errorMessage(refused[0]!.err)}`;
      status = {
        ...status,
        replicas: status.replicas - refused.length,
        conditions: upsertCondition(status.conditions, runtimeCondition(message, now)),
      };
      events = [...events, { type: 'Warning', reason: 'RuntimeError', message, data: { replicaIds: [...ids] }, scope: 'replica' }];
    }

    // 4. The record: removed, or its status written if it changed.
    if (plan.removeRecord) {
      await this.#appendEvents(dep, events, now);
      await this.#store.deleteDeployment(id);
      this.#forget(id);
      this.#log.info({ deploymentId: id }, 'deployment removed');
      return { kind: 'done', requeueAfterMs: null };
    }
    let written = true;
    if (plan.state !== dep.state || !isDeepStrictEqual(status, dep.status)) {
      written = await this.#store.writeDeploymentStatus(
        id,
        { state: plan.state, status },
        { generation: dep.generation, deleting: dep.deletionRequestedAt !== null },
        isoAt(now),
      );
      if (written && plan.state !== dep.state) {
        this.#log.info({ deploymentId: id, from: dep.state, to: plan.state, failure: status.failure }, 'deployment state changed');
      }
    }
    // Replica events record what happened to replicas whatever the status write says; transitions
    // only count when their status was stored.
    await this.#appendEvents(dep, written ? events : events.filter((e) => e.scope === 'replica'), now);
    this.#metrics?.setReadyReplicas(id, status.readyReplicas);
    this.#metrics?.setDesiredReplicas?.(id, status.desiredReplicas);
    if (written) {
      for (const e of events) {
        if (e.reason === 'ScaledUp' || e.reason === 'ScaledDown') this.#metrics?.countScaling?.(id, e.reason === 'ScaledUp' ? 'up' : 'down');
      }
    }
    if (refused.length > 0) {
      throw new ModeldError('MODELD_ERR_UNAVAILABLE', `runtime refused replicas of deployment ${id}`, { cause: refused[0]!.err });
    }
    if (!written) return { kind: 'stale' };
    return { kind: 'done', requeueAfterMs: plan.requeueAfterMs };
  }

  /** A deployment id with no record (removed elsewhere, or leftovers after a restart): its replicas go. */
  async #syncOrphan(id: string): Promise<SyncOutcome> {
    const now = this.#clock.now();
    let left = 0;
    for (const runtime of this.#runtimeStarts.keys()) {
      await this.#ensureStarted(runtime);
      const observed = await runtime.listReplicas(id);
      this.#pruneLeaving(id, observed);
      for (const r of observed) {
        left += 1;
        this.#startRemoval(runtime, id, { replicaId: r.replicaId, reason: r.phase === 'exited' ? RemovalReasons.EXITED : RemovalReasons.DELETING }, now);
      }
    }
    this.#forget(id);
    if (left > 0) this.#log.info({ deploymentId: id, replicas: left }, 'removing replicas of a deployment that no longer exists');
    return { kind: 'done', requeueAfterMs: left > 0 ? Math.min(READINESS_POLL_MS, this.#settings.resyncIntervalMs) : null };
  }

  /** Forgets finished deletions of the deployment's replicas that the runtime no longer lists. */
  #pruneLeaving(id: string, observed: readonly ObservedReplica[]): void {
    for (const [replicaId, l] of this.#leaving) {
      if (l.deploymentId === id && l.inFlight === null && !observed.some((r) => r.replicaId === replicaId)) this.#leaving.delete(replicaId);
    }
  }

  #forget(id: string): void {
    this.#endpoints.remove(id);
    this.#models.delete(id);
    this.#artifacts.delete(id);
    this.#metrics?.forgetDeployment(id);
  }

  /** Starts deleting a replica unless that is already under way (or waiting after a failure). */
  #startRemoval(runtime: Runtime, deploymentId: string, removal: ReplicaRemoval, now: number): void {
    const entry = this.#leaving.get(removal.replicaId) ?? { deploymentId, runtime, inFlight: null, failures: 0, retryAt: 0 };
    this.#leaving.set(removal.replicaId, entry);
    if (entry.inFlight || now < entry.retryAt) return;
    // An exited replica has nothing to drain: the runtime only forgets it.
    const graceMs = removal.reason === RemovalReasons.EXITED ? 0 : this.#settings.drainTimeoutMs;
    entry.inFlight = runtime.deleteReplica(removal.replicaId, { graceMs }).then(
      () => {
        entry.inFlight = null;
        this.#log.debug({ deploymentId, replicaId: removal.replicaId, reason: removal.reason }, 'replica removed');
        this.notify(deploymentId);
      },
      (err: unknown) => {
        // Kept in `leaving` (still shown as draining, so never counted as a crash); the next sync
        // after the backoff asks the runtime again.
        entry.inFlight = null;
        entry.failures += 1;
        const delay = Math.min(ERROR_BACKOFF_BASE_MS * 2 ** Math.min(entry.failures - 1, 20), ERROR_BACKOFF_MAX_MS);
        entry.retryAt = this.#clock.now() + delay;
        this.#log.warn({ deploymentId, replicaId: removal.replicaId, err, retryInMs: delay }, 'deleting a replica failed; retrying');
        this.#queue.addAfter(deploymentId, delay);
      },
    );
  }

  async #artifactFor(dep: DeploymentRecord): Promise<ArtifactInput> {
    const cached = this.#artifacts.get(dep.id);
    if (cached && cached.generation === dep.generation) return cached.artifact;
    const artifact = await this.#resolveArtifact(dep);
    if (artifact.ok) this.#artifacts.set(dep.id, { generation: dep.generation, artifact });
    return artifact;
  }

  /** The runtime failed: say so in status (condition RuntimeReachable False) before the retry. */
  async #reportRuntimeError(dep: DeploymentRecord, err: unknown, now: number): Promise<void> {
    const message = errorMessage(err);
    const previous = findCondition(dep.status.conditions, ConditionTypes.RUNTIME_REACHABLE);
    const next = runtimeCondition(message, now);
    if (previous && previous.status === next.status && previous.message === next.message) return;
    const status = { ...dep.status, conditions: upsertCondition(dep.status.conditions, previous?.status === 'False' ? { ...next, lastTransitionTime: previous.lastTransitionTime } : next) };
    try {
      const written = await this.#store.writeDeploymentStatus(
        dep.id,
        { state: dep.state, status },
        { generation: dep.generation, deleting: dep.deletionRequestedAt !== null },
        isoAt(now),
      );
      if (written && !previous) {
        await this.#appendEvents(dep, [{ type: 'Warning', reason: 'RuntimeError', message, data: { region: dep.region }, scope: 'deployment' }], now);
      }
    } catch (writeErr) {
      this.#log.warn({ deploymentId: dep.id, err: writeErr }, 'could not record the runtime error');
    }
  }

  async #appendEvents(dep: DeploymentRecord, events: PlanEvent[], now: number): Promise<void> {
    for (const e of events) {
      const record = await this.#store.appendEvent({
        objectKind: 'deployment',
        objectId: dep.id,
        customerId: dep.customerId,
        type: e.type,
        reason: e.reason,
        message: e.message,
        data: e.data,
        at: isoAt(now),
      });
      this.#onEvent?.(record);
    }
  }
}

/** Placeholder artifact for a deployment being deleted: nothing is created, so nothing is resolved. */
const notNeeded: ArtifactInput = { ok: false, reason: FailureReasons.MODEL_MISSING, message: 'not resolved: the deployment is being deleted' };

function runtimeCondition(message: string, now: number) {
  return { type: ConditionTypes.RUNTIME_REACHABLE, status: 'False' as const, reason: 'RuntimeError', message, lastTransitionTime: isoAt(now) };
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
