import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { seededRandom } from '../../domain/random.js';
import { uniform } from '../../../test/fixtures/models.js';
import { buildEncoderGraph, buildTrainStepGraph, denseSize, layerWeightDims, weightName, type EncoderShape } from './graphs.js';

const prod = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);

const randoms = uniform;

interface Case {
  shape: EncoderShape;
  Tq: number;
  Ti: number;
  B: number;
  lq: number[];
  li: number[];
}

function feedsFor(c: Case, seed: number): Record<string, Float32Array | Int32Array> {
  const rnd = seededRandom(seed);
  const E = c.shape.embDim;
  const feeds: Record<string, Float32Array | Int32Array> = {
    xq: randoms(c.Tq * c.B * E, rnd, 1),
    xi: randoms(c.Ti * c.B * E, rnd, 1),
    lq: Int32Array.from(c.lq),
    li: Int32Array.from(c.li),
    w: Float32Array.from({ length: c.B }, (_, i) => (i + 1) / ((c.B * (c.B + 1)) / 2)),
    negmask: new Float32Array(c.B * c.B),
  };
  c.shape.layers.forEach((_, l) => {
    const dims = layerWeightDims(c.shape, l);
    feeds[weightName.W(l)] = randoms(prod(dims.W), rnd, 0.6);
    feeds[weightName.R(l)] = randoms(prod(dims.R), rnd, 0.6);
    feeds[weightName.B(l)] = randoms(prod(dims.B), rnd, 0.3);
  });
  return feeds;
}

function dimsOf(c: Case, name: string): number[] {
  const E = c.shape.embDim;
  if (name === 'xq') return [c.Tq, c.B, E];
  if (name === 'xi') return [c.Ti, c.B, E];
  if (name === 'lq' || name === 'li' || name === 'w') return [c.B];
  if (name === 'negmask') return [c.B, c.B];
  const l = Number(name.slice(1));
  return layerWeightDims(c.shape, l)[name[0] as 'W' | 'R' | 'B'];
}

async function runStep(session: ort.InferenceSession, c: Case, feeds: Record<string, Float32Array | Int32Array>): Promise<ort.InferenceSession.OnnxValueMapType> {
  const t: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) t[k] = new ort.Tensor(v instanceof Int32Array ? 'int32' : 'float32', v, dimsOf(c, k));
  return session.run(t);
}

const CASES: Array<[string, Case]> = [
  ['one GRU layer', { shape: { vocabSize: 10, embDim: 5, layers: [{ cell: 'gru', units: 4 }] }, Tq: 3, Ti: 5, B: 3, lq: [3, 1, 2], li: [5, 2, 4] }],
  ['one LSTM layer', { shape: { vocabSize: 10, embDim: 5, layers: [{ cell: 'lstm', units: 4 }] }, Tq: 3, Ti: 5, B: 3, lq: [2, 3, 1], li: [1, 5, 3] }],
  [
    'GRU over LSTM, two layers',
    { shape: { vocabSize: 10, embDim: 4, layers: [{ cell: 'lstm', units: 3 }, { cell: 'gru', units: 4 }] }, Tq: 2, Ti: 4, B: 4, lq: [2, 1, 2, 1], li: [4, 3, 1, 2] },
  ],
];

describe('training step graph: gradients against finite differences', () => {
  for (const [title, c] of CASES) {
    it(`${title}: every gradient output matches the loss's directional derivative`, async () => {
      const session = await ort.InferenceSession.create(buildTrainStepGraph({ shape: c.shape, queryTokens: c.Tq, itemTokens: c.Ti, scale: 5 }), {
        intraOpNumThreads: 1,
      });
      const base = feedsFor(c, 7);
      const out = await runStep(session, c, base);
      const wrt = ['xq', 'xi', ...c.shape.layers.flatMap((_, l) => [weightName.W(l), weightName.R(l), weightName.B(l)])];
      // dDense holds every layer's dW, dR, dB back to back.
      const dense = out.dDense!.data as Float32Array;
      assert.equal(dense.length, denseSize(c.shape));
      const gradOf: Record<string, Float32Array> = { xq: out.dxq!.data as Float32Array, xi: out.dxi!.data as Float32Array };
      let offset = 0;
      for (const name of wrt.slice(2)) {
        const n = prod(dimsOf(c, name));
        gradOf[name] = dense.subarray(offset, offset + n);
        offset += n;
      }
      const rnd = seededRandom(99);
      // Float32: a smaller step drowns in rounding, a bigger one can cross a switch of the max pooling's winner.
      const eps = 5e-4;
      for (const name of wrt) {
        const grad = gradOf[name]!;
        const x = base[name] as Float32Array;
        assert.equal(grad.length, x.length, `${name}: gradient size`);
        const v = randoms(x.length, rnd, 1);
        let analytic = 0;
        for (let i = 0; i < x.length; i++) analytic += grad[i]! * v[i]!;
        const plus = Float32Array.from(x, (xi, i) => xi + eps * v[i]!);
        const minus = Float32Array.from(x, (xi, i) => xi - eps * v[i]!);
        const lp = (await runStep(session, c, { ...base, [name]: plus })).loss!.data[0] as number;
        const lm = (await runStep(session, c, { ...base, [name]: minus })).loss!.data[0] as number;
        const numeric = (lp - lm) / (2 * eps);
        assert.ok(Math.abs(analytic) > 1e-3, `${name}: the gradient is not trivially zero (${analytic})`);
        const rel = Math.abs(numeric - analytic) / Math.max(Math.abs(numeric), Math.abs(analytic));
        assert.ok(rel < 0.03, `${name}: numeric ${numeric} vs analytic ${analytic} (relative error ${rel.toFixed(4)})`);
      }
      // Padding is inert: a query position past its length gets no gradient.
      const dxq = out.dxq!.data as Float32Array;
      const E = c.shape.embDim;
      for (let b = 0; b < c.B; b++)
        for (let t = c.lq[b]!; t < c.Tq; t++) for (let e = 0; e < E; e++) assert.equal(dxq[(t * c.B + b) * E + e], 0, `dxq[t=${t}, b=${b}] on padding`);
      await session.release();
    });
  }
});

