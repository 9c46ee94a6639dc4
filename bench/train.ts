/**
 * bench/train: training speed of the default ecommerce config (embedding 128, one bidirectional
 * GRU of 128, batch 128, Adam, in-batch negatives) on the shape of the PyTorch anchor in
 * ../shared/models/README.md: vocabulary 30,000, 5,000 catalog items of 24 tokens, 20,000
 * training pairs with queries of 6 tokens, 2,000 validation queries.
 *
 * The data is synthetic at the token level (random ids; the speed of a step does not depend on
 * what the ids mean), so the figures are the engine's: pairs per second, seconds per epoch, and
 * the evaluation at the end of each epoch (encoding the 5,000 items and 2,000 queries, ranking).
 * For context it also measures onnxruntime's fused GRU forward alone on the same machine (the
 * anchors were measured on a machine where onnxruntime runs that forward faster; compare ratios).
 *
 * Usage: npm run bench:train [-- --epochs 2 --threads 1,2 --batch 128]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { seededRandom } from '../src/domain/random.js';
import type { TrainingData } from '../src/training/data.js';
import { clip, trainEncoder, type EncoderShape, type TokenEncoder, type TokenizedData } from '../src/training/engine/index.js';
import { GraphBuilder } from '../src/training/engine/graph-builder.js';
import type { TrainingProgress } from '../src/training/job-types.js';
import { RANKING_METRICS } from '../src/training/metrics.js';
import { fmt, machineLine } from './lib.js';

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '2' },
    threads: { type: 'string', default: '1,2' },
    batch: { type: 'string', default: '128' },
    pairs: { type: 'string', default: '20000' },
  },
});
const EPOCHS = Number(values.epochs);
const THREADS = values.threads!.split(',').map(Number);
const BATCH = Number(values.batch);
const PAIRS = Number(values.pairs);
const VOCAB = 30_000;
const ITEMS = 5_000;
const VAL_QUERIES = 2_000;
const QUERY_TOKENS = 6;
const ITEM_TOKENS = 24;
const PYTORCH = { pairsPerSecond: 1800, epochSeconds: 11, evalSeconds: 0.44 };

function syntheticData(): { data: TrainingData; tok: TokenizedData; encode: TokenEncoder } {
  const rnd = seededRandom(2024);
  const id = () => 1 + Math.floor(rnd() * (VOCAB - 1));
  const seq = (n: number) => Array.from({ length: n }, id);
  const items = Array.from({ length: ITEMS }, () => seq(ITEM_TOKENS));
  const pkids = items.map((_, i) => `item-${i}`);
  // Texts are the ids themselves, so that evaluation's encode() gives back the same sequences.
  const text = (ids: number[]) => ids.join(' ');
  const encode: TokenEncoder = (t, max) => clip(t === '' ? [] : t.split(' ').map(Number), max);
  const trainQueries = Array.from({ length: PAIRS }, () => seq(QUERY_TOKENS));
  const pairs = trainQueries.map((_, q) => ({ q, i: Math.floor(rnd() * ITEMS), weight: 1 + Math.floor(rnd() * 5) }));
  const data: TrainingData = {
    index: items.map((ids, i) => ({ pkid: pkids[i]!, text: text(ids) })),
    train: pairs.map((p) => ({ query: text(trainQueries[p.q]!), pkid: pkids[p.i]!, weight: p.weight })),
    validation: Array.from({ length: VAL_QUERIES }, () => ({ query: text(seq(QUERY_TOKENS)), pkid: pkids[Math.floor(rnd() * ITEMS)]!, weight: 1 })),
    summary: {} as TrainingData['summary'],
  };
  const tok: TokenizedData = { items, pkids, queries: trainQueries.map(text), queryIds: trainQueries, pairs };
  return { data, tok, encode };
}

/** onnxruntime's fused bidirectional GRU forward alone, items/s at batch 128 x 24 tokens. */
async function rawGruForward(threads: number): Promise<number> {
  const H = 128;
  const g = new GraphBuilder('gru');
  const X = g.input('X', 'FLOAT', [ITEM_TOKENS, 'B', 128]);
  const W = g.input('W', 'FLOAT', [2, 3 * H, 128]);
  const R = g.input('R', 'FLOAT', [2, 3 * H, H]);
  g.op('GRU', [X, W, R], { hidden_size: H, direction: 'bidirectional', linear_before_reset: 1 }, ['Y']);
  g.output('Y', 'FLOAT', [ITEM_TOKENS, 2, 'B', H]);
  const s = await ort.InferenceSession.create(g.encode(), { intraOpNumThreads: threads, logSeverityLevel: 3 });
  const rnd = seededRandom(1);
  const f = (n: number, a: number) => Float32Array.from({ length: n }, () => (rnd() * 2 - 1) * a);
  const feeds = {
    X: new ort.Tensor('float32', f(ITEM_TOKENS * BATCH * 128, 1), [ITEM_TOKENS, BATCH, 128]),
    W: new ort.Tensor('float32', f(2 * 3 * H * 128, 0.09), [2, 3 * H, 128]),
    R: new ort.Tensor('float32', f(2 * 3 * H * H, 0.09), [2, 3 * H, H]),
  };
  for (let i = 0; i < 3; i++) await s.run(feeds);
  const runs = 20;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await s.run(feeds);
  const seconds = (performance.now() - t0) / 1000;
  await s.release();
  return (runs * BATCH) / seconds;
}

