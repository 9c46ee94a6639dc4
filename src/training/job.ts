import os from 'node:os';
import path from 'node:path';
import { loadBaseModel } from './base-model.js';
import { baseModelNotInstalledFor, compileTrainingConfig, type TrainingConfig } from './config.js';
import { loadTrainingData, vocabularyTexts, type TrainingData } from './data.js';
import { autoBatchSize, checkpointDirOf, clip, exportArtifact, tokenize, trainEncoder, type EncoderShape, type TokenEncoder } from './engine/index.js';
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

/** What a run tokenizes with, and what the artifact ships to tokenize the same way. */
interface RunTextProcessor {
  encode: TokenEncoder;
  vocabSize: number;
  /** Longest sequence worth measuring (the length caps are lower). */
  maxTokens: number;
  /** Shortest unrolled length: a base tokenizer's special tokens + 1. */
  minTokens: number;
  /** A base model's token embeddings [vocabSize x embDim]; absent for a learned vocabulary. */
  initialEmbedding?: Float32Array;
  embDim: number;
  tokenizerJson: unknown;
  tokenizerConfig: string | null;
  describe: string;
}

/**
 * The text processor of a run: a vocabulary learned from the data (phase `learning-vocabulary`),
 * or the installed base model's tokenizer and token embeddings (`<modelsDir>/<baseModel>/`), whose
 * tokenizer.json and tokenizer_config.json the artifact ships verbatim. With a base, a text
 * truncated at n tokens is exactly what the runner feeds a model whose maxTokens is n (the
 * tokenizer's own truncation: special tokens kept).
 */
async function textProcessorOf(config: TrainingConfig, data: TrainingData, input: TrainingJobInput, onProgress: TrainingJobHooks['onProgress']): Promise<RunTextProcessor> {
  if (config.baseModel === null) {
    const name = config.textProcessor!;
    onProgress?.({ kind: 'phase', phase: 'learning-vocabulary', message: `learning the ${name} vocabulary` });
    const processor = learnTextProcessor(name, vocabularyTexts(data));
    return {
      encode: (text, max) => clip(processor.encode(text), max),
      vocabSize: processor.vocabSize,
      maxTokens: Number.MAX_SAFE_INTEGER,
      minTokens: 1,
      embDim: EMBEDDING_DIM,
      tokenizerJson: processor.toTokenizerJson(),
      tokenizerConfig: null,
      describe: `vocabulary ${processor.vocabSize}`,
    };
  }
  // Same phase: the base's vocabulary is read instead of learned.
  onProgress?.({ kind: 'phase', phase: 'learning-vocabulary', message: `reading the tokenizer and token embeddings of ${config.baseModel}` });
  if (!input.modelsDir) throw new Error(`${config.baseModel}: the run was given no models directory to read the base model from`);
  const base = await loadBaseModel(input.modelsDir, config.baseModel, () => baseModelNotInstalledFor(config));
  const tokenizers = new Map<number, ReturnType<typeof base.tokenizer>>();
  const tokenizerAt = (max: number) => {
    const n = Math.min(max, base.maxTokens);
    let t = tokenizers.get(n);
    if (t === undefined) tokenizers.set(n, (t = base.tokenizer(n)));
    return t;
  };
  const e = base.embeddings;
  return {
    encode: (text, max) => clip(tokenizerAt(max).encode(text).ids, max),
    vocabSize: e.rows,
    maxTokens: base.maxTokens,
    minTokens: tokenizerAt(base.maxTokens).specialTokenCount + 1,
    initialEmbedding: e.values,
    embDim: e.dim,
    tokenizerJson: base.tokenizerJson,
    tokenizerConfig: base.tokenizerConfig,
    describe: `${base.name}'s tokenizer (${base.vocabSize} ids) and token embeddings ${e.initializer} [${e.rows}, ${e.dim}]`,
  };
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

  const text = await textProcessorOf(config, data, input, onProgress);
  const { encode, vocabSize } = text;
  // Unrolled lengths: enough for 95 % of the queries and items, within the caps (and above a
  // base tokenizer's special tokens, which every sequence carries).
  const queryLengths = data.train.map((p) => encode(p.query, text.maxTokens).length);
  const itemLengths = data.index.map((it) => encode(it.text, text.maxTokens).length);
  const queryTokens = Math.max(text.minTokens, lengthCovering(queryLengths, 0.95, MAX_QUERY_TOKENS));
  const itemTokens = Math.max(text.minTokens, lengthCovering(itemLengths, 0.95, MAX_ITEM_TOKENS));
  const tok = tokenize(data, encode, queryTokens, itemTokens);
  signal?.throwIfAborted();

  const shape: EncoderShape = {
    vocabSize,
    embDim: text.initialEmbedding ? text.embDim : EMBEDDING_DIM,
    layers: config.encoder.rnnNames.map((cell, l) => ({ cell, units: config.encoder.rnnUnits[l]! })),
  };
  const batchSize = Math.min(config.trnBatchSize ?? autoBatchSize(tok.pairs.length), Math.max(2, tok.pairs.length));
  onProgress?.({
    kind: 'phase',
    phase: 'training',
    message: `${tok.pairs.length} training pairs, ${data.index.length} items, ${text.describe}, batch ${batchSize}, queries ${queryTokens} / items ${itemTokens} tokens`,
  });
  const metricNames = config.datasetFamily === 'classification' ? CLASSIFICATION_METRICS : RANKING_METRICS;
  const trained = await trainEncoder(data, tok, encode, {
    shape,
    embTrainable: config.encoder.embTrainable,
    ...(text.initialEmbedding && { initialEmbedding: text.initialEmbedding }),
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
    tokenizerJson: text.tokenizerJson,
    tokenizerConfig: text.tokenizerConfig,
    maxTokens: itemTokens,
    config: flat,
    metrics: metrics as unknown as Record<string, unknown>,
  });
  return { artifactDir, vectorSize: config.vectorSize, metrics, config: flat };
}
