import http from 'node:http';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import type { Authenticator, TokenService } from '../auth/index.js';
import { dataPaths, type Config } from '../config/index.js';
import type { Clock } from '../domain/index.js';
import { ModeldError, toHttpBody } from '../errors/index.js';
import type { Gateway } from '../gateway/index.js';
import type { Store } from '../store/index.js';
import type { Metrics } from './metrics.js';
import { makeGuard } from './plugins/auth.js';
import { registerErrorHandling } from './plugins/errors.js';
import { registerAdminRoutes, type ClusterSelf } from './routes/admin.js';
import { registerAuthRoutes } from './routes/auth.js';
import { registerDeploymentRoutes, type DeploymentNotifier } from './routes/deployments.js';
import { registerModelRoutes, type ModelArtifacts, type PretrainedCatalog, type TrainingJobsPort } from './routes/models.js';
import { registerOipRoutes } from './routes/oip.js';
import { registerOpsRoutes } from './routes/ops.js';
import { registerPredictionRoutes } from './routes/predictions.js';
import { registerAsyncChunkingRoutes } from './routes/async-chunking.js';
import type { ChunkingService } from '../chunking/index.js';
import { registerUploadRoutes } from './routes/uploads.js';
import { registerConsoleRoutes } from './routes/console.js';
import { registerDeploymentInsightRoutes, type ReplicaLister } from './routes/deployment-insights.js';
import { DeploymentHistory } from './deployment-history.js';
import { registerQuotaRoutes } from './routes/quotas.js';
import { registerInternalArtifactRoutes, type ArtifactRoots } from './routes/internal-artifacts.js';
import { CustomerQuotas } from './quotas.js';
import type { ModeldApp } from './routes/shared.js';
import { UploadStore } from './uploads.js';
import { FastEmbeddingRoute } from './fast-embedding.js';
import { requestIdOf } from './request-id.js';

import { applyServerLimits, armBodyTimer, bodyTimeoutError, clientErrorHandler, frameworkErrorHandler, serverOptions } from './http-limits.js';

export { requestIdOf } from './request-id.js';

/** Everything the HTTP API needs, built by the composition root (src/main.ts) or by a test. */
export interface AppDeps {
  config: Readonly<Config>;
  store: Store;
  /** Verifies bearer tokens on every guarded route (usually `tokens` itself). */
  authenticator: Authenticator;
  /** Issues tokens (token endpoint) and serves the JWKS. */
  tokens: TokenService;
  /** Told after every write of a deployment's desired state. */
  controller: DeploymentNotifier;
  metrics: Metrics;
  clock: Clock;
  /** A pino logger; every request line carries `reqId`, no header is logged. */
  logger: FastifyBaseLogger;
  /**
   * Whether each request gets its "incoming request" / "request completed" lines (at info, as
   * fastify writes them). Default true; the server turns them off on a terminal below debug.
   */
  logRequests?: boolean;
  /** Import of artifact directories (M2 `imported`) and release of unused artifacts. */
  artifacts: ModelArtifacts;
  /** The pre-trained models listed by M1. */
  pretrained: PretrainedCatalog;
  /**
   * The prediction path. When given, the Prediction API (`/ai/...`) and the Open Inference
   * Protocol routes (`/v2/...`) are registered on it; a test of other routes may leave it out.
   */
  gateway?: Gateway;
  /**
   * The training job layer (src/training/jobs). Without it M2 refuses training model types with
   * 503; uploads work either way.
   */
  training?: TrainingJobsPort;
  /**
   * Where artifacts and pre-trained model folders live. When given, the internal artifact
   * endpoint (`/internal/artifacts/...`, artifact tokens only) serves replica pods of Kubernetes
   * regions their artifact.
   */
  artifactRoots?: ArtifactRoots;
  /** The Async Chunking API (`/ai/async-chunking/...`); registered only when given. */
  chunking?: ChunkingService;
  /**
   * A deployment's replicas as the runtimes see them, with the gateway's per-replica load (the
   * extension `GET .../deployments/{id}/replicas`, registered only when given; built by main.ts).
   */
  replicas?: ReplicaLister;
  /**
   * The per-deployment history behind `GET .../deployments/{id}/metrics` (DeploymentHistory,
   * sampled from `metrics` while the app is open): sample interval (default 10 s) and samples kept
   * (default 360); `false` leaves the route out.
   */
  deploymentHistory?: { intervalMs?: number; capacity?: number } | false;
  /** Folder of the built web console served at `/console/` (default `<repo>/web/dist`). */
  consoleDir?: string;
  /** This instance and the lease holder, for `GET /admin/cluster` (docs/cluster.md). */
  cluster?: ClusterSelf;
}


