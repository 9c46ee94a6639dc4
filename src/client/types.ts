/**
 * The wire shapes the modeld HTTP API sends and accepts (docs: /work/shared/API.md plus the
 * modeld extensions). These are what crosses the socket, not the store's records: fields the
 * server omits when they do not apply are optional here. The client has no runtime dependency on
 * the server's folders, so that web/ can bundle it for the browser.
 */

/** Scopes a client may hold; the token endpoint grants a subset. */
export const ClientScopes = {
  MODEL: 'machinelearning.model',
  PREDICT: 'machinelearning.predict',
  ADMIN: 'modeld.admin',
  OPS: 'modeld.ops',
} as const;

/** `POST /oauth2/token` 200 body. */
export interface TokenResponse {
  access_token: string;
  token_type: string;
  /** Lifetime in seconds from issuance. */
  expires_in: number;
  /** Space-separated granted scopes. */
  scope: string;
}

/** The claims the client reads from a modeld token (it never verifies the signature). */
export interface TokenClaims {
  sub?: string;
  cid?: string;
  customerId?: string;
  scp?: string[];
  exp?: number;
  iat?: number;
  [claim: string]: unknown;
}

export const ModelStates = {
  TRAINING: 'TRAINING',
  TRAINING_FAILED: 'TRAINING_FAILED',
  AVAILABLE: 'AVAILABLE',
  DELETING: 'DELETING',
  DELETING_FAILED: 'DELETING_FAILED',
} as const;
export type ModelState = (typeof ModelStates)[keyof typeof ModelStates];

/** A deployment as listed inside a model (`Model.deployments`). */
export interface ModelDeploymentRef {
  id: string;
  region: string;
  state: DeploymentState;
  deployedAt: string;
}

/** A model: pre-trained (id is its name) or custom (id is a UUID). */
export interface Model {
  id: string;
  name: string;
  /** `"pre-trained (shared)"` or `"CUSTOM"`. */
  category: string;
  modelType: string;
  description?: string | null;
  region?: string | null;
  vectorSize?: number | null;
  trainingData?: { catalog: string; signals: string } | null;
  config?: Record<string, unknown> | null;
  /** Absent on pre-trained models (they are always usable). */
  state?: ModelState;
  trainingStarted?: string | null;
  trainingCompleted?: string | null;
  createdBy?: string;
  /** Only with `getModel(id, {metrics: true})`, once training has finished. */
  trainingMetrics?: TrainingMetrics | null;
  /** While `TRAINING`: what the job is doing now (fields absent when not known yet). */
  trainingProgress?: TrainingProgress | null;
  /** Only when deployed. */
  deployments?: ModelDeploymentRef[];
  /** Set when `TRAINING_FAILED`. */
  errorMessage?: string | null;
}

/** Model types M2 trains (the others, like `imported`, are created otherwise). */
export const TrainableModelTypes = { ECOMMERCE_RNN: 'ecommerce-rnn', GENERAL_RNN: 'general-rnn' } as const;
export type TrainableModelType = (typeof TrainableModelTypes)[keyof typeof TrainableModelTypes];

/** M2 body: create a model and start training it. */
export interface TrainModelRequest {
  name: string;
  modelType: string;
  region?: string;
  /** `file://` URIs the server can read: an upload's `uri`, or a file inside its data roots. */
  trainingData: { catalog: string; signals: string };
  trainingDataCredentials?: Record<string, unknown>;
  /** Lucidworks' flat form: `{"dataset_config": "mlp_ecommerce", "trainer_config.num_epochs": 3, ...}`. */
  config: Record<string, unknown>;
}

export const TrainingPhases = {
  LOADING_DATA: 'loading-data',
  LEARNING_VOCABULARY: 'learning-vocabulary',
  TRAINING: 'training',
  EXPORTING: 'exporting',
} as const;
export type TrainingPhase = (typeof TrainingPhases)[keyof typeof TrainingPhases];

/**
 * `Model.trainingProgress` while the model is `TRAINING`: the latest of what the job reported.
 * Every field is absent until the job has reported it (e.g. `monitor` before the first epoch
 * was evaluated). `epoch` is 1-based; `monitor` is the monitored validation metric of the last
 * evaluated epoch; `etaSeconds` assumes every remaining epoch runs (early stopping may end sooner).
 */
export interface TrainingProgress {
  phase?: TrainingPhase;
  epoch?: number;
  numEpochs?: number;
  step?: number;
  steps?: number;
  loss?: number;
  pairsPerSecond?: number;
  etaSeconds?: number;
  monitor?: { key: string; value: number };
  bestEpoch?: number;
  updatedAt?: string;
}

/** k of the ranking metrics, as the strings the API keys them by. */
export type MetricK = '1' | '3' | '5' | '10';
export type MetricsAtK = Record<MetricK, number>;

