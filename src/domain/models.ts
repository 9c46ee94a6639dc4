/** Models: custom (trained or imported, owned by one customer) and pre-trained (shared, by name). */

export const ModelStates = {
  TRAINING: 'TRAINING',
  TRAINING_FAILED: 'TRAINING_FAILED',
  AVAILABLE: 'AVAILABLE',
  DELETING: 'DELETING',
  DELETING_FAILED: 'DELETING_FAILED',
} as const;
export type ModelState = (typeof ModelStates)[keyof typeof ModelStates];

export const ModelCategories = { PRETRAINED: 'pre-trained (shared)', CUSTOM: 'CUSTOM' } as const;

export interface TrainingData {
  catalog: string;
  signals: string;
}

/** A custom model as the store keeps it. `artifactId` names its directory in the artifact store. */
export interface ModelRecord {
  id: string;
  customerId: string;
  name: string;
  /** e.g. `imported`, `ecommerce-rnn`, `general-rnn`. */
  modelType: string;
  description: string | null;
  region: string | null;
  vectorSize: number | null;
  state: ModelState;
  errorMessage: string | null;
  /** Content address of the model artifact (sha256 of its manifest), null until one exists. */
  artifactId: string | null;
  trainingData: TrainingData | null;
  /** The training config as sent, unknown keys kept. */
  config: Record<string, unknown> | null;
  trainingStarted: string | null;
  trainingCompleted: string | null;
  trainingMetrics: Record<string, unknown> | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

/** A pre-trained model found in the models directory; never stored, listed from disk. */
export interface PretrainedModel {
  id: string;
  name: string;
  modelType: string;
  description: string;
  vectorSize: number;
  /** Absolute path of the artifact directory a runner loads. */
  artifactDir: string;
}

/**
 * A model record with every optional field empty: what an import or a system row starts from.
 * `fields` names the owner, the identity and the state; anything else may be overridden.
 */
export function newModelRecord(
  fields: Pick<ModelRecord, 'id' | 'customerId' | 'name' | 'modelType' | 'state' | 'createdBy'> & { at: string } & Partial<ModelRecord>,
): ModelRecord {
  const { at, ...rest } = fields;
  return {
    description: null,
    region: null,
    vectorSize: null,
    errorMessage: null,
    artifactId: null,
    trainingData: null,
    config: null,
    trainingStarted: null,
    trainingCompleted: null,
    trainingMetrics: null,
    createdAt: at,
    updatedAt: at,
    ...rest,
  };
}
