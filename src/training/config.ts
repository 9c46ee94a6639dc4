import { PRETRAINED_CATALOGUE } from '../domain/index.js';
import { ModeldError } from '../errors/index.js';
import { TEXT_PROCESSOR_NAMES, assertTextProcessorTrainable, type LearnedTextProcessorName, type TextProcessorName } from './text-processors.js';

/**
 * The training config of M2 (`body.config`), compiled once: every key defaulted and checked,
 * the result frozen. The wire form is Lucidworks' flat one: keys are literal dotted names such as
 * `"trainer_config.encoder_config.rnn_units_list"` (and `"trainer_config/text_processor_config"`
 * with a slash), so an error names `body.config.<key>` with an index for list items.
 */

const FIELD = 'body.config';

/** Dataset families. The defaults of the column names and of the monitored metric depend on it. */
export const TRAINING_FAMILIES = ['general', 'ecommerce', 'classification'] as const;
export type TrainingFamily = (typeof TRAINING_FAMILIES)[number];

/** Accepted `dataset_config` / `trainer_config` values, each with its family (the `_rnn` spellings are the same configs). */
export const CONFIG_NAMES = {
  mlp_general: 'general',
  mlp_ecommerce: 'ecommerce',
  mlp_classification: 'classification',
  mlp_general_rnn: 'general',
  mlp_ecommerce_rnn: 'ecommerce',
  mlp_classification_rnn: 'classification',
} as const satisfies Record<string, TrainingFamily>;
export type ConfigName = keyof typeof CONFIG_NAMES;

export const RNN_NAMES = ['gru', 'lstm'] as const;
export type RnnName = (typeof RNN_NAMES)[number];
export const RNN_UNITS = [16, 32, 64, 128, 256, 512] as const;
/** Layers an encoder may stack; Lucidworks advises against more than three. */
export const MAX_RNN_LAYERS = 4;
export const MAX_EPOCHS = 64;
/** Largest explicit `trn_batch_size`; bigger batches do not fit the in-batch negatives matrix in memory. */
export const MAX_BATCH_SIZE = 8192;

export const METRIC_NAMES = ['hit', 'map', 'mrr', 'ndcg', 'recall', 'f1'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];
export const METRIC_KS = [1, 3, 5, 10] as const;
export type MetricK = (typeof METRIC_KS)[number];
const MONITOR_METRIC = /^(hit|map|mrr|ndcg|recall|f1)@(1|3|5|10)$/;

/** Per-family defaults of API.md's config table. */
export const FAMILY_DEFAULTS = {
  general: { title: null, desc: 'text', weight: null, monitorMetric: 'mrr@3', embTrainable: false, monitorPatience: 8 },
  ecommerce: { title: 'name', desc: null, weight: 'aggr_count', monitorMetric: 'ndcg@5', embTrainable: true, monitorPatience: 16 },
  classification: { title: null, desc: 'text', weight: null, monitorMetric: 'mrr@3', embTrainable: false, monitorPatience: 8 },
} as const satisfies Record<TrainingFamily, { title: string | null; desc: string | null; weight: string | null; monitorMetric: string; embTrainable: boolean; monitorPatience: number }>;

/** The flat keys the compiler knows. Any other key is kept and echoed, and has no effect. */
export const CONFIG_KEYS = {
  dataset: 'dataset_config',
  trainer: 'trainer_config',
  textProcessor: 'trainer_config/text_processor_config',
  rnnNames: 'trainer_config.encoder_config.rnn_names_list',
  rnnUnits: 'trainer_config.encoder_config.rnn_units_list',
  embSpdp: 'trainer_config.encoder_config.emb_spdp',
  embTrainable: 'trainer_config.encoder_config.emb_trainable',
  numEpochs: 'trainer_config.num_epochs',
  monitorPatience: 'trainer_config.monitor_patience',
  trnBatchSize: 'trainer_config.trn_batch_size',
  pkidCol: 'dataset_config.pkid_col_name',
  titleCol: 'dataset_config.index_title_col_name',
  descCol: 'dataset_config.index_desc_col_name',
  bodyCol: 'dataset_config.index_body_col_name',
  queryCol: 'dataset_config.query_col_name',
  weightCol: 'dataset_config.weight_col_name',
  monitorMetric: 'dataset_config.metrics_config.monitor_metric',
} as const;
/** The dotted spelling of the text processor key, accepted as a synonym of the slash one. */
const TEXT_PROCESSOR_DOTTED = 'trainer_config.text_processor_config';

