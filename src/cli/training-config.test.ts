import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { CliError } from './cli-error.js';
import { parseSetting, settings } from './parse.js';
import { buildTrainingConfig, contentAddressedName, isUri } from './training-config.js';

test('--set values are JSON when they parse, else the text as given', () => {
  const rows: Array<[string, [string, unknown]]> = [
    ['trainer_config.num_epochs=3', ['trainer_config.num_epochs', 3]],
    ['trainer_config.encoder_config.emb_spdp=0.25', ['trainer_config.encoder_config.emb_spdp', 0.25]],
    ['trainer_config.encoder_config.emb_trainable=false', ['trainer_config.encoder_config.emb_trainable', false]],
    ['trainer_config.trn_batch_size=null', ['trainer_config.trn_batch_size', null]],
    ['trainer_config.encoder_config.rnn_units_list=[16]', ['trainer_config.encoder_config.rnn_units_list', [16]]],
    ['trainer_config.encoder_config.rnn_names_list=["gru","lstm"]', ['trainer_config.encoder_config.rnn_names_list', ['gru', 'lstm']]],
    ['trainer_config/text_processor_config=word_custom', ['trainer_config/text_processor_config', 'word_custom']],
    ['dataset_config.metrics_config.monitor_metric=ndcg@5', ['dataset_config.metrics_config.monitor_metric', 'ndcg@5']],
    // A JSON string keeps what would otherwise parse as a number.
    ['dataset_config.pkid_col_name="007"', ['dataset_config.pkid_col_name', '007']],
    ['dataset_config.index_desc_col_name=', ['dataset_config.index_desc_col_name', '']],
    // Only the first = splits; a broken list stays text for the server to refuse with its key.
    ['a.b=x=y', ['a.b', 'x=y']],
    ['k=[16,', ['k', '[16,']],
    ['  key  = 3', ['key', 3]],
  ];
  for (const [text, expected] of rows) assert.deepEqual(parseSetting(text), expected, text);
});

test('--set without = or without a key is refused by the parser', () => {
  for (const bad of ['num_epochs', '=3', ' =3']) assert.throws(() => parseSetting(bad), InvalidArgumentError, bad);
});

test('--set accumulates in order', () => {
  let acc = settings('a=1', undefined);
  acc = settings('b=x', acc);
  acc = settings('a=2', acc);
  assert.deepEqual(acc, [['a', 1], ['b', 'x'], ['a', 2]]);
});

test('the config: type defaults, then the file, then --set in order', () => {
  assert.deepEqual(buildTrainingConfig('ecommerce-rnn', undefined, []), { dataset_config: 'mlp_ecommerce', trainer_config: 'mlp_ecommerce' });
  assert.deepEqual(buildTrainingConfig('general-rnn', undefined, []), { dataset_config: 'mlp_general', trainer_config: 'mlp_general' });
  const config = buildTrainingConfig(
    'ecommerce-rnn',
    { trainer_config: 'mlp_general', 'trainer_config.num_epochs': 10, 'trainer_config.trn_batch_size': 64 },
    [
      ['trainer_config.num_epochs', 3],
      ['trainer_config.num_epochs', 2],
      ['dataset_config', 'mlp_classification'],
    ],
  );
  assert.deepEqual(config, {
    dataset_config: 'mlp_classification',
    trainer_config: 'mlp_general',
    'trainer_config.num_epochs': 2,
    'trainer_config.trn_batch_size': 64,
  });
  for (const bad of [[], 'x', null, 3]) assert.throws(() => buildTrainingConfig('ecommerce-rnn', bad, []), CliError, JSON.stringify(bad));
});

test('URIs are passed on, paths are uploaded', () => {
  for (const uri of ['file:///srv/data/c.csv', 'gs://bucket/c.parquet', 'FILE:///x', 's3+http://h/x']) assert.equal(isUri(uri), true, uri);
  for (const p of ['catalog.csv', './sample/catalog.csv', '/abs/catalog.csv', 'C:\\data\\c.csv', 'file:relative', 'weird:name.csv']) assert.equal(isUri(p), false, p);
});

test('content-addressed upload names: stem, 12 hex digits, extension; always a valid name', () => {
  const sha = 'abcdef0123456789'.repeat(4);
  assert.equal(contentAddressedName('catalog.csv', sha), 'catalog-abcdef012345.csv');
  assert.equal(contentAddressedName('signals.v2.jsonl', sha), 'signals.v2-abcdef012345.jsonl');
  assert.equal(contentAddressedName('my data (1).parquet', sha), 'my_data__1_-abcdef012345.parquet');
  assert.equal(contentAddressedName('.hidden', sha), 'hidden-abcdef012345');
  assert.equal(contentAddressedName('___', sha), 'data-abcdef012345');
  assert.equal(contentAddressedName('données.csv', sha), 'donn_es-abcdef012345.csv');
  const long = contentAddressedName(`${'x'.repeat(300)}.csv`, sha);
  assert.equal(long.length, 128);
  assert.match(long, /^x+-abcdef012345\.csv$/);
});
