import {
  DeploymentStates,
  FailureReasons,
  isoAt,
  type Condition,
  type DeploymentRecord,
  type DeploymentState,
  type DeploymentStatus,
  type Failure,
  type FailureReason,
  type ServingEndpoint,
} from '../domain/index.js';
import type { ObservedReplica, ReplicaSpec } from '../runtimes/index.js';
import { ConditionTypes, condition, findCondition } from './conditions.js';
import {
  RemovalReasons,
  type ControllerSettings,
  type Plan,
  type PlanEvent,
  type ReconcileInput,
  type RemovalReason,
  type ReplicaRemoval,
} from './types.js';

/**
 * Runtimes do not push readiness changes, so a deployment whose replicas are starting, draining
 * or being replaced is looked at again this often (or at resyncIntervalMs when that is shorter).
 * One listReplicas per deployment in flux; deployments at rest wait for the periodic resync.
 */
export const READINESS_POLL_MS = 250;

/**
 * Delay before the replacement of the `restarts`-th counted replica exit:
 * restartBackoffBaseMs * 2^(restarts - 1), capped at restartBackoffMaxMs; 0 before any exit.
 */
export function restartBackoffMs(restarts: number, settings: Pick<ControllerSettings, 'restartBackoffBaseMs' | 'restartBackoffMaxMs'>): number {
  if (restarts <= 0) return 0;
  return Math.min(settings.restartBackoffBaseMs * 2 ** Math.min(restarts - 1, 40), settings.restartBackoffMaxMs);
}

/**
 * The pure heart of the controller: desired state (the deployment record), observed state (its
 * replicas), the artifact, the autoscaler's wish and the time in; the plan out. No I/O, no
 * clock, no randomness: the same input always gives the same plan. The rules are written out in
 * docs/states.md; in short:
 *
 * - deletion requested: every replica leaves (drained by the runtime), then `removeRecord`;
 *   DELETE_FAILED (DeleteTimeout) once deleteDeadlineMs passed with replicas left.
 * - a new generation that changes what replicas run (model or config: the template) is rolled:
 *   new replicas surge (at most maxReplicas + 1 exist), old ready ones leave only while ready
 *   stays >= the desired count, so ready never drops below minReplicas because of the roll. A
 *   change of minReplicas / maxReplicas alone only scales.
 * - DEPLOYING -> DEPLOYED once desired replicas of the current generation are ready.
 * - before that: a load failure (ModelLoadFailed), an unusable artifact or region, a crash loop
 *   (restartCount >= crashLoopRestarts, CrashLoopBackOff) or the progress deadline
 *   (ProgressDeadlineExceeded) fail the generation: its replicas are removed and nothing is
 *   retried until the spec changes. Replicas of an older generation that still serve are kept.
 * - after that (rolled out): exited replicas are replaced after an exponential backoff, forever;
 *   the state stays DEPLOYED, Available turns False below minReplicas, and a crash loop shows
 *   as status.failure until every desired replica is ready again.
 */
export function reconcile(input: ReconcileInput): Plan {
  const replicas = [...input.replicas].sort((a, b) => compareIds(a.replicaId, b.replicaId));
  return input.deployment.deletionRequestedAt !== null ? reconcileDeletion(input, replicas) : reconcileDeployment(input, replicas);
}

