/**
 * The training config keys the console offers (M2 `config`, Lucidworks' flat dotted keys), with
 * their documented defaults (API.md's config table; docs/training.md) and the checks the server
 * makes (src/training/config.ts), so that a wrong value is named before anything is sent. The
 * server checks again: this table only spares a round trip. test/web/training-keys.test.ts
 * compares every default here with what the server compiles, so the two cannot drift apart.
 */

export type Family = 'general' | 'ecommerce' | 'classification';

export const CONFIG_NAMES: Record<string, Family> = {
  mlp_general: 'general',
  mlp_ecommerce: 'ecommerce',
  mlp_classification: 'classification',
  mlp_general_rnn: 'general',
  mlp_ecommerce_rnn: 'ecommerce',
  mlp_classification_rnn: 'classification',
};

const RNN_UNITS = [16, 32, 64, 128, 256, 512];
const RNN_NAMES = ['gru', 'lstm'];
const MAX_LAYERS = 4;
const MONITOR = /^(hit|map|mrr|ndcg|recall|f1)@(1|3|5|10)$/;
const TEXT_PROCESSORS = ['word_en', 'word_custom', 'bpe_custom'];

/**
 * A transformer-RNN trainer (`e5_small_v2_rnn`): an RNN encoder on an installed pre-trained
 * model's tokenizer and token embeddings. The server checks that the name is a catalogue model's
 * and that it is installed; it takes the dataset's family for its defaults.
 */
export function isTransformerTrainer(value: unknown): value is string {
  return typeof value === 'string' && !(value in CONFIG_NAMES) && /^[a-z0-9_]+_rnn$/.test(value);
}

/** The config spelling of a pre-trained model id (e5-small-v2 -> e5_small_v2). */
export function baseKey(id: string): string {
  return id.replace(/[-.]/g, '_');
}

export type KeyKind = 'choice' | 'integer' | 'number' | 'boolean' | 'column' | 'list';

export interface ConfigKey {
  key: string;
  label: string;
  kind: KeyKind;
  doc: string;
  /** Choices of a `choice` key. */
  choices?: readonly string[];
  /** Column keys that may be null (no such column). */
  nullable?: boolean;
  /** The default for a dataset family and a trainer family (undefined: required, no default); `given` is the config so far. */
  defaultFor: (dataset: Family, trainer: Family, given?: Record<string, unknown>) => unknown;
  /**
   * Choices that depend on the config so far and on the pre-trained models installed on the
   * server (their ids): the transformer-RNN trainers, the base model's tokenizer.
   */
  choicesFor?: (given: Record<string, unknown>, installedPretrained: readonly string[]) => readonly string[];
  /** Checks a value (already parsed from the form); returns the message, or null when valid. */
  check: (value: unknown, all: Record<string, unknown>) => string | null;
}

const FAMILY = {
  general: { title: null, desc: 'text', weight: null, monitor: 'mrr@3', embTrainable: false, patience: 8 },
  ecommerce: { title: 'name', desc: null, weight: 'aggr_count', monitor: 'ndcg@5', embTrainable: true, patience: 16 },
  classification: { title: null, desc: 'text', weight: null, monitor: 'mrr@3', embTrainable: false, patience: 8 },
} as const;

const int = (min: number, max: number) => (v: unknown) =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? null : `must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}`;
const column = (nullable: boolean) => (v: unknown) =>
  (v === null && nullable) || (typeof v === 'string' && v.trim() !== '') ? null : `must be a column name${nullable ? ' or empty for none' : ''}`;