/**
 * Builds the fastify app with every route, without listening (`app.listen()` or `app.inject()`
 * is the caller's). JSON bodies up to `config.limits.bodyLimitBytes` (413 beyond), validated by
 * the routes' TypeBox schemas with no coercion of body types and no unknown field accepted;
 * other content types are refused with 415; every error is `{message, code[, details]}`.
 * Every response carries `x-request-id`. The OpenAPI 3 document, built from the same schemas, is
 * served at `GET /openapi.json` and browsable at `/docs`.
 */
export async function buildApp(deps: AppDeps): Promise<ModeldApp> {
  // Set once the routes are registered; until then (and without a gateway) fastify has every request.
  let fast: FastEmbeddingRoute | null = null;
  const limits = deps.config.limits;
  const app = Fastify({
    loggerInstance: deps.logger,
    logController: new LogController({ disableRequestLogging: deps.logRequests === false }),
    bodyLimit: deps.config.limits.bodyLimitBytes,
    requestIdHeader: false,
    genReqId: requestIdOf,
    // Ids in paths are UUIDs or names; nothing legitimate needs longer parameters.
    routerOptions: { maxParamLength: 200 },
    // Requests refused before routing (parser errors, bad URLs) answer in modeld's shape too.
    clientErrorHandler,
    frameworkErrors: frameworkErrorHandler,
    // The HTTP server fastify would make, with the embedding route's fast path in front
    // (fast-embedding.ts) and the server limits of http-limits.ts.
    serverFactory: (handler, options) => {
      const server = http.createServer(serverOptions(limits), (req, res) => {
        if (fast === null || !fast.take(req, res)) handler(req, res);
      });
      // fastify's keep-alive default (72 s); the timeouts and connection caps are modeld's.
      server.keepAliveTimeout = (options as { keepAliveTimeout?: number }).keepAliveTimeout ?? 72_000;
      applyServerLimits(server, limits, deps.logger);
      return server;
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  // Response schemas document the wire format; bodies are rendered explicitly (render.ts), so
  // they are serialized as they are, never silently trimmed to a schema.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  registerErrorHandling(app);
  const parseJson = registerJsonParser(app, limits.maxJsonDepth);

  // Callback-style hooks: they run on every request (predictions included), and an async hook
  // costs fastify a promise and a microtask turn each time for work that never waits.
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    // Uploads stream large bodies: they have requestTimeoutMs and the idle timeout instead.
    if (!isUploadRoute(request.routeOptions.url)) {
      armBodyTimer(request.raw, limits.bodyTimeoutMs, () => {
        if (reply.sent) return;
        const e = bodyTimeoutError(limits.bodyTimeoutMs);
        request.log.info({ code: e.code }, 'request rejected');
        void reply.header('connection', 'close').status(e.status).send(toHttpBody(e));
        reply.raw.once('finish', () => request.raw.socket?.destroy());
      });
    }
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    deps.metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'modeld',
        version: '1',
        description:
          'Self-hosted Lucidworks AI compatible Models, Prediction and Auth API. Errors are {message, code[, details]}; see docs/errors.md for the codes.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      tags: [
        { name: 'Manage models', description: 'View, train, import and delete models; upload training data (scope machinelearning.model).' },
        { name: 'Manage deployments', description: 'Deploy custom models (scope machinelearning.model).' },
        { name: 'Auth', description: 'OAuth 2.0 client credentials tokens and the keys that verify them.' },
        { name: 'Predictions', description: 'Embeddings, classification, tokenization and use cases (scope machinelearning.predict).' },
        { name: 'Open Inference Protocol v2', description: 'The KServe / Triton REST surface over the same models (scope machinelearning.predict).' },
        { name: 'Admin', description: 'Customers and their API clients (scope modeld.admin).' },
        { name: 'Operations', description: 'Health and readiness (no token) and metrics (scope modeld.ops or modeld.admin, unless config metrics.access is public).' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const guard = makeGuard(deps.authenticator);
  registerOpsRoutes(app, { store: deps.store, metrics: deps.metrics, metricsAccess: deps.config.metrics.access, authenticator: deps.authenticator });
  registerAuthRoutes(app, { tokens: deps.tokens });
  if (deps.artifactRoots) registerInternalArtifactRoutes(app, { tokens: deps.tokens, roots: deps.artifactRoots });
  registerAdminRoutes(app, { store: deps.store, authenticator: deps.authenticator, clock: deps.clock, ...(deps.cluster && { cluster: deps.cluster }) });
  const uploads = new UploadStore(dataPaths(deps.config).uploads);
  const quotas = new CustomerQuotas(deps.config, deps.store, uploads);
  registerQuotaRoutes(app, { store: deps.store, clock: deps.clock, guard, authenticator: deps.authenticator, quotas });
  registerModelRoutes(app, {
    config: deps.config,
    store: deps.store,
    clock: deps.clock,
    guard,
    artifacts: deps.artifacts,
    pretrained: deps.pretrained,
    uploads,
    quotas,
    ...(deps.training && { training: deps.training }),
  });
  registerUploadRoutes(app, { config: deps.config, clock: deps.clock, guard, uploads, quotas });
  registerDeploymentRoutes(app, { config: deps.config, store: deps.store, clock: deps.clock, guard, controller: deps.controller, quotas });
  const history = deps.deploymentHistory === false ? undefined : new DeploymentHistory({ registry: deps.metrics.registry, clock: deps.clock, ...deps.deploymentHistory });
  if (history) {
    app.addHook('onReady', async () => history.start());
    app.addHook('onClose', async () => history.stop());
  }
  registerDeploymentInsightRoutes(app, { store: deps.store, guard, ...(deps.replicas && { replicas: deps.replicas }), ...(history && { history }) });
  registerConsoleRoutes(app, deps.consoleDir === undefined ? {} : { dir: deps.consoleDir });
  if (deps.gateway) {
    registerPredictionRoutes(app, { gateway: deps.gateway, guard });
    if (deps.chunking) registerAsyncChunkingRoutes(app, { chunking: deps.chunking, guard });
    registerOipRoutes(app, { gateway: deps.gateway, guard });
    if (deps.config.gateway.fastEmbeddingRoute) {
      fast = new FastEmbeddingRoute({
        gateway: deps.gateway,
        authenticator: deps.authenticator,
        metrics: deps.metrics,
        logger: deps.logger,
        logRequests: deps.logRequests !== false,
        bodyLimit: deps.config.limits.bodyLimitBytes,
        bodyTimeoutMs: limits.bodyTimeoutMs,
        parseJson,
      });
    }
  }
  app.decorate('fastEmbedding', fast);
  return app;
}

/**
 * `application/json` only (fastify's text/plain parser is removed, so other types get 415),
 * parsed by jsonBodyParser. Returns that parser (the prediction fast path parses with it too).
 */
function registerJsonParser(app: ModeldApp, maxDepth: number): (text: string) => unknown {
  const parse = jsonBodyParser(app, maxDepth);
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parse(typeof body === 'string' ? body : body.toString('utf8')));
    } catch (err) {
      done(err as ModeldError, undefined);
    }
  });
  return parse;
}

