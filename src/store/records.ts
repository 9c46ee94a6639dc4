import { ModeldError } from '../errors/index.js';
import type { ClientRecord, Customer, DeploymentRecord, EventRecord, ModelRecord } from '../domain/index.js';
import type { ChunkingJobRecord, InstanceRecord, LeaseState, ServingEndpointsRecord, StoredSigningKey, TrainingJobRecord } from './types.js';

/**
 * Rows to records, shared by both dialects: the column names are the same in SQLite and
 * PostgreSQL; only how a JSON column arrives differs (text in SQLite, already parsed from JSONB
 * in PostgreSQL), which the dialect's `json` decoder hides.
 */
export type Row = Record<string, unknown>;
export type JsonDecoder = (value: unknown) => unknown;

export function customerFromRow(r: Row): Customer {
  return { id: r.id as string, name: r.name as string | null, createdAt: r.created_at as string };
}

export function clientFromRow(r: Row, json: JsonDecoder): ClientRecord {
  return {
    id: r.id as string,
    customerId: r.customer_id as string,
    secretHash: r.secret_hash as string,
    scopes: json(r.scopes) as string[],
    createdAt: r.created_at as string,
    disabledAt: r.disabled_at as string | null,
  };
}

export function modelFromRow(r: Row, json: JsonDecoder): ModelRecord {
  return {
    id: r.id as string,
    customerId: r.customer_id as string,
    name: r.name as string,
    modelType: r.model_type as string,
    description: r.description as string | null,
    region: r.region as string | null,
    vectorSize: r.vector_size === null ? null : Number(r.vector_size),
    state: r.state as ModelRecord['state'],
    errorMessage: r.error_message as string | null,
    artifactId: r.artifact_id as string | null,
    trainingData: json(r.training_data) as ModelRecord['trainingData'],
    config: json(r.config) as ModelRecord['config'],
    trainingStarted: r.training_started as string | null,
    trainingCompleted: r.training_completed as string | null,
    trainingMetrics: json(r.training_metrics) as ModelRecord['trainingMetrics'],
    createdBy: r.created_by as string,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
  };
}

export function deploymentFromRow(r: Row, json: JsonDecoder): DeploymentRecord {
  return {
    id: r.id as string,
    customerId: r.customer_id as string,
    modelId: r.model_id as string,
    region: r.region as string,
    minReplicas: Number(r.min_replicas),
    maxReplicas: Number(r.max_replicas),
    config: json(r.config) as DeploymentRecord['config'],
    state: r.state as DeploymentRecord['state'],
    generation: Number(r.generation),
    status: json(r.status) as DeploymentRecord['status'],
    deployedAt: r.deployed_at as string,
    createdBy: r.created_by as string,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
    lastUsedAt: r.last_used_at as string | null,
    deletionRequestedAt: r.deletion_requested_at as string | null,
    autoscaling: r.autoscaling === null || r.autoscaling === undefined ? null : (json(r.autoscaling) as DeploymentRecord['autoscaling']),
  };
}

export function eventFromRow(r: Row, json: JsonDecoder): EventRecord {
  return {
    // PostgreSQL returns bigint as a string; ids stay far below 2^53.
    id: Number(r.id),
    objectKind: r.object_kind as EventRecord['objectKind'],
    objectId: r.object_id as string,
    customerId: r.customer_id as string,
    type: r.type as EventRecord['type'],
    reason: r.reason as string,
    message: r.message as string,
    data: json(r.data) as EventRecord['data'],
    at: r.at as string,
  };
}

export function trainingJobFromRow(r: Row, json: JsonDecoder): TrainingJobRecord {
  return {
    id: r.id as string,
    modelId: r.model_id as string,
    customerId: r.customer_id as string,
    state: r.state as TrainingJobRecord['state'],
    progress: json(r.progress) as TrainingJobRecord['progress'],
    checkpoint: r.checkpoint as string | null,
    attempts: Number(r.attempts),
    error: r.error as string | null,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
  };
}

export function chunkingJobFromRow(r: Row, json: JsonDecoder): ChunkingJobRecord {
  return {
    id: r.id as string,
    customerId: r.customer_id as string,
    chunker: r.chunker as string,
    modelId: r.model_id as string,
    request: json(r.request) as ChunkingJobRecord['request'],
    status: r.status as ChunkingJobRecord['status'],
    result: json(r.result) as ChunkingJobRecord['result'],
    error: r.error as string | null,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
    expiresAt: r.expires_at as string,
  };
}

/** Default and bounds of `listEvents` pages. */
export const EVENT_PAGE = { defaultLimit: 100, maxLimit: 1000 } as const;

/**
 * Resolves listEvents options: afterId defaults to 0 (from the first event), limit to 100 and at
 * most 1000. Throws MODELD_ERR_VALIDATION for a negative/non-integer afterId or a limit below 1.
 */
export function eventPage(options: { afterId?: number; limit?: number } = {}): { afterId: number; limit: number } {
  const afterId = options.afterId ?? 0;
  const limit = options.limit ?? EVENT_PAGE.defaultLimit;
  if (!Number.isSafeInteger(afterId) || afterId < 0) {
    throw new ModeldError('MODELD_ERR_VALIDATION', `afterId: must be a non-negative integer, got ${afterId}`, { details: { field: 'afterId' } });
  }
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new ModeldError('MODELD_ERR_VALIDATION', `limit: must be a positive integer, got ${limit}`, { details: { field: 'limit' } });
  }
  return { afterId, limit: Math.min(limit, EVENT_PAGE.maxLimit) };
}

/** `asker`: who called; `held` says whether that is the holder of a live lease. */
export function leaseFromRow(r: Row, asker: string): LeaseState {
  return { name: r.name as string, holder: r.holder as string, epoch: Number(r.epoch), expiresAt: Number(r.expires_at), held: r.holder === asker };
}

export function signingKeyFromRow(r: Row, json: JsonDecoder): StoredSigningKey {
  return { seq: Number(r.seq), kid: r.kid as string, createdAt: r.created_at as string, privateJwk: json(r.private_jwk) as Record<string, unknown> };
}

export function instanceFromRow(r: Row, json: JsonDecoder): InstanceRecord {
  return {
    id: r.id as string,
    url: r.url as string,
    startedAt: r.started_at as string,
    seenAt: r.seen_at as string,
    load: json(r.load) as Record<string, unknown>,
  };
}

export function servingEndpointsFromRow(r: Row, json: JsonDecoder): ServingEndpointsRecord {
  return {
    deploymentId: r.deployment_id as string,
    revision: Number(r.revision),
    model: json(r.model),
    endpoints: json(r.endpoints) as unknown[],
    updatedAt: r.updated_at as string,
  };
}