describe('encoder graph', () => {
  it('gives the vectors the training step scores: its loss, recomputed from encoder vectors, is the step loss', async () => {
    const c = CASES[2]![1];
    const E = c.shape.embDim;
    const rnd = seededRandom(3);
    // Token ids with right padding; the step's inputs are their embeddings.
    const embedding = randoms(c.shape.vocabSize * E, rnd, 1);
    embedding.fill(0, 0, E); // id 0 is padding
    const idsOf = (lens: number[], T: number) => lens.map((n) => Array.from({ length: T }, (_, t) => (t < n ? 1 + Math.floor(rnd() * (c.shape.vocabSize - 1)) : 0)));
    const qIds = idsOf(c.lq, c.Tq);
    const iIds = idsOf(c.li, c.Ti);
    const timeMajor = (ids: number[][], T: number) => {
      const x = new Float32Array(T * c.B * E);
      for (let t = 0; t < T; t++) for (let b = 0; b < c.B; b++) x.set(embedding.subarray(ids[b]![t]! * E, ids[b]![t]! * E + E), (t * c.B + b) * E);
      return x;
    };
    const feeds: Record<string, Float32Array | Int32Array> = { ...feedsFor(c, 11), xq: timeMajor(qIds, c.Tq), xi: timeMajor(iIds, c.Ti) };
    const step = await ort.InferenceSession.create(buildTrainStepGraph({ shape: c.shape, queryTokens: c.Tq, itemTokens: c.Ti, scale: 5 }));
    const stepLoss = (await runStep(step, c, feeds)).loss!.data[0] as number;

    const encoder = await ort.InferenceSession.create(buildEncoderGraph(c.shape));
    const encode = async (ids: number[][]): Promise<Float32Array> => {
      const flat = BigInt64Array.from(ids.flat().map(BigInt));
      const mask = BigInt64Array.from(ids.flat().map((id) => (id === 0 ? 0n : 1n)));
      const t: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', flat, [ids.length, ids[0]!.length]),
        attention_mask: new ort.Tensor('int64', mask, [ids.length, ids[0]!.length]),
        [weightName.embedding]: new ort.Tensor('float32', embedding, [c.shape.vocabSize, E]),
      };
      c.shape.layers.forEach((_, l) => {
        for (const k of ['W', 'R', 'B'] as const) t[weightName[k](l)] = new ort.Tensor('float32', feeds[weightName[k](l)] as Float32Array, layerWeightDims(c.shape, l)[k]);
      });
      return (await encoder.run(t)).vector!.data as Float32Array;
    };
    const q = await encode(qIds);
    // Extra padding columns change nothing: the same items padded to Ti + 3.
    const d = await encode(iIds.map((row) => [...row, 0, 0, 0]));
    const d0 = await encode(iIds);
    for (let i = 0; i < d.length; i++) assert.ok(Math.abs(d[i]! - d0[i]!) < 1e-6, 'padding changes an item vector');
    const dim = 2 * c.shape.layers.at(-1)!.units;
    let loss = 0;
    const w = feeds.w as Float32Array;
    for (let i = 0; i < c.B; i++) {
      const s = Array.from({ length: c.B }, (_, j) => {
        let dot = 0;
        for (let k = 0; k < dim; k++) dot += q[i * dim + k]! * d[j * dim + k]!;
        return 5 * dot;
      });
      const max = Math.max(...s);
      const lse = max + Math.log(s.reduce((a, x) => a + Math.exp(x - max), 0));
      loss += w[i]! * (lse - s[i]!);
    }
    assert.ok(Math.abs(loss - stepLoss) < 1e-4, `loss from encoder vectors ${loss} vs step loss ${stepLoss}`);
  });
});
