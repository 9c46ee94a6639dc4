import type http from 'node:http';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifySchemaValidationError } from 'fastify';
import type { Authenticator } from '../auth/index.js';
import { Scopes } from '../domain/index.js';
import { ModeldError } from '../errors/index.js';
import { embeddingBodySchema, encodeEmbeddingResult, parseEmbeddingBody, type Gateway } from '../gateway/index.js';
import type { Metrics } from './metrics.js';
import { requireScope } from './plugins/auth.js';
import { errorAnswer, translate } from './plugins/errors.js';
import { JSON_TYPE } from './routes/shared.js';
import { armBodyTimer, bodyTimeoutError } from './http-limits.js';
import { requestIdOf } from './request-id.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The embedding route's fast path (null when off: config gateway.fastEmbeddingRoute, or no gateway). */
    fastEmbedding: FastEmbeddingRoute | null;
  }
}

export interface FastEmbeddingDeps {
  gateway: Gateway;
  authenticator: Authenticator;
  metrics: Metrics;
  logger: FastifyBaseLogger;
  /** False: no request lines, as fastify's disableRequestLogging (AppDeps.logRequests). */
  logRequests: boolean;
  /** config limits.bodyLimitBytes: a longer body is left to fastify (413). */
  bodyLimit: number;
  /** config limits.bodyTimeoutMs: a body not received whole by then is answered 408 and its connection closed. */
  bodyTimeoutMs: number;
  /** The app's JSON body parser (app.ts jsonBodyParser): '' -> undefined, MODELD_ERR_MALFORMED_JSON on bad JSON. */
  parseJson(text: string): unknown;
}

/**
 * The embedding route's path, with or without the application: `[/applications/{A}]/ai/prediction/embedding/{M}`.
 * Parameters with `%` (fastify decodes them), `;` or an empty one, a query string, a trailing
 * slash: not matched, fastify answers as it always did.
 */
