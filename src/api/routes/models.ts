import { randomUUID } from 'node:crypto';
import { Type } from 'typebox';
import { ModelStates, Scopes, isoAt, newModelRecord, type Clock, type DeploymentRecord, type ModelRecord, type PretrainedModel } from '../../domain/index.js';
import { ModeldError, invalidField } from '../../errors/index.js';
import type { Config } from '../../config/index.js';
import type { Store } from '../../store/index.js';
import { resolveImportDir } from '../artifact-source.js';
import { principalOf, type Guard } from '../plugins/auth.js';
import { renderModel, renderPretrained, renderDeployment } from '../render.js';
import { CreateModelBody, CustomerParams, DeploymentSchema, ModelParams, ModelQuery, ModelSchema, errorResponses } from '../schemas.js';
import { requireJsonBody, type ModeldApp } from './shared.js';

/** Model types M2 accepts now. Training types (`ecommerce-rnn`, `general-rnn`, ...) arrive with training. */
export const IMPORTABLE_MODEL_TYPES = ['imported'] as const;

/**
 * What the models routes need from engines/: turning a directory into a verified artifact, and
 * the pre-trained catalog. buildApp's caller wires them (see engine-ports.ts for the real ones).
 */
export interface ModelArtifacts {
  /**
   * Copies `sourceDir` (a modeld artifact or a Hugging Face model folder) into the artifact store
   * and proves, in a child process, that it loads and embeds. Resolves to its content address and
   * vector size. Rejects with MODELD_ERR_ARTIFACT_INVALID (400) naming what is wrong, leaving no
   * new artifact behind.
   */
  importDir(sourceDir: string, meta: { name: string; modelType: string }): Promise<{ artifactId: string; vectorSize: number }>;
  /** Frees the artifact once no model uses it any more (called after a model is deleted). Never throws for a missing one. */
  release(artifactId: string): Promise<void>;
}

export interface PretrainedCatalog {
  /** The pre-trained models installed now, in a stable order. */
  list(): Promise<readonly PretrainedModel[]>;
}

export interface ModelRouteDeps {
  config: Readonly<Config>;
  store: Store;
  clock: Clock;
  guard: Guard;
  artifacts: ModelArtifacts;
  pretrained: PretrainedCatalog;
}

const TAGS = ['Manage models'];
const SECURITY = [{ bearerAuth: [] }];

/**
 * M1-M4 and DELETE under `/customers/:CUSTOMER_ID/ai/models`, all with scope `machinelearning.model`.
 * A model of another customer is answered exactly like one that does not exist (404).
 */
