import type { ServingModelInfo } from '../domain/index.js';
import { ModeldError } from '../errors/index.js';
import type { DeploymentSlots, EndpointRegistry, EndpointState } from './endpoint-registry.js';

export interface BalancerOptions {
  /** Requests one replica may have in flight (`gateway.maxInflightPerReplica`). */
  maxInflightPerReplica: number;
  /** Requests that may wait for a slot per deployment (`gateway.maxQueuePerDeployment`); beyond it 429. */
  maxQueuePerDeployment: number;
  /**
   * How long a request waits when its deployment has no usable replica at all (scaling up from
   * nothing, a pre-trained model starting on first use, every replica just failed) before 503
   * MODELD_ERR_NO_READY_REPLICA.
   */
  readyWaitMs: number;
  /**
   * On a deployment several customers share (a pre-trained model), the most requests one customer
   * may have waiting (default: maxQueuePerDeployment, no cap); beyond it that customer's requests
   * get 429 while the others still find room.
   */
  maxQueuedPerTenant?: number;
  /** Called for every request shed with 429 (metrics). */
  onShed?: (deploymentId: string) => void;
}

export interface AcquireOptions {
  /** Replica ids this request already failed on: never picked again for it. */
  exclude?: ReadonlySet<string>;
  /** Aborting removes the request from the queue and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** A retry of a request already admitted: never shed, and served before new arrivals. */
  admitted?: boolean;
  /**
   * The customer asking, on a deployment several customers share: its waiting requests are capped
   * (maxQueuedPerTenant) and a freed slot goes to the waiting customer with the fewest calls in
   * flight there, so that one customer's flood neither fills the queue nor stands in front of
   * everyone else. Absent for a customer's own deployments (plain FIFO).
   */
  tenant?: string;
}

/** A slot on one replica, held for the duration of one call. */
export interface Lease {
  readonly deploymentId: string;
  readonly endpoint: EndpointState;
  readonly model: ServingModelInfo;
  /**
   * Frees the slot and hands it to the next waiting request. `latencyMs` is given for a call the
   * replica answered: it counts in the endpoint's `served` and feeds Retry-After. Idempotent.
   */
  release(latencyMs?: number): void;
}

interface Waiter {
  readonly exclude: ReadonlySet<string> | undefined;
  readonly tenant: string | undefined;
  readonly resolve: (lease: Lease) => void;
  readonly reject: (err: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
  timer: NodeJS.Timeout | null;
}

const NO_EXCLUSIONS: ReadonlySet<string> = new Set();

/** One customer on one shared deployment. */
interface TenantCounts {
  queued: number;
  inflight: number;
  /** #leases at its last lease (-1: not served since it arrived). */
  lastServed: number;
}

/**
 * Chooses the replica for each request: the ready endpoint with the fewest requests in flight,
 * ties going to the replica picked last (warm), at most `maxInflightPerReplica` per replica.
 * When every replica is full a request waits in a bounded FIFO queue per deployment; when that is
 * full it is shed with 429 MODELD_ERR_OVERLOADED and a Retry-After estimate, instead of queueing
 * forever.
 */
export class Balancer {
  readonly #registry: EndpointRegistry;
  readonly #options: BalancerOptions;
  readonly #queues = new Map<string, Waiter[]>();
  /** Shared deployments only: per customer, requests waiting and calls in flight. */
  readonly #tenants = new Map<string, Map<string, TenantCounts>>();
  /** Increases at every lease on a shared deployment: orders customers by when they were last served. */
  #leases = 0;
  readonly #unsubscribe: () => void;