/** Which columns of the catalog and of the signals training reads. */
export interface DatasetColumns {
  pkid: string;
  /** Index title column; with `desc`, concatenated as the item text. At least one of the two is set. */
  title: string | null;
  desc: string | null;
  /** Index body column: feeds the vocabulary only. */
  body: string | null;
  query: string;
  /** Signal weight column; null gives every pair weight 1. */
  weight: string | null;
}

export interface EncoderConfig {
  rnnNames: readonly RnnName[];
  rnnUnits: readonly number[];
  /** Spatial dropout on the embeddings, 0..1. */
  embSpdp: number;
  embTrainable: boolean;
}

export interface TrainingConfig {
  modelType: string;
  datasetConfig: ConfigName;
  /** A `CONFIG_NAMES` name, or a transformer-RNN trainer (`e5_small_v2_rnn`): then `baseModel` is set. */
  trainerConfig: string;
  /** The family of `dataset_config`: it picks the column and metric defaults. */
  datasetFamily: TrainingFamily;
  /** The family of `trainer_config` (a transformer-RNN trainer takes the dataset's): it picks `emb_trainable` and `monitor_patience` defaults. */
  trainerFamily: TrainingFamily;
  /** A learned text processor; null when the base model's tokenizer is the text processor. */
  textProcessor: LearnedTextProcessorName | null;
  /**
   * The pre-trained catalogue model (`e5-small-v2`) whose tokenizer is the text processor and whose
   * input token embeddings initialise the encoder's embedding layer (its width becomes the base's
   * hidden size); null for a learned vocabulary. Set by a transformer-RNN `trainer_config`
   * (`e5_small_v2_rnn`) or by a `text_processor_config` naming the model (`e5_small_v2`). It must be
   * installed under `<dataDir>/models/<name>/`: M2 checks it, the run reads it.
   */
  baseModel: string | null;
  /** The config key (`body.config.trainer_config` or the text processor key) that named `baseModel`. */
  baseModelField: string | null;
  encoder: EncoderConfig;
  numEpochs: number;
  monitorPatience: number;
  /** null: chosen from the data size when training starts. */
  trnBatchSize: number | null;
  columns: DatasetColumns;
  monitorMetric: { name: MetricName; k: MetricK; key: string };
  /** A bidirectional last layer: 2 x its units. */
  vectorSize: number;
  /** The config to store and echo: every known key with its effective value, then the unknown keys as given. */
  flat: Readonly<Record<string, unknown>>;
  /** Keys the compiler did not recognize (kept in `flat`, no effect), sorted. */
  unknownKeys: readonly string[];
}

function bad(key: string, message: string, details: Record<string, unknown> = {}): ModeldError {
  const field = `${FIELD}.${key}`;
  return new ModeldError('MODELD_ERR_TRAINING_CONFIG', `${field}: ${message}`, { details: { field, ...details } });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return `a${typeof value === 'object' ? 'n' : ''} ${typeof value}`;
}

/** The config-value spelling of a catalogue name: `-` and `.` become `_` (e5-small-v2 -> e5_small_v2). */
export function baseModelKey(name: string): string {
  return name.replace(/[-.]/g, '_');
}

/** The Lucidworks transformer-RNN trainer config built on a catalogue model (e5-small-v2 -> e5_small_v2_rnn). */
export function transformerRnnTrainerName(baseModel: string): string {
  return `${baseModelKey(baseModel)}_rnn`;
}

/** The catalogue name a transformer-RNN trainer config is built on (`e5_small_v2_rnn` -> e5-small-v2), or null. */
export function transformerRnnBase(value: string): string | null {
  if (!value.endsWith('_rnn')) return null;
  const stem = value.slice(0, -'_rnn'.length);
  return PRETRAINED_CATALOGUE.find((e) => baseModelKey(e.name) === stem)?.name ?? null;
}

/**
 * The catalogue name a `text_processor_config` value names as a base model's tokenizer: the
 * config spelling (`e5_small_v2`) or the catalogue name itself (`e5-small-v2`); null otherwise.
 */
export function textProcessorBase(value: string): string | null {
  return PRETRAINED_CATALOGUE.find((e) => e.name === value || baseModelKey(e.name) === value)?.name ?? null;
}

/**
 * The sentence of the 400 for a base model that is not installed: names the model and the
 * command that installs it. `field` is the config key that named it (`body.config.trainer_config`),
 * `namedAs` the value it was named by (default the trainer name, `e5_small_v2_rnn`).
 * Thrown by M2 before anything is written, and by a training run whose base disappeared since.
 */
