import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClientErrorCodes, ModeldClientError } from '../client/index.js';
import { CliError, CliErrorCodes } from './cli-error.js';
import { embeddingSummary, formatError, renderTable, shortTime } from './format.js';

test('renderTable pads every column but the last and marks empty cells', () => {
  const text = renderTable(['ID', 'NAME', 'N'], [
    ['a', 'long name', 1],
    ['bbbb', null, ''],
  ]);
  assert.equal(text, 'ID    NAME       N\na     long name  1\nbbbb  -          -\n');
  assert.equal(renderTable(['ONLY'], []), 'ONLY\n');
  assert.equal(renderTable(['A', 'B'], [['multi\nline', 'x']]), 'A           B\nmulti line  x\n');
});

test('formatError: message and code, and a plain sentence for a refused connection', () => {
  assert.equal(formatError(new ModeldClientError(404, 'MODELD_ERR_NOT_FOUND', 'no such thing'), 'http://h'), 'error: no such thing (MODELD_ERR_NOT_FOUND)');
  assert.equal(
    formatError(new ModeldClientError(0, ClientErrorCodes.CONNECTION_REFUSED, 'connection refused by http://h:1'), 'http://h:1'),
    'error: the modeld server is not running at http://h:1; start it with `modeld serve` (MODELD_CLIENT_ERR_CONNECTION_REFUSED)',
  );
  assert.equal(formatError(new CliError(CliErrorCodes.USAGE, 'bad'), 'u'), 'error: bad (MODELD_CLI_ERR_USAGE)');
  assert.equal(formatError(new Error('boom'), 'u'), 'error: boom');
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
