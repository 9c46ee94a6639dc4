import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type, type TSchema } from 'typebox';
import { Scopes } from '../../domain/index.js';
import { ModeldError } from '../../errors/index.js';
import {
  classificationBodySchema,
  embeddingBodySchema,
  encodeClassificationResult,
  encodeEmbeddingResult,
  parseClassificationBody,
  parseEmbeddingBody,
  parseTokenizationBody,
  tokenizationBodySchema,
  type Gateway,
} from '../../gateway/index.js';
import { principalOf, type Guard } from '../plugins/auth.js';
import { translate } from '../plugins/errors.js';
import { fastParamsValidatorCompiler } from '../plugins/validation.js';
import { errorResponses } from '../schemas.js';
import { requireJsonBody, type ModeldApp } from './shared.js';

export interface PredictionRouteDeps {
  gateway: Gateway;
  guard: Guard;
}

const TAGS = ['Predictions'];
const SECURITY = [{ bearerAuth: [] }];
/** The Lucidworks hosts put the application in the sub-domain; modeld also accepts it in the path. */
const PREFIXES = ['', '/applications/:APPLICATION_ID'] as const;

const ModelIdParam = Type.String({ description: 'A pre-trained model name, or a custom model’s deployment id (UUID)' });
const ApplicationIdParam = Type.String({ description: 'The application id (accepted, not checked: the token names the customer)' });

function paramsSchema(prefix: string, withModel: boolean): TSchema {
  const props: Record<string, TSchema> = {};
  if (prefix !== '') props.APPLICATION_ID = ApplicationIdParam;
  if (withModel) props.MODEL_ID = ModelIdParam;
  return Type.Object(props);
}

const TokensUsed = Type.Object({ inputTokens: Type.Integer() });
const EmbeddingResponse = Type.Object({
  predictions: Type.Array(
    Type.Object({
      tokensUsed: TokensUsed,
      vector: Type.Array(Type.Number(), { description: 'L2-normalized floats, or integers when quantized (min-max 0..255, max-scale -127..127)' }),
      warning: Type.Optional(Type.String({ description: 'Set when dimReductionSize is not a size the model was trained for' })),
    }),
  ),
});
const ClassificationResponse = Type.Object({
  predictions: Type.Array(
    Type.Object({
      tokensUsed: Type.Object({ inputTokens: Type.Integer(), labelsTokens: Type.Integer() }),
      labels: Type.Record(Type.String(), Type.Number(), { description: 'label -> cosine similarity, best first' }),
    }),
  ),
});
const TokenizationResponse = Type.Object({
  generatedTokens: Type.Array(Type.Object({ tokens: Type.Array(Type.String()) })),
  tokensUsed: Type.Object({
    inputTokens: Type.Integer(),
    promptTokens: Type.Integer({ description: 'equals inputTokens (an embedding model reads the whole input as its prompt)' }),
    completionTokens: Type.Integer({ description: 'always 0: an embedding model generates no tokens' }),
    totalTokens: Type.Integer(),
  }),
});
const UseCaseResponse = Type.Array(
  Type.Object({
    useCase: Type.String(),
    models: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), modelType: Type.String(), vectorSize: Type.Integer() })),
  }),
);

/** The Lucidworks AI GenAI prediction use cases (public Prediction API docs), named in the 404. */
const GENAI_USE_CASES = ['passthrough', 'rag', 'summarization', 'keyword_extraction', 'ner', 'standalone_query_rewriter'] as const;

const PREDICTION_ERRORS = errorResponses(400, 401, 403, 404, 413, 415, 429, 503);

/**
 * An AbortSignal that fires when the client goes away before its answer is sent: the gateway
 * then drops the request from its queue or cancels the replica call. (A ServerResponse emits
 * `close` both after a complete answer and when the connection drops; only the latter aborts.)
 */
export function clientGoneSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/**
 * Runs `work` with a signal that fires when the client goes away before its answer is sent (see
 * clientGoneSignal), listening only while `work` runs: once the gateway has answered there is
 * nothing left to cancel, and the connection's later `close` finds no listener.
 */
export async function untilClientGone<T>(reply: FastifyReply, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const raw = reply.raw;
  const onClose = (): void => {
    if (!raw.writableFinished) controller.abort();
  };
  raw.once('close', onClose);
  try {
    return await work(controller.signal);
  } finally {
    raw.removeListener('close', onClose);
  }
}

/**
 * Sends bytes the gateway's JSON writer produced, as they are: a Buffer payload never goes
 * through fastify's serializer (the route's response schema only documents the format).
 */
export function sendJsonBytes(reply: FastifyReply, bytes: Buffer): FastifyReply {
  return reply.type('application/json').send(bytes);
}

/**
 * The gateway's parser is the authority on bodies (its messages name the field in API.md's
 * words), so the route schema only documents the body (`attachValidation`). Should the schema
 * ever reject a body the parser accepts, the schema's error is sent, before any inference.
 */
export function rejectInvalid(request: FastifyRequest, parse: (body: unknown) => unknown): void {
  if (!request.validationError) return;
  parse(request.body);
  throw translate(request.validationError);
}

/**
 * The Prediction, Tokenization and Use Case routes of the Lucidworks AI API, at `/ai/...` and
 * `/applications/:APPLICATION_ID/ai/...`, scope `machinelearning.predict`. Bodies are parsed by
 * the gateway; vectors are written by the gateway's JSON writer (shortest round-tripping float32
 * decimals) and sent as they are, bypassing fastify's serializer.
 */
