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
  QuotaOverrides,
  StoredQuotaName,
  StoredQuotaUsage,
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

/**
 * An Async Chunking API job (src/chunking). `RUNNING` is internal: the API reports it as
 * `SUBMITTED` (the documented set is SUBMITTED, READY, RETRIEVED, ERROR).
 */
export interface ChunkingJobRecord {
  id: string;
  customerId: string;
  chunker: string;
  modelId: string;
  /** The request body as accepted (batch, chunkerConfig, modelConfig, useCaseConfig). */
  request: Record<string, unknown>;
  status: 'SUBMITTED' | 'RUNNING' | 'READY' | 'RETRIEVED' | 'ERROR';
  /** The `chunkedData` answered once READY. */
  result: unknown[] | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  /** After this instant the job is deleted and its id answers 404. */
  expiresAt: string;
}

/**
 * A named lease (cluster.md): at most one holder at a time, until `expiresAt` by the database's
 * clock (ms since the epoch). `epoch` grows by one each time the lease changes hands, so that an
 * instance can tell "I still hold it" from "I hold it again". `held`: the caller holds it now.
 */
export interface LeaseState {
  name: string;
  holder: string;
  epoch: number;
  expiresAt: number;
  held: boolean;
}

/** One signing key as stored (private JWK): every instance of a cluster signs and verifies with the same keys. */
export interface StoredSigningKey {
  /** 1, 2, 3...: the order keys were added; two instances adding the same seq at once, one wins. */
  seq: number;
  kid: string;
  createdAt: string;
  privateJwk: Record<string, unknown>;
}

/** One running modeld instance as it last reported itself (cluster.md). */
export interface InstanceRecord {
  id: string;
  /** Where it serves the API (for operators; nothing dials it). */
  url: string;
  startedAt: string;
  /** Its last heartbeat (its own clock). */
  seenAt: string;
  /** What its gateway measures per deployment: `{ [deploymentId]: DeploymentLoad }`. */
  load: Record<string, unknown>;
}

/** The replicas of one deployment that may take requests, as the leader's controller last published them. */
export interface ServingEndpointsRecord {
  deploymentId: string;
  /** Grows by one on every put; followers apply a record once per revision. */
  revision: number;
  model: unknown;
  endpoints: unknown[];
  updatedAt: string;
}

export type ChunkingJobPatch = Partial<Pick<ChunkingJobRecord, 'status' | 'result' | 'error' | 'expiresAt'>>;

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

/**
 * Limits a create checks inside its own transaction, against what the customer holds then (see
 * `quotaUsage`); absent keys are not checked. Refused: MODELD_ERR_QUOTA_EXCEEDED (403), nothing
 * written. Race-free: two creates of one customer at once (also from two servers sharing a
 * PostgreSQL database) never both take the last slot.
 */