function reconcileDeletion(input: ReconcileInput, replicas: ObservedReplica[]): Plan {
  const { deployment: dep, now, settings } = input;
  const at = isoAt(now);
  const prev = dep.status;
  const events: PlanEvent[] = [];
  const remove: ReplicaRemoval[] = [];
  for (const r of replicas) {
    if (r.phase === 'exited') {
      remove.push({ replicaId: r.replicaId, reason: RemovalReasons.EXITED });
      events.push(exitEvent(r));
    } else if (r.phase === 'draining') {
      remove.push({ replicaId: r.replicaId, reason: RemovalReasons.DRAINING });
    } else {
      remove.push({ replicaId: r.replicaId, reason: RemovalReasons.DELETING });
      events.push(stoppingEvent(r, RemovalReasons.DELETING));
    }
  }
  const existing = replicas.filter((r) => r.phase !== 'exited').length;
  const elapsed = now - Date.parse(dep.deletionRequestedAt as string);

  if (existing === 0) {
    events.push(deploymentEvent('Normal', 'Deleted', 'every replica is gone; the deployment is removed', null));
    return {
      create: [],
      remove,
      state: dep.state,
      status: { ...prev, replicas: 0, readyReplicas: 0, desiredReplicas: 0 },
      events,
      endpoints: [],
      removeRecord: true,
      requeueAfterMs: null,
    };
  }

  // DELETE_FAILED is visible but not terminal for the loop: replicas keep being removed, and the
  // record goes as soon as they are gone.
  const failed = dep.state === DeploymentStates.DELETE_FAILED || elapsed >= settings.deleteDeadlineMs;
  let failure: Failure | null = null;
  if (failed) {
    failure =
      prev.failure?.reason === FailureReasons.DELETE_TIMEOUT
        ? prev.failure
        : {
            reason: FailureReasons.DELETE_TIMEOUT,
            message: `${existing} replica(s) still running ${elapsed}ms after deletion was requested (deadline ${settings.deleteDeadlineMs}ms)`,
            at,
          };
    if (dep.state !== DeploymentStates.DELETE_FAILED) {
      events.push(deploymentEvent('Warning', 'DeleteFailed', `${failure.reason}: ${failure.message}`, { reason: failure.reason }));
    }
  }
  const conditions: Condition[] = [
    condition(prev.conditions, ConditionTypes.AVAILABLE, 'False', 'Deleting', 'the deployment is being deleted', at),
    failed
      ? condition(prev.conditions, ConditionTypes.PROGRESSING, 'False', FailureReasons.DELETE_TIMEOUT, (failure as Failure).message, at)
      : condition(prev.conditions, ConditionTypes.PROGRESSING, 'True', 'Deleting', `${existing} replica(s) left to stop`, at),
  ];
  const waits = [Math.min(READINESS_POLL_MS, settings.resyncIntervalMs)];
  if (!failed) waits.push(settings.deleteDeadlineMs - elapsed);
  return {
    create: [],
    remove,
    state: failed ? DeploymentStates.DELETE_FAILED : DeploymentStates.DELETING,
    status: {
      ...prev,
      replicas: existing,
      readyReplicas: 0,
      desiredReplicas: 0,
      conditions,
      failure,
      observedGeneration: dep.generation,
    },
    events,
    endpoints: [],
    removeRecord: false,
    requeueAfterMs: Math.max(1, Math.min(...waits)),
  };
}

