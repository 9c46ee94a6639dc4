import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Authenticator } from '../../auth/types.js';
import type { Config } from '../../config/index.js';
import { Scopes } from '../../domain/index.js';
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
  /** config metrics.access: `token` (the default) guards /metrics with `authenticator`; `public` leaves it open. */
  metricsAccess: Config['metrics']['access'];
  authenticator: Authenticator;
}

const TAGS = ['Operations'];
const Status = Type.Object({ status: Type.String() }, { additionalProperties: false });

/**
 * Operability routes, meant for the orchestrator and the scraper: `GET /healthz` (the process
 * answers) and `GET /readyz` (the store answers within the timeout, else 503
 * MODELD_ERR_UNAVAILABLE), without a token and saying nothing about a customer; `GET /metrics`
 * (Prometheus text format), which names every deployment, so by default (metrics.access `token`)
 * it needs a bearer token with scope modeld.ops or modeld.admin: 401 without a valid token, 403
 * MODELD_ERR_FORBIDDEN_SCOPE with neither scope. With metrics.access `public` it is open.
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

  const guarded = deps.metricsAccess === 'token';
  const requireOps = async (request: FastifyRequest) => {
    const principal = await deps.authenticator.authenticate(request.headers.authorization);
    if (!principal.scopes.includes(Scopes.OPS) && !principal.scopes.includes(Scopes.ADMIN)) {
      throw new ModeldError('MODELD_ERR_FORBIDDEN_SCOPE', `token lacks the scope ${Scopes.OPS} (or ${Scopes.ADMIN})`, { details: { requiredScope: Scopes.OPS } });
    }
    request.principal = principal;
  };
  app.get(
    '/metrics',
    {
      schema: {
        tags: TAGS,
        summary: guarded ? `Prometheus metrics (text exposition format); scope ${Scopes.OPS} or ${Scopes.ADMIN}` : 'Prometheus metrics (text exposition format)',
        produces: ['text/plain'],
        ...(guarded && { security: [{ bearerAuth: [] }], response: errorResponses(401, 403) }),
      },
      ...(guarded && { preHandler: requireOps }),
    },
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
