/**
 * An in-memory Runtime for tests, for the states a real runtime cannot reach cheaply: a replica
 * that takes exactly N ms to become ready, one that fails to load, exits with code X after N ms,
 * or never becomes ready (progress deadline, crash loops), and a runtime that errors on demand.
 *
 * It is faithful to the port's contract: createReplica refuses a duplicate id, listReplicas is a
 * fresh observation that reports exited replicas until deleteReplica forgets them, deleteReplica
 * drains (phase `draining`, waits for in-flight requests up to graceMs) and is idempotent, and the
 * replicas live in a FakeWorld that outlives the runtime, so that a new FakeRuntime over the same
 * world adopts them like a restarted server adopts surviving processes.
 *
 * Its replicas serve nothing: their endpoint is `fake://<replicaId>`, not a reachable URL. Time is
 * the injected clock's; phases are computed from it at each observation.
 */
import { ModeldError } from '../../errors/index.js';
import type { ObservedReplica, ReplicaSpec, Runtime } from '../types.js';

/** What a fake replica does, measured from its creation on the injected clock. */
export type FakeBehaviour =
  /** Starting, then ready after `afterMs`. */
  | { kind: 'ready'; afterMs: number }
  /** Starting, then exits after `afterMs` reporting a model load failure with `error`. */
  | { kind: 'loadFails'; afterMs: number; error: string }
  /** Exits with `exitCode` after `afterMs`; ready from `readyAfterMs` until then when given. */
  | { kind: 'exits'; afterMs: number; exitCode: number; error?: string; readyAfterMs?: number }
  /** Starting forever. */
  | { kind: 'hangs' };

export interface FakeClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

interface FakeReplica {
  spec: ReplicaSpec;
  behaviour: FakeBehaviour;
  createdAt: number;
  killed: { at: number; exitCode: number; error: string | null } | null;
  drainingSince: number | null;
  inflight: number;
  /** Resolves the drain of deleteReplica once in-flight work reaches zero. */
  onIdle: (() => void) | null;
}

/** The "machine" fake replicas run on; it survives FakeRuntime instances (server restarts). */
export class FakeWorld {
  readonly replicas = new Map<string, FakeReplica>();
  /** Every replica ever created in this world, in order (ids). */
  readonly createdIds: string[] = [];
}

export interface FakeRuntimeOptions {
  clock: FakeClock;
  world?: FakeWorld;
  /** Chooses each new replica's behaviour; default: ready after 100 ms. */
  behaviour?: (spec: ReplicaSpec) => FakeBehaviour;
}

type Operation = 'createReplica' | 'listReplicas' | 'deleteReplica';

export class FakeRuntime implements Runtime {
  readonly kind = 'fake' as const;
  readonly world: FakeWorld;
  readonly #clock: FakeClock;
  #behaviour: (spec: ReplicaSpec) => FakeBehaviour;
  #started = false;
  readonly #faults = new Map<Operation, Error>();

  constructor(options: FakeRuntimeOptions) {
    this.#clock = options.clock;
    this.world = options.world ?? new FakeWorld();
    this.#behaviour = options.behaviour ?? (() => ({ kind: 'ready', afterMs: 100 }));
  }

  /** Replaces the behaviour chooser for replicas created from now on. */
  setBehaviour(behaviour: (spec: ReplicaSpec) => FakeBehaviour): void {
    this.#behaviour = behaviour;
  }

  /** Makes every call of `operation` throw `error` until cleared with null. */
  setFault(operation: Operation, error: Error | null): void {
    if (error) this.#faults.set(operation, error);
    else this.#faults.delete(operation);
  }

