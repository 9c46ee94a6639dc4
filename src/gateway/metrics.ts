import { Counter, Histogram, type Registry } from 'prom-client';

/** The gateway's Prometheus metrics. Created once by the composition root on its registry. */
export interface GatewayMetrics {
  /** Seconds from admission to answer of one prediction call (queue wait and retries included), per deployment and operation. */
  readonly inferenceSeconds: Histogram<'deployment' | 'operation'>;
  /** Requests answered 429 because the deployment's queue was full. */
  readonly shedTotal: Counter<'deployment'>;
  /** Calls repeated on another replica after one failed (connection lost, draining, not ready). */
  readonly retriesTotal: Counter<'deployment' | 'reason'>;
  /** Embedding calls sent to runners (after merging). */
  readonly runnerCallsTotal: Counter;
  /** Embedding calls that went to a runner merged with at least one other. */
  readonly mergedCallsTotal: Counter;
}

/** Registers the gateway metrics on `registry` (call once per registry). */
export function createGatewayMetrics(registry: Registry): GatewayMetrics {
  return {
    inferenceSeconds: new Histogram({
      name: 'modeld_inference_duration_seconds',
      help: 'Duration of prediction calls through the gateway (queue wait and retries included)',
      labelNames: ['deployment', 'operation'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    shedTotal: new Counter({
      name: 'modeld_requests_shed_total',
      help: 'Prediction requests refused with 429 because the deployment queue was full',
      labelNames: ['deployment'],
      registers: [registry],
    }),
    retriesTotal: new Counter({
      name: 'modeld_gateway_retries_total',
      help: 'Prediction calls retried on another replica',
      labelNames: ['deployment', 'reason'],
      registers: [registry],
    }),
    runnerCallsTotal: new Counter({
      name: 'modeld_gateway_runner_calls_total',
      help: 'Embedding calls sent to runners, after merging the calls that waited for a busy replica',
      registers: [registry],
    }),
    mergedCallsTotal: new Counter({
      name: 'modeld_gateway_merged_calls_total',
      help: 'Embedding calls that went to a runner merged with at least one other',
      registers: [registry],
    }),
  };
}