export function registerModelRoutes(app: ModeldApp, deps: ModelRouteDeps): void {
  const { store, clock, config } = deps;
  const guard = deps.guard(Scopes.MODEL);
  const base = '/customers/:CUSTOMER_ID/ai/models';

  app.get(
    base,
    {
      onRequest: guard,
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'M1: list the pre-trained models, then the customer’s custom models',
        params: CustomerParams,
        response: { 200: Type.Array(ModelSchema), ...errorResponses(401, 403) },
      },
    },
    async (request) => {
      const customerId = principalOf(request).customerId;
      const [pretrained, models, deployments] = await Promise.all([
        deps.pretrained.list(),
        store.listModels(customerId),
        store.listDeployments(customerId),
      ]);
      const byModel = groupByModel(deployments);
      return [...pretrained.map(renderPretrained), ...models.map((m) => renderModel(m, byModel.get(m.id) ?? []))];
    },
  );

  app.post(
    base,
    {
      onRequest: [guard, requireJsonBody],
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'M2: create a model; now by importing an artifact directory (modelType "imported")',
        description:
          'Copies the directory named by artifact.uri (file:///abs/dir: a modeld artifact or a Hugging Face folder with config.json, tokenizer.json and onnx/model.onnx) into the artifact store, loads it in a child process and runs one inference. Answers 200 with the model AVAILABLE, or 400 saying what is wrong; nothing is stored on failure.',
        params: CustomerParams,
        body: CreateModelBody,
        response: { 200: ModelSchema, ...errorResponses(400, 401, 403, 413, 415) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const body = request.body;
      if (!(IMPORTABLE_MODEL_TYPES as readonly string[]).includes(body.modelType)) {
        throw invalidField(
          'body.modelType',
          `${JSON.stringify(body.modelType)} cannot be created yet; accepted now: ${IMPORTABLE_MODEL_TYPES.join(', ')} (training model types such as ecommerce-rnn and general-rnn are not available yet)`,
          { accepted: [...IMPORTABLE_MODEL_TYPES] },
        );
      }
      for (const field of ['trainingData', 'trainingDataCredentials', 'config'] as const) {
        if (body[field] !== undefined) throw invalidField(`body.${field}`, `not accepted with modelType ${JSON.stringify(body.modelType)}`);
      }
      if (body.artifact === undefined) throw invalidField('body.artifact', 'required with modelType "imported": {"uri": "file:///abs/dir"}');
      if (body.region !== undefined) checkRegion(config, body.region);

      const sourceDir = await resolveImportDir(body.artifact.uri, config.importRoots);
      const imported = await deps.artifacts.importDir(sourceDir, { name: body.name, modelType: body.modelType });
      const now = isoAt(clock.now());
      const model = newModelRecord({
        id: randomUUID(),
        customerId: principal.customerId,
        name: body.name,
        modelType: body.modelType,
        description: body.description ?? null,
        region: body.region ?? null,
        vectorSize: imported.vectorSize,
        state: ModelStates.AVAILABLE,
        artifactId: imported.artifactId,
        createdBy: principal.clientId,
        at: now,
      });
      try {
        await store.createModel(model);
      } catch (err) {
        await deps.artifacts.release(imported.artifactId);
        throw err;
      }
      await store.appendEvent({
        objectKind: 'model',
        objectId: model.id,
        customerId: model.customerId,
        type: 'Normal',
        reason: 'Imported',
        message: `imported from ${sourceDir} (vector size ${imported.vectorSize})`,
        data: { artifactId: imported.artifactId, vectorSize: imported.vectorSize },
        at: now,
      });
      return renderModel(model, []);
    },
  );

  app.get(
    `${base}/:MODEL_ID`,
    {
      onRequest: guard,
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'M3: get one model (?metrics=true adds trainingMetrics)',
        params: ModelParams,
        querystring: ModelQuery,
        response: { 200: ModelSchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const customerId = principalOf(request).customerId;
      const { MODEL_ID } = request.params;
      const model = await store.getModel(customerId, MODEL_ID);
      if (model) return renderModel(model, await store.listDeploymentsByModel(model.id), { withMetrics: request.query.metrics === true });
      const shared = (await deps.pretrained.list()).find((p) => p.id === MODEL_ID);
      if (shared) return renderPretrained(shared);
      throw modelNotFound(MODEL_ID);
    },
  );

  app.get(
    `${base}/:MODEL_ID/deployments`,
    {
      onRequest: guard,
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'M4: the deployments of one model',
        params: ModelParams,
        response: { 200: Type.Array(DeploymentSchema), ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => {
      const customerId = principalOf(request).customerId;
      const { MODEL_ID } = request.params;
      const model = await store.getModel(customerId, MODEL_ID);
      if (model) return (await store.listDeploymentsByModel(model.id)).filter((d) => d.customerId === customerId).map(renderDeployment);
      // Pre-trained models are served by name and never deployed.
      if ((await deps.pretrained.list()).some((p) => p.id === MODEL_ID)) return [];
      throw modelNotFound(MODEL_ID);
    },
  );

  app.delete(
    `${base}/:MODEL_ID`,
    {
      onRequest: guard,
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Extension: delete a custom model (409 while it has deployments)',
        description: 'Answers 200 with the model as it was, state DELETING; the model is gone when the answer is sent.',
        params: ModelParams,
        response: { 200: ModelSchema, ...errorResponses(401, 403, 404, 409) },
      },
    },
    async (request) => {
      const customerId = principalOf(request).customerId;
      const { MODEL_ID } = request.params;
      const model = await store.getModel(customerId, MODEL_ID);
      if (!model) {
        if ((await deps.pretrained.list()).some((p) => p.id === MODEL_ID)) {
          throw new ModeldError('MODELD_ERR_CONFLICT', `model ${MODEL_ID} is a shared pre-trained model and cannot be deleted`, {
            details: { modelId: MODEL_ID },
          });
        }
        throw modelNotFound(MODEL_ID);
      }
      const deployments = await store.listDeploymentsByModel(model.id);
      if (deployments.length > 0 || !(await store.deleteModel(model.id))) {
        const ids = deployments.map((d) => d.id);
        throw new ModeldError(
          'MODELD_ERR_MODEL_HAS_DEPLOYMENTS',
          `model ${model.id} still has deployments${ids.length > 0 ? ` (${ids.join(', ')})` : ''}; delete them first`,
          { details: { modelId: model.id, deploymentIds: ids } },
        );
      }
      if (model.artifactId !== null) await deps.artifacts.release(model.artifactId);
      return { ...renderModel(model, []), state: ModelStates.DELETING };
    },
  );
}

/** 400 MODELD_ERR_UNKNOWN_REGION listing the configured regions, in the message and in details. */
export function checkRegion(config: Readonly<Config>, region: string, field = 'body.region'): void {
  const known = Object.keys(config.regions);
  if (!Object.hasOwn(config.regions, region)) {
    throw new ModeldError('MODELD_ERR_UNKNOWN_REGION', `${field}: unknown region ${JSON.stringify(region)}; known regions: ${known.join(', ')}`, {
      details: { field, region, knownRegions: known },
    });
  }
}

export function modelNotFound(id: string, field?: string): ModeldError {
  return new ModeldError('MODELD_ERR_MODEL_NOT_FOUND', `${field ? `${field}: ` : ''}model ${id} not found`, {
    details: field ? { field, modelId: id } : { modelId: id },
  });
}

function groupByModel(deployments: readonly DeploymentRecord[]): Map<string, DeploymentRecord[]> {
  const out = new Map<string, DeploymentRecord[]>();
  for (const d of deployments) {
    const list = out.get(d.modelId);
    if (list) list.push(d);
    else out.set(d.modelId, [d]);
  }
  return out;
}