  /** The replica exits now with `exitCode` (a crash, a SIGKILL). */
  kill(replicaId: string, exitCode = 137, error: string | null = null): void {
    const r = this.world.replicas.get(replicaId);
    if (!r) throw new Error(`fake runtime: no replica ${replicaId}`);
    r.killed = { at: this.#clock.now(), exitCode, error };
  }

  /** Sets the requests in flight on a replica; a draining replica leaves once it reaches zero. */
  setInflight(replicaId: string, inflight: number): void {
    const r = this.world.replicas.get(replicaId);
    if (!r) return;
    r.inflight = inflight;
    if (inflight === 0 && r.onIdle) r.onIdle();
  }

  async start(): Promise<void> {
    this.#started = true;
  }

  async stop(options: { stopReplicas?: boolean } = {}): Promise<void> {
    if (options.stopReplicas) {
      for (const [id, r] of this.world.replicas) {
        r.onIdle?.();
        this.world.replicas.delete(id);
      }
    }
    this.#started = false;
  }

  async createReplica(spec: ReplicaSpec): Promise<void> {
    this.#check('createReplica');
    if (this.world.replicas.has(spec.replicaId)) {
      throw new ModeldError('MODELD_ERR_CONFLICT', `replica ${spec.replicaId} already exists`);
    }
    this.world.replicas.set(spec.replicaId, {
      spec: structuredClone(spec),
      behaviour: this.#behaviour(spec),
      createdAt: this.#clock.now(),
      killed: null,
      drainingSince: null,
      inflight: 0,
      onIdle: null,
    });
    this.world.createdIds.push(spec.replicaId);
  }

  async listReplicas(deploymentId?: string): Promise<ObservedReplica[]> {
    this.#check('listReplicas');
    const now = this.#clock.now();
    const out: ObservedReplica[] = [];
    for (const r of this.world.replicas.values()) {
      if (deploymentId === undefined || r.spec.deploymentId === deploymentId) out.push(observe(r, now));
    }
    return out;
  }

  async deleteReplica(replicaId: string, options: { graceMs: number }): Promise<void> {
    this.#check('deleteReplica');
    const r = this.world.replicas.get(replicaId);
    if (!r) return;
    const exited = observe(r, this.#clock.now()).phase === 'exited';
    if (!exited && r.inflight > 0) {
      r.drainingSince ??= this.#clock.now();
      await new Promise<void>((resolve) => {
        const handle = this.#clock.setTimeout(() => resolve(), options.graceMs);
        const previous = r.onIdle;
        r.onIdle = () => {
          this.#clock.clearTimeout(handle);
          previous?.();
          resolve();
        };
      });
    }
    this.world.replicas.delete(replicaId);
  }

  #check(operation: Operation): void {
    if (!this.#started) throw new ModeldError('MODELD_ERR_UNAVAILABLE', `fake runtime: ${operation} before start()`);
    const fault = this.#faults.get(operation);
    if (fault) throw fault;
  }
}

function observe(r: FakeReplica, now: number): ObservedReplica {
  const age = now - r.createdAt;
  const base: ObservedReplica = {
    replicaId: r.spec.replicaId,
    deploymentId: r.spec.deploymentId,
    generation: r.spec.generation,
    phase: 'starting',
    endpoint: null,
    pid: null,
    startedAt: new Date(r.createdAt).toISOString(),
    readyAt: null,
    exitCode: null,
    lastError: null,
    loadFailed: false,
    inflight: r.inflight,
  };
  const exited = (exitCode: number, error: string | null, loadFailed = false): ObservedReplica => ({
    ...base,
    phase: 'exited',
    exitCode,
    lastError: error,
    loadFailed,
    inflight: 0,
  });
  const ready = (readyAfterMs: number): ObservedReplica => ({
    ...base,
    phase: 'ready',
    endpoint: `fake://${r.spec.replicaId}`,
    readyAt: new Date(r.createdAt + readyAfterMs).toISOString(),
  });

  if (r.killed) return exited(r.killed.exitCode, r.killed.error);
  const b = r.behaviour;
  let current: ObservedReplica = base;
  switch (b.kind) {
    case 'ready':
      if (age >= b.afterMs) current = ready(b.afterMs);
      break;
    case 'loadFails':
      if (age >= b.afterMs) return exited(1, b.error, true);
      break;
    case 'exits':
      if (age >= b.afterMs) return exited(b.exitCode, b.error ?? null);
      if (b.readyAfterMs !== undefined && age >= b.readyAfterMs) current = ready(b.readyAfterMs);
      break;
    case 'hangs':
      break;
  }
  if (r.drainingSince !== null) return { ...current, phase: 'draining', endpoint: `fake://${r.spec.replicaId}` };
  return current;
}