export function baseModelNotInstalled(baseModel: string, field = `${FIELD}.${CONFIG_KEYS.trainer}`, namedAs = transformerRnnTrainerName(baseModel)): ModeldError {
  const entry = PRETRAINED_CATALOGUE.find((e) => e.name === baseModel);
  const source = entry ? ` (a Hugging Face export of ${entry.source}: tokenizer.json, config.json, onnx/model.onnx)` : '';
  return new ModeldError(
    'MODELD_ERR_TRAINING_CONFIG',
    `${field}: ${namedAs} starts from the pre-trained model ${baseModel}'s tokenizer and token embeddings, and ${baseModel} is not installed on this server; an operator installs it${source} with \`modeld models install ${baseModel} <folder>\` on the server machine, then submit the model again`,
    { details: { field, baseModel, install: `modeld models install ${baseModel} <folder>` } },
  );
}

/** `baseModelNotInstalled` for a compiled config with a base model: names the key and the value that asked for it. */
export function baseModelNotInstalledFor(config: Pick<TrainingConfig, 'baseModel' | 'baseModelField' | 'trainerConfig'>): ModeldError {
  const base = config.baseModel!;
  const byTrainer = config.baseModelField === `${FIELD}.${CONFIG_KEYS.trainer}`;
  return baseModelNotInstalled(base, config.baseModelField ?? undefined, byTrainer ? config.trainerConfig : baseModelKey(base));
}

/** The accepted `trainer_config` / `dataset_config` value, and for a transformer-RNN trainer its base model. */
function configName(raw: Record<string, unknown>, key: string): { name: string; family: TrainingFamily | null; base: string | null } {
  const value = raw[key];
  const names = Object.keys(CONFIG_NAMES);
  const trainers = key === CONFIG_KEYS.trainer ? `, or a transformer-RNN trainer on an installed pre-trained model (${PRETRAINED_CATALOGUE.map((e) => transformerRnnTrainerName(e.name)).join(', ')})` : '';
  if (value === undefined) throw bad(key, `required; one of ${names.join(', ')}${trainers}`);
  const base = key === CONFIG_KEYS.trainer && typeof value === 'string' ? transformerRnnBase(value) : null;
  // Lucidworks' transformer-RNN trainers (e5_small_v2_rnn, gte_small_rnn, ...) start from a
  // pre-trained model's tokenizer and token embeddings; whether that model is installed is for
  // the caller to check (M2 and the run), the compiler does no I/O.
  if (base) return { name: value as string, family: null, base };
  if (typeof value !== 'string' || !Object.hasOwn(CONFIG_NAMES, value)) {
    throw bad(key, `must be one of ${names.join(', ')}${trainers}, got ${describe(value)}`, { allowed: names });
  }
  return { name: value, family: CONFIG_NAMES[value as ConfigName], base: null };
}

function integer(raw: Record<string, unknown>, key: string, min: number, max: number, fallback: number): number {
  const value = raw[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw bad(key, `must be an integer ${range}, got ${describe(value)}`, { min, max });
  }
  return value;
}

function columnName(raw: Record<string, unknown>, key: string, nullable: boolean, fallback: string | null): string | null {
  const value = raw[key];
  if (value === undefined) return fallback;
  if (value === null && nullable) return null;
  if (typeof value !== 'string' || value.trim() === '') {
    throw bad(key, `must be a column name${nullable ? ' or null' : ''}, got ${describe(value)}`);
  }
  return value;
}

