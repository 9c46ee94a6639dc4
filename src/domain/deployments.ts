/** Deployments: desired state (spec, written by users) and observed state (status, written by the controller). */

export const DeploymentStates = {
  DEPLOYING: 'DEPLOYING',
  DEPLOYED: 'DEPLOYED',
  DEPLOY_FAILED: 'DEPLOY_FAILED',
  DELETING: 'DELETING',
  DELETE_FAILED: 'DELETE_FAILED',
} as const;
export type DeploymentState = (typeof DeploymentStates)[keyof typeof DeploymentStates];

/** Reason codes of a deployment failure; stable, shown in `status.failure.reason`. */
export const FailureReasons = {
  /** The replicas did not all become ready within the progress deadline. */
  PROGRESS_DEADLINE_EXCEEDED: 'ProgressDeadlineExceeded',
  /** A replica kept exiting; its last error is in the message. */
  CRASH_LOOP: 'CrashLoopBackOff',
  /** The runner could not load the model (bad artifact, engine error). */
  MODEL_LOAD_FAILED: 'ModelLoadFailed',
  /** The model or its artifact vanished after the deployment was created. */
  MODEL_MISSING: 'ModelMissing',
  /** The runtime refused to start replicas (region misconfigured, cluster unreachable). */
  RUNTIME_ERROR: 'RuntimeError',
  /** Stopping the replicas did not finish within the deadline. */
  DELETE_TIMEOUT: 'DeleteTimeout',
} as const;
export type FailureReason = (typeof FailureReasons)[keyof typeof FailureReasons];

/** Extension: how the autoscaler treats one deployment (absent = the server's defaults). */
export interface AutoscalingSpec {
  /** Concurrent requests (in flight + queued) one replica should carry. */
  targetConcurrencyPerReplica: number;
}

export interface DeploymentSpec {
  modelId: string;
  region: string;
  minReplicas: number;
  maxReplicas: number;
  /** Any JSON object; stored and echoed verbatim and handed to every replica. */
  config: Record<string, unknown>;
  /** Extension; null or absent = the server's config.autoscale. Never rolls replicas. */
  autoscaling?: AutoscalingSpec | null;
}

export interface Condition {
  /** `Available` (minReplicas ready), `Progressing` (rolling towards the spec), `Scaling`. */
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export interface Failure {
  reason: FailureReason;
  message: string;
  at: string;
}

export interface DeploymentStatus {
  /** Replicas that exist (starting, ready or stopping). */
  replicas: number;
  readyReplicas: number;
  /** What the controller currently aims for, within [minReplicas, maxReplicas]. */
  desiredReplicas: number;
  conditions: Condition[];
  failure: Failure | null;
  /** The spec generation the status describes. */
  observedGeneration: number;
  /** Replica exits counted since the last time all desired replicas were ready (crash-loop detection). */
  restartCount: number;
  /** When the controller started working towards the current generation (progress deadline). */
  progressStartedAt: string | null;
  /**
   * The generation at which what replicas run (model and config) last changed, and a digest of
   * it. Replicas of this generation are current; a spec change that leaves the template as it
   * was (minReplicas, maxReplicas) scales without rolling. Absent until the first reconcile.
   */
  templateGeneration?: number;
  templateHash?: string;
}

export interface DeploymentRecord extends DeploymentSpec {
  id: string;
  customerId: string;
  state: DeploymentState;
  /** Incremented on every spec change (PATCH); replicas of an older generation are rolled. */
  generation: number;
  status: DeploymentStatus;
  deployedAt: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  lastUsedAt: string | null;
  /** Set by DELETE (desired state: gone); the controller drains the replicas, then removes the record. */
  deletionRequestedAt: string | null;
}

export function initialStatus(desiredReplicas: number): DeploymentStatus {
  return {
    replicas: 0,
    readyReplicas: 0,
    desiredReplicas,
    conditions: [],
    failure: null,
    observedGeneration: 0,
    restartCount: 0,
    progressStartedAt: null,
  };
}

/**
 * A deployment as D2 creates it: DEPLOYING, generation 1, nothing observed yet, timestamps at
 * `at`. The controller takes it from there.
 */
export function newDeploymentRecord(
  fields: DeploymentSpec & { id: string; customerId: string; createdBy: string; at: string },
): DeploymentRecord {
  const { at, ...rest } = fields;
  return {
    ...rest,
    autoscaling: fields.autoscaling ?? null,
    state: DeploymentStates.DEPLOYING,
    generation: 1,
    status: initialStatus(fields.minReplicas),
    deployedAt: at,
    createdAt: at,
    updatedAt: at,
    lastUsedAt: null,
    deletionRequestedAt: null,
  };
}
