/**
 * Custom-model training: the compiled training config (`compileTrainingConfig`), training data
 * (`resolveDataUri`, `checkDataFile`, `readRows`, `loadTrainingData`), the learned text
 * processors (`learnTextProcessor`) and the evaluation metrics (`evaluateRankings`,
 * `buildTrainingMetrics`). One run start to finish is `runTrainingJob` (job.ts) over the engine
 * (engine/); the job layer that runs runs in worker processes is jobs/. base-model.ts (the
 * tokenizer and token embeddings of a transformer-RNN trainer's base) is imported by the run
 * only, not exported here: it loads onnx-proto, which the server's start need not pay for.
 * docs/training.md.
 */
export {
  compileTrainingConfig,
  baseModelNotInstalled,
  baseModelNotInstalledFor,
  baseModelKey,
  transformerRnnBase,
  transformerRnnTrainerName,
  textProcessorBase,
  CONFIG_KEYS,
  CONFIG_NAMES,
  FAMILY_DEFAULTS,
  TRAINING_FAMILIES,
  RNN_NAMES,
  RNN_UNITS,
  METRIC_NAMES,
  METRIC_KS,
  type TrainingConfig,
  type DatasetColumns,
  type EncoderConfig,
  type TrainingFamily,
  type MetricName,
  type MetricK,
} from './config.js';
export {
  resolveDataUri,
  checkDataFile,
  detectFormat,
  readRows,
  loadTrainingData,
  validationSize,
  sampleQueries,
  vocabularyTexts,
  seededShuffle,
  DEFAULT_MAX_DATA_BYTES,
  type TrainingData,
  type TrainingDataSummary,
  type IndexItem,
  type TrainingPair,
  type LoadOptions,
  type RowSource,
} from './data.js';
export {
  learnTextProcessor,
  textProcessorFromTokenizerJson,
  assertTextProcessorTrainable,
  TEXT_PROCESSOR_NAMES,
  VOCABULARY_CAPS,
  PRETRAINED_TEXT_PROCESSORS,
  PAD_ID,
  UNK_ID,
  type TextProcessor,
  type TextProcessorName,
  type TokenizerJsonDocument,
} from './text-processors.js';
export {
  queryMetric,
  evaluateRankings,
  relevanceByQuery,
  rankByDot,
  bestEpoch,
  shouldStopEarly,
  buildTrainingMetrics,
  RANKING_METRICS,
  CLASSIFICATION_METRICS,
  type RankedQuery,
  type MetricsAtK,
  type EpochEvaluation,
  type TrainingMetrics,
  type TrainingSummary,
} from './metrics.js';
