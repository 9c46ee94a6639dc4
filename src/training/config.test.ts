import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileTrainingConfig } from './config.js';
import { ModeldError } from '../errors/index.js';

const base = { dataset_config: 'mlp_ecommerce', trainer_config: 'mlp_ecommerce' };

function refused(config: unknown, field: string, message: RegExp, modelType = 'ecommerce-rnn'): void {
  assert.throws(
    () => compileTrainingConfig(modelType, config),
    (err: unknown) => {
      assert.ok(err instanceof ModeldError);
      assert.equal(err.code, 'MODELD_ERR_TRAINING_CONFIG');
      assert.equal(err.status, 400);
      assert.equal(err.details?.field, field);
      assert.ok(err.message.startsWith(`${field}: `), err.message);
      assert.match(err.message, message);
      return true;
    },
  );
}

test('ecommerce defaults fill every key of the table', () => {
  const c = compileTrainingConfig('ecommerce-rnn', base);
  assert.equal(c.datasetFamily, 'ecommerce');
  assert.equal(c.textProcessor, 'word_en');
  assert.deepEqual(c.encoder, { rnnNames: ['gru'], rnnUnits: [128], embSpdp: 0.3, embTrainable: true });
  assert.equal(c.numEpochs, 64);
  assert.equal(c.monitorPatience, 16);
  assert.equal(c.trnBatchSize, null);
  assert.deepEqual(c.columns, { pkid: 'pkid', title: 'name', desc: null, body: null, query: 'query', weight: 'aggr_count' });
  assert.deepEqual(c.monitorMetric, { name: 'ndcg', k: 5, key: 'ndcg@5' });
  assert.equal(c.vectorSize, 256);
  assert.equal(c.flat['trainer_config.encoder_config.emb_trainable'], true);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.encoder.rnnUnits) && Object.isFrozen(c.flat));
});

test('general defaults differ where the table says, and _rnn spellings are accepted', () => {
  const c = compileTrainingConfig('general-rnn', { dataset_config: 'mlp_general_rnn', trainer_config: 'mlp_general_rnn' });
  assert.equal(c.datasetFamily, 'general');
  assert.equal(c.encoder.embTrainable, false);
  assert.equal(c.monitorPatience, 8);
  assert.deepEqual(c.columns, { pkid: 'pkid', title: null, desc: 'text', body: null, query: 'query', weight: null });
  assert.equal(c.monitorMetric.key, 'mrr@3');
});

test('given values win, unknown keys are kept and echoed, batch size 0 means automatic', () => {
  const c = compileTrainingConfig('ecommerce-rnn', {
    ...base,
    'trainer_config/text_processor_config': 'bpe_custom',
    'trainer_config.encoder_config.rnn_names_list': ['lstm', 'gru'],
    'trainer_config.encoder_config.rnn_units_list': [64, 512],
    'trainer_config.encoder_config.emb_spdp': 0,
    'trainer_config.num_epochs': 1,
    'trainer_config.trn_batch_size': 0,
    'dataset_config.index_desc_col_name': 'description',
    'dataset_config.weight_col_name': null,
    'dataset_config.metrics_config.monitor_metric': 'recall@10',
    'trainer_config.some_future_knob': { a: 1 },
  });
  assert.equal(c.textProcessor, 'bpe_custom');
  assert.deepEqual(c.encoder.rnnNames, ['lstm', 'gru']);
  assert.equal(c.vectorSize, 1024);
  assert.equal(c.encoder.embSpdp, 0);
  assert.equal(c.numEpochs, 1);
  assert.equal(c.trnBatchSize, null);
  assert.equal(c.columns.desc, 'description');
  assert.equal(c.columns.title, 'name');
  assert.equal(c.columns.weight, null);
  assert.deepEqual(c.unknownKeys, ['trainer_config.some_future_knob']);
  assert.deepEqual(c.flat['trainer_config.some_future_knob'], { a: 1 });
  assert.equal(c.flat['trainer_config.trn_batch_size'], null);
  assert.equal(compileTrainingConfig('x', { ...base, 'trainer_config.trn_batch_size': 256 }).trnBatchSize, 256);
  assert.equal(compileTrainingConfig('x', { ...base, 'trainer_config.monitor_patience': 100 }).monitorPatience, 100);
});

