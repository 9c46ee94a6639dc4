import path from 'node:path';
import type { ArtifactInput } from '../controller/index.js';
import { FailureReasons, ModelStates, redactHostPaths, type DeploymentRecord, type PretrainedModel } from '../domain/index.js';
import { readManifest } from '../engines/index.js';
import { ModeldError } from '../errors/index.js';
import type { Store } from '../store/index.js';
import { SYSTEM_CUSTOMER_ID } from './system-deployments.js';

export interface ResolveArtifactOptions {
  store: Store;
  artifactsRoot: string;
  pretrained: { get(id: string): Promise<PretrainedModel | null> };
}

/**
 * The controller's `resolveArtifact`: which artifact directory a deployment's replicas load, and
 * what the gateway needs to know of the model. `ok: false` answers are definitive for the current
 * generation (the model was deleted, is not AVAILABLE, its artifact folder is gone); a store or
 * disk error is thrown and retried by the controller.
 */
export function resolveArtifactFor(options: ResolveArtifactOptions): (deployment: DeploymentRecord) => Promise<ArtifactInput> {
  return async (deployment) => {
    if (deployment.customerId === SYSTEM_CUSTOMER_ID) {
      const model = await options.pretrained.get(deployment.modelId);
      if (!model) return missing(`pre-trained model ${deployment.modelId} is no longer installed`);
      const manifest = await readManifest(model.artifactDir);
      return {
        ok: true,
        artifactDir: model.artifactDir,
        model: { modelId: model.id, name: model.name, modelType: model.modelType, vectorSize: model.vectorSize, matryoshkaDims: manifest.matryoshkaDims ?? null, ...(manifest.prefixes && { prefixes: manifest.prefixes }) },
      };
    }
    const model = await options.store.getModel(deployment.customerId, deployment.modelId);
    if (!model) return missing(`model ${deployment.modelId} no longer exists`);
    if (model.state !== ModelStates.AVAILABLE || !model.artifactId) return missing(`model ${model.id} is ${model.state}, not AVAILABLE`);
    const artifactDir = path.join(options.artifactsRoot, model.artifactId);
    let manifest;
    try {
      manifest = await readManifest(artifactDir);
    } catch (err) {
      // The reason goes into the deployment's status, which customers read: no host paths.
      if (err instanceof ModeldError && err.code === 'MODELD_ERR_ARTIFACT_INVALID') return missing(`artifact of model ${model.id}: ${redactHostPaths(err.message)}`);
      throw err;
    }
    return {
      ok: true,
      artifactDir,
      model: {
        modelId: model.id,
        name: model.name,
        modelType: model.modelType,
        vectorSize: manifest.vectorSize,
        matryoshkaDims: manifest.matryoshkaDims ?? null,
        ...(manifest.prefixes && { prefixes: manifest.prefixes }),
      },
    };
  };
}

function missing(message: string): ArtifactInput {
  return { ok: false, reason: FailureReasons.MODEL_MISSING, message };
}
