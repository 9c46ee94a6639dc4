import assert from 'node:assert/strict';
import { test } from 'node:test';
import { l2NormalizeRows, poolTokens } from './pooling.js';

// batch 2, seq 3, dim 2. Row 0 has 2 real tokens, row 1 has 3.
const hidden = new Float32Array([
  // row 0: t0, t1, t2 (padding, must be ignored)
  1, 2, 3, -4, 100, 100,
  // row 1
  -1, 0, 5, 1, 2, 8,
]);
const lengths = [2, 3];

test('mean pooling averages only the unmasked positions', () => {
  const out = new Float32Array(4);
  poolTokens(hidden, 2, 3, 2, lengths, 'mean', out);
  assert.deepEqual([...out], [(1 + 3) / 2, (2 - 4) / 2, (-1 + 5 + 2) / 3, (0 + 1 + 8) / 3]);
});

test('cls pooling takes position 0', () => {
  const out = new Float32Array(4);
  poolTokens(hidden, 2, 3, 2, lengths, 'cls', out);
  assert.deepEqual([...out], [1, 2, -1, 0]);
});

test('max pooling takes the per-dimension maximum over the unmasked positions', () => {
  const out = new Float32Array(4);
  poolTokens(hidden, 2, 3, 2, lengths, 'max', out);
  assert.deepEqual([...out], [3, 2, 5, 8]);
});

test('a row with no real token pools to zeros, and pooling writes at the given row offset', () => {
  const out = new Float32Array(6).fill(9);
  poolTokens(hidden, 2, 3, 2, [0, 1], 'mean', out, 1);
  assert.deepEqual([...out], [9, 9, 0, 0, -1, 0]);
});

test('l2NormalizeRows gives unit rows, keeps direction, leaves a zero row at zero (no NaN)', () => {
  const v = new Float32Array([3, 4, 0, 0, -2, 0]);
  l2NormalizeRows(v, 3, 2);
  assert.deepEqual([...v].map((x) => Math.round(x * 1e6) / 1e6), [0.6, 0.8, 0, 0, -1, 0]);
});