test('wrong types and ranges are 400s naming the key path', () => {
  const K = 'body.config.';
  refused(null, 'body.config', /must be an object/);
  refused({ trainer_config: 'mlp_general' }, `${K}dataset_config`, /required/);
  refused({ ...base, dataset_config: 'mlp_unknown' }, `${K}dataset_config`, /must be one of mlp_general, .*got "mlp_unknown"/);
  refused({ ...base, trainer_config: 3 }, `${K}trainer_config`, /got 3/);
  // A *_rnn name that is no catalogue model's transformer-RNN trainer.
  refused({ ...base, trainer_config: 'made_up_rnn' }, `${K}trainer_config`, /must be one of mlp_general, .*e5_small_v2_rnn.*got "made_up_rnn"/);
  refused({ ...base, dataset_config: 'e5_small_v2_rnn' }, `${K}dataset_config`, /must be one of mlp_general, .*got "e5_small_v2_rnn"/);
  refused({ ...base, 'trainer_config.encoder_config.rnn_units_list': [128, 100] }, `${K}trainer_config.encoder_config.rnn_units_list[1]`, /must be one of 16, 32, 64, 128, 256, 512, got 100/);
  refused({ ...base, 'trainer_config.encoder_config.rnn_names_list': ['gru', 'rnn'] }, `${K}trainer_config.encoder_config.rnn_names_list[1]`, /gru, lstm/);
  refused({ ...base, 'trainer_config.encoder_config.rnn_units_list': [128, 128] }, `${K}trainer_config.encoder_config.rnn_units_list`, /2 unit counts for 1 layers.*same length/);
  refused({ ...base, 'trainer_config.encoder_config.rnn_names_list': [] }, `${K}trainer_config.encoder_config.rnn_names_list`, /1 to 4 entries/);
  refused({ ...base, 'trainer_config.encoder_config.rnn_units_list': 128 }, `${K}trainer_config.encoder_config.rnn_units_list`, /must be a list/);
  refused({ ...base, 'trainer_config.num_epochs': 0 }, `${K}trainer_config.num_epochs`, /integer from 1 to 64, got 0/);
  refused({ ...base, 'trainer_config.num_epochs': 65 }, `${K}trainer_config.num_epochs`, /got 65/);
  refused({ ...base, 'trainer_config.num_epochs': 2.5 }, `${K}trainer_config.num_epochs`, /integer/);
  refused({ ...base, 'trainer_config.monitor_patience': 0 }, `${K}trainer_config.monitor_patience`, /integer >= 1, got 0/);
  refused({ ...base, 'trainer_config.trn_batch_size': -1 }, `${K}trainer_config.trn_batch_size`, /got -1/);
  refused({ ...base, 'trainer_config.encoder_config.emb_spdp': 1.5 }, `${K}trainer_config.encoder_config.emb_spdp`, /0\.0 to 1\.0/);
  refused({ ...base, 'trainer_config.encoder_config.emb_trainable': 'yes' }, `${K}trainer_config.encoder_config.emb_trainable`, /true or false/);
  refused({ ...base, 'dataset_config.pkid_col_name': null }, `${K}dataset_config.pkid_col_name`, /column name, got null/);
  refused({ ...base, 'dataset_config.query_col_name': ' ' }, `${K}dataset_config.query_col_name`, /column name/);
  refused({ ...base, 'dataset_config.index_title_col_name': null }, `${K}dataset_config.index_desc_col_name`, /title or a description/);
  refused({ ...base, 'dataset_config.metrics_config.monitor_metric': 'ndcg@4' }, `${K}dataset_config.metrics_config.monitor_metric`, /must match/);
  refused({ ...base, 'dataset_config.metrics_config.monitor_metric': 'f1@1' }, `${K}dataset_config.metrics_config.monitor_metric`, /classification/);
  refused({ ...base, 'trainer_config/text_processor_config': 'word_fr' }, `${K}trainer_config/text_processor_config`, /must be one of word_en/);
  refused({ ...base, 'trainer_config/text_processor_config': 'word_en', 'trainer_config.text_processor_config': 'bpe_custom' }, `${K}trainer_config.text_processor_config`, /conflicts/);
  refused(base, 'body.modelType', /non-empty/, '');
});

