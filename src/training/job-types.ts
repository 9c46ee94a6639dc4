/**
 * The contract between the job layer (queue, worker process, store, API, CLI) and one training
 * run (`runTrainingJob` in job.ts: load the data, learn the text processor, train the encoder,
 * evaluate every epoch, export a modeld artifact). Everything here is JSON-serializable so that
 * it crosses the worker process boundary as is.
 */
import type { EpochEvaluation, TrainingMetrics } from './metrics.js';

export interface TrainingJobInput {
  modelId: string;
  /** The model's name: becomes the artifact's manifest name. */
  modelName: string;
  /** `ecommerce-rnn` or `general-rnn`. */
  modelType: string;
  /** The flat config as the client sent it (or as stored: compiling the stored form gives the same result). */
  config: Record<string, unknown>;
  /** `file://` URIs of the catalog and the signals files. */
  trainingData: { catalog: string; signals: string };
  /** Directories the files must be inside (the server's `training.dataRoots`, or narrower). */
  dataRoots: string[];
  /**
   * The job's own directory. A run writes `checkpoint/` there after every epoch and `artifact/`
   * at the end; a run started again with the same directory and input resumes after the last
   * finished epoch.
   */
  workDir: string;
  /** Fixes the validation split, initialization, shuffling and dropout. Default 42. */
  seed?: number;
  /** Compute threads (onnxruntime intra-op). Default: the machine's cores. */
  threads?: number;
  /** Largest data file accepted, bytes. */
  maxDataBytes?: number;
  /**
   * The installed pre-trained models (`<dataDir>/models`): a config with a base model
   * (`trainer_config: "e5_small_v2_rnn"`) reads its tokenizer and token embeddings from
   * `<modelsDir>/<name>/`. Without it such a config fails.
   */
  modelsDir?: string;
}

export type TrainingPhase = 'loading-data' | 'learning-vocabulary' | 'training' | 'exporting';

export type TrainingProgress =
  | { kind: 'phase'; phase: TrainingPhase; message: string }
  /** Every few seconds during an epoch. */
  | {
      kind: 'step';
      epoch: number;
      numEpochs: number;
      step: number;
      steps: number;
      /** Mean training loss of the epoch so far. */
      loss: number;
      pairsPerSecond: number;
      /** Seconds left if every remaining epoch runs (early stopping may end sooner). */
      etaSeconds: number;
    }
  /** After an epoch's evaluation. */
  | {
      kind: 'epoch';
      epoch: number;
      numEpochs: number;
      loss: number;
      /** The monitored metric, e.g. `{key: "ndcg@5", value: 0.41}` on the validation queries. */
      monitor: { key: string; value: number };
      bestEpoch: number;
      evaluation: EpochEvaluation;
      trainSeconds: number;
      evalSeconds: number;
      etaSeconds: number;
      /** True when training ends after this epoch: it was the last one (epoch === numEpochs), or early stopping ends it. */
      stopping: boolean;
    }
  /** A run that resumed from a checkpoint says so once, before its first epoch. */
  | { kind: 'resumed'; fromEpoch: number };

export interface TrainingJobResult {
  /** `<workDir>/artifact`: a complete modeld artifact directory (manifest.json, model.onnx, tokenizer.json). */
  artifactDir: string;
  vectorSize: number;
  metrics: TrainingMetrics;
  /** The config as compiled and stored (every key with its effective value). */
  config: Record<string, unknown>;
}

export interface TrainingJobHooks {
  onProgress?: (progress: TrainingProgress) => void;
  /** Aborting stops the run between two steps; runTrainingJob then rejects with an AbortError. */
  signal?: AbortSignal;
}
