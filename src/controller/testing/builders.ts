/**
 * Builders of reconcile inputs for the controller's tests (table tests beside the code and the
 * fast-check properties in test/property). Not exported from the controller's index.
 */
import { defaultConfig } from '../../config/index.js';
import { initialStatus, isoAt, type DeploymentRecord, type ServingModelInfo } from '../../domain/index.js';
import type { ObservedReplica, ReplicaPhase } from '../../runtimes/index.js';
import type { ArtifactInput, ControllerSettings, Plan, ReconcileInput } from '../types.js';

export const T0 = Date.parse('2026-01-01T00:00:00.000Z');

export const testSettings: ControllerSettings = {
  ...defaultConfig().controller,
  resyncIntervalMs: 2000,
  progressDeadlineMs: 10_000,
  crashLoopRestarts: 3,
  restartBackoffBaseMs: 100,
  restartBackoffMaxMs: 1000,
  drainTimeoutMs: 1000,
  deleteDeadlineMs: 5000,
  workers: 2,
};

export const testModel: ServingModelInfo = { modelId: 'model-1', name: 'm', modelType: 'imported', vectorSize: 8, matryoshkaDims: null };
export const okArtifact: ArtifactInput = { ok: true, artifactDir: '/artifacts/abc', model: testModel };

/** A freshly created deployment (generation 1, never reconciled), overridable field by field. */
export function deployment(over: Partial<DeploymentRecord> = {}): DeploymentRecord {
  const min = over.minReplicas ?? 1;
  return {
    id: 'dep00001-aaaa-bbbb-cccc-000000000001',
    customerId: 'cust-1',
    modelId: 'model-1',
    region: 'local',
    minReplicas: min,
    maxReplicas: over.maxReplicas ?? Math.max(min, 1),
    config: {},
    state: 'DEPLOYING',
    generation: 1,
    status: initialStatus(min),
    deployedAt: isoAt(T0),
    createdBy: 'tester',
    createdAt: isoAt(T0),
    updatedAt: isoAt(T0),
    lastUsedAt: null,
    deletionRequestedAt: null,
    ...over,
  };
}

/** A replica of generation 1 started at T0, in the given phase. */
export function replica(id: string, phase: ReplicaPhase, over: Partial<ObservedReplica> = {}): ObservedReplica {
  return {
    replicaId: id,
    deploymentId: 'dep00001-aaaa-bbbb-cccc-000000000001',
    generation: 1,
    phase,
    endpoint: phase === 'ready' || phase === 'draining' ? `http://127.0.0.1:1/${id}` : null,
    pid: null,
    startedAt: isoAt(T0),
    readyAt: phase === 'ready' ? isoAt(T0) : null,
    exitCode: phase === 'exited' ? 1 : null,
    lastError: null,
    loadFailed: false,
    inflight: 0,
    ...over,
  };
}

export function input(over: Partial<ReconcileInput> & { deployment: DeploymentRecord }): ReconcileInput {
  return {
    replicas: [],
    artifact: okArtifact,
    desiredReplicas: over.deployment.minReplicas,
    now: T0,
    settings: testSettings,
    idSeed: 's',
    ...over,
  };
}

/** The deployment record as the controller would write it after applying `plan` (status write). */
export function afterPlan(dep: DeploymentRecord, plan: Plan): DeploymentRecord {
  return { ...dep, state: plan.state, status: plan.status };
}
