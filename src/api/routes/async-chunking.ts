import { Type, type TSchema } from 'typebox';
import type { ChunkingService } from '../../chunking/index.js';
import { Scopes } from '../../domain/index.js';
import { principalOf, type Guard } from '../plugins/auth.js';
import { errorResponses } from '../schemas.js';
import { requireJsonBody, type ModeldApp } from './shared.js';

export interface AsyncChunkingRouteDeps {
  chunking: ChunkingService;
  guard: Guard;
}

const TAGS = ['Async chunking'];
const SECURITY = [{ bearerAuth: [] }];
const PREFIXES = ['', '/applications/:APPLICATION_ID'] as const;

function params(prefix: string, names: string[]): TSchema {
  const props: Record<string, TSchema> = {};
  if (prefix !== '') props.APPLICATION_ID = Type.String();
  for (const n of names) props[n] = Type.String();
  return Type.Object(props);
}

const Submitted = Type.Object({ chunkingId: Type.String({ format: 'uuid' }), status: Type.Literal('SUBMITTED') });
const Result = Type.Object({
  chunkingId: Type.String(),
  status: Type.Union([Type.Literal('SUBMITTED'), Type.Literal('READY'), Type.Literal('RETRIEVED'), Type.Literal('ERROR')]),
  message: Type.Optional(Type.String({ description: 'Why the job failed (ERROR)' })),
  chunkedData: Type.Optional(
    Type.Array(
      Type.Object({
        chunks: Type.Array(Type.String()),
        spans: Type.Array(Type.Array(Type.Integer())),
        vectors: Type.Array(Type.Object({ tokensUsed: Type.Object({ inputTokens: Type.Integer() }), vector: Type.Array(Type.Number()) })),
      }),
    ),
  ),
});

/**
 * The Async Chunking API of Lucidworks AI (docs/api.md "Async chunking"), scope
 * `machinelearning.predict`, at `/ai/async-chunking/...` and under `/applications/:APPLICATION_ID`.
 * The body is validated by the service (messages name `body.<field>`), so the route takes it as
 * it is, up to the service's body limit (a 1 MiB text is more than 1 MiB of JSON).
 */
export function registerAsyncChunkingRoutes(app: ModeldApp, deps: AsyncChunkingRouteDeps): void {
  const guard = deps.guard(Scopes.PREDICT);
  const { chunking } = deps;
  for (const prefix of PREFIXES) {
    app.post(
      `${prefix}/ai/async-chunking/:CHUNKER/:MODEL_ID`,
      {
        onRequest: [guard, requireJsonBody],
        bodyLimit: chunking.maxBodyBytes,
        schema: {
          tags: TAGS,
          security: SECURITY,
          summary: 'Submit text to be chunked and vectorized; answers a chunkingId',
          params: params(prefix, ['CHUNKER', 'MODEL_ID']),
          response: { 200: Submitted, ...errorResponses(400, 401, 403, 413, 415) },
        },
      },
      async (request) => {
        const { CHUNKER, MODEL_ID } = request.params as { CHUNKER: string; MODEL_ID: string };
        return chunking.submit(principalOf(request).customerId, CHUNKER, MODEL_ID, request.body);
      },
    );
    app.get(
      `${prefix}/ai/async-chunking/:CHUNKING_ID`,
      {
        onRequest: guard,
        schema: {
          tags: TAGS,
          security: SECURITY,
          summary: 'The status of a chunking job and, once READY, its chunks and a vector per chunk',
          params: params(prefix, ['CHUNKING_ID']),
          response: { 200: Result, ...errorResponses(401, 403, 404) },
        },
      },
      async (request) => {
        const { CHUNKING_ID } = request.params as { CHUNKING_ID: string };
        return chunking.get(principalOf(request).customerId, CHUNKING_ID);
      },
    );
  }
}
