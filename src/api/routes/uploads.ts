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
    folderUri: Type.Optional(
      Type.String({ description: 'For a file inside an upload folder: file:// URI of its top-level folder, to give as artifact.uri in M2 (import)' }),
    ),
    bytes: Type.Integer(),
    sha256: Type.String(),
    uploadedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

const UploadFolderSchema = Type.Object(
  {
    name: Type.String(),
    uri: Type.String(),
    files: Type.Integer({ description: 'Files the folder held' }),
    bytes: Type.Integer(),
  },
  { additionalProperties: false },
);

/**
 * FILENAME is the route's wildcard (`*`): one name, or up to MAX_UPLOAD_DEPTH '/'-separated names
 * for a file inside an upload folder; each name is checked by UploadStore (400 naming
 * `params.FILENAME`). The wildcard is not declared in the params schema (TypeBox's value
 * conversion cannot take a property named `*`); routes read it with filenameOf.
 */
const FILENAME_DOC =
  "FILENAME (the rest of the path): 1-128 of A-Z a-z 0-9 . _ -, starting with a letter or digit; or up to 8 such names separated by '/' (a file inside an upload folder, e.g. my-encoder/onnx/model.onnx).";

function filenameOf(request: { params: unknown }): string {
  const value = (request.params as Record<string, unknown>)['*'];
  return typeof value === 'string' ? value : '';
}

/**
 * Extension: uploads under `/customers/:CUSTOMER_ID/ai/uploads/{FILENAME}`, scope
 * `machinelearning.model`: training data files, and the files of a model to import
 * (`my-encoder/onnx/model.onnx`: FILENAME may be a few '/'-separated names). PUT takes the raw
 * body of any content type and streams it to disk (not through the JSON body limit:
 * `limits.uploadLimitBytes` applies per file, 413 beyond it), GET lists every file, DELETE
 * removes a file or an upload folder with everything in it. Each customer sees only its own folder.
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
    `${base}/*`,
    {
      onRequest: guard,
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Extension: delete an uploaded file, or an upload folder with all its files (models already trained or imported from them keep working)',
        description: FILENAME_DOC,
        params: CustomerParams,
        response: { 200: Type.Union([UploadSchema, UploadFolderSchema]), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => deps.uploads.delete(principalOf(request).customerId, filenameOf(request)),
  );

  // The PUT route lives in a context of its own whose only body parser hands the raw stream over
  // unread: any content type is accepted there, and the JSON parser and its body limit do not apply.
  void app.register(async (instance) => {
    const scope = instance as unknown as ModeldApp;
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request: unknown, payload: IncomingMessage, done: (err: Error | null, body?: unknown) => void) => done(null, payload));
    scope.put(
      `${base}/*`,
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
          summary: 'Extension: upload a training data file or one file of a model to import (raw body, any content type)',
          description:
            'Stores the body as the customer’s file FILENAME (replacing one of that name) and answers its file:// URI for M2 trainingData. CSV, JSON Lines and Parquet are what training reads. FILENAME may be a path of a few names (my-encoder/onnx/model.onnx): the answer then also carries folderUri, the URI of the folder my-encoder, which M2 imports (artifact.uri, or artifact.upload "my-encoder"). ' + FILENAME_DOC,
          params: CustomerParams,
          response: { 200: UploadSchema, ...errorResponses(400, 401, 403, 409, 413) },
          // 403 also for MODELD_ERR_QUOTA_EXCEEDED (quotas uploadFiles, uploadBytes).
        },
      },
      async (request) => {
        const customerId = principalOf(request).customerId;
        const body = (request.body as IncomingMessage | undefined) ?? nothing();
        const announced = request.headers['content-length'] === undefined ? undefined : Number(request.headers['content-length']);
        const quota = await deps.quotas.uploadLimits(customerId);
        return deps.uploads.put(customerId, filenameOf(request), body, limit, isoAt(deps.clock.now()), quota, announced);
      },
    );
  });
}

async function* nothing(): AsyncGenerator<Buffer> {}
