import os from 'node:os';
import path from 'node:path';
import { compileTrainingConfig } from './config.js';
import { loadTrainingData, vocabularyTexts } from './data.js';
import { autoBatchSize, checkpointDirOf, exportArtifact, tokenize, trainEncoder, type EncoderShape } from './engine/index.js';
import type { TrainingJobHooks, TrainingJobInput, TrainingJobResult } from './job-types.js';
import { buildTrainingMetrics, CLASSIFICATION_METRICS, RANKING_METRICS } from './metrics.js';
import { learnTextProcessor } from './text-processors.js';

export * from './job-types.js';

/** Embedding width of every trained encoder (Lucidworks' RNN models and the reference encoder use 128). */
export const EMBEDDING_DIM = 128;
/** Caps of the unrolled sequence lengths (tokens) of queries and items. */
export const MAX_QUERY_TOKENS = 16;
export const MAX_ITEM_TOKENS = 48;
export const DEFAULT_SEED = 42;

/** The smallest length that covers `share` of the sequences, within [1, cap]. */
export function lengthCovering(lengths: readonly number[], share: number, cap: number): number {
  if (lengths.length === 0) return 1;
  const sorted = [...lengths].sort((a, b) => a - b);
  const at = sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)]!;
  return Math.max(1, Math.min(cap, at));
}

/**
 * One training run, start to finish: compile the config, read and split the data, learn the
 * vocabulary, train (resuming from `workDir/checkpoint` when it holds this run's checkpoint),
 * export the best epoch to `workDir/artifact`. Data and config problems throw ModeldErrors whose
 * messages say what to fix.
 */
export async function runTrainingJob(input: TrainingJobInput, hooks: TrainingJobHooks = {}): Promise<TrainingJobResult> {
  const { onProgress, signal } = hooks;
  const seed = input.seed ?? DEFAULT_SEED;
  const config = compileTrainingConfig(input.modelType, input.config);

  onProgress?.({ kind: 'phase', phase: 'loading-data', message: 'reading the catalog and the signals' });
  const data = await loadTrainingData(input.trainingData.catalog, input.trainingData.signals, config.columns, {
    dataRoots: input.dataRoots,
    seed,
    ...(input.maxDataBytes !== undefined ? { maxBytes: input.maxDataBytes } : {}),
  });
  signal?.throwIfAborted();

  onProgress?.({ kind: 'phase', phase: 'learning-vocabulary', message: `learning the ${config.textProcessor} vocabulary` });
  const processor = learnTextProcessor(config.textProcessor as Parameters<typeof learnTextProcessor>[0], vocabularyTexts(data));
  const encode = (text: string) => processor.encode(text);
  // Unrolled lengths: enough for 95 % of the queries and items, within the caps.
  const queryTokens = lengthCovering(
    data.train.map((p) => encode(p.query).length),
    0.95,
    MAX_QUERY_TOKENS,
  );
  const itemTokens = lengthCovering(
    data.index.map((it) => encode(it.text).length),
    0.95,
    MAX_ITEM_TOKENS,
  );
  const tok = tokenize(data, encode, queryTokens, itemTokens);
  signal?.throwIfAborted();

  const shape: EncoderShape = {
    vocabSize: processor.vocabSize,
    embDim: EMBEDDING_DIM,
    layers: config.encoder.rnnNames.map((cell, l) => ({ cell, units: config.encoder.rnnUnits[l]! })),
  };
  const batchSize = Math.min(config.trnBatchSize ?? autoBatchSize(tok.pairs.length), Math.max(2, tok.pairs.length));
  onProgress?.({
    kind: 'phase',
    phase: 'training',
    message: `${tok.pairs.length} training pairs, ${data.index.length} items, vocabulary ${processor.vocabSize}, batch ${batchSize}, queries ${queryTokens} / items ${itemTokens} tokens`,
  });
  const metricNames = config.datasetFamily === 'classification' ? CLASSIFICATION_METRICS : RANKING_METRICS;
  const trained = await trainEncoder(data, tok, encode, {
    shape,
    embTrainable: config.encoder.embTrainable,
    embDropout: config.encoder.embSpdp,
    numEpochs: config.numEpochs,
    patience: config.monitorPatience,
    batchSize,
    monitor: config.monitorMetric,
    metricNames,
    queryTokens,
    itemTokens,
    seed,
    threads: input.threads ?? Math.max(1, os.availableParallelism()),
    checkpointDir: checkpointDirOf(input.workDir),
    ...(onProgress ? { onProgress } : {}),
    ...(signal ? { signal } : {}),
  });

  onProgress?.({ kind: 'phase', phase: 'exporting', message: `exporting epoch ${trained.bestEpoch} to ONNX` });
  const metrics = buildTrainingMetrics(
    {
      best_epoch: trained.bestEpoch,
      index_size: data.summary.indexSize,
      vector_size: 2 * shape.layers.at(-1)!.units,
      training_time: Math.round(trained.seconds * 10) / 10,
      num_trn_queries: data.summary.trnQueries,
      num_val_queries: data.summary.valQueries,
      num_unique_training_pairs: data.summary.uniqueTrainingPairs,
    },
    trained.evaluations,
  );
  const artifactDir = path.join(input.workDir, 'artifact');
  const flat = { ...config.flat };
  await exportArtifact(artifactDir, {
    name: input.modelName,
    modelType: input.modelType,
    shape,
    weights: trained.best,
    tokenizerJson: processor.toTokenizerJson(),
    maxTokens: itemTokens,
    config: flat,
    metrics: metrics as unknown as Record<string, unknown>,
  });
  return { artifactDir, vectorSize: config.vectorSize, metrics, config: flat };
}
