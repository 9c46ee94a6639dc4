import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyRequest,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import { ModeldError } from '../../errors/index.js';

/** The fastify instance buildApp creates: TypeBox schemas give the handlers their types. */
export type ModeldApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

/** `application/json`, with or without parameters (`; charset=utf-8`). */
export const JSON_TYPE = /^application\/json\s*(;|$)/i;

/**
 * onRequest hook of the JSON write routes: a request that carries a body must say
 * `Content-Type: application/json`, else 415 MODELD_ERR_UNSUPPORTED_MEDIA_TYPE, before the body
 * is read. (Other route modules may add parsers, e.g. a form parser for the token route; this
 * keeps them from reaching the JSON routes.)
 */
export async function requireJsonBody(request: FastifyRequest): Promise<void> {
  const length = request.headers['content-length'];
  const hasBody = request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  if (!hasBody) return;
  const type = request.headers['content-type'];
  if (type === undefined || !JSON_TYPE.test(type)) {
    throw new ModeldError(
      'MODELD_ERR_UNSUPPORTED_MEDIA_TYPE',
      `unsupported content-type ${type === undefined ? '(none)' : JSON.stringify(type)}; send application/json`,
      { details: { contentType: type ?? null } },
    );
  }
}
