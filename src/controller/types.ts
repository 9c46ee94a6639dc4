import type { Config } from '../config/index.js';
import type {
  DeploymentRecord,
  DeploymentState,
  DeploymentStatus,
  FailureReason,
  NewEvent,
  ServingEndpoint,
  ServingModelInfo,
} from '../domain/index.js';
import type { ObservedReplica, ReplicaSpec } from '../runtimes/index.js';

/** The controller's knobs, exactly `config.controller` (deadlines, backoff, workers). */
export type ControllerSettings = Readonly<Config['controller']>;

/**
 * What the controller learnt about the model a deployment serves, before reconciling. `ok: false`
 * is definitive for the current generation (the model or its artifact is gone, the region has no
 * runtime): reconcile makes it a failure that is not retried until the spec changes. Transient
 * errors never arrive here; the controller retries them.
 */
export type ArtifactInput =
  | { ok: true; artifactDir: string; model: ServingModelInfo }
  | { ok: false; reason: FailureReason; message: string };

/** Why a replica leaves; shown in events and logs. */
export const RemovalReasons = {
  /** The replica exited by itself; deleting it makes the runtime forget it. */
  EXITED: 'Exited',
  /** Already draining (asked earlier, or by itself); the removal is asserted again, idempotently. */
  DRAINING: 'Draining',
  /** An older generation's replica, rolled over by the current one. */
  REPLACED: 'Replaced',
  /** More replicas than desired. */
  SCALED_DOWN: 'ScaledDown',
  /** Part of a generation that failed (load failure, crash loop, deadline). */
  FAILED: 'Failed',
  /** Started, never ready within the progress deadline after the rollout completed. */
  NOT_READY: 'NotReady',
  /** The deployment is being deleted. */
  DELETING: 'Deleting',
} as const;
export type RemovalReason = (typeof RemovalReasons)[keyof typeof RemovalReasons];

export interface ReplicaRemoval {
  replicaId: string;
  reason: RemovalReason;
}

/**
 * An event the plan asks to record. `scope: 'replica'` events describe effects on one replica
 * (started, exited, stopping) and are recorded once the effect happened; `scope: 'deployment'`
 * events describe a transition of the deployment (Deployed, DeployFailed, RolledOut...) and are
 * recorded only when the status write that carries the transition succeeded.
 */
export interface PlanEvent {
  type: NewEvent['type'];
  reason: string;
  message: string;
  data: Record<string, unknown> | null;
  scope: 'replica' | 'deployment';
}

/** What reconcile decided for one deployment: effects for `apply`, and the status they lead to. */
export interface Plan {
  /** Replicas to start, at most maxReplicas (+1 surge during a roll) existing afterwards. */
  create: ReplicaSpec[];
  /** Replicas to drain and forget (exited ones are only forgotten). */
  remove: ReplicaRemoval[];
  state: DeploymentState;
  status: DeploymentStatus;
  events: PlanEvent[];
  /** Ready replicas (current or older generation) that may take new requests; never a leaving one. */
  endpoints: ServingEndpoint[];
  /** The deployment is deleted and has no replica left: remove its record. */
  removeRecord: boolean;
  /** Reconcile again after this many ms (deadline, backoff, readiness poll); null = only on change or resync. */
  requeueAfterMs: number | null;
}

/** Reconcile's input: desired state, observed replicas, and the clock reading, nothing else. */
export interface ReconcileInput {
  deployment: DeploymentRecord;
  /** This deployment's replicas as the runtime sees them now (replicas being deleted shown as `draining`). */
  replicas: readonly ObservedReplica[];
  artifact: ArtifactInput;
  /** The autoscaler's wish; clamped to [minReplicas, maxReplicas]. Default in the controller: minReplicas. */
  desiredReplicas: number;
  now: number;
  settings: ControllerSettings;
  /**
   * Makes the ids of replicas created by this plan unique across time; the controller passes a
   * fresh random string per sync. Default: derived from `now`. Ids never repeat one observed.
   */
  idSeed?: string;
  /** onnxruntime intra-op threads for new replicas (default 1). */
  intraOpThreads?: number;
  /** Why the autoscaler wants `desiredReplicas`, recorded with the ScaledUp / ScaledDown event. */
  scaleReason?: { reason: string; inputs: Record<string, unknown> };
}