function reconcileDeployment(input: ReconcileInput, replicas: ObservedReplica[]): Plan {
  const { deployment: dep, now, settings, artifact } = input;
  const at = isoAt(now);
  const prev = dep.status;
  const initial = prev.observedGeneration === 0;
  // Any spec change is a new generation (failures, backoff and the deadline start afresh), but
  // only a change of what replicas run rolls them: replicas carry the template generation.
  const hash = templateHash(dep);
  // After a failure a spec change is a fresh attempt: a new template generation, so that the
  // failed generation's replicas are never taken for the new one's.
  const sameTemplate = !initial && prev.failure === null && prev.templateHash === hash && prev.templateGeneration !== undefined;
  const gen = sameTemplate ? (prev.templateGeneration as number) : dep.generation;
  const newGen = prev.observedGeneration !== dep.generation;
  // A new generation starts afresh: the exit count, the backoff timer and a failure belong to the old spec.
  const prevConditions = newGen ? prev.conditions.filter((c) => c.type !== ConditionTypes.REPLICA_FAILURE) : prev.conditions;
  let restartCount = newGen ? 0 : prev.restartCount;
  let progressStartedAt = newGen ? at : prev.progressStartedAt;
  let failure: Failure | null = newGen ? null : prev.failure;
  const wasBlocked = !newGen && failure !== null && findCondition(prevConditions, ConditionTypes.PROGRESSING)?.status === 'False';
  const rolledOut = !newGen && progressStartedAt === null;
  const wasDeployed = dep.state === DeploymentStates.DEPLOYED;
  const desired = clamp(Math.round(input.desiredReplicas), dep.minReplicas, dep.maxReplicas);

  const events: PlanEvent[] = [];
  const removals = new Map<string, RemovalReason>();
  const leave = (r: ObservedReplica, reason: RemovalReason): void => {
    removals.set(r.replicaId, reason);
    events.push(stoppingEvent(r, reason));
  };

  if (newGen && !initial && !sameTemplate) {
    events.push(deploymentEvent('Normal', 'RollingUpdate', `rolling from generation ${prev.observedGeneration} to ${gen}`, { from: prev.observedGeneration, to: gen }));
  }
  if (!initial && desired !== prev.desiredReplicas) {
    const up = desired > prev.desiredReplicas;
    const why = input.scaleReason;
    events.push(
      deploymentEvent('Normal', up ? 'ScaledUp' : 'ScaledDown', `desired replicas ${prev.desiredReplicas} -> ${desired}${why ? ` (${why.reason})` : ''}`, {
        from: prev.desiredReplicas,
        to: desired,
        ...(why ? { reason: why.reason, inputs: why.inputs } : {}),
      }),
    );
  }

  // Exits: every exited replica is forgotten; those of the current generation count as restarts.
  let lastExit: string | null = null;
  for (const r of replicas) {
    if (r.phase === 'exited') {
      removals.set(r.replicaId, RemovalReasons.EXITED);
      events.push(exitEvent(r));
      if (r.generation === gen && !wasBlocked) {
        restartCount += 1;
        lastExit = exitMessage(r);
      }
    } else if (r.phase === 'draining') {
      removals.set(r.replicaId, RemovalReasons.DRAINING);
    }
  }
  // After the rollout no deadline watches the deployment, so a replacement that hangs while
  // starting is treated like an exit: removed, counted, replaced after the backoff.
  if (rolledOut && !wasBlocked) {
    for (const r of replicas) {
      if (r.generation !== gen || r.phase !== 'starting' || removals.has(r.replicaId)) continue;
      const age = now - Date.parse(r.startedAt);
      if (age < settings.progressDeadlineMs) continue;
      leave(r, RemovalReasons.NOT_READY);
      restartCount += 1;
      lastExit = `replica ${r.replicaId} not ready ${age}ms after it started${r.lastError ? `: ${r.lastError}` : ''}`;
    }
  }

  const live = (r: ObservedReplica): boolean => r.phase !== 'exited' && r.phase !== 'draining' && !removals.has(r.replicaId);
  const current = replicas.filter((r) => live(r) && r.generation === gen);
  const old = replicas.filter((r) => live(r) && r.generation !== gen);
  const rolling = old.length > 0;
  const readyCurrentBefore = current.filter((r) => r.phase === 'ready').length;
  const lastError = lastExit ?? findCondition(prevConditions, ConditionTypes.REPLICA_FAILURE)?.message ?? 'no error reported';

  // Failures of the generation, first match wins.
  let blocked = wasBlocked;
  let failedNow: { reason: FailureReason; message: string } | null = null;
  if (!blocked) {
    const loadFailed = replicas.find((r) => r.generation === gen && r.loadFailed);
    const completeBefore = readyCurrentBefore >= desired;
    const sinceProgress = progressStartedAt === null ? 0 : now - Date.parse(progressStartedAt);
    if (loadFailed) {
      failedNow = {
        reason: FailureReasons.MODEL_LOAD_FAILED,
        message: `replica ${loadFailed.replicaId}: ${loadFailed.lastError ?? 'the runner could not load the model'}`,
      };
    } else if (!artifact.ok) {
      failedNow = { reason: artifact.reason, message: artifact.message };
    } else if (!rolledOut && !completeBefore && restartCount >= settings.crashLoopRestarts) {
      failedNow = {
        reason: FailureReasons.CRASH_LOOP,
        message: `${restartCount} replica exits before generation ${gen} was ready; last: ${lastError}`,
      };
    } else if (!rolledOut && !completeBefore && sinceProgress >= settings.progressDeadlineMs) {
      // Why a replica is still starting, when anyone knows: its own error, else what the runtime
      // says it waits for (Kubernetes: `Unschedulable: 0/3 nodes are available: ...`).
      const starting = current.find((r) => r.phase === 'starting' && r.lastError) ?? current.find((r) => r.phase === 'starting' && r.waitingReason);
      failedNow = {
        reason: FailureReasons.PROGRESS_DEADLINE_EXCEEDED,
        message: `${readyCurrentBefore} of ${desired} replicas of generation ${gen} ready after ${sinceProgress}ms (deadline ${settings.progressDeadlineMs}ms)${
          starting ? `; replica ${starting.replicaId}: ${starting.lastError ?? starting.waitingReason}` : ''
        }`,
      };
    }
  }

  let create: ReplicaSpec[] = [];
  let complete = false;
  let backoffWaitMs: number | null = null;
  if (failedNow) {
    blocked = true;
    failure = { reason: failedNow.reason, message: failedNow.message, at };
    // A failed rollout takes all of its replicas with it; after a completed rollout the ready
    // replicas that loaded fine keep serving, only the failing ones go.
    for (const r of current) if (!rolledOut || r.phase !== 'ready') leave(r, RemovalReasons.FAILED);
  }
  if (blocked) {
    for (const r of current) if (live(r) && r.phase !== 'ready') leave(r, RemovalReasons.FAILED);
    for (const r of old) if (live(r) && r.phase !== 'ready') leave(r, RemovalReasons.REPLACED);
  } else {
    // Older generations' replicas that are not ready would never be promoted: they go now.
    for (const r of old) if (r.phase !== 'ready') leave(r, RemovalReasons.REPLACED);
    const oldReady = leastUsefulFirst(old.filter((r) => r.phase === 'ready'));
    const curReady = current.filter((r) => r.phase === 'ready');
    const curStarting = current.filter((r) => r.phase === 'starting');
    // Old ready replicas retire only while ready stays at or above the desired count
    // (maxUnavailable 0): each new ready replica lets one old one go.
    let excess = curReady.length + oldReady.length - desired;
    for (const r of oldReady) {
      if (excess <= 0) break;
      leave(r, RemovalReasons.REPLACED);
      excess -= 1;
    }
    // Scale-down: starting replicas first (newest first), then the least useful ready ones.
    let extra = curReady.length + curStarting.length - desired;
    for (const r of [...newestFirst(curStarting), ...leastUsefulFirst(curReady)]) {
      if (extra <= 0) break;
      leave(r, RemovalReasons.SCALED_DOWN);
      extra -= 1;
    }
    const currentAfter = current.filter(live);
    complete = currentAfter.filter((r) => r.phase === 'ready').length >= desired;

    // Creation: up to the desired count, within maxReplicas (+1 surge while rolling), counting
    // replicas that are still draining, and not before the restart backoff has passed.
    if (restartCount > 0) {
      const since = lastExit !== null ? now : Date.parse(findCondition(prevConditions, ConditionTypes.REPLICA_FAILURE)?.lastTransitionTime ?? at);
      const wait = since + restartBackoffMs(restartCount, settings) - now;
      if (wait > 0) backoffWaitMs = wait;
    }
    const existing = replicas.filter((r) => r.phase !== 'exited').length;
    const cap = dep.maxReplicas + (rolling ? 1 : 0);
    const count = backoffWaitMs === null && artifact.ok ? Math.max(0, Math.min(desired - currentAfter.length, cap - existing)) : 0;
    if (artifact.ok && count > 0) {
      create = newReplicaIds(input, gen, replicas, count).map((replicaId) => ({
        replicaId,
        deploymentId: dep.id,
        customerId: dep.customerId,
        generation: gen,
        modelId: dep.modelId,
        artifactDir: artifact.artifactDir,
        config: dep.config,
        intraOpThreads: input.intraOpThreads ?? 1,
      }));
      for (const s of create) {
        events.push(replicaEvent('Normal', 'ReplicaStarted', `started replica ${s.replicaId} (generation ${gen})`, { replicaId: s.replicaId, generation: gen }));
      }
    }
  }

  const endpoints: ServingEndpoint[] = replicas
    .filter((r) => live(r) && r.phase === 'ready' && r.endpoint !== null)
    .map((r) => ({ replicaId: r.replicaId, url: r.endpoint as string, generation: r.generation }));
  const ready = endpoints.length;

  let state: DeploymentState;
  if (blocked) {
    state = wasDeployed && ready >= dep.minReplicas ? DeploymentStates.DEPLOYED : DeploymentStates.DEPLOY_FAILED;
  } else if (complete) {
    state = DeploymentStates.DEPLOYED;
    if (failure !== null) events.push(deploymentEvent('Normal', 'Recovered', `every desired replica is ready again (was ${failure.reason})`, { reason: failure.reason }));
    if (!wasDeployed) {
      events.push(deploymentEvent('Normal', 'Deployed', `${ready} replica(s) of generation ${gen} ready`, { generation: gen, readyReplicas: ready }));
    } else if (!rolledOut) {
      events.push(deploymentEvent('Normal', 'RolledOut', `generation ${gen} rolled out, ${ready} replica(s) ready`, { generation: gen, readyReplicas: ready }));
    }
    restartCount = 0;
    progressStartedAt = null;
    failure = null;
  } else if (rolledOut) {
    // Replacing crashed replicas or scaling up after the rollout: still DEPLOYED; a crash loop
    // is reported in status.failure while the controller keeps restarting with backoff.
    state = DeploymentStates.DEPLOYED;
    if (restartCount >= settings.crashLoopRestarts) {
      const message = `${restartCount} replica exits since the last time every desired replica was ready; last: ${lastError}`;
      if (failure?.reason !== FailureReasons.CRASH_LOOP) {
        failure = { reason: FailureReasons.CRASH_LOOP, message, at };
        events.push(deploymentEvent('Warning', 'CrashLoopBackOff', message, { reason: failure.reason, restartCount }));
      } else if (lastExit !== null) {
        // Same failure, newer evidence: the message follows the last exit, `at` stays when it began.
        failure = { ...failure, message };
      }
    }
  } else {
    state = wasDeployed && ready >= dep.minReplicas ? DeploymentStates.DEPLOYED : DeploymentStates.DEPLOYING;
  }

  if (failedNow && failure) {
    if (state === DeploymentStates.DEPLOYED) {
      events.push(deploymentEvent('Warning', 'RolloutFailed', `${failure.reason}: ${failure.message}; older replicas keep serving`, { reason: failure.reason, generation: gen }));
    }
  }
  if (state === DeploymentStates.DEPLOY_FAILED && dep.state !== DeploymentStates.DEPLOY_FAILED && failure) {
    events.push(deploymentEvent('Warning', 'DeployFailed', `${failure.reason}: ${failure.message}`, { reason: failure.reason, generation: gen }));
  }

  const conditions: Condition[] = [];
  const available = ready >= dep.minReplicas;
  conditions.push(
    condition(
      prevConditions,
      ConditionTypes.AVAILABLE,
      available ? 'True' : 'False',
      available ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
      `${ready} ready, minimum ${dep.minReplicas}`,
      at,
    ),
  );
  const prevAvailable = findCondition(prevConditions, ConditionTypes.AVAILABLE)?.status;
  if (prevAvailable === 'True' && !available && state !== DeploymentStates.DEPLOY_FAILED) {
    events.push(deploymentEvent('Warning', 'Unavailable', `${ready} ready, fewer than the minimum ${dep.minReplicas}`, { readyReplicas: ready }));
  } else if (prevAvailable === 'False' && available && wasDeployed && state === DeploymentStates.DEPLOYED) {
    events.push(deploymentEvent('Normal', 'Available', `${ready} ready, minimum ${dep.minReplicas}`, { readyReplicas: ready }));
  }
  const readyCurrent = current.filter((r) => live(r) && r.phase === 'ready').length;
  if (blocked && failure) {
    conditions.push(condition(prevConditions, ConditionTypes.PROGRESSING, 'False', failure.reason, failure.message, at));
  } else if (complete) {
    conditions.push(condition(prevConditions, ConditionTypes.PROGRESSING, 'True', 'RolloutComplete', `generation ${gen}: ${readyCurrent} replica(s) ready`, at));
  } else {
    const reason = rolledOut ? 'Scaling' : rolling || wasDeployed ? 'RollingUpdate' : 'Deploying';
    conditions.push(condition(prevConditions, ConditionTypes.PROGRESSING, 'True', reason, `${readyCurrent} of ${desired} replicas of generation ${gen} ready`, at));
  }
  if (restartCount > 0) {
    const prevFailure = findCondition(prevConditions, ConditionTypes.REPLICA_FAILURE);
    conditions.push({
      type: ConditionTypes.REPLICA_FAILURE,
      status: 'True',
      reason: 'ReplicaExited',
      message: lastError,
      lastTransitionTime: lastExit !== null || !prevFailure ? at : prevFailure.lastTransitionTime,
    });
  }

  const status: DeploymentStatus = {
    replicas: replicas.filter((r) => r.phase !== 'exited').length + create.length,
    readyReplicas: ready,
    desiredReplicas: desired,
    conditions,
    failure,
    observedGeneration: dep.generation,
    restartCount,
    progressStartedAt,
    templateGeneration: gen,
    templateHash: hash,
  };

  const waits: number[] = [];
  const inFlux = create.length > 0 || removals.size > 0 || replicas.some((r) => r.phase !== 'ready') || (!blocked && !complete);
  if (inFlux) waits.push(Math.min(READINESS_POLL_MS, settings.resyncIntervalMs));
  if (backoffWaitMs !== null) waits.push(backoffWaitMs);
  if (!blocked && !complete && progressStartedAt !== null) waits.push(Date.parse(progressStartedAt) + settings.progressDeadlineMs - now);
  if (rolledOut && !blocked) {
    for (const r of current) if (live(r) && r.phase === 'starting') waits.push(Date.parse(r.startedAt) + settings.progressDeadlineMs - now);
  }

  return {
    create,
    remove: [...removals].map(([replicaId, reason]) => ({ replicaId, reason })),
    state,
    status,
    events,
    endpoints,
    removeRecord: false,
    requeueAfterMs: waits.length > 0 ? Math.max(1, Math.min(...waits)) : null,
  };
}