console.log(`bench/train  ${machineLine()}`);
console.log(`shape: vocabulary ${VOCAB}, embedding 128, bidirectional GRU 128 (256-d), batch ${BATCH}, queries ${QUERY_TOKENS} tokens, items ${ITEM_TOKENS}`);
console.log(`data: ${fmt(PAIRS)} training pairs, ${fmt(ITEMS)} items, ${fmt(VAL_QUERIES)} validation queries (+1,000 training queries evaluated); ${EPOCHS} epochs per run`);
const { data, tok, encode } = syntheticData();
const shape: EncoderShape = { vocabSize: VOCAB, embDim: 128, layers: [{ cell: 'gru', units: 128 }] };
const rows: string[][] = [];
for (const threads of THREADS) {
  const raw = await rawGruForward(threads);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'modeld-bench-train-'));
  const epochs: Array<Extract<TrainingProgress, { kind: 'epoch' }>> = [];
  try {
    const result = await trainEncoder(data, tok, encode, {
      shape,
      embTrainable: true,
      embDropout: 0.3,
      numEpochs: EPOCHS,
      patience: 16,
      batchSize: BATCH,
      monitor: { name: 'ndcg', k: 5, key: 'ndcg@5' },
      metricNames: RANKING_METRICS,
      queryTokens: QUERY_TOKENS,
      itemTokens: ITEM_TOKENS,
      seed: 1,
      threads,
      checkpointDir: path.join(dir, 'checkpoint'),
      onProgress: (p) => {
        if (p.kind === 'epoch') {
          epochs.push(p);
          console.log(`  threads ${threads}: epoch ${p.epoch}: train ${fmt(p.trainSeconds, 1)} s (${fmt(PAIRS / p.trainSeconds)} pairs/s), evaluation ${fmt(p.evalSeconds, 2)} s, loss ${fmt(p.loss, 3)}`);
        }
      },
    });
    const train = epochs.reduce((s, e) => s + e.trainSeconds, 0) / epochs.length;
    const evals = epochs.reduce((s, e) => s + e.evalSeconds, 0) / epochs.length;
    rows.push([
      String(threads),
      fmt(result.pairsPerSecond),
      fmt(train, 1),
      fmt(evals, 2),
      fmt(raw),
      fmt(result.pairsPerSecond / PYTORCH.pairsPerSecond, 2),
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
console.log('');
console.log('threads | pairs/s | s/epoch (20k pairs) | eval s (5k items + 3k queries) | raw GRU forward items/s | pairs/s vs PyTorch anchor');
for (const r of rows) console.log(r.join(' | '));
console.log(`PyTorch anchor (2 threads, README of ../shared/models): ${fmt(PYTORCH.pairsPerSecond)} pairs/s, ${PYTORCH.epochSeconds} s/epoch, eval ${PYTORCH.evalSeconds} s`);
