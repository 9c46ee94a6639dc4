import { randomUUID } from 'node:crypto';
import { Type } from 'typebox';
import type { Static } from 'typebox';
import { catalogueEntry, notInstalledMessage, ModelStates, Scopes, isoAt, newModelRecord, type Clock, type DeploymentRecord, type ModelRecord, type PretrainedModel } from '../../domain/index.js';
import { ModeldError, invalidField, quotaExceeded } from '../../errors/index.js';
import { defaultConfig, type Config } from '../../config/index.js';
import type { Store, TrainingJobRecord } from '../../store/index.js';
import type { ModelImportMeta } from '../../engines/index.js';
import { baseModelNotInstalledFor, checkDataFile, compileTrainingConfig, resolveDataUri } from '../../training/index.js';
import { initialProgress } from '../../training/jobs/index.js';
import { resolveImportSource } from '../artifact-source.js';
import { ImportSlots } from '../import-slots.js';
import { operatorDetailOf } from '../../engines/index.js';
import { principalOf, type Guard } from '../plugins/auth.js';
import { renderEvent, renderModel, renderPretrained, renderDeployment } from '../render.js';
import { CreateModelBody, CustomerParams, DeploymentSchema, EventSchema, EventsQuery, ModelParams, ModelQuery, ModelSchema, errorResponses } from '../schemas.js';
import type { UploadStore } from '../uploads.js';
import type { CustomerQuotas } from '../quotas.js';
import { requireJsonBody, type ModeldApp } from './shared.js';

/** Model types M2 creates by importing an artifact directory. */
export const IMPORTABLE_MODEL_TYPES = ['imported'] as const;
/** Model types M2 creates by training from `trainingData` with `config`. */
export const TRAINING_MODEL_TYPES = ['ecommerce-rnn', 'general-rnn'] as const;

/**
 * What the models routes need from the training job layer (src/training/jobs). The API writes the
 * model (TRAINING) and its job (QUEUED) itself and only tells the job layer; it never starts a
 * process.
 */
export interface TrainingJobsPort {
  /** A job of `customerId` was written QUEUED: run it when a slot is free (fair between customers). */
  notify(jobId: string, customerId: string): void;
  /**
   * Stops the model's training job if it is queued or running (its worker's process group is
   * killed and waited for), marks it CANCELLED and removes its directory. Fine for a model
   * without a job.
   */
  cancel(modelId: string): Promise<void>;
}

/**
 * What the models routes need from engines/: turning a directory into a verified artifact, and
 * the pre-trained catalog. buildApp's caller wires them (see engine-ports.ts for the real ones).
 */
export interface ModelArtifacts {
  /**
   * Copies `sourceDir` (a modeld artifact or a Hugging Face model folder) into the artifact store
   * and proves, in a child process, that it loads and embeds. Resolves to its content address and
   * vector size. Rejects with MODELD_ERR_ARTIFACT_INVALID (400) naming `field` (default
   * `body.artifact.uri`) and what is wrong without host paths, leaving no new artifact behind; the
   * rejection's cause may carry operator-only detail (engines' operatorDetailOf).
   */
  importDir(sourceDir: string, meta: ModelImportMeta, field?: string): Promise<{ artifactId: string; vectorSize: number }>;
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
  /** Customers' uploaded files: M2 refuses training data in another customer's folder. */
  uploads: UploadStore;
  /** M2 is checked against the customer's models (and, for training, trainingJobs) quotas. */
  quotas: CustomerQuotas;
  /** The training job layer; without it M2 answers 503 for training model types. */
  training?: TrainingJobsPort;
}

