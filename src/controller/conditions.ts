import type { Condition } from '../domain/index.js';

/** Condition types the controller writes in `status.conditions`. */
export const ConditionTypes = {
  /** True when at least minReplicas replicas are ready (the gateway has somewhere to send requests). */
  AVAILABLE: 'Available',
  /**
   * True while the controller works towards the current generation or has reached it
   * (reason `RolloutComplete`); False once it gave up on the generation (reason = failure reason),
   * which is sticky until the spec changes.
   */
  PROGRESSING: 'Progressing',
  /**
   * True while replicas of the current generation keep exiting (restartCount > 0). Its
   * lastTransitionTime is the time of the last counted exit: the restart backoff runs from it.
   */
  REPLICA_FAILURE: 'ReplicaFailure',
  /** False while the runtime errors (written by the controller, not by reconcile); gone once a sync succeeds. */
  RUNTIME_REACHABLE: 'RuntimeReachable',
} as const;
export type ConditionType = (typeof ConditionTypes)[keyof typeof ConditionTypes];

export function findCondition(conditions: readonly Condition[], type: string): Condition | undefined {
  return conditions.find((c) => c.type === type);
}

/**
 * A condition of `type` with the given status, reason and message. lastTransitionTime is kept
 * from `previous` when the status did not flip (Kubernetes semantics), else it is `at`.
 */
export function condition(
  previous: readonly Condition[],
  type: string,
  status: Condition['status'],
  reason: string,
  message: string,
  at: string,
): Condition {
  const prev = findCondition(previous, type);
  return { type, status, reason, message, lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : at };
}

/** Replaces (or appends) the condition of the same type, keeping the order of the others. */
export function upsertCondition(conditions: readonly Condition[], next: Condition): Condition[] {
  const out = conditions.filter((c) => c.type !== next.type);
  out.push(next);
  return out;
}