/** `Model.trainingMetrics` (API.md): the summary, one value per epoch, and the best epoch's values. */
export interface TrainingMetrics {
  summary: {
    best_epoch: number;
    index_size: number;
    vector_size: number;
    /** Seconds. */
    training_time: number;
    num_trn_queries: number;
    num_val_queries: number;
    num_unique_training_pairs: number;
  };
  /** metric (`hit`, `map`, `mrr`, `ndcg`, `recall`, `f1`) -> `trn`|`val` -> k -> one value per epoch. */
  epoch_metrics: Record<string, { trn: Record<MetricK, number[]>; val: Record<MetricK, number[]> }>;
  /** metric -> `trn`|`val` -> k -> the best epoch's value. */
  final_metrics: Record<string, { trn: MetricsAtK; val: MetricsAtK }>;
}

/** A file uploaded with `PUT /customers/{C}/ai/uploads/{name}`; `uri` goes into `trainingData`. */
export interface Upload {
  /** The upload path: a name, or '/'-separated names for a file inside an upload folder. */
  name: string;
  /** `file://` URI the server reads the training data from. */
  uri: string;
  /** For a file inside an upload folder: `file://` URI of its top-level folder (M2 import `artifact.uri`). */
  folderUri?: string;
  bytes: number;
  /** Hex SHA-256 of the content. */
  sha256: string;
  uploadedAt: string;
}

/** Upload names the server accepts (FILENAME of the uploads routes, or one name of an upload path). */
export const UPLOAD_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Most names in an upload path (`my-encoder/onnx/model.onnx` has 3), and its longest length. */
export const MAX_UPLOAD_DEPTH = 8;
export const MAX_UPLOAD_PATH = 512;

/** True for an upload path the server accepts: 1-MAX_UPLOAD_DEPTH names of UPLOAD_NAME_PATTERN joined by '/'. */
export function isUploadPath(name: string): boolean {
  const parts = name.split('/');
  return name.length <= MAX_UPLOAD_PATH && parts.length <= MAX_UPLOAD_DEPTH && parts.every((p) => UPLOAD_NAME_PATTERN.test(p));
}

/** One event of a model (training started, epochs, finished or failed). Same shape as deployment events. */
export type ModelEvent = DeploymentEvent;

/** Import body: an existing artifact directory becomes a custom model. */
export interface ImportModelRequest {
  name: string;
  modelType: 'imported';
  description?: string;
  /** Exactly one: `upload`, the name of one of the customer's upload folders; or `uri`, `file:///abs/dir` (an upload folder's folderUri, or under the server's importRoots). */
  artifact: { uri: string } | { upload: string };
}

export const DeploymentStates = {
  DEPLOYING: 'DEPLOYING',
  DEPLOYED: 'DEPLOYED',
  DEPLOY_FAILED: 'DEPLOY_FAILED',
  DELETING: 'DELETING',
  DELETE_FAILED: 'DELETE_FAILED',
} as const;
export type DeploymentState = (typeof DeploymentStates)[keyof typeof DeploymentStates];

export interface DeploymentCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

/** Why a deployment failed; `reason` is a stable CamelCase code such as `CrashLoopBackOff`. */
export interface DeploymentFailure {
  reason: string;
  message: string;
  at: string;
}

/** Observed state, written by the server's controller only. */
export interface DeploymentStatus {
  replicas: number;
  readyReplicas: number;
  desiredReplicas: number;
  conditions: DeploymentCondition[];
  failure: DeploymentFailure | null;
}

export interface Deployment {
  /** Deployment UUID; also the MODEL_ID used for predictions. */
  id: string;
  modelId: string;
  region: string;
  config: Record<string, unknown>;
  minReplicas: number;
  maxReplicas: number;
  state: DeploymentState;
  deployedAt: string;
  createdBy: string;
  status?: DeploymentStatus;
  /** Extension, present when set for this deployment. */
  autoscaling?: DeploymentAutoscaling;
  updatedAt?: string;
  lastUsedAt?: string | null;
}

/** D2 body. The server defaults min/max replicas to 1 and config to `{}`. */
export interface CreateDeploymentRequest {
  modelId: string;
  region: string;
  minReplicas?: number;
  maxReplicas?: number;
  config?: Record<string, unknown>;
}

/** PATCH body: only the fields given change. */
/** Extension: the autoscaler's aim for one deployment (null: the server's default). */
export interface DeploymentAutoscaling {
  /** Concurrent requests (in flight + queued) one replica should carry. */
  targetConcurrencyPerReplica: number;
}

export interface PatchDeploymentRequest {
  minReplicas?: number;
  maxReplicas?: number;
  config?: Record<string, unknown>;
  modelId?: string;
  autoscaling?: DeploymentAutoscaling | null;
}

/** One event of a deployment (what the server did and why). Ids grow; page with `afterId`. */
export interface DeploymentEvent {
  id: number;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  data: Record<string, unknown> | null;
  at: string;
}

