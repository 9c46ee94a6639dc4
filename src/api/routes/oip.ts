import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { Scopes } from '../../domain/index.js';
import { encodeOipInferResult, oipInferBodySchema, parseOipInferBody, type Gateway } from '../../gateway/index.js';
import { principalOf, type Guard } from '../plugins/auth.js';
import { translate } from '../plugins/errors.js';
import { clientGoneSignal, rejectInvalid, sendJsonBytes } from './predictions.js';
import { requireJsonBody, type ModeldApp } from './shared.js';

export interface OipRouteDeps {
  gateway: Gateway;
  guard: Guard;
}

const TAGS = ['Open Inference Protocol v2'];
const SECURITY = [{ bearerAuth: [] }];

const OipError = Type.Object({ error: Type.String() }, { description: 'Every OIP error: {error}' });
const ModelParams = Type.Object({ name: Type.String({ description: 'A pre-trained model name, or a deployment id (UUID) of the token’s customer' }) });

function oipErrors(...statuses: number[]) {
  return Object.fromEntries(statuses.map((s) => [s, OipError]));
}

/**
 * Errors on the OIP routes keep the protocol's shape `{error}` (with the catalogue's status, and
 * Retry-After on 429); everything else about them is the errors plugin's translation.
 */
function oipErrorHandler(err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  const e = translate(err);
  if (e.status >= 500) request.log.error({ err }, 'request failed');
  else request.log.info({ code: e.code, message: e.message }, 'request rejected');
  if (e.code === 'MODELD_ERR_OVERLOADED' && typeof e.details?.retryAfterSeconds === 'number') {
    void reply.header('retry-after', String(e.details.retryAfterSeconds));
  }
  void reply.status(e.status).send({ error: e.message });
}

/**
 * The Open Inference Protocol v2 REST surface (KServe, Triton, MLServer clients) over the same
 * gateway: health by status code (200 true, 400 false; no token), model metadata and readiness,
 * and inference with one BYTES input `text` [n] -> one FP32 output `vector` [n, dim]. Model
 * routes take a `machinelearning.predict` token; `name` resolves like MODEL_ID.
 */
export function registerOipRoutes(app: ModeldApp, deps: OipRouteDeps): void {
  const { gateway } = deps;
  const guard = deps.guard(Scopes.PREDICT);

  app.get(
    '/v2/health/live',
    { errorHandler: oipErrorHandler, schema: { tags: TAGS, summary: 'Server live (200)', response: { 200: Type.Object({ live: Type.Boolean() }) } } },
    async () => ({ live: true }),
  );

  app.get(
    '/v2/health/ready',
    {
      errorHandler: oipErrorHandler,
      schema: { tags: TAGS, summary: 'Server ready to take inference requests (200), or not (400)', response: { 200: Type.Object({ ready: Type.Boolean() }), 400: Type.Object({ ready: Type.Boolean() }) } },
    },
    async (_request, reply) => reply.status(gateway.ready ? 200 : 400).send({ ready: gateway.ready }),
  );

  app.get(
    '/v2/models/:name',
    {
      onRequest: guard,
      errorHandler: oipErrorHandler,
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Model metadata: input `text` BYTES [-1], output `vector` FP32 [-1, vectorSize]',
        params: ModelParams,
        response: {
          200: Type.Object({
            name: Type.String(),
            versions: Type.Array(Type.String()),
            platform: Type.String(),
            inputs: Type.Array(Type.Object({ name: Type.String(), datatype: Type.String(), shape: Type.Array(Type.Integer()) })),
            outputs: Type.Array(Type.Object({ name: Type.String(), datatype: Type.String(), shape: Type.Array(Type.Integer()) })),
          }),
          ...oipErrors(401, 403, 404),
        },
      },
    },
    async (request) => gateway.oipModelMetadata(principalOf(request).customerId, request.params.name),
  );

  app.get(
    '/v2/models/:name/ready',
    {
      onRequest: guard,
      errorHandler: oipErrorHandler,
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Model ready (200) or not (400); asking starts a pre-trained model that is not running',
        params: ModelParams,
        response: { 200: Type.Object({ name: Type.String(), ready: Type.Boolean() }), 400: OipError, 401: OipError, 403: OipError, 404: OipError },
      },
    },
    async (request, reply) => {
      const { name } = request.params;
      if (await gateway.oipModelReady(principalOf(request).customerId, name)) return { name, ready: true };
      // Not ready is an answer, not an error: the protocol says false with a 4xx status.
      return reply.status(400).send({ error: `model ${name} has no ready replica` });
    },
  );

  app.post(
    '/v2/models/:name/infer',
    {
      onRequest: [guard, requireJsonBody],
      errorHandler: oipErrorHandler,
      attachValidation: true,
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Inference: {inputs:[{name:"text", shape:[n], datatype:"BYTES", data:[...]}]} -> {model_name, outputs:[{name:"vector", shape:[n,dim], datatype:"FP32", data:[...]}]}',
        params: ModelParams,
        body: oipInferBodySchema(gateway.maxBatchItems),
        response: {
          200: Type.Object({
            model_name: Type.String(),
            id: Type.Optional(Type.String()),
            outputs: Type.Array(Type.Object({ name: Type.String(), shape: Type.Array(Type.Integer()), datatype: Type.String(), data: Type.Array(Type.Number()) })),
          }),
          ...oipErrors(400, 401, 403, 404, 413, 415, 429, 503),
        },
      },
    },
    async (request, reply) => {
      rejectInvalid(request, (body) => parseOipInferBody(body, gateway.maxBatchItems, gateway.maxTextChars));
      const result = await gateway.oipInfer(principalOf(request).customerId, request.params.name, request.body, { signal: clientGoneSignal(reply) });
      return sendJsonBytes(reply, encodeOipInferResult(result));
    },
  );
}
