import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClientErrorCodes, ModeldClientError, type Model, type TrainingMetrics } from '../client/index.js';
import { CliError, CliErrorCodes } from './cli-error.js';
import { embeddingSummary, finalMetricsTable, formatError, renderTable, shortTime, trainingSummary } from './format.js';

test('renderTable pads every column but the last and marks empty cells', () => {
  const text = renderTable(['ID', 'NAME', 'N'], [
    ['a', 'long name', 1],
    ['bbbb', null, ''],
  ]);
  assert.equal(text, 'ID    NAME       N\na     long name  1\nbbbb  -          -\n');
  assert.equal(renderTable(['ONLY'], []), 'ONLY\n');
  assert.equal(renderTable(['A', 'B'], [['multi\nline', 'x']]), 'A           B\nmulti line  x\n');
});

test('formatError: message and code; a refused connection names the URL, what chose it, and --url / MODELD_URL', () => {
  const target = { url: 'http://h:1', from: 'MODELD_PORT' };
  assert.equal(formatError(new ModeldClientError(404, 'MODELD_ERR_NOT_FOUND', 'no such thing'), target), 'error: no such thing (MODELD_ERR_NOT_FOUND)');
  const refused = formatError(new ModeldClientError(0, ClientErrorCodes.CONNECTION_REFUSED, 'connection refused by http://h:1'), target);
  assert.match(refused, /^error: no modeld server answers at http:\/\/h:1 \(MODELD_PORT\); start one with `modeld serve`, or point the CLI at the one that runs with --url URL or MODELD_URL .*\(MODELD_CLIENT_ERR_CONNECTION_REFUSED\)$/);
  const byDefault = formatError(new ModeldClientError(0, ClientErrorCodes.CONNECTION_REFUSED, 'x'), { url: 'http://127.0.0.1:8080', from: 'default' });
  assert.match(byDefault, /at http:\/\/127\.0\.0\.1:8080 \(the default address\)/);
  assert.equal(formatError(new CliError(CliErrorCodes.USAGE, 'bad'), target), 'error: bad (MODELD_CLI_ERR_USAGE)');
  assert.equal(formatError(new Error('boom'), target), 'error: boom');
});

test('embeddingSummary shows tokens, dimension and the head of the vector', () => {
  const float = embeddingSummary('hello', { tokensUsed: { inputTokens: 1 }, vector: [0.5, -0.25, 0, 0.125, 0.9] });
  assert.equal(float, '"hello"  1 tokens  5-d  [0.5000, -0.2500, 0.0000, 0.1250, …]');
  const quantized = embeddingSummary('q', { tokensUsed: { inputTokens: 1 }, vector: [255, 0, 12], warning: 'not trained for 3' });
  assert.equal(quantized, '"q"  1 tokens  3-d  [255, 0, 12]  warning: not trained for 3');
  const long = embeddingSummary('x'.repeat(60), { tokensUsed: { inputTokens: 1 }, vector: [] });
  assert.ok(long.startsWith(`"${'x'.repeat(39)}…"`));
});

test('shortTime trims ISO timestamps to the second', () => {
  assert.equal(shortTime('2024-05-01T10:00:00.123Z'), '2024-05-01 10:00:00');
  assert.equal(shortTime(null), '-');
  assert.equal(shortTime('yesterday'), 'yesterday');
});

const atK = (v: number) => ({ '1': v, '3': v + 0.1, '5': v + 0.2, '10': v + 0.3 });
const metrics: TrainingMetrics = {
  summary: { best_epoch: 2, index_size: 200, vector_size: 32, training_time: 14.25, num_trn_queries: 540, num_val_queries: 60, num_unique_training_pairs: 590 },
  epoch_metrics: { hit: { trn: { '1': [0.1, 0.2, 0.2], '3': [0, 0, 0], '5': [0, 0, 0], '10': [0, 0, 0] }, val: { '1': [0.1, 0.3, 0.2], '3': [0, 0, 0], '5': [0, 0, 0], '10': [0, 0, 0] } } },
  final_metrics: { hit: { trn: atK(0.2), val: atK(0.3) }, ndcg: { trn: atK(0.15), val: atK(0.25) } },
};

test('final metrics: a row per metric, a column per k, validation first', () => {
  assert.equal(
    finalMetricsTable(metrics),
    ['METRIC  VAL@1   VAL@3   VAL@5   VAL@10', 'hit     0.3000  0.4000  0.5000  0.6000', 'ndcg    0.2500  0.3500  0.4500  0.5500', ''].join('\n'),
  );
  const both = finalMetricsTable(metrics, ['val', 'trn']).split('\n');
  assert.equal(both[0], 'METRIC  VAL@1   VAL@3   VAL@5   VAL@10  TRN@1   TRN@3   TRN@5   TRN@10');
  assert.equal(both[1], 'hit     0.3000  0.4000  0.5000  0.6000  0.2000  0.3000  0.4000  0.5000');
});

test('training summary: the model line, then best epoch of the epochs run and the data sizes', () => {
  const model: Model = { id: 'm1', name: 'shoes', category: 'CUSTOM', modelType: 'ecommerce-rnn', state: 'AVAILABLE', vectorSize: 32, trainingMetrics: metrics };
  assert.equal(
    trainingSummary(model),
    'model m1 (shoes) AVAILABLE, ecommerce-rnn, 32-d vectors\n' +
      'best epoch 2 of 3; 200 catalog items; 540 training and 60 validation queries; 590 training pairs; 14.3 s of training\n',
  );
  assert.equal(trainingSummary({ ...model, state: 'TRAINING', vectorSize: null, trainingMetrics: null }), 'model m1 (shoes) TRAINING, ecommerce-rnn\n');
});