export interface EventsQuery {
  /** Only events with a larger id. */
  afterId?: number;
  limit?: number;
}

export const DataTypes = { QUERY: 'query', PASSAGE: 'passage' } as const;
export type DataType = (typeof DataTypes)[keyof typeof DataTypes];

export const QuantizationMethods = { MIN_MAX: 'min-max', MAX_SCALE: 'max-scale' } as const;
export type QuantizationMethod = (typeof QuantizationMethods)[keyof typeof QuantizationMethods];

export interface EmbedOptions {
  dataType?: DataType;
  /** `min-max` -> 0..255, `max-scale` -> -127..127. */
  quantize?: QuantizationMethod;
  /** Matryoshka truncation; must not exceed the model's vector size. */
  dimReductionSize?: number;
}

export interface EmbeddingPrediction {
  tokensUsed: { inputTokens: number };
  vector: number[];
  /** Present when the model was not trained for the requested reduction size. */
  warning?: string;
}

export interface EmbeddingResponse {
  predictions: EmbeddingPrediction[];
}

export interface ClassifyOptions {
  labels: string[];
  topK?: number;
  similarityCutoff?: number;
}

export interface ClassificationPrediction {
  tokensUsed: { inputTokens: number; labelsTokens?: number };
  /** Label -> score, ranked by similarity. */
  labels: Record<string, number>;
}

export interface ClassificationResponse {
  predictions: ClassificationPrediction[];
}

export interface TokenizationResponse {
  generatedTokens: Array<{ tokens: string[] }>;
  tokensUsed: Record<string, number>;
}

export interface UseCase {
  useCase: string;
  models: Array<{ id: string; name: string; modelType: string; vectorSize: number | null }>;
}

/** One quota: its limit for the customer and what is in use now. */
export interface QuotaUsage {
  limit: number;
  used: number;
}

/** `GET /customers/{C}/ai/quotas` 200 body (docs/api.md, Quotas). */
export interface CustomerQuotas {
  deployments: QuotaUsage;
  replicas: QuotaUsage;
  models: QuotaUsage;
  trainingJobs: QuotaUsage;
  uploadFiles: QuotaUsage;
  uploadBytes: QuotaUsage;
}

/** A customer's quota overrides: a number sets the quota, null (or leaving it out) takes the config default. */
export type QuotaOverrides = Partial<Record<keyof CustomerQuotas, number | null>>;

/** `GET` / `PUT /admin/customers/{id}/quotas` 200 body. */
export interface AdminCustomerQuotas {
  customerId: string;
  quotas: CustomerQuotas;
  overrides: Partial<Record<keyof CustomerQuotas, number>>;
}

/** `POST /admin/customers` 200 body. */
export interface Customer {
  id: string;
  name: string | null;
  createdAt: string;
}

/** `GET /admin/cluster`: the modeld instances sharing one store (docs/cluster.md). */
export interface ClusterView {
  /** The instance that answered. */
  self: string;
  /** The instance holding the leader lease (controller and training jobs), null when none. */
  leader: string | null;
  instances: Array<{ id: string; url: string; startedAt: string; seenAt: string; live: boolean; leader: boolean; inflight: number }>;
}

/** `POST /admin/customers/{id}/clients` 200 body; the secret is shown this once. */
export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  customerId: string;
  scopes: string[];
  createdAt?: string;
}

/** A customer's API client as the admin API lists it (never its secret). */
export interface ClientInfo {
  clientId: string;
  customerId: string;
  scopes: string[];
  createdAt: string;
  /** When it was disabled (its secret and tokens stopped working), null while active. */
  disabledAt: string | null;
}

/** One replica of a deployment (extension `GET .../deployments/{id}/replicas`). */
export interface Replica {
  replicaId: string;
  generation: number;
  /** `starting`, `ready`, `draining` or `exited`. */
  phase: string;
  /** The runner process id (process regions), else null. */
  pid: number | null;
  /** The pod name (Kubernetes regions), else null. */
  pod: string | null;
  /** Null when a follower instance answered (it lists only the ready replicas the leader published). */
  startedAt: string | null;
  readyAt: string | null;
  exitCode: number | null;
  /** Requests sent to it and not answered yet. */
  inflight: number;
  /** Requests it answered since the gateway first published it. */
  served: number;
  /** Whether the gateway routes requests to it now. */
  routed: boolean;
  lastError: string | null;
  waitingReason: string | null;
}

/** One sample of a deployment's serving figures (extension `GET .../deployments/{id}/metrics`). */
export interface DeploymentMetricsSample {
  at: string;
  requestsPerSecond: number;
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
  readyReplicas: number | null;
  desiredReplicas: number | null;
}

export interface DeploymentMetrics {
  intervalSeconds: number;
  /** Samples kept at most (360 x 10 s: the last hour). */
  capacity: number;
  samples: DeploymentMetricsSample[];
}
