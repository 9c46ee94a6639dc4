import { systemClock, type Clock, type DeploymentLoad, type EndpointSink, type LoadSource, type ServingEndpoint, type ServingModelInfo } from '../domain/index.js';
import { LoadWindow } from './load-window.js';

/** One replica the gateway may send work to, with what the gateway knows of it. */
export interface EndpointState {
  readonly replicaId: string;
  readonly url: string;
  generation: number;
  /** Requests sent to it and not yet answered. */
  inflight: number;
  /** Requests it answered since it was first published (kept across publishes). */
  served: number;
  /**
   * It refused a connection, reset one, or said it is draining / not ready: no new work goes to
   * it until the controller publishes the deployment again (which clears the mark).
   */
  failed: boolean;
}

/** The gateway's view of one deployment. Mutated only by the registry and the balancer. */
export interface DeploymentSlots {
  readonly deploymentId: string;
  /** Null until the controller first published the deployment. */
  model: ServingModelInfo | null;
  endpoints: EndpointState[];
  /** Requests in flight on any of its replicas (including replicas no longer published). */
  inflight: number;
  /** Requests waiting for a replica slot. */
  queued: number;
  /**
   * The replica picked last: ties between equally loaded endpoints go to it (its caches and
   * threads are warm), so that at low load one replica serves everything instead of each one
   * answering every other request cold.
   */
  lastPicked: string | null;
  /** Moving average of one replica call's duration, for Retry-After estimates. */
  meanLatencyMs: number;
  readonly window: LoadWindow;
}

export type RegistryChange =
  | { kind: 'published'; deploymentId: string }
  | { kind: 'removed'; deploymentId: string }
  /** An endpoint URL no deployment publishes any more (its connection pool may go). */
  | { kind: 'endpoint-gone'; url: string };

export interface EndpointRegistryOptions {
  clock?: Clock;
  /** Sampling window of `loadOf` (default 10 s, in 10 buckets). */
  loadWindowMs?: number;
}

/**
 * Which replicas of each deployment may take requests, as the controller last published them
 * (EndpointSink), and the load the gateway measures on each deployment (LoadSource, read by the
 * autoscaler). In memory only: after a restart the controller publishes again.
 */
export class EndpointRegistry implements EndpointSink, LoadSource {
  readonly #clock: Clock;
  readonly #windowMs: number;
  readonly #slots = new Map<string, DeploymentSlots>();
  readonly #listeners = new Set<(change: RegistryChange) => void>();

  constructor(options: EndpointRegistryOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#windowMs = options.loadWindowMs ?? 10_000;
  }

  /**
   * Replaces the endpoints of a deployment. In-flight and served counts carry over for replicas that stay
   * (same replica id and URL); every failure mark is cleared, since the controller has just
   * observed these replicas as ready.
   */
  publish(deploymentId: string, model: ServingModelInfo, endpoints: ServingEndpoint[]): void {
    const slots = this.ensure(deploymentId);
    const previous = new Map(slots.endpoints.map((e) => [`${e.replicaId} ${e.url}`, e]));
    slots.model = { ...model, matryoshkaDims: model.matryoshkaDims ? [...model.matryoshkaDims] : null };
    // A replica that stays keeps its very object: leases taken before this publish hold it and
    // decrement its in-flight count when they finish (a copy would keep their count forever and
    // starve the replica of new requests).
    slots.endpoints = endpoints.map((e) => {
      const kept = previous.get(`${e.replicaId} ${e.url}`);
      if (!kept) return { replicaId: e.replicaId, url: e.url, generation: e.generation, inflight: 0, served: 0, failed: false };
      kept.generation = e.generation;
      kept.failed = false;
      return kept;
    });
    this.#emit({ kind: 'published', deploymentId });
    this.#emitGone(previous.values());
  }

  /** Forgets a deployment; waiting requests are told by the balancer. */
  remove(deploymentId: string): void {
    const slots = this.#slots.get(deploymentId);
    if (!slots) return;
    this.#slots.delete(deploymentId);
    this.#emit({ kind: 'removed', deploymentId });
    this.#emitGone(slots.endpoints);
  }

  loadOf(deploymentId: string): DeploymentLoad | null {
    const slots = this.#slots.get(deploymentId);
    if (!slots) return null;
    return { inflight: slots.inflight, queued: slots.queued, ...slots.window.read(this.#clock.now()) };
  }

  /** Model info as last published, null when the deployment was never published. */
  modelOf(deploymentId: string): ServingModelInfo | null {
    return this.#slots.get(deploymentId)?.model ?? null;
  }

  /** Ready endpoints not marked failed. */
  readyCount(deploymentId: string): number {
    return this.#slots.get(deploymentId)?.endpoints.filter((e) => !e.failed).length ?? 0;
  }

  /** The deployment's state, created empty (not published) when unknown. For the balancer. */
  ensure(deploymentId: string): DeploymentSlots {
    let slots = this.#slots.get(deploymentId);
    if (!slots) {
      slots = {
        deploymentId,
        model: null,
        endpoints: [],
        inflight: 0,
        queued: 0,
        lastPicked: null,
        meanLatencyMs: 0,
        window: new LoadWindow(this.#clock.now(), this.#windowMs),
      };
      this.#slots.set(deploymentId, slots);
    }
    return slots;
  }

  /** The deployment's state if it is known (published, or has requests). */
  get(deploymentId: string): DeploymentSlots | undefined {
    return this.#slots.get(deploymentId);
  }

  /** Drops a never-published deployment that nothing waits on any more (bounded memory). */
  forgetIfIdle(deploymentId: string): void {
    const slots = this.#slots.get(deploymentId);
    if (slots && slots.model === null && slots.inflight === 0 && slots.queued === 0) this.#slots.delete(deploymentId);
  }

  /** Records the deployment's concurrency after inflight or queued changed. */
  noteConcurrency(slots: DeploymentSlots): void {
    slots.window.set(slots.inflight + slots.queued, this.#clock.now());
  }

  noteShed(slots: DeploymentSlots): void {
    slots.window.shed(this.#clock.now());
  }

  /** Marks an endpoint failed until the next publish. */
  markFailed(deploymentId: string, replicaId: string): void {
    const e = this.#slots.get(deploymentId)?.endpoints.find((x) => x.replicaId === replicaId);
    if (e) e.failed = true;
  }

  /** Every deployment the registry knows (published, or with requests). */
  deploymentIds(): string[] {
    return [...this.#slots.keys()];
  }

  /** Every URL currently published by some deployment. */
  publishedUrls(): Set<string> {
    const urls = new Set<string>();
    for (const s of this.#slots.values()) for (const e of s.endpoints) urls.add(e.url);
    return urls;
  }

  subscribe(listener: (change: RegistryChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(change: RegistryChange): void {
    for (const l of this.#listeners) l(change);
  }

  #emitGone(candidates: Iterable<{ url: string }>): void {
    let live: Set<string> | undefined;
    for (const c of candidates) {
      live ??= this.publishedUrls();
      if (!live.has(c.url)) this.#emit({ kind: 'endpoint-gone', url: c.url });
    }
  }
}