export const CONFIG_KEYS: readonly ConfigKey[] = [
  {
    key: 'dataset_config',
    label: 'Dataset config',
    kind: 'choice',
    choices: Object.keys(CONFIG_NAMES),
    doc: 'Dataset family: picks the column and monitored-metric defaults.',
    defaultFor: () => undefined,
    check: (v) => (typeof v === 'string' && v in CONFIG_NAMES ? null : `must be one of ${Object.keys(CONFIG_NAMES).join(', ')}`),
  },
  {
    key: 'trainer_config',
    label: 'Trainer config',
    kind: 'choice',
    choices: Object.keys(CONFIG_NAMES),
    choicesFor: (_given, installed) => [...Object.keys(CONFIG_NAMES), ...installed.map((id) => `${baseKey(id)}_rnn`)],
    doc: 'Trainer family: picks emb_trainable and monitor_patience defaults. <model>_rnn trains on an installed pre-trained model\'s tokenizer and token embeddings.',
    defaultFor: () => undefined,
    check: (v) =>
      (typeof v === 'string' && v in CONFIG_NAMES) || isTransformerTrainer(v) ? null : `must be one of ${Object.keys(CONFIG_NAMES).join(', ')}, or <installed pre-trained model>_rnn`,
  },
  {
    key: 'trainer_config.num_epochs',
    label: 'Epochs',
    kind: 'integer',
    doc: 'Most epochs to train (early stopping may end sooner).',
    defaultFor: () => 64,
    check: int(1, 64),
  },
  {
    key: 'trainer_config.monitor_patience',
    label: 'Monitor patience',
    kind: 'integer',
    doc: 'Epochs without a better monitored metric before training stops.',
    defaultFor: (_d, t) => FAMILY[t].patience,
    check: int(1, Number.MAX_SAFE_INTEGER),
  },
  {
    key: 'trainer_config.trn_batch_size',
    label: 'Batch size',
    kind: 'integer',
    doc: 'Training pairs per batch; empty: chosen from the data size.',
    nullable: true,
    defaultFor: () => null,
    check: (v) => (v === null ? null : int(1, 8192)(v)),
  },
  {
    key: 'trainer_config/text_processor_config',
    label: 'Text processor',
    kind: 'choice',
    choices: TEXT_PROCESSORS,
    choicesFor: (given) => (isTransformerTrainer(given.trainer_config) ? [given.trainer_config.slice(0, -'_rnn'.length)] : TEXT_PROCESSORS),
    doc: "Tokenization learned from your data (word_en: 30,000 words; word_custom: 100,000; bpe_custom: 10,000 BPE pieces); a <model>_rnn trainer uses its base model's tokenizer.",
    defaultFor: (_d, _t, given) => (isTransformerTrainer(given?.trainer_config) ? given.trainer_config.slice(0, -'_rnn'.length) : 'word_en'),
    check: (v, all) => {
      const trainer = all.trainer_config;
      if (isTransformerTrainer(trainer)) {
        const base = trainer.slice(0, -'_rnn'.length);
        return v === base ? null : `${trainer} tokenizes with its base model's tokenizer: give ${base} or leave it empty`;
      }
      return typeof v === 'string' && TEXT_PROCESSORS.includes(v) ? null : `must be one of ${TEXT_PROCESSORS.join(', ')}`;
    },
  },
  {
    key: 'trainer_config.encoder_config.rnn_names_list',
    label: 'RNN layers',
    kind: 'list',
    doc: 'One per layer: gru or lstm, e.g. ["gru"] (at most 4).',
    defaultFor: () => ['gru'],
    check: (v, all) => {
      if (!Array.isArray(v) || v.length === 0 || v.length > MAX_LAYERS) return `must be a list of 1 to ${MAX_LAYERS} entries`;
      const i = v.findIndex((x) => !RNN_NAMES.includes(x as string));
      if (i >= 0) return `[${i}] must be one of ${RNN_NAMES.join(', ')}`;
      const units = all['trainer_config.encoder_config.rnn_units_list'];
      return Array.isArray(units) && units.length !== v.length ? 'needs as many entries as the units list' : null;
    },
  },
  {
    key: 'trainer_config.encoder_config.rnn_units_list',
    label: 'RNN units',
    kind: 'list',
    doc: 'Units per layer, each of 16, 32, 64, 128, 256, 512, e.g. [128]; the vector size is twice the last.',
    defaultFor: () => [128],
    check: (v) => {
      if (!Array.isArray(v) || v.length === 0 || v.length > MAX_LAYERS) return `must be a list of 1 to ${MAX_LAYERS} entries`;
      const i = v.findIndex((x) => !RNN_UNITS.includes(x as number));
      return i >= 0 ? `[${i}] must be one of ${RNN_UNITS.join(', ')}` : null;
    },
  },
  {
    key: 'trainer_config.encoder_config.emb_spdp',
    label: 'Embedding dropout',
    kind: 'number',
    doc: 'Spatial dropout on the token embeddings, 0.0 to 1.0.',
    defaultFor: () => 0.3,
    check: (v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1 ? null : 'must be a number from 0.0 to 1.0'),
  },
  {
    key: 'trainer_config.encoder_config.emb_trainable',
    label: 'Train embeddings',
    kind: 'boolean',
    doc: 'Whether the token embeddings are trained.',
    defaultFor: (_d, t) => FAMILY[t].embTrainable,
    check: (v) => (typeof v === 'boolean' ? null : 'must be true or false'),
  },
  {
    key: 'dataset_config.pkid_col_name',
    label: 'Item id column',
    kind: 'column',
    doc: 'Catalog and signals column with the item id.',
    defaultFor: () => 'pkid',
    check: column(false),
  },
  {
    key: 'dataset_config.index_title_col_name',
    label: 'Title column',
    kind: 'column',
    nullable: true,
    doc: 'Catalog title column (empty: none).',
    defaultFor: (d) => FAMILY[d].title,
    check: column(true),
  },
  {
    key: 'dataset_config.index_desc_col_name',
    label: 'Description column',
    kind: 'column',
    nullable: true,
    doc: 'Catalog description column (empty: none); title or description is needed.',
    defaultFor: (d) => FAMILY[d].desc,
    check: (v, all) => column(true)(v) ?? (v === null && all['dataset_config.index_title_col_name'] === null ? 'a title or a description column is needed' : null),
  },
  {
    key: 'dataset_config.index_body_col_name',
    label: 'Body column',
    kind: 'column',
    nullable: true,
    doc: 'Catalog body column, for the vocabulary only (empty: none).',
    defaultFor: () => null,
    check: column(true),
  },
  {
    key: 'dataset_config.query_col_name',
    label: 'Query column',
    kind: 'column',
    doc: 'Signals column with the query text.',
    defaultFor: () => 'query',
    check: column(false),
  },
  {
    key: 'dataset_config.weight_col_name',
    label: 'Weight column',
    kind: 'column',
    nullable: true,
    doc: 'Signals column weighting each pair (empty: weight 1).',
    defaultFor: (d) => FAMILY[d].weight,
    check: column(true),
  },
  {
    key: 'dataset_config.metrics_config.monitor_metric',
    label: 'Monitored metric',
    kind: 'choice',
    choices: ['hit', 'map', 'mrr', 'ndcg', 'recall', 'f1'].flatMap((m) => ['1', '3', '5', '10'].map((k) => `${m}@${k}`)),
    doc: 'Validation metric that picks the best epoch and drives early stopping (f1: classification only).',
    defaultFor: (d) => FAMILY[d].monitor,
    check: (v, all) => {
      if (typeof v !== 'string' || !MONITOR.test(v)) return 'must be metric@k, e.g. ndcg@5';
      return v.startsWith('f1@') && CONFIG_NAMES[all.dataset_config as string] !== 'classification' ? 'f1 is for classification datasets only' : null;
    },
  },
];

