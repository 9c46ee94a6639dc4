import { createHash } from 'node:crypto';
import { isoAt, ModelStates, newDeploymentRecord, newModelRecord, type Clock, type PretrainedModel } from '../domain/index.js';
import { SYSTEM_CUSTOMER_ID } from '../domain/index.js';
import { ModeldError } from '../errors/index.js';
import type { Store } from '../store/index.js';

/** Owner of the system deployments (defined in domain/tenants.ts, where auth refuses it as a token's customer). */
export { SYSTEM_CUSTOMER_ID };

/** The fixed deployment id of a pre-trained model: a name-based (version 5 style) UUID, stable across restarts and servers. */
export function systemDeploymentId(modelName: string): string {
  const h = createHash('sha1').update(`modeld:pretrained:${modelName}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export interface PretrainedDeploymentsOptions {
  store: Store;
  pretrained: { get(id: string): Promise<PretrainedModel | null> };
  controller: { notify(deploymentId: string): void };
  clock: Clock;
  /** Region whose runtime serves pre-trained models. */
  region: string;
}

/**
 * Pre-trained models are served like any deployment (runner processes, readiness, restarts),
 * through one system deployment per model, created on the first prediction that names the model
 * (a model nobody calls costs no memory). It writes desired state and pokes the controller, as
 * the API does; it never starts a process itself.
 */
export class PretrainedDeployments {
  readonly #o: PretrainedDeploymentsOptions;

  constructor(options: PretrainedDeploymentsOptions) {
    this.#o = options;
  }

  /** The id of the deployment serving `name`, created if needed; null when no pre-trained model has that name. */
  async ensure(name: string): Promise<string | null> {
    const model = await this.#o.pretrained.get(name);
    if (!model) return null;
    const id = systemDeploymentId(model.id);
    const existing = await this.#o.store.getDeploymentById(id);
    if (existing && existing.deletionRequestedAt === null) {
      // A failed one is tried again after the model folder changed or the server restarted;
      // the controller decides, the gateway reports the state meanwhile.
      this.#o.controller.notify(id);
      return id;
    }
    if (existing) return id;
    const now = isoAt(this.#o.clock.now());
    await this.#ensureModelRow(model, now);
    const record = newDeploymentRecord({
      id,
      customerId: SYSTEM_CUSTOMER_ID,
      modelId: model.id,
      region: this.#o.region,
      minReplicas: 1,
      maxReplicas: 1,
      config: {},
      createdBy: 'modeld',
      at: now,
    });
    try {
      await this.#o.store.createDeployment(record);
    } catch (err) {
      // Two first requests at once: the other one created it.
      if (!(err instanceof ModeldError && err.code === 'MODELD_ERR_CONFLICT')) throw err;
    }
    this.#o.controller.notify(id);
    return id;
  }

  /**
   * Deployments reference a model row (a foreign key keeps a customer's model from being deleted
   * under its deployments), so a pre-trained model served by a system deployment gets a row
   * owned by the system customer; its files stay in the models directory (artifactId null).
   */
  async #ensureModelRow(model: PretrainedModel, now: string): Promise<void> {
    if (await this.#o.store.getModelById(model.id)) return;
    try {
      await this.#o.store.createModel(
        newModelRecord({
          id: model.id,
          customerId: SYSTEM_CUSTOMER_ID,
          name: model.name,
          modelType: model.modelType,
          description: model.description,
          vectorSize: model.vectorSize,
          state: ModelStates.AVAILABLE,
          createdBy: 'modeld',
          at: now,
        }),
      );
    } catch (err) {
      if (!(err instanceof ModeldError && err.code === 'MODELD_ERR_CONFLICT')) throw err;
    }
  }
}