export function registerPredictionRoutes(app: ModeldApp, deps: PredictionRouteDeps): void {
  const { gateway } = deps;
  const guard = deps.guard(Scopes.PREDICT);
  const max = gateway.maxBatchItems;
  const chars = gateway.maxTextChars;
  const parseEmbedding = (body: unknown) => parseEmbeddingBody(body, max, chars);
  const parseClassification = (body: unknown) => parseClassificationBody(body, max, chars);
  const parseTokenization = (body: unknown) => parseTokenizationBody(body, max, chars);

  for (const prefix of PREFIXES) {
    const where = prefix === '' ? '' : ' (application in the path)';
    app.post(
      `${prefix}/ai/prediction/embedding/:MODEL_ID`,
      {
        onRequest: [guard, requireJsonBody],
        attachValidation: true,
        validatorCompiler: fastParamsValidatorCompiler,
        schema: {
          tags: TAGS,
          security: SECURITY,
          summary: `Embedding: one vector per input, in order${where}`,
          params: paramsSchema(prefix, true),
          body: embeddingBodySchema(max),
          response: { 200: EmbeddingResponse, ...PREDICTION_ERRORS },
        },
      },
      async (request, reply) => {
        const { MODEL_ID } = request.params as { MODEL_ID: string };
        rejectInvalid(request, parseEmbedding);
        const customerId = principalOf(request).customerId;
        const result = await untilClientGone(reply, (signal) => gateway.embed(customerId, MODEL_ID, request.body, { signal }));
        return sendJsonBytes(reply, encodeEmbeddingResult(result));
      },
    );

    app.post(
      `${prefix}/ai/prediction/classification/:MODEL_ID`,
      {
        onRequest: [guard, requireJsonBody],
        attachValidation: true,
        validatorCompiler: fastParamsValidatorCompiler,
        schema: {
          tags: TAGS,
          security: SECURITY,
          summary: `Classification: labels ranked by cosine similarity to each input${where}`,
          params: paramsSchema(prefix, true),
          body: classificationBodySchema(max),
          response: { 200: ClassificationResponse, ...PREDICTION_ERRORS },
        },
      },
      async (request, reply) => {
        const { MODEL_ID } = request.params as { MODEL_ID: string };
        rejectInvalid(request, parseClassification);
        const customerId = principalOf(request).customerId;
        const result = await untilClientGone(reply, (signal) => gateway.classify(customerId, MODEL_ID, request.body, { signal }));
        return sendJsonBytes(reply, encodeClassificationResult(result));
      },
    );

    app.post(
      `${prefix}/ai/tokenization/:MODEL_ID`,
      {
        onRequest: [guard, requireJsonBody],
        attachValidation: true,
        validatorCompiler: fastParamsValidatorCompiler,
        schema: {
          tags: TAGS,
          security: SECURITY,
          summary: `Tokenization: the tokens of each input after truncation${where}`,
          params: paramsSchema(prefix, true),
          body: tokenizationBodySchema(max),
          response: { 200: TokenizationResponse, ...PREDICTION_ERRORS },
        },
      },
      async (request, reply) => {
        const { MODEL_ID } = request.params as { MODEL_ID: string };
        rejectInvalid(request, parseTokenization);
        const customerId = principalOf(request).customerId;
        return untilClientGone(reply, (signal) => gateway.tokenize(customerId, MODEL_ID, request.body, { signal }));
      },
    );

    // Lucidworks' GenAI use cases share the prediction path; modeld serves embedding models only,
    // so they get a 404 naming the use case instead of the router's bare one (a 404, not a 501: no 5xx
    // for a caller's request).
    app.post(
      `${prefix}/ai/prediction/:USE_CASE/:MODEL_ID`,
      {
        onRequest: guard,
        validatorCompiler: fastParamsValidatorCompiler,
        schema: {
          tags: TAGS,
          security: SECURITY,
          summary: `Any other use case (GenAI: passthrough, rag, summarization, ...): 404, not offered by this server${where}`,
          params: Type.Object({ ...(prefix !== '' && { APPLICATION_ID: ApplicationIdParam }), USE_CASE: Type.String(), MODEL_ID: ModelIdParam }),
          response: errorResponses(401, 403, 404),
        },
      },
      async (request) => {
        const { USE_CASE } = request.params as { USE_CASE: string };
        // A GenAI use case is named (a fixed, documented name); anything else is not echoed: a
        // path segment is the caller's text, possibly another customer's id.
        const known = (GENAI_USE_CASES as readonly string[]).includes(USE_CASE);
        throw new ModeldError(
          'MODELD_ERR_USE_CASE_NOT_OFFERED',
          `${known ? `use case ${USE_CASE}` : 'this use case'} is not offered by this server: modeld serves the embedding and classification use cases of embedding models; the Lucidworks GenAI use cases (${GENAI_USE_CASES.join(', ')}) need Lucidworks AI`,
          known ? { details: { useCase: USE_CASE } } : {},
        );
      },
    );

    app.get(
      `${prefix}/ai/usecase`,
      {
        onRequest: guard,
        validatorCompiler: fastParamsValidatorCompiler,
        schema: {
          tags: TAGS,
          security: SECURITY,
          summary: `Use cases and the models serving them (custom models by deployment id)${where}`,
          params: paramsSchema(prefix, false),
          response: { 200: UseCaseResponse, ...errorResponses(401, 403) },
        },
      },
      async (request) => gateway.usecases(principalOf(request).customerId),
    );
  }
}
