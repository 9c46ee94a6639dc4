import type {
  ClientRecord,
  Customer,
  DeploymentRecord,
  DeploymentSpec,
  DeploymentState,
  DeploymentStatus,
  EventRecord,
  ModelRecord,
  NewEvent,
} from '../domain/index.js';

/** A training job: the durable side of one model's training (issue 3). */
export interface TrainingJobRecord {
  id: string;
  modelId: string;
  customerId: string;
  /** `QUEUED | RUNNING | SUCCEEDED | FAILED | CANCELLED`. */
  state: 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
  /** Free-form progress: epoch, total epochs, last metrics, ETA. */
  progress: Record<string, unknown> | null;
  /** Path of the last finished epoch's checkpoint, for resuming after a restart. */
  checkpoint: string | null;
  attempts: number;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

export type ModelPatch = Partial<
  Pick<
    ModelRecord,
    | 'state'
    | 'errorMessage'
    | 'artifactId'
    | 'vectorSize'
    | 'trainingStarted'
    | 'trainingCompleted'
    | 'trainingMetrics'
    | 'description'
    | 'config'
  >
>;

export type DeploymentSpecPatch = Partial<Pick<DeploymentSpec, 'minReplicas' | 'maxReplicas' | 'config' | 'modelId' | 'autoscaling'>>;

export interface StatusWrite {
  state: DeploymentState;
  status: DeploymentStatus;
}

/**
 * The persistence port. Every method is atomic on its own. Customer-scoped getters return null
 * for another customer's ids, so callers cannot tell "not yours" from "does not exist".
 * Timestamps are ISO-8601 strings chosen by the caller (the store never reads the clock), JSON
 * columns round-trip exactly. Implementations: sqlite/ (default) and postgres/, both held to
 * test/contract/store.contract.ts.
 */
export interface Store {
  /** Creates tables or migrates them to the current version; idempotent. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  createCustomer(customer: Customer): Promise<void>;
  getCustomer(id: string): Promise<Customer | null>;
  listCustomers(): Promise<Customer[]>;

  createClient(client: ClientRecord): Promise<void>;
  getClient(id: string): Promise<ClientRecord | null>;
  listClients(customerId: string): Promise<ClientRecord[]>;
  /**
   * Sets the client's disabledAt (its tokens and secret stop working). Idempotent: an already
   * disabled client keeps its first disabledAt. Returns the record, null when there is no such client.
   */
  disableClient(id: string, at: string): Promise<ClientRecord | null>;

  createModel(model: ModelRecord): Promise<void>;
  /** Null when the model does not exist or belongs to another customer. */
  getModel(customerId: string, id: string): Promise<ModelRecord | null>;
  getModelById(id: string): Promise<ModelRecord | null>;
  /** The customer's models, oldest first. */
  listModels(customerId: string): Promise<ModelRecord[]>;
  listModelsByState(state: ModelRecord['state']): Promise<ModelRecord[]>;
  /** Applies the patch and sets updatedAt; returns the new record, null if it is gone. */
  updateModel(id: string, patch: ModelPatch, updatedAt: string): Promise<ModelRecord | null>;
  /**
   * Deletes the model (and its training jobs) unless a deployment (deleting or not) still
   * references it; returns false then. Deleting an absent model returns true.
   */
  deleteModel(id: string): Promise<boolean>;

  createDeployment(deployment: DeploymentRecord): Promise<void>;
  getDeployment(customerId: string, id: string): Promise<DeploymentRecord | null>;
  getDeploymentById(id: string): Promise<DeploymentRecord | null>;
  /** The customer's deployments, oldest first, including those being deleted. */
  listDeployments(customerId: string): Promise<DeploymentRecord[]>;
  listDeploymentsByModel(modelId: string): Promise<DeploymentRecord[]>;
  /** Every deployment id of every customer (controller resync after a restart). */
  listAllDeploymentIds(): Promise<string[]>;
  /**
   * Changes the desired state: applies the patch, increments `generation`, sets updatedAt.
   * Returns the new record, or null if it is gone or already being deleted.
   */
  updateDeploymentSpec(id: string, patch: DeploymentSpecPatch, updatedAt: string): Promise<DeploymentRecord | null>;
  /**
   * Marks the deployment for deletion (sets deletionRequestedAt and state DELETING, increments
   * generation). Idempotent; returns the record, null if it is gone.
   */
  requestDeploymentDeletion(id: string, at: string): Promise<DeploymentRecord | null>;
  /**
   * The controller's write. Applied only if the record still has `generation` and its deletion
   * state matches `deleting`; returns false when the spec moved on (the caller re-reads and
   * reconciles again), so a stale status never overwrites a newer desired state.
   */
  writeDeploymentStatus(id: string, write: StatusWrite, expect: { generation: number; deleting: boolean }, updatedAt: string): Promise<boolean>;
  /** Removes the record (after its replicas are gone). */
  deleteDeployment(id: string): Promise<void>;
  /** Sets lastUsedAt if `at` is later than the stored value. */
  touchDeployment(id: string, at: string): Promise<void>;

  appendEvent(event: NewEvent): Promise<EventRecord>;
  /** Events of one object, oldest first, with id > afterId, at most `limit` (default 100). */
  listEvents(objectKind: EventRecord['objectKind'], objectId: string, options?: { afterId?: number; limit?: number }): Promise<EventRecord[]>;

  createTrainingJob(job: TrainingJobRecord): Promise<void>;
  getTrainingJob(id: string): Promise<TrainingJobRecord | null>;
  getTrainingJobByModel(modelId: string): Promise<TrainingJobRecord | null>;
  listTrainingJobs(states: TrainingJobRecord['state'][]): Promise<TrainingJobRecord[]>;
  updateTrainingJob(id: string, patch: Partial<Pick<TrainingJobRecord, 'state' | 'progress' | 'checkpoint' | 'attempts' | 'error'>>, updatedAt: string): Promise<TrainingJobRecord | null>;
}
