import { ModeldError } from '../errors/index.js';
import type { ChunkingJobPatch, DeploymentSpecPatch, ModelPatch, TrainingJobRecord } from './types.js';

/** How one patchable field is stored: its column, and whether the column holds JSON. */
export interface ColumnSpec {
  column: string;
  json: boolean;
}

export interface Assignment {
  field: string;
  column: string;
  /** Already encoded: JSON columns carry JSON text (or null). */
  value: unknown;
  json: boolean;
}

export const MODEL_PATCH_COLUMNS = {
  state: { column: 'state', json: false },
  errorMessage: { column: 'error_message', json: false },
  artifactId: { column: 'artifact_id', json: false },
  vectorSize: { column: 'vector_size', json: false },
  trainingStarted: { column: 'training_started', json: false },
  trainingCompleted: { column: 'training_completed', json: false },
  trainingMetrics: { column: 'training_metrics', json: true },
  description: { column: 'description', json: false },
  config: { column: 'config', json: true },
} as const satisfies Record<keyof ModelPatch, ColumnSpec>;

export const DEPLOYMENT_SPEC_PATCH_COLUMNS = {
  minReplicas: { column: 'min_replicas', json: false },
  maxReplicas: { column: 'max_replicas', json: false },
  config: { column: 'config', json: true },
  modelId: { column: 'model_id', json: false },
  autoscaling: { column: 'autoscaling', json: true },
} as const satisfies Record<keyof DeploymentSpecPatch, ColumnSpec>;

export type TrainingJobPatch = Partial<Pick<TrainingJobRecord, 'state' | 'progress' | 'checkpoint' | 'attempts' | 'error'>>;

export const CHUNKING_JOB_PATCH_COLUMNS = {
  status: { column: 'status', json: false },
  result: { column: 'result', json: true },
  error: { column: 'error', json: false },
  expiresAt: { column: 'expires_at', json: false },
} as const satisfies Record<keyof ChunkingJobPatch, ColumnSpec>;

export const TRAINING_JOB_PATCH_COLUMNS = {
  state: { column: 'state', json: false },
  progress: { column: 'progress', json: true },
  checkpoint: { column: 'checkpoint', json: false },
  attempts: { column: 'attempts', json: false },
  error: { column: 'error', json: false },
} as const satisfies Record<keyof TrainingJobPatch, ColumnSpec>;

/**
 * Turns a patch into column assignments, in the map's order. Keys whose value is `undefined` are
 * left alone (Partial<> allows them); a key the map does not know is a programming error and
 * throws MODELD_ERR_INTERNAL rather than being dropped silently.
 */
export function assignments(columns: Record<string, ColumnSpec>, patch: object, encode: (field: string, value: unknown) => unknown): Assignment[] {
  const out: Assignment[] = [];
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    const spec = columns[field];
    if (spec === undefined) {
      throw new ModeldError('MODELD_ERR_INTERNAL', `store: field ${field} cannot be patched`, { details: { field } });
    }
    out.push({ field, column: spec.column, json: spec.json, value: spec.json ? encode(field, value) : value });
  }
  return out;
}
