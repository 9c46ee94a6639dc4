import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  bestEpoch,
  buildTrainingMetrics,
  evaluateRankings,
  queryMetric,
  rankByDot,
  relevanceByQuery,
  shouldStopEarly,
  type EpochEvaluation,
  type RankedQuery,
} from './metrics.js';

const close = (actual: number, expected: number, what: string): void => assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} != ${expected}`);

// Relevant a (weight 3) at rank 1, b (1) at rank 3, c (2) at rank 5.
const A: RankedQuery = { ranked: ['a', 'x', 'b', 'y', 'c', 'z', 'u', 'v', 'w', 't'], relevant: new Map([['a', 3], ['b', 1], ['c', 2]]) };
// The only relevant item is ranked 11th: nothing within 10.
const B: RankedQuery = { ranked: ['x', 'y', 'z', 'u', 'v', 'w', 't', 's', 'r', 'p', 'q'], relevant: new Map([['q', 1]]) };
// One relevant item at rank 2.
const C: RankedQuery = { ranked: ['x', 'd', 'y'], relevant: new Map([['d', 5]]) };

test('hand-computed values of one query', () => {
  const idcg = 3 + 2 / Math.log2(3) + 1 / 2;
  const expected: Array<[Parameters<typeof queryMetric>[0], number, number]> = [
    ['hit', 1, 1], ['hit', 10, 1],
    ['mrr', 1, 1], ['mrr', 10, 1],
    ['recall', 1, 1 / 3], ['recall', 3, 2 / 3], ['recall', 5, 1], ['recall', 10, 1],
    ['map', 1, 1], ['map', 3, (1 + 2 / 3) / 3], ['map', 5, (1 + 2 / 3 + 3 / 5) / 3], ['map', 10, (1 + 2 / 3 + 3 / 5) / 3],
    ['ndcg', 1, 1], ['ndcg', 3, 3.5 / idcg], ['ndcg', 5, (3.5 + 2 / Math.log2(6)) / idcg],
    ['f1', 1, 0.5], ['f1', 3, 2 / 3], ['f1', 10, (2 * 0.3 * 1) / 1.3],
  ];
  for (const [name, k, value] of expected) close(queryMetric(name, k, A), value, `${name}@${k}`);
  for (const name of ['hit', 'mrr', 'map', 'ndcg', 'recall', 'f1'] as const) assert.equal(queryMetric(name, 10, B), 0, name);
  close(queryMetric('ndcg', 3, C), 1 / Math.log2(3), 'ndcg@3 C');
  close(queryMetric('map', 3, C), 0.5, 'map@3 C');
  assert.equal(queryMetric('hit', 1, C), 0);
});

test('ndcg uses weights as graded relevance: a heavier item first scores higher', () => {
  const rel = new Map([['heavy', 10], ['light', 1]]);
  const good = queryMetric('ndcg', 3, { ranked: ['heavy', 'light'], relevant: rel });
  const worse = queryMetric('ndcg', 3, { ranked: ['light', 'heavy'], relevant: rel });
  assert.equal(good, 1);
  close(worse, (1 + 10 / Math.log2(3)) / (10 + 1 / Math.log2(3)), 'swapped');
  // Binary metrics do not see the weights.
  assert.equal(queryMetric('map', 3, { ranked: ['light', 'heavy'], relevant: rel }), 1);
});

test('evaluateRankings averages over queries with k as strings', () => {
  const m = evaluateRankings([A, B, C]);
  assert.deepEqual(Object.keys(m), ['hit', 'map', 'mrr', 'ndcg', 'recall']);
  assert.deepEqual(Object.keys(m.mrr!), ['1', '3', '5', '10']);
  close(m.mrr!['3'], 0.5, 'mrr@3');
  close(m.hit!['1'], 1 / 3, 'hit@1');
  close(m.recall!['10'], 2 / 3, 'recall@10');
  assert.deepEqual(evaluateRankings([]).ndcg, { '1': 0, '3': 0, '5': 0, '10': 0 });
});

test('every metric stays in [0, 1] and grows with k where it must', () => {
  const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'];
  fc.assert(
    fc.property(fc.shuffledSubarray(ids, { minLength: 1 }), fc.array(fc.tuple(fc.constantFrom(...ids), fc.integer({ min: 1, max: 9 })), { minLength: 1, maxLength: 5 }), (ranked, rel) => {
      const q: RankedQuery = { ranked, relevant: new Map(rel) };
      for (const name of ['hit', 'map', 'mrr', 'ndcg', 'recall', 'f1'] as const) {
        for (const k of [1, 3, 5, 10]) {
          const v = queryMetric(name, k, q);
          assert.ok(v >= 0 && v <= 1 + 1e-12, `${name}@${k}=${v}`);
        }
      }
      for (const name of ['hit', 'mrr', 'recall'] as const) assert.ok(queryMetric(name, 3, q) <= queryMetric(name, 10, q));
    }),
    { numRuns: 200, seed: 3 },
  );
});

test('relevanceByQuery groups pairs and sums repeated weights', () => {
  const r = relevanceByQuery([
    { query: 'q1', pkid: 'a', weight: 2 },
    { query: 'q1', pkid: 'a', weight: 3 },
    { query: 'q1', pkid: 'b', weight: 1 },
    { query: 'q2', pkid: 'a', weight: 1 },
  ]);
  assert.deepEqual([...r.get('q1')!], [['a', 5], ['b', 1]]);
  assert.equal(r.size, 2);
});

test('rankByDot returns the best rows first, ties by row order', () => {
  const index = new Float32Array([1, 0, 0, 1, 0.7, 0.7, 1, 0]);
  const ranked = rankByDot(new Float32Array([1, 0, 0, 1]), index, 2, 3);
  assert.deepEqual([...ranked[0]!], [0, 3, 2]);
  assert.deepEqual([...ranked[1]!], [1, 2, 0]);
  assert.deepEqual([...rankByDot(new Float32Array([1, 0]), index, 2, 10)[0]!], [0, 3, 2, 1]);
  assert.throws(() => rankByDot(new Float32Array(3), index, 2, 1), RangeError);
});

const epoch = (val: number, trn: number): EpochEvaluation => ({
  trn: { ndcg: { '1': trn, '3': trn, '5': trn, '10': trn } },
  val: { ndcg: { '1': val, '3': val, '5': val, '10': val } },
});

test('best epoch, early stopping and the trainingMetrics shape', () => {
  const epochs = [epoch(0.2, 0.3), epoch(0.5, 0.6), epoch(0.5, 0.7), epoch(0.4, 0.8)];
  const monitor = { name: 'ndcg', k: 5 } as const;
  assert.equal(bestEpoch(epochs, monitor), 2);
  assert.equal(shouldStopEarly(epochs, monitor, 2), true);
  assert.equal(shouldStopEarly(epochs, monitor, 3), false);
  const summary = { best_epoch: 2, index_size: 10, vector_size: 256, training_time: 1.5, num_trn_queries: 90, num_val_queries: 50, num_unique_training_pairs: 120 };
  const tm = buildTrainingMetrics(summary, epochs);
  assert.deepEqual(tm.summary, summary);
  assert.deepEqual(tm.epoch_metrics.ndcg!.val['5'], [0.2, 0.5, 0.5, 0.4]);
  assert.deepEqual(tm.epoch_metrics.ndcg!.trn['1'], [0.3, 0.6, 0.7, 0.8]);
  assert.deepEqual(tm.final_metrics, { ndcg: { trn: { '1': 0.6, '3': 0.6, '5': 0.6, '10': 0.6 }, val: { '1': 0.5, '3': 0.5, '5': 0.5, '10': 0.5 } } });
  assert.throws(() => buildTrainingMetrics({ ...summary, best_epoch: 5 }, epochs), RangeError);
});