test('pre-trained text processors are refused with what they need, never replaced', () => {
  for (const name of ['bpe_en_small', 'bpe_en_large', 'bpe_multi']) {
    refused({ ...base, 'trainer_config/text_processor_config': name }, 'body.config.trainer_config/text_processor_config', new RegExp(`${name} needs a pre-trained .*BPE.*word_en, word_custom, bpe_custom`));
  }
  assert.equal(compileTrainingConfig('x', { ...base, 'trainer_config.text_processor_config': 'word_custom' }).textProcessor, 'word_custom');
  assert.equal(compileTrainingConfig('x', { ...base, 'dataset_config': 'mlp_classification', 'dataset_config.metrics_config.monitor_metric': 'f1@3' }).monitorMetric.name, 'f1');
});

test('transformer-RNN trainers name their base model; its tokenizer is the text processor; the dataset family gives the trainer defaults', () => {
  const c = compileTrainingConfig('ecommerce-rnn', { ...base, trainer_config: 'e5_small_v2_rnn' });
  assert.equal(c.trainerConfig, 'e5_small_v2_rnn');
  assert.equal(c.baseModel, 'e5-small-v2');
  assert.equal(c.baseModelField, 'body.config.trainer_config');
  assert.equal(c.textProcessor, null);
  assert.equal(c.flat['trainer_config/text_processor_config'], 'e5_small_v2');
  assert.equal(c.trainerFamily, 'ecommerce');
  assert.equal(c.encoder.embTrainable, true, 'ecommerce dataset: embeddings fine-tuned');
  assert.equal(c.monitorPatience, 16);
  const g = compileTrainingConfig('general-rnn', { dataset_config: 'mlp_general', trainer_config: 'snowflake_arctic_embed_m_v1_5_rnn' });
  assert.equal(g.baseModel, 'snowflake-arctic-embed-m-v1.5');
  assert.equal(g.encoder.embTrainable, false, 'general dataset: embeddings frozen');
  assert.equal(g.monitorPatience, 8);
  // The stored flat config compiles to the same config.
  assert.deepEqual(compileTrainingConfig('ecommerce-rnn', c.flat).flat, c.flat);
  // The text processor may name the base too, in either spelling, and alone picks it with an mlp trainer.
  for (const tp of ['e5_small_v2', 'e5-small-v2']) {
    assert.equal(compileTrainingConfig('x', { ...base, trainer_config: 'e5_small_v2_rnn', 'trainer_config/text_processor_config': tp }).baseModel, 'e5-small-v2');
  }
  const viaTp = compileTrainingConfig('x', { ...base, 'trainer_config.text_processor_config': 'gte_small' });
  assert.equal(viaTp.baseModel, 'gte-small');
  assert.equal(viaTp.trainerConfig, 'mlp_ecommerce');
  assert.equal(viaTp.baseModelField, 'body.config.trainer_config.text_processor_config');
  assert.equal(viaTp.flat['trainer_config/text_processor_config'], 'gte_small');
  // A base's embeddings belong to its vocabulary: another processor or another base is a contradiction.
  const K = 'body.config.';
  refused({ ...base, trainer_config: 'e5_small_v2_rnn', 'trainer_config/text_processor_config': 'word_en' }, `${K}trainer_config/text_processor_config`, /e5_small_v2_rnn tokenizes with e5-small-v2's tokenizer.*give e5_small_v2 or leave/);
  refused({ ...base, trainer_config: 'e5_small_v2_rnn', 'trainer_config/text_processor_config': 'gte_small' }, `${K}trainer_config/text_processor_config`, /got "gte_small"/);
});