export type QuotaLimits = Partial<Record<StoredQuotaName, number>>;

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

  /** With `quota.models`: refused when the customer already has that many models. */
  createModel(model: ModelRecord, quota?: Pick<QuotaLimits, 'models'>): Promise<void>;
  /**
   * A model and its training job in one transaction (both or neither), within `quota.models`
   * and `quota.trainingJobs` (jobs QUEUED or RUNNING, this one included).
   */
  createModelWithJob(model: ModelRecord, job: TrainingJobRecord, quota?: Pick<QuotaLimits, 'models' | 'trainingJobs'>): Promise<void>;
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

  /**
   * With `quota.deployments`: refused when the customer has that many deployments; with
   * `quota.replicas`: refused when the sum of maxReplicas over them would pass it.
   */
  createDeployment(deployment: DeploymentRecord, quota?: Pick<QuotaLimits, 'deployments' | 'replicas'>): Promise<void>;
  getDeployment(customerId: string, id: string): Promise<DeploymentRecord | null>;
  getDeploymentById(id: string): Promise<DeploymentRecord | null>;
  /** The customer's deployments, oldest first, including those being deleted. */
  listDeployments(customerId: string): Promise<DeploymentRecord[]>;
  listDeploymentsByModel(modelId: string): Promise<DeploymentRecord[]>;
  /** Every deployment id of every customer (controller resync after a restart). */
  listAllDeploymentIds(): Promise<string[]>;
  /**
   * Changes the desired state: applies the patch, increments `generation`, sets updatedAt.
   * Returns the new record, or null if it is gone or already being deleted. With
   * `quota.replicas`, a patch that raises maxReplicas is refused when the customer's sum of
   * maxReplicas would pass it (lowering it, or leaving it, is never refused).
   */
  updateDeploymentSpec(id: string, patch: DeploymentSpecPatch, updatedAt: string, quota?: Pick<QuotaLimits, 'replicas'>): Promise<DeploymentRecord | null>;
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

  createChunkingJob(job: ChunkingJobRecord): Promise<void>;
  /** Null when there is no such job or it belongs to another customer. */
  getChunkingJob(customerId: string, id: string): Promise<ChunkingJobRecord | null>;
  /** Jobs in these statuses, oldest first (resumed at start). */
  listChunkingJobs(statuses: ChunkingJobRecord['status'][]): Promise<ChunkingJobRecord[]>;
  /** Applies the patch and sets updatedAt; returns the new record, null if it is gone. */
  updateChunkingJob(id: string, patch: ChunkingJobPatch, updatedAt: string): Promise<ChunkingJobRecord | null>;
  /** Deletes the jobs whose expiresAt is at or before `now`; returns how many. */
  deleteExpiredChunkingJobs(now: string): Promise<number>;

  /**
   * What the customer holds now, as the quotas count it: its deployments (those being deleted
   * included, until their record is removed), the sum of their maxReplicas, its models (any
   * state) and its training jobs QUEUED or RUNNING. Zeros for an unknown customer.
   */
  quotaUsage(customerId: string): Promise<StoredQuotaUsage>;
  /** The quotas an operator set for the customer, null when it has none (the config defaults apply). */
  getQuotaOverrides(customerId: string): Promise<QuotaOverrides | null>;
  /**
   * Replaces the customer's overrides (null or {} removes them). Throws
   * MODELD_ERR_CUSTOMER_NOT_FOUND for an unknown customer.
   */
  setQuotaOverrides(customerId: string, overrides: QuotaOverrides | null, at: string): Promise<void>;

  // Several instances on one database (src/cluster, docs/cluster.md).

  /**
   * Takes the lease for `holder` for `ttlMs` from now by the database's clock when it is free,
   * expired or already `holder`'s (a renewal); otherwise leaves it. Atomic: of two instances
   * asking at once, one gets it. Answers the lease as it is after the call.
   */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<LeaseState>;
  /** Gives the lease up if `holder` holds it (another instance may take it at once). */
  releaseLease(name: string, holder: string): Promise<void>;

  /** Every signing key, oldest (lowest seq) first. */
  listSigningKeys(): Promise<StoredSigningKey[]>;
  /** Adds a key; false (nothing written) when its seq or kid is taken: the caller reads the keys again. */
  insertSigningKey(key: StoredSigningKey): Promise<boolean>;

  /** Creates or replaces the instance's row (its heartbeat). */
  putInstance(instance: InstanceRecord): Promise<void>;
  listInstances(): Promise<InstanceRecord[]>;
  deleteInstance(id: string): Promise<void>;
  /** Removes instances not seen since `before` (crashed ones); returns how many. */
  deleteInstancesSeenBefore(before: string): Promise<number>;

  /** Replaces the deployment's published endpoints; returns the new revision. */
  putServingEndpoints(deploymentId: string, model: unknown, endpoints: unknown[], at: string): Promise<number>;
  deleteServingEndpoints(deploymentId: string): Promise<void>;
  listServingEndpoints(): Promise<ServingEndpointsRecord[]>;
}
