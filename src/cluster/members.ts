import { isoAt, systemClock, type Clock, type DeploymentLoad, type LoadSource } from '../domain/index.js';
import type { InstanceRecord, Store } from '../store/index.js';

type Log = { warn(obj: object, msg: string): void };

/** What this instance knows of its own gateway: the deployments it has seen and their load. */
export interface LocalLoad extends LoadSource {
  deploymentIds(): string[];
}

export interface ClusterMembersOptions {
  store: Pick<Store, 'putInstance' | 'listInstances' | 'deleteInstance' | 'deleteInstancesSeenBefore'>;
  instanceId: string;
  local: LocalLoad;
  heartbeatMs: number;
  /** Whether this instance leads now (it then prunes instances that stopped reporting). */
  isLeader: () => boolean;
  clock?: Clock;
  logger?: Log;
}

/**
 * The instances sharing the store (`instances`): each writes a heartbeat every `heartbeatMs` with
 * its gateway's load per deployment, and reads the others'. The autoscaler on the leader reads
 * `loadOf`, the sum over every live instance, since each gateway only sees its own requests. An
 * instance is live while its last heartbeat is younger than three intervals; the leader removes
 * rows older than a minute (instances that died without saying goodbye).
 */
export class ClusterMembers implements LoadSource {
  readonly #o: ClusterMembersOptions;
  /** Where this instance serves the API (shown to operators), given to start() once it listens. */
  #url = '';
  readonly #clock: Clock;
  readonly #startedAt: string;
  #others: InstanceRecord[] = [];
  #timer: NodeJS.Timeout | null = null;
  #beat: Promise<void> | null = null;
  #stopped = true;

  constructor(options: ClusterMembersOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#startedAt = isoAt(this.#clock.now());
  }

  /** Starts reporting; `url`: where this instance serves the API. */
  async start(url: string): Promise<void> {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#url = url;
    await this.heartbeat();
    this.#schedule();
  }

  /** Stops reporting and removes this instance's row (the others stop counting it at once). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#beat;
    await this.#o.store.deleteInstance(this.#o.instanceId).catch(() => undefined);
  }

  /** The other instances that reported within the last three heartbeats. */
  liveOthers(): InstanceRecord[] {
    const since = this.#clock.now() - 3 * this.#o.heartbeatMs;
    return this.#others.filter((i) => Date.parse(i.seenAt) >= since);
  }

  /** This instance's gateway load plus every live other's, for one deployment. */
  loadOf(deploymentId: string): DeploymentLoad | null {
    const loads: DeploymentLoad[] = [];
    const own = this.#o.local.loadOf(deploymentId);
    if (own) loads.push(own);
    for (const other of this.liveOthers()) {
      const theirs = other.load[deploymentId] as DeploymentLoad | undefined;
      if (theirs && typeof theirs.inflight === 'number') loads.push(theirs);
    }
    if (loads.length === 0) return null;
    return loads.reduce((sum, l) => ({
      inflight: sum.inflight + l.inflight,
      queued: sum.queued + l.queued,
      meanConcurrency: sum.meanConcurrency + l.meanConcurrency,
      // Peaks of different gateways may not coincide: their sum bounds the true peak from above.
      peakConcurrency: sum.peakConcurrency + l.peakConcurrency,
      shed: sum.shed + l.shed,
      windowMs: Math.max(sum.windowMs, l.windowMs),
    }));
  }

  /** One report and read (also what start() does first). */
  heartbeat(): Promise<void> {
    this.#beat ??= this.#heartbeat().finally(() => {
      this.#beat = null;
    });
    return this.#beat;
  }

  async #heartbeat(): Promise<void> {
    const now = this.#clock.now();
    const load: Record<string, DeploymentLoad> = {};
    for (const id of this.#o.local.deploymentIds()) {
      const l = this.#o.local.loadOf(id);
      if (l && (l.inflight > 0 || l.queued > 0 || l.meanConcurrency > 0 || l.shed > 0)) load[id] = l;
    }
    try {
      await this.#o.store.putInstance({ id: this.#o.instanceId, url: this.#url, startedAt: this.#startedAt, seenAt: isoAt(now), load });
      this.#others = (await this.#o.store.listInstances()).filter((i) => i.id !== this.#o.instanceId);
      if (this.#o.isLeader()) await this.#o.store.deleteInstancesSeenBefore(isoAt(now - 60_000));
    } catch (err) {
      this.#o.logger?.warn({ err }, 'cluster: heartbeat failed');
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.heartbeat().finally(() => this.#schedule());
    }, this.#o.heartbeatMs);
    this.#timer.unref();
  }
}
