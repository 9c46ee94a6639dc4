export { Controller, type ControllerOptions, type ControllerLogger, type ControllerMetrics } from './controller.js';
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
