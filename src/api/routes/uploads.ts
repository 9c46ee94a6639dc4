import type { IncomingMessage } from 'node:http';
import { Type } from 'typebox';
import { Scopes, isoAt, type Clock } from '../../domain/index.js';
import { ModeldError } from '../../errors/index.js';
import type { Config } from '../../config/index.js';
import { principalOf, type Guard } from '../plugins/auth.js';
import { CustomerParams, errorResponses } from '../schemas.js';
import type { UploadStore } from '../uploads.js';
import type { CustomerQuotas } from '../quotas.js';
import type { ModeldApp } from './shared.js';

export interface UploadRouteDeps {
  config: Readonly<Config>;
  clock: Clock;
  guard: Guard;
  uploads: UploadStore;
  /** Each upload is checked against the customer's uploadFiles and uploadBytes quotas. */
  quotas: CustomerQuotas;
}

const TAGS = ['Manage models'];
const SECURITY = [{ bearerAuth: [] }];

const UploadSchema = Type.Object(
  {
    name: Type.String(),
    uri: Type.String({ description: 'file:// URI to give as trainingData.catalog or trainingData.signals in M2' }),
    bytes: Type.Integer(),
    sha256: Type.String(),
    uploadedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

const UploadParams = Type.Object({
  CUSTOMER_ID: Type.String({ description: 'The customer id; must equal the token customerId claim' }),
  FILENAME: Type.String({ description: '1-128 of A-Z a-z 0-9 . _ -, starting with a letter or digit' }),
});

/**
 * Extension: training data uploads under `/customers/:CUSTOMER_ID/ai/uploads`, scope
 * `machinelearning.model`. PUT takes the raw body of any content type and streams it to disk (not
 * through the JSON body limit: `limits.uploadLimitBytes` applies, 413 beyond it), GET lists,
 * DELETE removes. Each customer sees only its own folder.
 */
export function registerUploadRoutes(app: ModeldApp, deps: UploadRouteDeps): void {
  const guard = deps.guard(Scopes.MODEL);
  const base = '/customers/:CUSTOMER_ID/ai/uploads';
  const limit = deps.config.limits.uploadLimitBytes;

  app.get(
    base,
    {
      onRequest: guard,
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Extension: list the customer’s uploaded training data files',
        params: CustomerParams,
        response: { 200: Type.Array(UploadSchema), ...errorResponses(401, 403) },
      },
    },
    async (request) => deps.uploads.list(principalOf(request).customerId),
  );

  app.delete(
    `${base}/:FILENAME`,
    {
      onRequest: guard,
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Extension: delete an uploaded file (models already trained from it keep working)',
        params: UploadParams,
        response: { 200: UploadSchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => deps.uploads.delete(principalOf(request).customerId, request.params.FILENAME),
  );

  // The PUT route lives in a context of its own whose only body parser hands the raw stream over
  // unread: any content type is accepted there, and the JSON parser and its body limit do not apply.
  void app.register(async (instance) => {
    const scope = instance as unknown as ModeldApp;
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request: unknown, payload: IncomingMessage, done: (err: Error | null, body?: unknown) => void) => done(null, payload));
    scope.put(
      `${base}/:FILENAME`,
      {
        onRequest: [
          guard,
          async (request) => {
            // Refused before a byte is read when the client announces a larger body.
            const length = Number(request.headers['content-length']);
            if (Number.isFinite(length) && length > limit) {
              throw new ModeldError('MODELD_ERR_BODY_TOO_LARGE', `upload larger than the limit of ${limit} bytes (limits.uploadLimitBytes)`, {
                details: { limitBytes: limit },
              });
            }
          },
        ],
        schema: {
          tags: TAGS,
          security: SECURITY,
          summary: 'Extension: upload a training data file (raw body, any content type)',
          description:
            'Stores the body as the customer’s file FILENAME (replacing one of that name) and answers its file:// URI for M2 trainingData. CSV, JSON Lines and Parquet are what training reads.',
          params: UploadParams,
          response: { 200: UploadSchema, ...errorResponses(400, 401, 403, 413) },
          // 403 also for MODELD_ERR_QUOTA_EXCEEDED (quotas uploadFiles, uploadBytes).
        },
      },
      async (request) => {
        const customerId = principalOf(request).customerId;
        const body = (request.body as IncomingMessage | undefined) ?? nothing();
        const announced = request.headers['content-length'] === undefined ? undefined : Number(request.headers['content-length']);
        const quota = await deps.quotas.uploadLimits(customerId);
        return deps.uploads.put(customerId, request.params.FILENAME, body, limit, isoAt(deps.clock.now()), quota, announced);
      },
    );
  });
}

async function* nothing(): AsyncGenerator<Buffer> {}
