import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ModeldError, toHttpBody } from '../../errors/index.js';

/**
 * One error shape for every route: `{message, code[, details]}` with the catalogue's status.
 * Fastify's own errors (schema validation, JSON syntax, body size, media type, unknown route)
 * are translated into catalogue codes here, so that no route ever answers in another shape.
 * Anything unexpected becomes a 500 whose message does not leak internals; it is logged.
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | ModeldError | Error, request: FastifyRequest, reply: FastifyReply) => {
    const e = translate(err);
    if (e.status >= 500) request.log.error({ err }, 'request failed');
    else request.log.info({ code: e.code, message: e.message }, 'request rejected');
    if (e.code === 'MODELD_ERR_OVERLOADED' && typeof e.details?.retryAfterSeconds === 'number') {
      void reply.header('retry-after', String(e.details.retryAfterSeconds));
    }
    void reply.status(e.status).send(toHttpBody(e));
  });
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    void reply.status(404).send(toHttpBody(new ModeldError('MODELD_ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)));
  });
}

/** Maps any thrown value to a ModeldError (exported for tests and for non-fastify callers). */
export function translate(err: unknown): ModeldError {
  if (err instanceof ModeldError) return err;
  const fe = err as Partial<FastifyError> & { validation?: Array<{ instancePath?: string; message?: string; params?: Record<string, unknown>; keyword?: string }> };
  if (fe.validation && fe.validation.length > 0) {
    const v = fe.validation[0]!;
    const context = (fe as { validationContext?: string }).validationContext ?? 'body';
    let field = (v.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.');
    if (v.keyword === 'required' && typeof v.params?.missingProperty === 'string') {
      field = field ? `${field}.${v.params.missingProperty}` : v.params.missingProperty;
    }
    if (v.keyword === 'additionalProperties' && typeof v.params?.additionalProperty === 'string') {
      field = field ? `${field}.${v.params.additionalProperty}` : v.params.additionalProperty;
      return new ModeldError('MODELD_ERR_VALIDATION', `${context}.${field}: unknown field`, { details: { field: `${context}.${field}` } });
    }
    const name = field ? `${context}.${field}` : context;
    return new ModeldError('MODELD_ERR_VALIDATION', `${name}: ${v.message ?? 'invalid'}`, { details: { field: name } });
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ModeldError('MODELD_ERR_BODY_TOO_LARGE', 'request body is larger than the server accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ModeldError('MODELD_ERR_UNSUPPORTED_MEDIA_TYPE', 'unsupported content-type; send application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ModeldError('MODELD_ERR_MALFORMED_JSON', 'body: empty JSON body');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ModeldError('MODELD_ERR_MALFORMED_JSON', `body: malformed JSON (${fe.message ?? ''})`);
    default:
      break;
  }
  if (err instanceof SyntaxError || (fe.statusCode === 400 && /JSON/i.test(fe.message ?? ''))) {
    return new ModeldError('MODELD_ERR_MALFORMED_JSON', `body: malformed JSON (${(err as Error).message})`);
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new ModeldError('MODELD_ERR_VALIDATION', fe.message ?? 'bad request', { status: fe.statusCode });
  }
  return new ModeldError('MODELD_ERR_INTERNAL', 'internal error', { cause: err });
}