/** Digest of what a replica runs: the model and the config (keys sorted), FNV-1a 32-bit in hex. */
export function templateHash(dep: Pick<DeploymentRecord, 'modelId' | 'config'>): string {
  const text = canonicalJson([dep.modelId, dep.config]);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${text.length.toString(16)}-${h.toString(16).padStart(8, '0')}`;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value as Record<string, unknown>)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Number.isFinite(n) ? n : lo));
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Fewest requests in flight first, then the most recently started, then by id (deterministic). */
function leastUsefulFirst(replicas: ObservedReplica[]): ObservedReplica[] {
  return [...replicas].sort((a, b) => a.inflight - b.inflight || compareIds(b.startedAt, a.startedAt) || compareIds(b.replicaId, a.replicaId));
}

function newestFirst(replicas: ObservedReplica[]): ObservedReplica[] {
  return [...replicas].sort((a, b) => compareIds(b.startedAt, a.startedAt) || compareIds(b.replicaId, a.replicaId));
}

/** `<deployment id prefix>-g<generation>-<seed>-<n>`, skipping ids the runtime still knows. */
function newReplicaIds(input: ReconcileInput, generation: number, observed: ObservedReplica[], count: number): string[] {
  const seed = input.idSeed ?? input.now.toString(36);
  const taken = new Set(observed.map((r) => r.replicaId));
  const prefix = `${input.deployment.id.slice(0, 8)}-g${generation}-${seed}`;
  const ids: string[] = [];
  for (let n = 0; ids.length < count; n++) {
    const id = `${prefix}-${n}`;
    if (!taken.has(id)) ids.push(id);
  }
  return ids;
}

function exitMessage(r: ObservedReplica): string {
  return `replica ${r.replicaId} exited with code ${r.exitCode ?? 'unknown'}${r.lastError ? `: ${r.lastError}` : ''}`;
}

function exitEvent(r: ObservedReplica): PlanEvent {
  return replicaEvent('Warning', 'ReplicaExited', `${exitMessage(r)} (generation ${r.generation})`, {
    replicaId: r.replicaId,
    generation: r.generation,
    exitCode: r.exitCode,
    lastError: r.lastError,
    loadFailed: r.loadFailed,
  });
}

const removalText: Record<RemovalReason, string> = {
  Exited: 'it exited',
  Draining: 'it is draining',
  Replaced: 'rolled over by a newer generation',
  ScaledDown: 'more replicas than desired',
  Failed: 'its generation failed',
  NotReady: 'not ready within the progress deadline',
  Deleting: 'the deployment is being deleted',
};

function stoppingEvent(r: ObservedReplica, reason: RemovalReason): PlanEvent {
  return replicaEvent('Normal', 'ReplicaStopping', `draining replica ${r.replicaId} (generation ${r.generation}): ${removalText[reason]}`, {
    replicaId: r.replicaId,
    generation: r.generation,
    reason,
  });
}

function replicaEvent(type: PlanEvent['type'], reason: string, message: string, data: Record<string, unknown> | null): PlanEvent {
  return { type, reason, message, data, scope: 'replica' };
}

function deploymentEvent(type: PlanEvent['type'], reason: string, message: string, data: Record<string, unknown> | null): PlanEvent {
  return { type, reason, message, data, scope: 'deployment' };
}
