import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ModeldError, toHttpBody, type ErrorBody } from '../../errors/index.js';

/**
 * One error shape for every route: `{message, code[, details]}` with the catalogue's status.
 * Fastify's own errors (schema validation, JSON syntax, body size, media type, unknown route)
 * are translated into catalogue codes here, so that no route ever answers in another shape.
 * Anything unexpected becomes a 500 whose message does not leak internals; it is logged.
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | ModeldError | Error, request: FastifyRequest, reply: FastifyReply) => {
    const answer = errorAnswer(err, request.log);
    for (const [name, value] of Object.entries(answer.headers)) void reply.header(name, value);
    void reply.status(answer.status).send(answer.body);
  });
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    void reply.status(404).send(toHttpBody(new ModeldError('MODELD_ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)));
  });
}

/**
 * What any thrown value is answered with: the catalogue's status, headers (`retry-after` of a
 * shed request) and `{message, code[, details]}`, logged on `log` (a server error with its
 * cause, a rejection as one info line). The fastify error handler and the prediction fast path
 * (fast-embedding.ts) answer through it, so both say the same.
 */
export function errorAnswer(err: unknown, log: Pick<FastifyBaseLogger, 'error' | 'info'>): { status: number; headers: Record<string, string>; body: ErrorBody } {
  const e = translate(err);
  // 501 (a route modeld does not offer) is the caller's request, not a server failure: logged like a 4xx.
  if (e.status >= 500 && e.status !== 501) log.error({ err }, 'request failed');
  else log.info({ code: e.code, message: e.message }, 'request rejected');
  const headers: Record<string, string> = {};
  if (e.code === 'MODELD_ERR_OVERLOADED' && typeof e.details?.retryAfterSeconds === 'number') headers['retry-after'] = String(e.details.retryAfterSeconds);
  return { status: e.status, headers, body: toHttpBody(e) };
}

/** Maps any thrown value to a ModeldError (exported for tests and for non-fastify callers). */
export function translate(err: unknown): ModeldError {
  if (err instanceof ModeldError) return err;
  const fe = err as Partial<FastifyError> & { validation?: ValidationIssue[]; validationContext?: string };
  if (fe.validation && fe.validation.length > 0) return fromValidation(fe.validation, fe.validationContext ?? 'body');
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

/**
 * One schema validation failure, as Ajv (`missingProperty`, `additionalProperty`) or TypeBox
 * (`requiredProperties`, `additionalProperties`) reports it; both shapes are understood so that a
 * route compiled by either names the field the same way.
 */
interface ValidationIssue {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

/**
 * Turns the validator's issues into one MODELD_ERR_VALIDATION naming the field as
 * `<part>.<path>` (`body.minReplicas`, `querystring.limit`). Unknown fields are all named at once.
 * TypeBox reports an unknown field twice (a `boolean` "schema is false" issue at the field, then
 * `additionalProperties` at the object); the second one is preferred because it lists every field.
 */
function fromValidation(issues: ValidationIssue[], context: string): ModeldError {
  const v = issues.find((i) => i.keyword !== 'boolean') ?? issues[0]!;
  const at = pathOf(v.instancePath);
  const join = (...parts: string[]) => [context, ...parts].filter((p) => p !== '').join('.');

  if (v.keyword === 'additionalProperties' || v.keyword === 'boolean') {
    const listed = v.params?.additionalProperties ?? v.params?.additionalProperty;
    const names = v.keyword === 'boolean' ? [at] : Array.isArray(listed) ? listed.map(String) : typeof listed === 'string' ? [listed] : [];
    const parent = v.keyword === 'boolean' ? '' : at;
    const fields = names.map((n) => join(parent, n));
    const message = fields.length === 1 ? `${fields[0]}: unknown field` : `${join(parent)}: unknown fields ${names.join(', ')}`;
    return new ModeldError('MODELD_ERR_VALIDATION', message, { details: { field: fields[0] ?? join(parent), fields } });
  }
  if (v.keyword === 'required') {
    const listed = v.params?.requiredProperties ?? v.params?.missingProperty;
    const missing = Array.isArray(listed) ? listed.map(String) : typeof listed === 'string' ? [listed] : [];
    const fields = missing.map((m) => join(at, m));
    const field = fields[0] ?? join(at);
    return new ModeldError('MODELD_ERR_VALIDATION', `${fields.length > 1 ? fields.join(', ') : field}: required`, { details: { field, fields } });
  }
  if (v.keyword === 'minProperties' && at === '') {
    return new ModeldError('MODELD_ERR_VALIDATION', `${context}: must name at least one field to change`, { details: { field: context } });
  }
  if (v.keyword === 'type' && at === '' && context === 'body') {
    return new ModeldError('MODELD_ERR_VALIDATION', `body: ${v.message ?? 'invalid'} (send a JSON object)`, { details: { field: 'body' } });
  }
  const field = join(at);
  return new ModeldError('MODELD_ERR_VALIDATION', `${field}: ${v.message ?? 'invalid'}`, { details: { field } });
}

/** `/a/0/b` -> `a.0.b`, with JSON pointer escapes undone. */
function pathOf(instancePath: string | undefined): string {
  if (!instancePath) return '';
  return instancePath
    .replace(/^\//, '')
    .split('/')
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'))
    .join('.');
}
