import type { Static } from 'typebox';
import {
  ModelCategories,
  ModelStates,
  type DeploymentRecord,
  type EventRecord,
  type ModelRecord,
  type PretrainedModel,
} from '../domain/index.js';
import type { DeploymentSchema, EventSchema, ModelSchema } from './schemas.js';

/**
 * Store records -> wire objects, as API.md fixes them. Pure functions; the only place that decides
 * which fields a client sees (internal fields such as customerId, artifactId or generation never leave).
 */

export type ModelBody = Static<typeof ModelSchema>;
export type DeploymentBody = Static<typeof DeploymentSchema>;
export type EventBody = Static<typeof EventSchema>;

/** A pre-trained model: `modelType` equals its id, the category is shared. */
export function renderPretrained(model: PretrainedModel): ModelBody {
  const body: ModelBody = {
    id: model.id,
    name: model.name,
    category: ModelCategories.PRETRAINED,
    modelType: model.id,
    vectorSize: model.vectorSize,
    // Installed pre-trained models are served on demand, so always AVAILABLE (as Lucidworks lists them).
    state: ModelStates.AVAILABLE,
  };
  if (model.description) body.description = model.description;
  return body;
}

/**
 * A custom model. Fields that do not apply are absent (not null): `trainingMetrics` only when
 * `withMetrics` and there are some, `deployments` only when the model has deployments,
 * `errorMessage` only in TRAINING_FAILED, `trainingProgress` (the training job's progress, keys
 * not known yet left out) only in TRAINING and TRAINING_FAILED.
 */
export function renderModel(
  model: ModelRecord,
  deployments: readonly DeploymentRecord[],
  options: { withMetrics?: boolean; trainingProgress?: Record<string, unknown> | null } = {},
): ModelBody {
  const body: ModelBody = {
    id: model.id,
    name: model.name,
    category: ModelCategories.CUSTOM,
    modelType: model.modelType,
  };
  if (model.description !== null) body.description = model.description;
  if (model.region !== null) body.region = model.region;
  if (model.vectorSize !== null) body.vectorSize = model.vectorSize;
  if (model.trainingData !== null) body.trainingData = { catalog: model.trainingData.catalog, signals: model.trainingData.signals };
  if (model.config !== null) body.config = model.config;
  body.state = model.state;
  if (model.trainingStarted !== null) body.trainingStarted = model.trainingStarted;
  if (model.trainingCompleted !== null) body.trainingCompleted = model.trainingCompleted;
  body.createdBy = model.createdBy;
  if (options.withMetrics && model.trainingMetrics !== null) body.trainingMetrics = model.trainingMetrics;
  if (deployments.length > 0) {
    body.deployments = deployments.map((d) => ({ id: d.id, region: d.region, state: d.state, deployedAt: d.deployedAt }));
  }
  if (model.state === ModelStates.TRAINING_FAILED && model.errorMessage !== null) body.errorMessage = model.errorMessage;
  if (options.trainingProgress && (model.state === ModelStates.TRAINING || model.state === ModelStates.TRAINING_FAILED)) {
    body.trainingProgress = Object.fromEntries(Object.entries(options.trainingProgress).filter(([, v]) => v !== null && v !== undefined)) as NonNullable<
      ModelBody['trainingProgress']
    >;
  }
  return body;
}

/** A deployment: the Lucidworks fields, then the extensions `status`, `updatedAt`, `lastUsedAt`. */
export function renderDeployment(d: DeploymentRecord): DeploymentBody {
  return {
    id: d.id,
    modelId: d.modelId,
    region: d.region,
    config: d.config,
    minReplicas: d.minReplicas,
    maxReplicas: d.maxReplicas,
    state: d.state,
    deployedAt: d.deployedAt,
    createdBy: d.createdBy,
    status: {
      replicas: d.status.replicas,
      readyReplicas: d.status.readyReplicas,
      desiredReplicas: d.status.desiredReplicas,
      conditions: d.status.conditions.map((c) => ({ ...c })),
      failure: d.status.failure === null ? null : { ...d.status.failure },
    },
    updatedAt: d.updatedAt,
    lastUsedAt: d.lastUsedAt,
    ...(d.autoscaling ? { autoscaling: { ...d.autoscaling } } : {}),
  };
}

export function renderEvent(e: EventRecord): EventBody {
  return { id: e.id, type: e.type, reason: e.reason, message: e.message, data: e.data, at: e.at };
}
