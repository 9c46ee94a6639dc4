export { Controller, type ControllerOptions, type ControllerLogger, type ControllerMetrics, type AutoscalerFn } from './controller.js';
export {
  autoscale,
  Autoscaler,
  DEFAULT_AUTOSCALE_TOLERANCE,
  DEFAULT_SCALE_DOWN_STABILIZATION_MS,
  type AutoscaleDecision,
  type AutoscaleInput,
  type AutoscalePolicySettings,
  type AutoscaleSample,
  type AutoscaleSubject,
} from './autoscale.js';
export { reconcile, restartBackoffMs, READINESS_POLL_MS } from './reconcile.js';
export { WorkQueue, type WorkQueueOptions } from './queue.js';
export { systemTimers, type Timers } from './timers.js';
export { ConditionTypes, type ConditionType } from './conditions.js';
export {
  RemovalReasons,
  type ArtifactInput,
  type ControllerSettings,
  type Plan,
  type PlanEvent,
  type ReconcileInput,
  type RemovalReason,
  type ReplicaRemoval,
} from './types.js';