/**
 * The JSON body parser: an empty body parses as no body (clients send `Content-Type:
 * application/json` with DELETE); a route that needs one then says `body: must be object`.
 * Bodies with `__proto__` or `constructor.prototype` keys are refused. A syntax error names where
 * it is. Throws MODELD_ERR_MALFORMED_JSON.
 */
function jsonBodyParser(app: ModeldApp, maxDepth: number): (text: string) => unknown {
  const strict = app.getDefaultJsonParser('error', 'error');
  return (text: string): unknown => {
    if (text.trim() === '') return undefined;
    let parsed: { err: Error | null; value: unknown } = { err: null, value: undefined };
    // fastify's parser (secure-json-parse) calls back synchronously; it never reads its request argument.
    strict(undefined as never, text, (err, value) => {
      parsed = { err: err ?? null, value };
    });
    if (!parsed.err) {
      checkJsonDepth(parsed.value, maxDepth);
      return parsed.value;
    }
    let why = 'forbidden key __proto__ or constructor.prototype';
    try {
      JSON.parse(text);
    } catch (syntax) {
      why = (syntax as Error).message;
    }
    throw new ModeldError('MODELD_ERR_MALFORMED_JSON', `body: malformed JSON (${why})`);
  };
}

/**
 * Refuses (400 MODELD_ERR_VALIDATION, field `body`) a parsed body nested deeper than `maxDepth`
 * arrays and objects (config `limits.maxJsonDepth`): no route takes anything that deep, and
 * code that walks values recursively (serializing a deployment config, for one) must never meet
 * it. Iterative, and stops at the first value past the limit.
 */
export function checkJsonDepth(value: unknown, maxDepth: number): void {
  if (typeof value !== 'object' || value === null) return;
  const stack: Array<{ v: object; depth: number }> = [{ v: value, depth: 1 }];
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!;
    if (depth > maxDepth) {
      throw new ModeldError('MODELD_ERR_VALIDATION', `body: nested deeper than ${maxDepth} levels of arrays and objects (limits.maxJsonDepth)`, {
        details: { field: 'body', maxJsonDepth: maxDepth },
      });
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push({ v: child, depth: depth + 1 });
    }
  }
}

/** Upload routes stream bodies of up to limits.uploadLimitBytes and have no body timer. */
function isUploadRoute(url: string | undefined): boolean {
  return url !== undefined && url.includes('/ai/uploads/');
}
