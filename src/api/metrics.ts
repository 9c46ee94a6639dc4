import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricsOptions {
  /** Also collect the process metrics (CPU, memory, event loop lag, GC). Default true. */
  processMetrics?: boolean;
}

/**
 * The Prometheus metrics of one server instance, in a registry of its own (never prom-client's
 * global default, so that two apps in one process, as in tests, do not share counters).
 * The HTTP metrics are fed by buildApp's onResponse hook; other parts (controller, gateway)
 * register their own metrics on `registry` or use the helpers below.
 */
export class Metrics {
  readonly registry: Registry;
  #requests: Counter<'method' | 'route' | 'status'>;
  #duration: Histogram<'method' | 'route'>;
  #readyReplicas: Gauge<'deployment'>;
  #desiredReplicas: Gauge<'deployment'>;
  #scalings: Counter<'deployment' | 'direction'>;
  #trainingJobs: Counter<'outcome'>;
  #trainingRunning: Gauge;

  constructor(options: MetricsOptions = {}) {
    this.registry = new Registry();
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.#requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [this.registry],
    });
    this.#duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from request received to response sent, by method and route pattern',
      labelNames: ['method', 'route'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.#readyReplicas = new Gauge({
      name: 'modeld_deployment_ready_replicas',
      help: 'Replicas of a deployment that are ready to take requests',
      labelNames: ['deployment'] as const,
      registers: [this.registry],
    });
    this.#desiredReplicas = new Gauge({
      name: 'modeld_deployment_desired_replicas',
      help: 'Replicas the controller aims for: the autoscaler wish within [minReplicas, maxReplicas]',
      labelNames: ['deployment'] as const,
      registers: [this.registry],
    });
    this.#scalings = new Counter({
      name: 'modeld_autoscaler_decisions_total',
      help: 'Changes of the desired replica count (ScaledUp / ScaledDown events; reasons in the events API)',
      labelNames: ['deployment', 'direction'] as const,
      registers: [this.registry],
    });
    this.#trainingJobs = new Counter({
      name: 'modeld_training_jobs_total',
      help: 'Training jobs that ended, by outcome (succeeded, failed, cancelled)',
      labelNames: ['outcome'] as const,
      registers: [this.registry],
    });
    this.#trainingRunning = new Gauge({
      name: 'modeld_training_jobs_running',
      help: 'Training jobs whose worker process is running now on this server',
      registers: [this.registry],
    });
  }

  /** Counts a training job that ended (written by the training job manager). */
  countTrainingJob(outcome: 'succeeded' | 'failed' | 'cancelled'): void {
    this.#trainingJobs.inc({ outcome });
  }

  setRunningTrainingJobs(n: number): void {
    this.#trainingRunning.set(n);
  }

  /**
   * Counts one answered request. `route` must be the route pattern (`/customers/:CUSTOMER_ID/ai/models`),
   * never the raw URL, so that ids do not explode the label space.
   */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.#requests.inc({ method, route, status: String(status) });
    this.#duration.observe({ method, route }, seconds);
  }

  /** Written by the controller after each reconcile of a deployment. */
  setReadyReplicas(deploymentId: string, n: number): void {
    this.#readyReplicas.set({ deployment: deploymentId }, n);
  }

  setDesiredReplicas(deploymentId: string, n: number): void {
    this.#desiredReplicas.set({ deployment: deploymentId }, n);
  }

  countScaling(deploymentId: string, direction: 'up' | 'down'): void {
    this.#scalings.inc({ deployment: deploymentId, direction });
  }

  /** Drops the per-deployment series of a deployment that is gone. */
  forgetDeployment(deploymentId: string): void {
    this.#readyReplicas.remove({ deployment: deploymentId });
    this.#desiredReplicas.remove({ deployment: deploymentId });
    for (const direction of ['up', 'down']) this.#scalings.remove({ deployment: deploymentId, direction });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric in the registry. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