/** Families of a (possibly incomplete) config, ecommerce when unset. */
export function familiesOf(config: Record<string, unknown>): { dataset: Family; trainer: Family } {
  const dataset = CONFIG_NAMES[config.dataset_config as string] ?? 'ecommerce';
  // A transformer-RNN trainer names no family: it takes the dataset's.
  return { dataset, trainer: CONFIG_NAMES[config.trainer_config as string] ?? (isTransformerTrainer(config.trainer_config) ? dataset : 'ecommerce') };
}

/** Every key with its effective value: the given one, else the default for the config's families. */
export function effectiveConfig(given: Record<string, unknown>): Record<string, unknown> {
  const { dataset, trainer } = familiesOf(given);
  const out: Record<string, unknown> = {};
  for (const k of CONFIG_KEYS) out[k.key] = k.key in given ? given[k.key] : k.defaultFor(dataset, trainer, given);
  return out;
}

/** The problems of a config, by key (`body.config.<key>` on the server); empty when it can be sent. */
export function validateConfig(given: Record<string, unknown>): Record<string, string> {
  const all = effectiveConfig(given);
  const errors: Record<string, string> = {};
  for (const k of CONFIG_KEYS) {
    const v = all[k.key];
    if (v === undefined) {
      errors[k.key] = 'required';
      continue;
    }
    const problem = k.check(v, all);
    if (problem) errors[k.key] = problem;
  }
  return errors;
}

/**
 * Parses what the form holds for a key: '' is "not given" (the default applies) except for
 * nullable columns and the batch size, where the literal `null` clears it. Returns
 * `{value}` or `{error}`.
 */
export function parseField(k: ConfigKey, text: string): { value?: unknown; error?: string; unset?: true } {
  const t = text.trim();
  if (t === '') return { unset: true };
  if (k.nullable && t === 'null') return { value: null };
  switch (k.kind) {
    case 'integer':
    case 'number': {
      const n = Number(t);
      return Number.isFinite(n) ? { value: n } : { error: 'must be a number' };
    }
    case 'boolean':
      return t === 'true' ? { value: true } : t === 'false' ? { value: false } : { error: 'must be true or false' };
    case 'list':
      try {
        const v: unknown = JSON.parse(t);
        return Array.isArray(v) ? { value: v } : { error: 'must be a JSON list, e.g. [128]' };
      } catch {
        return { error: 'must be a JSON list, e.g. [128]' };
      }
    default:
      return { value: t };
  }
}