type CreateBody = Static<typeof CreateModelBody>;

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
  const importSlots = new ImportSlots({
    total: config.limits.concurrentImports ?? defaultConfig().limits.concurrentImports!,
    perCustomer: config.limits.concurrentImportsPerCustomer ?? defaultConfig().limits.concurrentImportsPerCustomer!,
  });

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
      const rendered = await Promise.all(
        models.map(async (m) => renderModel(m, byModel.get(m.id) ?? [], { trainingProgress: await progressOf(store, m) })),
      );
      return [...pretrained.map(renderPretrained), ...rendered];
    },
  );

  app.post(
    base,
    {
      onRequest: [guard, requireJsonBody],
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'M2: create a model: train one (modelType ecommerce-rnn / general-rnn) or import an artifact directory (modelType "imported")',
        description:
          'Training: checks config (400 naming body.config.<key>), trainingData.catalog and .signals (file:// URIs of readable files inside the data roots; another customer’s uploads are refused with 403) and region, stores the model TRAINING and queues its training job; answers 200 with state TRAINING. Progress shows as trainingProgress on M1/M3 and as events. Import: copies the directory named by artifact.uri (file:///abs/dir: a modeld artifact or a Hugging Face folder with config.json, tokenizer.json and onnx/model.onnx) into the artifact store, loads it in a child process and runs one inference. Answers 200 with the model AVAILABLE, or 400 saying what is wrong; nothing is stored on failure.',
        params: CustomerParams,
        body: CreateModelBody,
        response: { 200: ModelSchema, ...errorResponses(400, 401, 403, 413, 415, 429, 503) },
        // 403 also for MODELD_ERR_QUOTA_EXCEEDED: the models quota, and trainingJobs for training.
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const body = request.body;
      if ((TRAINING_MODEL_TYPES as readonly string[]).includes(body.modelType)) return createTrainingModel(principal, body);
      if (!(IMPORTABLE_MODEL_TYPES as readonly string[]).includes(body.modelType)) {
        const accepted = [...TRAINING_MODEL_TYPES, ...IMPORTABLE_MODEL_TYPES];
        throw invalidField('body.modelType', `${JSON.stringify(body.modelType)} is not a model type modeld creates; one of ${accepted.join(', ')}`, { accepted });
      }
      for (const field of ['trainingData', 'trainingDataCredentials', 'config'] as const) {
        if (body[field] !== undefined) throw invalidField(`body.${field}`, `not accepted with modelType ${JSON.stringify(body.modelType)}`);
      }
      if (body.artifact === undefined) throw invalidField('body.artifact', 'required with modelType "imported": {"upload": "<your upload folder>"} or {"uri": "file:///abs/dir"}');
      if (body.region !== undefined) checkRegion(config, body.region);

      // Refused before the (costly) copy and check when the customer is already at its models
      // quota; the store checks again when it inserts, race-free.
      const limits = await deps.quotas.storeLimits(principal.customerId);
      const usedModels = (await store.quotaUsage(principal.customerId)).models;
      if (usedModels >= limits.models) throw quotaExceeded('models', limits.models, usedModels);
      const sourceDir = await resolveImportSource(body.artifact, {
        customerUploads: deps.uploads.folderOf(principal.customerId),
        importRoots: config.importRoots,
        never: [config.dataDir],
      });
      const artifact = body.artifact;
      const field = artifact.upload !== undefined ? 'body.artifact.upload' : 'body.artifact.uri';
      const imported = await importSlots.run(principal.customerId, () =>
        deps.artifacts.importDir(
          sourceDir,
          {
            name: body.name,
            modelType: body.modelType,
            ...(artifact.prefixes !== undefined && { prefixes: artifact.prefixes }),
            ...(artifact.pooling !== undefined && { pooling: artifact.pooling }),
          },
          field,
        ).catch((err: unknown) => {
          // The customer gets a reason without host paths; the operator log gets the child's stderr.
          const detail = operatorDetailOf(err);
          if (detail) request.log.warn({ code: (err as ModeldError).code, reason: (err as Error).message, ...detail }, 'import refused');
          throw err;
        }),
      );
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
        await store.createModel(model, { models: limits.models });
      } catch (err) {
        // Refused (quota, conflict): the imported artifact goes too, unless another model uses it.
        await deps.artifacts.release(imported.artifactId);
        throw err;
      }
      await store.appendEvent({
        objectKind: 'model',
        objectId: model.id,
        customerId: model.customerId,
        type: 'Normal',
        reason: 'Imported',
        message: `imported from ${body.artifact.upload !== undefined ? `upload folder ${body.artifact.upload}` : 'artifact.uri'} (vector size ${imported.vectorSize})`,
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
      if (model) {
        return renderModel(model, await store.listDeploymentsByModel(model.id), {
          withMetrics: request.query.metrics === true,
          trainingProgress: await progressOf(store, model),
        });
      }
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
      // A model in training has no deployment (only AVAILABLE models deploy): stop its job first,
      // so that no worker writes to a model that is gone; this also removes the job's directory.
      if (deployments.length === 0 && deps.training) await deps.training.cancel(model.id);
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

  app.get(
    `${base}/:MODEL_ID/events`,
    {
      onRequest: guard,
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Extension: what happened to a model and why, oldest first (training phases, epochs, failures)',
        description: 'Page with afterId = the last id seen; limit defaults to 100.',
        params: ModelParams,
        querystring: EventsQuery,
        response: { 200: Type.Array(EventSchema), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const model = await store.getModel(principalOf(request).customerId, request.params.MODEL_ID);
      if (!model) throw modelNotFound(request.params.MODEL_ID);
      const events = await store.listEvents('model', model.id, { afterId: request.query.afterId ?? 0, limit: request.query.limit ?? 100 });
      return events.map(renderEvent);
    },
  );

  /**
   * M2 for a training model type: everything knowable now is checked before anything is
   * written (config, both data files, region); then the model (TRAINING) and its job (QUEUED)
   * are stored and the job layer is told.
   */
  async function createTrainingModel(principal: { customerId: string; clientId: string }, body: CreateBody) {
    if (!deps.training) {
      throw new ModeldError('MODELD_ERR_UNAVAILABLE', `body.modelType: training (${body.modelType}) is not enabled on this server`, {
        details: { field: 'body.modelType' },
      });
    }
    if (body.artifact !== undefined) throw invalidField('body.artifact', `not accepted with modelType ${JSON.stringify(body.modelType)}; give trainingData and config`);
    if (body.trainingDataCredentials !== undefined && body.trainingDataCredentials !== null && !isEmptyObject(body.trainingDataCredentials)) {
      throw invalidField('body.trainingDataCredentials', 'not supported: modeld reads training data from file:// URIs (upload the files first), never with credentials');
    }
    const compiled = compileTrainingConfig(body.modelType, body.config);
    // A transformer-RNN trainer (e5_small_v2_rnn) starts from an installed pre-trained model's
    // tokenizer and token embeddings: refuse now, naming the model and how to install it, rather
    // than queue a job that can only fail.
    if (compiled.baseModel !== null && !(await deps.pretrained.list()).some((p) => p.id === compiled.baseModel)) {
      throw baseModelNotInstalledFor(compiled);
    }
    const data = body.trainingData;
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw invalidField('body.trainingData', 'required: {"catalog": "file:///...", "signals": "file:///..."}');
    }
    const extra = Object.keys(data).filter((k) => k !== 'catalog' && k !== 'signals');
    if (extra.length > 0) throw invalidField(`body.trainingData.${extra[0]}`, 'unknown field; trainingData has catalog and signals');
    const uris: { catalog: string; signals: string } = { catalog: '', signals: '' };
    for (const key of ['catalog', 'signals'] as const) {
      const field = `body.trainingData.${key}`;
      const uri = (data as Record<string, unknown>)[key];
      if (typeof uri !== 'string' || uri === '') throw invalidField(field, 'required: the file:// URI of the file (upload it with PUT .../ai/uploads/{FILENAME})');
      await deps.uploads.checkOwnership(principal.customerId, uri, field);
      const real = await resolveDataUri(uri, config.training.dataRoots, field);
      await deps.uploads.checkOwnership(principal.customerId, uri, field, real);
      await checkDataFile(real, field);
      uris[key] = uri;
    }
    if (body.region === undefined) {
      throw invalidField('body.region', `required with modelType ${JSON.stringify(body.modelType)}; known regions: ${Object.keys(config.regions).join(', ')}`);
    }
    checkRegion(config, body.region);

    const now = isoAt(clock.now());
    const model = newModelRecord({
      id: randomUUID(),
      customerId: principal.customerId,
      name: body.name,
      modelType: body.modelType,
      description: body.description ?? null,
      region: body.region,
      state: ModelStates.TRAINING,
      trainingData: uris,
      config: { ...compiled.flat },
      createdBy: principal.clientId,
      at: now,
    });
    const job: TrainingJobRecord = {
      id: randomUUID(),
      modelId: model.id,
      customerId: model.customerId,
      state: 'QUEUED',
      progress: initialProgress(now) as unknown as Record<string, unknown>,
      checkpoint: null,
      attempts: 0,
      error: null,
      createdAt: now,
      updatedAt: now,
    };
    // Both rows or neither, within the models and trainingJobs quotas (checked in the same transaction).
    const limits = await deps.quotas.storeLimits(principal.customerId);
    await store.createModelWithJob(model, job, { models: limits.models, trainingJobs: limits.trainingJobs });
    await store.appendEvent({
      objectKind: 'model',
      objectId: model.id,
      customerId: model.customerId,
      type: 'Normal',
      reason: 'TrainingQueued',
      message: `training queued: ${compiled.encoder.rnnNames.join('+')} encoder, vector size ${compiled.vectorSize}, up to ${compiled.numEpochs} epochs${compiled.unknownKeys.length > 0 ? `; unknown config keys kept without effect: ${compiled.unknownKeys.join(', ')}` : ''}`,
      data: { jobId: job.id, vectorSize: compiled.vectorSize, numEpochs: compiled.numEpochs, unknownKeys: [...compiled.unknownKeys] },
      at: now,
    });
    deps.training.notify(job.id, job.customerId);
    return renderModel(model, [], { trainingProgress: job.progress });
  }
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
  // A Lucidworks catalogue name that is not installed: say how to install it (not a bare 404).
  const known = catalogueEntry(id);
  return new ModeldError('MODELD_ERR_MODEL_NOT_FOUND', `${field ? `${field}: ` : ''}${known ? notInstalledMessage(known) : `model ${id} not found`}`, {
    details: field ? { field, modelId: id } : { modelId: id },
  });
}

/** The training job's progress (the `trainingProgress` extension) of a model in TRAINING or TRAINING_FAILED, else null. */
async function progressOf(store: Store, model: ModelRecord): Promise<Record<string, unknown> | null> {
  if (model.state !== ModelStates.TRAINING && model.state !== ModelStates.TRAINING_FAILED) return null;
  return (await store.getTrainingJobByModel(model.id))?.progress ?? null;
}

function isEmptyObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;
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