function list(raw: Record<string, unknown>, key: string): unknown[] | undefined {
  const value = raw[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw bad(key, `must be a list, got ${describe(value)}`);
  if (value.length === 0 || value.length > MAX_RNN_LAYERS) throw bad(key, `must have 1 to ${MAX_RNN_LAYERS} entries (one per layer), got ${value.length}`);
  return value;
}

/**
 * Compiles M2's `config` for a model of `modelType`. Returns a frozen TrainingConfig with every
 * default of API.md's table applied (dataset-side defaults from `dataset_config`'s family,
 * trainer-side ones from `trainer_config`'s). Unknown keys are kept in `flat` and listed in
 * `unknownKeys`.
 *
 * Throws MODELD_ERR_TRAINING_CONFIG (400) naming the first wrong key, e.g.
 * `body.config.trainer_config.encoder_config.rnn_units_list[1]: must be one of 16, 32, 64, 128, 256, 512`;
 * a pre-trained text processor modeld cannot provide offline is refused here too (see
 * text-processors.ts), never replaced by another one.
 */
export function compileTrainingConfig(modelType: string, rawConfig: unknown): TrainingConfig {
  if (typeof modelType !== 'string' || modelType.trim() === '') {
    throw new ModeldError('MODELD_ERR_TRAINING_CONFIG', 'body.modelType: must be a non-empty string', { details: { field: 'body.modelType' } });
  }
  if (typeof rawConfig !== 'object' || rawConfig === null || Array.isArray(rawConfig)) {
    throw new ModeldError('MODELD_ERR_TRAINING_CONFIG', `${FIELD}: must be an object of flat training keys (at least dataset_config and trainer_config), got ${describe(rawConfig)}`, {
      details: { field: FIELD },
    });
  }
  const raw = rawConfig as Record<string, unknown>;
  const K = CONFIG_KEYS;

  const dataset = configName(raw, K.dataset);
  const trainer = configName(raw, K.trainer);
  const datasetConfig = dataset.name as ConfigName;
  const trainerConfig = trainer.name;
  const datasetFamily: TrainingFamily = dataset.family!;
  // A transformer-RNN trainer names no family: it takes the dataset's (emb_trainable, patience).
  const trainerFamily: TrainingFamily = trainer.family ?? datasetFamily;
  const dDefaults = FAMILY_DEFAULTS[datasetFamily];
  const tDefaults = FAMILY_DEFAULTS[trainerFamily];

  if (raw[K.textProcessor] !== undefined && raw[TEXT_PROCESSOR_DOTTED] !== undefined && raw[K.textProcessor] !== raw[TEXT_PROCESSOR_DOTTED]) {
    throw bad(TEXT_PROCESSOR_DOTTED, `conflicts with ${K.textProcessor}; give the text processor once`);
  }
  const tpKey = raw[K.textProcessor] !== undefined ? K.textProcessor : raw[TEXT_PROCESSOR_DOTTED] !== undefined ? TEXT_PROCESSOR_DOTTED : K.textProcessor;
  // The text processor: a learned one, or a base model's tokenizer (named by the trainer, or here
  // by the model's name in either spelling). Both naming different bases, or a learned processor
  // with a transformer-RNN trainer, is a contradiction: the embeddings belong to one vocabulary.
  const tpRaw = raw[tpKey];
  const tpBase = typeof tpRaw === 'string' ? textProcessorBase(tpRaw) : null;
  const baseModel = trainer.base ?? tpBase;
  let textProcessor: LearnedTextProcessorName | null = null;
  if (trainer.base && tpRaw !== undefined && tpBase !== trainer.base) {
    throw bad(
      tpKey,
      `${trainerConfig} tokenizes with ${trainer.base}'s tokenizer (its token embeddings belong to that vocabulary); give ${baseModelKey(trainer.base)} or leave ${tpKey} out, got ${describe(tpRaw)}`,
      { allowed: [baseModelKey(trainer.base), trainer.base] },
    );
  }
  if (baseModel === null) {
    const tpValue = tpRaw ?? 'word_en';
    if (typeof tpValue !== 'string' || !(TEXT_PROCESSOR_NAMES as readonly string[]).includes(tpValue)) {
      throw bad(tpKey, `must be one of ${TEXT_PROCESSOR_NAMES.join(', ')}, or an installed pre-trained model's tokenizer (e.g. e5_small_v2), got ${describe(tpValue)}`, {
        allowed: [...TEXT_PROCESSOR_NAMES],
      });
    }
    const name = tpValue as TextProcessorName;
    assertTextProcessorTrainable(name, `${FIELD}.${tpKey}`);
    textProcessor = name;
  }
  /** Which key named the base model: what a "not installed" refusal points at. */
  const baseModelField = baseModel === null ? null : `${FIELD}.${trainer.base ? K.trainer : tpKey}`;

  const namesRaw = list(raw, K.rnnNames);
  const rnnNames: RnnName[] = (namesRaw ?? ['gru']).map((v, i) => {
    if (typeof v !== 'string' || !(RNN_NAMES as readonly string[]).includes(v)) throw bad(`${K.rnnNames}[${i}]`, `must be one of ${RNN_NAMES.join(', ')}, got ${describe(v)}`);
    return v as RnnName;
  });
  const unitsRaw = list(raw, K.rnnUnits);
  const rnnUnits: number[] = (unitsRaw ?? [128]).map((v, i) => {
    if (typeof v !== 'number' || !(RNN_UNITS as readonly number[]).includes(v)) {
      throw bad(`${K.rnnUnits}[${i}]`, `must be one of ${RNN_UNITS.join(', ')}, got ${describe(v)}`, { allowed: [...RNN_UNITS] });
    }
    return v;
  });
  if (rnnNames.length !== rnnUnits.length) {
    const key = unitsRaw !== undefined ? K.rnnUnits : K.rnnNames;
    throw bad(key, `${rnnUnits.length} unit counts for ${rnnNames.length} layers (${K.rnnNames}${namesRaw === undefined ? ' defaults to ["gru"]' : ''}${unitsRaw === undefined ? `, ${K.rnnUnits} defaults to [128]` : ''}); the two lists must have the same length`);
  }

  const spdp = raw[K.embSpdp] ?? 0.3;
  if (typeof spdp !== 'number' || !Number.isFinite(spdp) || spdp < 0 || spdp > 1) throw bad(K.embSpdp, `must be a number from 0.0 to 1.0, got ${describe(spdp)}`);
  const trainable = raw[K.embTrainable] ?? tDefaults.embTrainable;
  if (typeof trainable !== 'boolean') throw bad(K.embTrainable, `must be true or false, got ${describe(trainable)}`);

  const numEpochs = integer(raw, K.numEpochs, 1, MAX_EPOCHS, MAX_EPOCHS);
  // No upper bound: a patience above num_epochs just turns early stopping off.
  const monitorPatience = integer(raw, K.monitorPatience, 1, Number.MAX_SAFE_INTEGER, tDefaults.monitorPatience);
  const batchRaw = raw[K.trnBatchSize];
  const trnBatchSize = batchRaw === null || batchRaw === 0 ? null : batchRaw === undefined ? null : integer(raw, K.trnBatchSize, 1, MAX_BATCH_SIZE, 0);

  const columns: DatasetColumns = {
    pkid: columnName(raw, K.pkidCol, false, 'pkid')!,
    title: columnName(raw, K.titleCol, true, dDefaults.title),
    desc: columnName(raw, K.descCol, true, dDefaults.desc),
    body: columnName(raw, K.bodyCol, true, null),
    query: columnName(raw, K.queryCol, false, 'query')!,
    weight: columnName(raw, K.weightCol, true, dDefaults.weight),
  };
  if (columns.title === null && columns.desc === null) {
    throw bad(K.descCol, `the index needs a title or a description column; both ${K.titleCol} and ${K.descCol} are null`);
  }

  const metric = raw[K.monitorMetric] ?? dDefaults.monitorMetric;
  const m = typeof metric === 'string' ? MONITOR_METRIC.exec(metric) : null;
  if (m === null) throw bad(K.monitorMetric, `must match (hit|map|mrr|ndcg|recall|f1)@(1|3|5|10), got ${describe(metric)}`);
  if (m[1] === 'f1' && datasetFamily !== 'classification') {
    throw bad(K.monitorMetric, `f1 is computed for classification datasets only; ${K.dataset} is ${datasetConfig}`);
  }
  const monitorMetric = { name: m[1] as MetricName, k: Number(m[2]) as MetricK, key: metric as string };

  const known: Record<string, unknown> = {
    [K.dataset]: datasetConfig,
    [K.trainer]: trainerConfig,
    [K.textProcessor]: baseModel ? baseModelKey(baseModel) : textProcessor,
    [K.rnnNames]: [...rnnNames],
    [K.rnnUnits]: [...rnnUnits],
    [K.embSpdp]: spdp,
    [K.embTrainable]: trainable,
    [K.numEpochs]: numEpochs,
    [K.monitorPatience]: monitorPatience,
    [K.trnBatchSize]: trnBatchSize,
    [K.pkidCol]: columns.pkid,
    [K.titleCol]: columns.title,
    [K.descCol]: columns.desc,
    [K.bodyCol]: columns.body,
    [K.queryCol]: columns.query,
    [K.weightCol]: columns.weight,
    [K.monitorMetric]: monitorMetric.key,
  };
  const knownKeys = new Set<string>([...Object.values(K), TEXT_PROCESSOR_DOTTED]);
  const unknownKeys = Object.keys(raw).filter((k) => !knownKeys.has(k)).sort();
  const flat: Record<string, unknown> = { ...known };
  for (const k of unknownKeys) flat[k] = raw[k];

  return deepFreeze({
    modelType,
    datasetConfig,
    trainerConfig,
    datasetFamily,
    trainerFamily,
    textProcessor,
    baseModel,
    baseModelField,
    encoder: { rnnNames, rnnUnits, embSpdp: spdp, embTrainable: trainable },
    numEpochs,
    monitorPatience,
    trnBatchSize,
    columns,
    monitorMetric,
    vectorSize: 2 * rnnUnits[rnnUnits.length - 1]!,
    flat,
    unknownKeys,
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
