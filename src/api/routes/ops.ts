import { Type } from 'typebox';
import { ModeldError } from '../../errors/index.js';
import type { Store } from '../../store/index.js';
import type { Metrics } from '../metrics.js';
import { errorResponses } from '../schemas.js';
import type { ModeldApp } from './shared.js';

export interface OpsRouteDeps {
  store: Store;
  metrics: Metrics;
  /** How long /readyz waits for the store before answering 503. Default 2000 ms. */
  readyTimeoutMs?: number;
}

const TAGS = ['Operations'];
const Status = Type.Object({ status: Type.String() }, { additionalProperties: false });

/**
 * Unauthenticated operability routes, meant for the orchestrator and the scraper:
 * `GET /healthz` (the process answers), `GET /readyz` (the store answers within the timeout,
 * else 503 MODELD_ERR_UNAVAILABLE), `GET /metrics` (Prometheus text format). None of them
 * says anything about a customer.
 */
export function registerOpsRoutes(app: ModeldApp, deps: OpsRouteDeps): void {
  const readyTimeoutMs = deps.readyTimeoutMs ?? 2000;

  app.get(
    '/healthz',
    { schema: { tags: TAGS, summary: 'Liveness: the process answers', response: { 200: Status } } },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    { schema: { tags: TAGS, summary: 'Readiness: the store answers', response: { 200: Status, ...errorResponses(503) } } },
    async () => {
      await withTimeout(deps.store.getCustomer('readyz-probe'), readyTimeoutMs).catch((err: unknown) => {
        throw new ModeldError('MODELD_ERR_UNAVAILABLE', `store not answering: ${(err as Error).message}`, { cause: err });
      });
      return { status: 'ok' };
    },
  );

  app.get(
    '/metrics',
    { schema: { tags: TAGS, summary: 'Prometheus metrics (text exposition format)', produces: ['text/plain'] } },
    async (_request, reply) => {
      const text = await deps.metrics.render();
      return reply.type(deps.metrics.contentType).send(text);
    },
  );
}

/** Resolves like `promise`, or rejects after `ms`; the timer never outlives the race. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
