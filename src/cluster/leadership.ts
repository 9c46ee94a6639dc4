import { performance } from 'node:perf_hooks';
import type { Store } from '../store/index.js';

/** What a leadership change runs: starting or stopping the parts only the leader may run. */
export interface LeadershipHooks {
  /** This instance now holds the lease: start the controller, the training jobs... */
  lead(): Promise<void>;
  /**
   * It does not (another instance was elected at start), or no longer does (lost, expired, or
   * this instance is stopping): stop the leader's parts, if they run, before anything else.
   */
  follow(reason: string): Promise<void>;
}

export interface LeaseLeadershipOptions extends LeadershipHooks {
  store: Pick<Store, 'acquireLease' | 'releaseLease'>;
  instanceId: string;
  /** Lease name (default `leader`). */
  name?: string;
  /** How long a renewal holds the lease (the store's clock). A dead leader is replaced after at most this plus one renewal interval. */
  ttlMs: number;
  renewIntervalMs: number;
  logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** Monotonic milliseconds (default performance.now). */
  now?: () => number;
}

/**
 * Exactly one instance at a time runs the controller and the training job manager: the holder of
 * a lease kept in the store (`leases`, by the database's clock, docs/cluster.md). Every instance
 * asks for it every `renewIntervalMs`: the holder renews it, the others take it once it expired.
 *
 * The holder stops acting as soon as it cannot be sure it still holds the lease: when a renewal
 * says another instance holds it, or when `ttlMs` minus one renewal interval has passed since the
 * start of its last successful renewal (the store is unreachable, or answers too slowly), measured
 * on its own monotonic clock, so that it has stopped before anyone else can take the lease over.
 * Transitions run one at a time, in order.
 */
export class LeaseLeadership {
  readonly #o: Required<Omit<LeaseLeadershipOptions, 'logger'>> & Pick<LeaseLeadershipOptions, 'logger'>;
  #leader = false;
  #holder: string | null = null;
  #validUntil = 0;
  #timer: NodeJS.Timeout | null = null;
  #expiry: NodeJS.Timeout | null = null;
  #transitions: Promise<void> = Promise.resolve();
  #stopped = true;
  #tick: Promise<void> | null = null;

  constructor(options: LeaseLeadershipOptions) {
    if (options.renewIntervalMs * 2 >= options.ttlMs) throw new Error('cluster: renewIntervalMs must be less than half of leaseTtlMs');
    this.#o = { name: 'leader', now: () => performance.now(), ...options };
  }

  get instanceId(): string {
    return this.#o.instanceId;
  }

  /** Whether this instance holds the lease (and runs the leader's parts) now. */
  get isLeader(): boolean {
    return this.#leader;
  }

  /** The lease holder at the last renewal (null before the first). */
  get holder(): string | null {
    return this.#holder;
  }

  /** Makes the first attempt (so a lone instance leads before it serves), then keeps trying. */
  async start(): Promise<void> {
    if (!this.#stopped) return;
    this.#stopped = false;
    await this.#attempt();
    if (!this.#leader) this.#run(() => this.#o.follow(`instance ${this.#holder ?? '(unknown: the store did not answer)'} leads`));
    // Renewals go on while the transition runs (starting a controller may take longer than a lease).
    this.#schedule();
    await this.#transitions;
  }

  /** Stops trying; a leader steps down (its parts stop) and releases the lease so that another instance takes over at once. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#expiry) clearTimeout(this.#expiry);
    // A renewal under way is waited for, but not on a store that does not answer.
    if (this.#tick) await Promise.race([this.#tick, new Promise((r) => setTimeout(r, this.#o.renewIntervalMs))]);
    const wasLeader = this.#leader;
    this.#depose('this instance is stopping');
    await this.#transitions;
    if (wasLeader) await this.#o.store.releaseLease(this.#o.name, this.#o.instanceId).catch(() => undefined);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#tick = this.#attempt().finally(() => {
        this.#tick = null;
        this.#schedule();
      });
    }, this.#o.renewIntervalMs);
    this.#timer.unref();
  }

  async #attempt(): Promise<void> {
    const startedAt = this.#o.now();
    let held: boolean;
    try {
      const lease = await this.#o.store.acquireLease(this.#o.name, this.#o.instanceId, this.#o.ttlMs);
      held = lease.held;
      this.#holder = lease.holder || null;
    } catch (err) {
      // Unsure: a leader keeps acting until its lease may have expired (the expiry timer), no longer.
      this.#o.logger?.warn({ err, leader: this.#leader }, 'cluster: the lease could not be renewed');
      return;
    }
    if (this.#stopped) return;
    if (held) {
      this.#validUntil = startedAt + this.#o.ttlMs - this.#o.renewIntervalMs;
      this.#armExpiry();
      if (!this.#leader) {
        this.#leader = true;
        this.#o.logger?.info({}, 'cluster: this instance now leads (controller and training jobs run here)');
        this.#run(() => this.#o.lead());
      }
    } else if (this.#leader) {
      this.#depose(`instance ${this.#holder} holds the lease now`);
    }
  }

  #armExpiry(): void {
    if (this.#expiry) clearTimeout(this.#expiry);
    const left = this.#validUntil - this.#o.now();
    this.#expiry = setTimeout(() => {
      if (!this.#leader) return;
      // A timer may fire a little before its time by the monotonic clock: wait the rest.
      if (this.#o.now() < this.#validUntil) this.#armExpiry();
      else this.#depose('the lease could not be renewed in time');
    }, Math.max(0, Math.ceil(left)));
    this.#expiry.unref();
  }

  #depose(reason: string): void {
    if (!this.#leader) return;
    this.#leader = false;
    if (this.#expiry) clearTimeout(this.#expiry);
    this.#o.logger?.warn({ reason }, `cluster: this instance stops leading: ${reason}`);
    this.#run(() => this.#o.follow(reason));
  }

  #run(step: () => Promise<void>): void {
    this.#transitions = this.#transitions.then(step).catch((err: unknown) => this.#o.logger?.warn({ err }, 'cluster: a leadership transition failed'));
  }
}
