import { isoAt, systemClock, type Clock, type EndpointSink, type ServingEndpoint, type ServingModelInfo } from '../domain/index.js';
import type { Store } from '../store/index.js';

type Log = { warn(obj: object, msg: string): void };

/**
 * The leader's EndpointSink: publishes to this instance's gateway at once, and writes what it
 * published to the store (`serving_endpoints`) for the other instances' gateways (EndpointFollower).
 * A write happens only when the set changed; writes of one deployment go out in order, the newest
 * winning; a failed write is tried again at the next publish (the controller publishes on every sync).
 */
export class PublishingEndpoints implements EndpointSink {
  readonly #local: EndpointSink;
  readonly #store: Pick<Store, 'putServingEndpoints' | 'deleteServingEndpoints'>;
  readonly #clock: Clock;
  readonly #log: Log | undefined;
  /** Per deployment: what was last written (JSON), and the write chain. */
  readonly #written = new Map<string, string | null>();
  readonly #chains = new Map<string, Promise<void>>();

  constructor(options: { local: EndpointSink; store: Pick<Store, 'putServingEndpoints' | 'deleteServingEndpoints'>; clock?: Clock; logger?: Log }) {
    this.#local = options.local;
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger;
  }

  publish(deploymentId: string, model: ServingModelInfo, endpoints: ServingEndpoint[]): void {
    this.#local.publish(deploymentId, model, endpoints);
    const json = JSON.stringify([model, endpoints]);
    if (this.#written.get(deploymentId) === json) return;
    this.#written.set(deploymentId, json);
    this.#enqueue(deploymentId, () => this.#store.putServingEndpoints(deploymentId, model, endpoints, isoAt(this.#clock.now())).then(() => undefined));
  }

  remove(deploymentId: string): void {
    this.#local.remove(deploymentId);
    this.#written.set(deploymentId, null);
    this.#enqueue(deploymentId, () => this.#store.deleteServingEndpoints(deploymentId)).finally(() => {
      if (this.#written.get(deploymentId) === null) this.#written.delete(deploymentId);
    });
  }

  /** Forgets what was written (a new term as leader writes everything again). */
  reset(): void {
    this.#written.clear();
  }

  /** Resolves when every write asked for so far is done (tests, shutdown). */
  async flush(): Promise<void> {
    await Promise.all(this.#chains.values());
  }

  #enqueue(deploymentId: string, write: () => Promise<void>): Promise<void> {
    const next = (this.#chains.get(deploymentId) ?? Promise.resolve()).then(write).catch((err: unknown) => {
      // The next publish writes again.
      if (this.#written.get(deploymentId) !== null) this.#written.delete(deploymentId);
      this.#log?.warn({ err, deploymentId }, 'cluster: could not share the endpoints with the other instances');
    });
    this.#chains.set(deploymentId, next);
    void next.finally(() => {
      if (this.#chains.get(deploymentId) === next) this.#chains.delete(deploymentId);
    });
    return next;
  }
}

/**
 * A follower's view of the leader's endpoints: reads `serving_endpoints` every `intervalMs` and
 * applies what changed (by revision) to this instance's gateway, so it balances, retries and
 * drains over the same replicas as the leader's. A replica the leader unpublishes may still get a
 * request from a follower for up to one interval; it answers "draining" and the gateway retries
 * it on another replica (within the retry budget), as on one machine.
 */
export class EndpointFollower {
  readonly #store: Pick<Store, 'listServingEndpoints'>;
  readonly #local: EndpointSink;
  readonly #intervalMs: number;
  readonly #log: Log | undefined;
  readonly #applied = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = true;

  constructor(options: { store: Pick<Store, 'listServingEndpoints'>; local: EndpointSink; intervalMs: number; logger?: Log }) {
    this.#store = options.store;
    this.#local = options.local;
    this.#intervalMs = options.intervalMs;
    this.#log = options.logger;
  }

  /** Applies the current endpoints once, then keeps following. */
  async start(): Promise<void> {
    if (!this.#stopped) return;
    this.#stopped = false;
    await this.poll();
    this.#schedule();
  }

  /** Stops following; what was applied stays in the gateway (a new leader's controller publishes over it). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
    this.#applied.clear();
  }

  /** One read and apply. */
  poll(): Promise<void> {
    this.#running ??= this.#poll().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #poll(): Promise<void> {
    let rows;
    try {
      rows = await this.#store.listServingEndpoints();
    } catch (err) {
      this.#log?.warn({ err }, 'cluster: could not read the published endpoints; the gateway keeps the last ones');
      return;
    }
    if (this.#stopped) return;
    const seen = new Set<string>();
    for (const row of rows) {
      seen.add(row.deploymentId);
      if (this.#applied.get(row.deploymentId) === row.revision) continue;
      this.#applied.set(row.deploymentId, row.revision);
      this.#local.publish(row.deploymentId, row.model as ServingModelInfo, row.endpoints as ServingEndpoint[]);
    }
    for (const id of [...this.#applied.keys()]) {
      if (seen.has(id)) continue;
      this.#applied.delete(id);
      this.#local.remove(id);
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.poll().finally(() => this.#schedule());
    }, this.#intervalMs);
    this.#timer.unref();
  }
}