const ROUTE = /^(?:\/applications\/([^/?#%;]{1,200}))?\/ai\/prediction\/embedding\/([^/?#%;]{1,200})$/;
const ROUTE_URL = '/ai/prediction/embedding/:MODEL_ID';
const APP_ROUTE_URL = '/applications/:APPLICATION_ID/ai/prediction/embedding/:MODEL_ID';

/** Log levels at which fastify writes its two lines per request. */
const LOGS_INFO = new Set(['trace', 'debug', 'info']);

/** A body validator as fastify's schema compiler makes it: the value, or the schema's errors. */
type CheckBody = (value: unknown) => { value?: unknown; error?: FastifySchemaValidationError[] };

/**
 * The embedding prediction, served on the HTTP server in front of fastify (buildApp's
 * serverFactory): the same work in the route's order, without fastify's request and reply
 * objects, hooks, router and promise chain. In process that is about 0.06 ms of server CPU per
 * batch-1 request and 0.1 ms of p50 at concurrency 1 (bench/api-overhead.ts --only http).
 *
 * It takes only the requests whose headers say they are well formed: `POST` to the route's path,
 * no query string, `Content-Type: application/json`, a `Content-Length` from 1 to the body limit,
 * no `Transfer-Encoding`, an `Authorization` header. Anything else goes to fastify, whose route
 * (still registered: `app.inject`, the OpenAPI document) answers it as before: 401, 404, 413,
 * 415 come from there. Once taken, every answer is the route's: the token and scope checked
 * first, the body parsed by the app's JSON parser, checked against the route's schema (TypeBox,
 * compiled the way fastify compiles it) with the gateway's parser as the authority on messages,
 * the gateway's answer written by its JSON writer; errors through the error handler's
 * `errorAnswer`; `x-request-id`, request metrics and the request log lines as fastify writes
 * them. A test sends the same requests both ways and compares the answers
 * (test/integration/fast-embedding.test.ts).
 */
export class FastEmbeddingRoute {
  readonly #deps: FastEmbeddingDeps;
  readonly #checkBody: CheckBody;
  #served = 0;

  constructor(deps: FastEmbeddingDeps) {
    this.#deps = deps;
    const schema = embeddingBodySchema(deps.gateway.maxBatchItems);
    this.#checkBody = TypeBoxValidatorCompiler({ schema, httpPart: 'body', method: 'POST', url: ROUTE_URL }) as CheckBody;
  }

  /** False: every request goes to fastify (bench/api-overhead.ts compares the two in one process). */
  enabled = true;

  /** Requests answered here since the start (the rest went to fastify). */
  get served(): number {
    return this.#served;
  }

  /** Answers the request and returns true, or returns false without touching it (fastify's then). */
  take(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    if (!this.enabled || req.method !== 'POST') return false;
    const match = ROUTE.exec(req.url ?? '');
    if (match === null) return false;
    const headers = req.headers;
    const type = headers['content-type'];
    const length = Number(headers['content-length']);
    if (type === undefined || !JSON_TYPE.test(type) || headers['transfer-encoding'] !== undefined) return false;
    if (!(length >= 1 && length <= this.#deps.bodyLimit) || headers.authorization === undefined) return false;
    this.#served++;
    this.#serve(req, res, match[1] === undefined ? ROUTE_URL : APP_ROUTE_URL, match[2]!).catch((err: unknown) => {
      // Only reached if the metrics or the log line failed after the answer: nothing left to tell the client.
      this.#deps.logger.error({ err }, 'embedding fast path failed after answering');
    });
    return true;
  }

  async #serve(req: http.IncomingMessage, res: http.ServerResponse, route: string, modelId: string): Promise<void> {
    const started = performance.now();
    const reqId = requestIdOf(req);
    // The request's logger, as fastify's request.log: made only when a line is written.
    let child: FastifyBaseLogger | null = null;
    const log = (): FastifyBaseLogger => (child ??= this.#deps.logger.child({ reqId }));
    const logRequests = this.#deps.logRequests && LOGS_INFO.has(this.#deps.logger.level);
    if (logRequests) log().info({ req }, 'incoming request');
    res.setHeader('x-request-id', reqId);
    // The client going away before its answer aborts the gateway's work (queue slot, runner call).
    const gone = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) gone.abort();
    };
    res.once('close', onClose);
    let status: number;
    try {
      const principal = await this.#deps.authenticator.authenticate(req.headers.authorization);
      requireScope(principal, Scopes.PREDICT);
      const body = this.#deps.parseJson(await readBody(req, this.#deps.bodyTimeoutMs, res));
      const checked = this.#checkBody(body);
      if (checked.error) {
        // As rejectInvalid: the gateway's parser names the field first; the schema's error only if it accepts.
        parseEmbeddingBody(body, this.#deps.gateway.maxBatchItems, this.#deps.gateway.maxTextChars);
        throw translate({ validation: checked.error, validationContext: 'body' });
      }
      const result = await this.#deps.gateway.embed(principal.customerId, modelId, body, { signal: gone.signal });
      const bytes = encodeEmbeddingResult(result);
      status = 200;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': bytes.byteLength });
      res.end(bytes);
    } catch (err) {
      const answer = errorAnswer(err, log());
      status = answer.status;
      const text = JSON.stringify(answer.body);
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(status, { ...answer.headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      }
    } finally {
      res.removeListener('close', onClose);
    }
    const seconds = (performance.now() - started) / 1000;
    this.#deps.metrics.observeRequest('POST', route, status, seconds);
    if (logRequests) log().info({ res: { statusCode: status }, responseTime: seconds * 1000 }, 'request completed');
  }
}

/**
 * The body as text; the route took only requests with a Content-Length within the limit. A body
 * still arriving after `timeoutMs` rejects with 408 and marks the answer `connection: close`
 * (the rest of that body is never read).
 */
function readBody(req: http.IncomingMessage, timeoutMs: number, res: http.ServerResponse): Promise<string> {
  return new Promise((resolve, reject) => {
    armBodyTimer(req, timeoutMs, () => {
      res.shouldKeepAlive = false;
      reject(bodyTimeoutError(timeoutMs));
    });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new ModeldError('MODELD_ERR_VALIDATION', 'body: the client closed the connection before sending it whole'));
    });
  });
}