  constructor(registry: EndpointRegistry, options: BalancerOptions) {
    this.#registry = registry;
    this.#options = options;
    this.#unsubscribe = registry.subscribe((change) => {
      if (change.kind === 'published') this.#drain(change.deploymentId);
      else if (change.kind === 'removed') this.#rejectAll(change.deploymentId);
    });
  }

  /**
   * Resolves with a slot on a replica of the deployment. Rejects with 429 MODELD_ERR_OVERLOADED
   * (queue full, details.retryAfterSeconds), 503 MODELD_ERR_NO_READY_REPLICA (no usable replica
   * within readyWaitMs), 404 MODELD_ERR_DEPLOYMENT_NOT_FOUND (removed while waiting), or the
   * signal's reason when aborted.
   */
  acquire(deploymentId: string, options: AcquireOptions = {}): Promise<Lease> {
    const { signal, admitted = false, tenant } = options;
    const exclude = options.exclude ?? NO_EXCLUSIONS;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const slots = this.#registry.ensure(deploymentId);
    const queue = this.#queue(deploymentId);
    if (queue.length === 0 || admitted) {
      const endpoint = this.#pick(slots, exclude);
      if (endpoint) return Promise.resolve(this.#lease(slots, endpoint, tenant));
    }
    const perTenant = this.#options.maxQueuedPerTenant;
    if (!admitted && tenant !== undefined && perTenant !== undefined && (this.#tenants.get(deploymentId)?.get(tenant)?.queued ?? 0) >= perTenant) {
      this.#registry.noteShed(slots);
      this.#options.onShed?.(deploymentId);
      const retryAfterSeconds = this.#retryAfterSeconds(slots, queue.length);
      this.#cleanup(deploymentId);
      return Promise.reject(
        new ModeldError(
          'MODELD_ERR_OVERLOADED',
          `too many of your requests for the shared model: ${perTenant} already waiting (gateway.maxQueueSharePerCustomer); retry in ${retryAfterSeconds} s`,
          { details: { retryAfterSeconds, queued: perTenant, limit: perTenant } },
        ),
      );
    }
    if (!admitted && queue.length >= this.#options.maxQueuePerDeployment) {
      this.#registry.noteShed(slots);
      this.#options.onShed?.(deploymentId);
      const retryAfterSeconds = this.#retryAfterSeconds(slots, queue.length);
      this.#cleanup(deploymentId);
      return Promise.reject(
        new ModeldError('MODELD_ERR_OVERLOADED', `too many requests for deployment ${deploymentId}: ${queue.length} already waiting; retry in ${retryAfterSeconds} s`, {
          details: { retryAfterSeconds, queued: queue.length },
        }),
      );
    }
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = { exclude, tenant, resolve, reject, signal, onAbort: null, timer: null };
      if (admitted) queue.unshift(waiter);
      else queue.push(waiter);
      slots.queued++;
      if (tenant !== undefined) this.#tenant(deploymentId, tenant).queued++;
      this.#registry.noteConcurrency(slots);
      if (signal) {
        waiter.onAbort = () => {
          this.#dequeue(deploymentId, waiter);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#armTimer(deploymentId, waiter);
      // Waiters ahead may be waiting only for replicas this one does not exclude: if a free slot
      // suits it, it is served now rather than at the next release.
      this.#drain(deploymentId);
    });
  }

  /** Requests waiting for a slot on the deployment. */
  queuedOf(deploymentId: string): number {
    return this.#queues.get(deploymentId)?.length ?? 0;
  }

  /** Rejects every waiting request (server shutdown). */
  close(): void {
    this.#unsubscribe();
    for (const id of [...this.#queues.keys()]) {
      this.#rejectAll(id, new ModeldError('MODELD_ERR_UNAVAILABLE', 'the server is shutting down'));
    }
  }

  #tenant(deploymentId: string, tenant: string): TenantCounts {
    let byTenant = this.#tenants.get(deploymentId);
    if (!byTenant) {
      byTenant = new Map();
      this.#tenants.set(deploymentId, byTenant);
    }
    let counts = byTenant.get(tenant);
    if (!counts) {
      counts = { queued: 0, inflight: 0, lastServed: -1 };
      byTenant.set(tenant, counts);
    }
    return counts;
  }

  #forgetTenant(deploymentId: string, tenant: string): void {
    const byTenant = this.#tenants.get(deploymentId);
    const counts = byTenant?.get(tenant);
    if (!byTenant || !counts || counts.queued > 0 || counts.inflight > 0) return;
    byTenant.delete(tenant);
    if (byTenant.size === 0) this.#tenants.delete(deploymentId);
  }

  /**
   * From `from` on, the waiter whose customer has the fewest calls in flight, then the one served
   * longest ago (round-robin between customers), then the earliest in the queue.
   */
  #fairIndex(queue: Waiter[], from: number, byTenant: Map<string, TenantCounts>): number {
    let best = from;
    let bestLoad = Number.POSITIVE_INFINITY;
    let bestServed = Number.POSITIVE_INFINITY;
    for (let i = from; i < queue.length; i++) {
      const t = queue[i]!.tenant;
      const counts = t === undefined ? undefined : byTenant.get(t);
      const load = counts?.inflight ?? 0;
      const served = counts?.lastServed ?? -1;
      if (load < bestLoad || (load === bestLoad && served < bestServed)) {
        best = i;
        bestLoad = load;
        bestServed = served;
      }
    }
    return best;
  }

  #queue(deploymentId: string): Waiter[] {
    let q = this.#queues.get(deploymentId);
    if (!q) {
      q = [];
      this.#queues.set(deploymentId, q);
    }
    return q;
  }

  /**
   * Least in flight among usable endpoints with room; ties go to the endpoint picked last (warm),
   * else to the first in publication order. Least-loaded still bounds the skew to one request.
   */
  #pick(slots: DeploymentSlots, exclude: ReadonlySet<string>): EndpointState | null {
    let best: EndpointState | null = null;
    for (const e of slots.endpoints) {
      if (e.failed || e.inflight >= this.#options.maxInflightPerReplica || exclude.has(e.replicaId)) continue;
      if (best === null || e.inflight < best.inflight || (e.inflight === best.inflight && e.replicaId === slots.lastPicked)) best = e;
    }
    if (best) slots.lastPicked = best.replicaId;
    return best;
  }

  /** True when some endpoint could serve this waiter once it has room. */
  #hasUsable(slots: DeploymentSlots, exclude: ReadonlySet<string>): boolean {
    return slots.endpoints.some((e) => !e.failed && !exclude.has(e.replicaId));
  }

  #lease(slots: DeploymentSlots, endpoint: EndpointState, tenant?: string): Lease {
    endpoint.inflight++;
    slots.inflight++;
    const counts = tenant === undefined ? null : this.#tenant(slots.deploymentId, tenant);
    if (counts) {
      counts.inflight++;
      counts.lastServed = this.#leases++;
    }
    this.#registry.noteConcurrency(slots);
    let released = false;
    // A published endpoint implies a published model.
    const model = slots.model!;
    return {
      deploymentId: slots.deploymentId,
      endpoint,
      model,
      release: (latencyMs?: number) => {
        if (released) return;
        released = true;
        endpoint.inflight--;
        slots.inflight--;
        if (counts) {
          counts.inflight--;
          this.#forgetTenant(slots.deploymentId, tenant!);
        }
        if (latencyMs !== undefined) endpoint.served++;
        if (latencyMs !== undefined) slots.meanLatencyMs = slots.meanLatencyMs === 0 ? latencyMs : slots.meanLatencyMs * 0.9 + latencyMs * 0.1;
        this.#registry.noteConcurrency(slots);
        this.#drain(slots.deploymentId);
        this.#cleanup(slots.deploymentId);
      },
    };
  }

  /** Hands free slots to waiting requests, in queue order (a waiter no free endpoint suits is skipped). */
  #drain(deploymentId: string): void {
    const queue = this.#queues.get(deploymentId);
    const slots = this.#registry.get(deploymentId);
    if (!queue || !slots) return;
    const byTenant = this.#tenants.get(deploymentId);
    for (let i = 0; i < queue.length; ) {
      if (!this.#hasRoom(slots)) return;
      // A shared deployment serves the customer with the fewest calls in flight first; when that
      // waiter can use no free replica (it excludes them), queue order takes over.
      let at = byTenant ? this.#fairIndex(queue, i, byTenant) : i;
      let endpoint = this.#pick(slots, queue[at]!.exclude ?? NO_EXCLUSIONS);
      if (!endpoint && at !== i) {
        at = i;
        endpoint = this.#pick(slots, queue[at]!.exclude ?? NO_EXCLUSIONS);
      }
      if (!endpoint) {
        i++;
        continue;
      }
      const waiter = queue[at]!;
      this.#dequeue(deploymentId, waiter);
      waiter.resolve(this.#lease(slots, endpoint, waiter.tenant));
    }
  }

  #hasRoom(slots: DeploymentSlots): boolean {
    return slots.endpoints.some((e) => !e.failed && e.inflight < this.#options.maxInflightPerReplica);
  }

  /**
   * While a waiter has no usable endpoint at all, it gives up after readyWaitMs (503). While
   * usable endpoints exist but are busy, it keeps its place: the caller's signal bounds the wait.
   */
  #armTimer(deploymentId: string, waiter: Waiter): void {
    waiter.timer = setTimeout(() => {
      waiter.timer = null;
      const slots = this.#registry.get(deploymentId);
      if (slots && this.#hasUsable(slots, waiter.exclude ?? NO_EXCLUSIONS)) {
        this.#armTimer(deploymentId, waiter);
        return;
      }
      this.#dequeue(deploymentId, waiter);
      const known = slots?.model !== null && slots?.model !== undefined;
      waiter.reject(
        new ModeldError(
          'MODELD_ERR_NO_READY_REPLICA',
          `deployment ${deploymentId} has no ready replica${known ? '' : ' yet'} (waited ${this.#options.readyWaitMs} ms); retry shortly`,
          { details: { deploymentId, waitedMs: this.#options.readyWaitMs } },
        ),
      );
    }, this.#options.readyWaitMs);
  }

  #dequeue(deploymentId: string, waiter: Waiter): void {
    const queue = this.#queues.get(deploymentId);
    const i = queue ? queue.indexOf(waiter) : -1;
    if (i < 0) return;
    queue!.splice(i, 1);
    if (waiter.timer) clearTimeout(waiter.timer);
    waiter.timer = null;
    if (waiter.onAbort && waiter.signal) waiter.signal.removeEventListener('abort', waiter.onAbort);
    const slots = this.#registry.get(deploymentId);
    if (slots) {
      slots.queued--;
      this.#registry.noteConcurrency(slots);
    }
    if (waiter.tenant !== undefined) {
      const counts = this.#tenants.get(deploymentId)?.get(waiter.tenant);
      if (counts) counts.queued--;
      this.#forgetTenant(deploymentId, waiter.tenant);
    }
    this.#cleanup(deploymentId);
  }

  #rejectAll(deploymentId: string, error?: ModeldError): void {
    const queue = this.#queues.get(deploymentId);
    if (!queue) return;
    for (const waiter of [...queue]) {
      this.#dequeue(deploymentId, waiter);
      waiter.reject(error ?? new ModeldError('MODELD_ERR_DEPLOYMENT_NOT_FOUND', `deployment ${deploymentId} was removed`));
    }
    this.#queues.delete(deploymentId);
  }

  #cleanup(deploymentId: string): void {
    if (this.#queues.get(deploymentId)?.length === 0) this.#queues.delete(deploymentId);
    this.#registry.forgetIfIdle(deploymentId);
  }

  /** Time for the queue ahead to drain at the observed call latency, in whole seconds (1..60). */
  #retryAfterSeconds(slots: DeploymentSlots, queued: number): number {
    const capacity = Math.max(1, slots.endpoints.filter((e) => !e.failed).length) * this.#options.maxInflightPerReplica;
    const latency = Math.max(slots.meanLatencyMs, 10);
    return Math.min(60, Math.max(1, Math.ceil(((queued + slots.inflight) * latency) / capacity / 1000)));
  }
}
