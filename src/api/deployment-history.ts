import type { Registry } from 'prom-client';
import type { Clock } from '../domain/index.js';

/** One sample of a deployment's serving figures over the interval that ended at `at`. */
export interface DeploymentSample {
  /** End of the interval (ISO-8601 UTC). */
  at: string;
  /** Prediction calls answered through the gateway per second over the interval. */
  requestsPerSecond: number;
  /** Median and 99th percentile call duration over the interval (ms); null when no call ended in it. */
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
  /** Replicas ready, and the count the controller aims for, when the interval ended; null when not reported. */
  readyReplicas: number | null;
  desiredReplicas: number | null;
}

export interface DeploymentHistoryOptions {
  registry: Registry;
  clock: Clock;
  /** Default 10 000 ms. */
  intervalMs?: number;
  /** Samples kept per deployment. Default 360 (an hour of 10 s samples). */
  capacity?: number;
}

/** Metric names read from the registry (written by the gateway and the controller). */
const INFERENCE = 'modeld_inference_duration_seconds';
const READY = 'modeld_deployment_ready_replicas';
const DESIRED = 'modeld_deployment_desired_replicas';

export interface Cumulative {
  /** Cumulative bucket counts by upper bound (seconds), +Inf last. */
  buckets: Map<number, number>;
  count: number;
}

/**
 * A bounded in-memory history per deployment of what modeld's own metrics say about it: calls
 * per second and latency percentiles (from the gateway's `modeld_inference_duration_seconds`
 * histogram, all operations together) and ready / desired replicas (the controller's gauges).
 * Sampled every `intervalMs`; at most `capacity` samples per deployment (oldest dropped), so the
 * memory is bounded by deployments x capacity. Lost on restart (it is a view, not a record).
 * Percentiles are interpolated linearly inside the histogram bucket that holds them, as
 * Prometheus' histogram_quantile does; above the last finite bucket they are that bound.
 */
export class DeploymentHistory {
  readonly intervalMs: number;
  readonly capacity: number;
  readonly #registry: Registry;
  readonly #clock: Clock;
  readonly #series = new Map<string, DeploymentSample[]>();
  #previous = new Map<string, Cumulative>();
  #previousAt: number | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;
  #sampling: Promise<void> | null = null;

  constructor(options: DeploymentHistoryOptions) {
    this.#registry = options.registry;
    this.#clock = options.clock;
    this.intervalMs = options.intervalMs ?? 10_000;
    this.capacity = options.capacity ?? 360;
  }

  /** Idempotent: takes a first reading now, then samples every intervalMs. */
  start(): void {
    if (this.#timer) return;
    void this.sample();
    this.#timer = setInterval(() => void this.sample(), this.intervalMs);
    this.#timer.unref();
  }

  /** Idempotent; waits for a sample in progress. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#sampling;
  }

  /** The samples of a deployment, oldest first (empty when none was taken yet). */
  samples(deploymentId: string): DeploymentSample[] {
    return [...(this.#series.get(deploymentId) ?? [])];
  }

  /**
   * Takes one sample of every deployment the metrics name. The first call only records the
   * counters (a rate needs two readings). Never throws: a metric not registered reads as absent.
   */
  sample(): Promise<void> {
    this.#sampling ??= this.#sampleOnce().finally(() => {
      this.#sampling = null;
    });
    return this.#sampling;
  }

  async #sampleOnce(): Promise<void> {
    const now = this.#clock.now();
    const current = await this.#readInference();
    const ready = await this.#readGauge(READY);
    const desired = await this.#readGauge(DESIRED);
    const previousAt = this.#previousAt;
    const previous = this.#previous;
    this.#previous = current;
    this.#previousAt = now;
    if (previousAt === null || now <= previousAt) return;
    const seconds = (now - previousAt) / 1000;
    const ids = new Set([...current.keys(), ...ready.keys()]);
    for (const id of ids) {
      const cur = current.get(id);
      const prev = previous.get(id);
      const delta = cur ? difference(cur, prev) : null;
      const calls = delta?.count ?? 0;
      // A deployment that is gone (its gauges removed) and answered nothing is no longer sampled.
      if (!ready.has(id) && calls === 0) {
        this.#series.delete(id);
        continue;
      }
      const sample: DeploymentSample = {
        at: new Date(now).toISOString(),
        requestsPerSecond: round(calls / seconds, 3),
        latencyP50Ms: delta && calls > 0 ? roundOrNull(quantile(delta, 0.5) * 1000) : null,
        latencyP99Ms: delta && calls > 0 ? roundOrNull(quantile(delta, 0.99) * 1000) : null,
        readyReplicas: ready.get(id) ?? null,
        desiredReplicas: desired.get(id) ?? null,
      };
      let series = this.#series.get(id);
      if (!series) this.#series.set(id, (series = []));
      series.push(sample);
      if (series.length > this.capacity) series.splice(0, series.length - this.capacity);
    }
    for (const id of this.#series.keys()) if (!ids.has(id)) this.#series.delete(id);
  }

  async #readInference(): Promise<Map<string, Cumulative>> {
    const out = new Map<string, Cumulative>();
    const metric = this.#registry.getSingleMetric(INFERENCE);
    if (!metric) return out;
    const { values } = await metric.get();
    for (const v of values) {
      const id = v.labels.deployment;
      if (typeof id !== 'string') continue;
      let c = out.get(id);
      if (!c) out.set(id, (c = { buckets: new Map(), count: 0 }));
      const name = (v as { metricName?: string }).metricName ?? '';
      if (name.endsWith('_bucket')) {
        const le = v.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(v.labels.le);
        c.buckets.set(le, (c.buckets.get(le) ?? 0) + v.value);
      } else if (name.endsWith('_count')) {
        c.count += v.value;
      }
    }
    return out;
  }

  async #readGauge(name: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const metric = this.#registry.getSingleMetric(name);
    if (!metric) return out;
    for (const v of (await metric.get()).values) {
      if (typeof v.labels.deployment === 'string') out.set(v.labels.deployment, v.value);
    }
    return out;
  }
}

/** Counts in the interval: cumulative now minus cumulative before (a reset counts from zero). */
function difference(cur: Cumulative, prev: Cumulative | undefined): Cumulative {
  if (!prev || prev.count > cur.count) return cur;
  const buckets = new Map<number, number>();
  for (const [le, n] of cur.buckets) buckets.set(le, n - (prev.buckets.get(le) ?? 0));
  return { buckets, count: cur.count - prev.count };
}

/** The q-quantile (seconds) of a histogram's cumulative buckets, linear inside the bucket. */
export function quantile(h: Cumulative, q: number): number {
  const bounds = [...h.buckets.keys()].sort((a, b) => a - b);
  const total = h.buckets.get(Number.POSITIVE_INFINITY) ?? h.count;
  if (total <= 0 || bounds.length === 0) return Number.NaN;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const bound of bounds) {
    const count = h.buckets.get(bound) ?? 0;
    if (count >= rank) {
      if (bound === Number.POSITIVE_INFINITY) return lowerBound;
      if (count === lowerCount) return bound;
      return lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / (count - lowerCount);
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return lowerBound;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function roundOrNull(n: number): number | null {
  return Number.isFinite(n) ? round(n, 3) : null;
}
