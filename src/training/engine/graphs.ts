import { GraphBuilder } from './graph-builder.js';
import { rnnBackward, rnnForward, GATES, type CellKind, type LayerWeights, type RnnForward } from './rnn.js';

/**
 * The two graphs of a two-tower encoder:
 * - the **training step**: both towers (queries, items; one set of weights), in-batch softmax
 *   loss, and the gradients of every weight, in one onnxruntime run;
 * - the **encoder**: token ids -> vector, the graph that is exported and served (and, with the
 *   weights as inputs instead of initializers, the one that evaluates every epoch).
 *
 * Encoder: embedding -> stacked bidirectional GRU/LSTM (padding masked through `sequence_lens`)
 * -> max pooling over the positions inside the sequence -> L2 normalization.
 */

export interface EncoderShape {
  vocabSize: number;
  embDim: number;
  layers: ReadonlyArray<{ cell: CellKind; units: number }>;
}

export function vectorSizeOf(shape: EncoderShape): number {
  return 2 * shape.layers[shape.layers.length - 1]!.units;
}

export function layerInputSize(shape: EncoderShape, l: number): number {
  return l === 0 ? shape.embDim : 2 * shape.layers[l - 1]!.units;
}

/** Dims of layer l's W, R and B. */
export function layerWeightDims(shape: EncoderShape, l: number): { W: number[]; R: number[]; B: number[] } {
  const { cell, units } = shape.layers[l]!;
  const G = GATES[cell] * units;
  return { W: [2, G, layerInputSize(shape, l)], R: [2, G, units], B: [2, 2 * G] };
}

/** Number of recurrent weights (every layer's W, R and B). */
export function denseSize(shape: EncoderShape): number {
  return shape.layers.reduce((n, _, l) => {
    const d = layerWeightDims(shape, l);
    return n + [d.W, d.R, d.B].reduce((a, dims) => a + dims.reduce((x, y) => x * y, 1), 0);
  }, 0);
}

/** Names of the weights as graph inputs / initializers. */
export const weightName = {
  embedding: 'embedding',
  W: (l: number) => `W${l}`,
  R: (l: number) => `R${l}`,
  B: (l: number) => `B${l}`,
};

const BIG = 1e4;

/** [T, batch, 1] float mask, 1 where t < len. `steps` is a number (static) or a scalar int64 tensor name. */
function lengthMask(g: GraphBuilder, lens: string, steps: number | string): string {
  const T = typeof steps === 'number' ? g.ints([steps], []) : steps;
  const t = g.op('Range', [g.ints([0], []), T, g.ints([1], [])]);
  const less = g.op('Less', [g.unsqueeze(t, [1]), g.unsqueeze(g.op('Cast', [lens], { to: 7 }), [0])]);
  return g.unsqueeze(g.op('Cast', [less], { to: 1 }), [2]);
}

interface Tower {
  inputs: string[];
  fwd: RnnForward[];
  /** Masked output of the last layer [T, B, 2H], its max over time [B, 2H], the norm and the vector. */
  masked: string;
  pooled: string;
  norm: string;
  vector: string;
  mask: string;
}

function encodeTower(g: GraphBuilder, shape: EncoderShape, X: string, lens: string, steps: number | string, weights: LayerWeights[]): Tower {
  const mask = lengthMask(g, lens, steps);
  const inputs: string[] = [];
  const fwd: RnnForward[] = [];
  let x = X;
  shape.layers.forEach((layer, l) => {
    inputs.push(x);
    const f = rnnForward(g, layer.cell, x, lens, weights[l]!, layer.units);
    fwd.push(f);
    x = f.out;
  });
  // Padding positions get -BIG so that the max ignores them.
  const masked = g.add(x, g.mul(g.sub(mask, g.scalar(1)), g.scalar(BIG)));
  const pooled = g.op('ReduceMax', [masked], { axes: [0], keepdims: 0 });
  const norm = g.op('Sqrt', [g.add(g.reduceSum(g.mul(pooled, pooled), [1], 1), g.scalar(1e-12))]);
  const vector = g.op('Div', [pooled, norm]);
  return { inputs, fwd, masked, pooled, norm, vector, mask };
}

/** Backward through normalization, pooling and the layers; adds the weight gradients to `acc`. Returns dX [T, B, E]. */
function towerBackward(g: GraphBuilder, shape: EncoderShape, tw: Tower, dVector: string, steps: number, weights: LayerWeights[], acc: Array<Partial<Record<'dW' | 'dR' | 'dB', string[]>>>): string {
  // v = p / |p|  =>  dp = (dv - v (v . dv)) / |p|
  const dot = g.reduceSum(g.mul(tw.vector, dVector), [1], 1);
  const dPooled = g.op('Div', [g.sub(dVector, g.mul(tw.vector, dot)), tw.norm]);
  // The max passes the gradient to the position that won it.
  const winner = g.op('Cast', [g.op('Equal', [tw.masked, g.unsqueeze(tw.pooled, [0])])], { to: 1 });
  let dOut = g.mul(winner, g.unsqueeze(dPooled, [0]));
  for (let l = shape.layers.length - 1; l >= 0; l--) {
    const layer = shape.layers[l]!;
    const grads = rnnBackward(g, {
      cell: layer.cell,
      X: tw.inputs[l]!,
      inputSize: layerInputSize(shape, l),
      units: layer.units,
      steps,
      fwd: tw.fwd[l]!,
      mask: tw.mask,
      w: weights[l]!,
      dOut,
    });
    for (const k of ['dW', 'dR', 'dB'] as const) (acc[l]![k] ??= []).push(grads[k]);
    dOut = grads.dX;
  }
  return dOut;
}

export interface TrainStepGraphOptions {
  shape: EncoderShape;
  /** Query and item lengths in tokens (the unrolled steps). */
  queryTokens: number;
  itemTokens: number;
  /** Scores are scale x cosine similarity. */
  scale: number;
}

/**
 * The training step. Inputs: `xq` [Tq, B, E] and `xi` [Ti, B, E] (embedded, dropout applied),
 * `lq`, `li` int32 [B] lengths (>= 1), `w` [B] pair weights summing to 1, `negmask` [B, B]
 * (0, or -1e4 for an in-batch item that is also relevant to the row's query), and the layer
 * weights `W{l}`, `R{l}`, `B{l}`. Outputs: `loss` (weighted in-batch softmax cross-entropy: row i's
 * positive is item i), `dDense` (the gradients of every W, R, B, flattened back to back in layer
 * order) and `dxq`, `dxi` (the embeddings' gradients).
 */
export function buildTrainStepGraph(o: TrainStepGraphOptions): Uint8Array {
  const { shape } = o;
  const g = new GraphBuilder('modeld-train-step');
  const E = shape.embDim;
  const xq = g.input('xq', 'FLOAT', [o.queryTokens, 'B', E]);
  const xi = g.input('xi', 'FLOAT', [o.itemTokens, 'B', E]);
  const lq = g.input('lq', 'INT32', ['B']);
  const li = g.input('li', 'INT32', ['B']);
  const w = g.input('w', 'FLOAT', ['B']);
  const negmask = g.input('negmask', 'FLOAT', ['B', 'B']);
  const weights = shape.layers.map((_, l) => {
    const dims = layerWeightDims(shape, l);
    return { W: g.input(weightName.W(l), 'FLOAT', dims.W), R: g.input(weightName.R(l), 'FLOAT', dims.R), B: g.input(weightName.B(l), 'FLOAT', dims.B) };
  });
  const q = encodeTower(g, shape, xq, lq, o.queryTokens, weights);
  const d = encodeTower(g, shape, xi, li, o.itemTokens, weights);

  // S = scale q d^T + negmask; loss = -sum_i w_i log softmax(S_i)_i.
  const S = g.add(g.mul(g.op('Gemm', [q.vector, d.vector], { transB: 1 }), g.scalar(o.scale)), negmask);
  const logp = g.op('LogSoftmax', [S], { axis: 1 });
  const eye = g.op('EyeLike', [S]);
  const wcol = g.unsqueeze(w, [1]);
  g.op('Neg', [g.reduceSum(g.mul(g.mul(logp, eye), wcol), [0, 1], 0)], {}, ['loss']);
  g.output('loss', 'FLOAT', []);
  // dS = w_i (softmax - I) * scale; dq = dS d; dd = dS^T q.
  const dS = g.mul(g.mul(g.sub(g.op('Exp', [logp]), eye), wcol), g.scalar(o.scale));
  const dq = g.matmul(dS, d.vector);
  const dd = g.op('Gemm', [dS, q.vector], { transA: 1 });

  const acc: Array<Partial<Record<'dW' | 'dR' | 'dB', string[]>>> = shape.layers.map(() => ({}));
  const dxq = towerBackward(g, shape, q, dq, o.queryTokens, weights, acc);
  const dxi = towerBackward(g, shape, d, dd, o.itemTokens, weights, acc);
  g.op('Identity', [dxq], {}, ['dxq']);
  g.op('Identity', [dxi], {}, ['dxi']);
  g.output('dxq', 'FLOAT', [o.queryTokens, 'B', E]);
  g.output('dxi', 'FLOAT', [o.itemTokens, 'B', E]);
  // The weight gradients flattened back to back, layer by layer (W, R, B): EncoderParams.dense's layout.
  const flat = shape.layers.flatMap((_, l) => (['dW', 'dR', 'dB'] as const).map((k) => g.reshape(g.add(acc[l]![k]![0]!, acc[l]![k]![1]!), [-1])));
  g.op('Concat', flat, { axis: 0 }, ['dDense']);
  g.output('dDense', 'FLOAT', [denseSize(shape)]);
  return g.encode();
}

export interface EncoderWeights {
  embedding: Float32Array;
  layers: Array<{ W: Float32Array; R: Float32Array; B: Float32Array }>;
}

/**
 * The encoder: `input_ids` and `attention_mask` int64 [batch, seq] (ids right-padded) ->
 * `vector` float [batch, 2H], L2-normalized. With `weights`, they are baked in as initializers
 * (the exported model); without, they are graph inputs named as `weightName` says (evaluation
 * during training, where the weights change every epoch).
 */
export function buildEncoderGraph(shape: EncoderShape, weights?: EncoderWeights): Uint8Array {
  const g = new GraphBuilder('modeld-encoder');
  const ids = g.input('input_ids', 'INT64', ['batch', 'seq']);
  const attention = g.input('attention_mask', 'INT64', ['batch', 'seq']);
  const emb = weights
    ? g.floatTensor(weightName.embedding, [shape.vocabSize, shape.embDim], weights.embedding)
    : g.input(weightName.embedding, 'FLOAT', [shape.vocabSize, shape.embDim]);
  const layerWeights = shape.layers.map((_, l) => {
    const dims = layerWeightDims(shape, l);
    const one = (k: 'W' | 'R' | 'B') =>
      weights ? g.floatTensor(weightName[k](l), dims[k], weights.layers[l]![k]) : g.input(weightName[k](l), 'FLOAT', dims[k]);
    return { W: one('W'), R: one('R'), B: one('B') };
  });
  // Every sequence has at least one position (an empty text reads its first, padding, position).
  const lens64 = g.op('Max', [g.reduceSum(attention, [1], 0), g.ints([1], [])]);
  const lens = g.op('Cast', [lens64], { to: 6 });
  const steps = g.op('Gather', [g.op('Shape', [ids]), g.ints([1], [])], { axis: 0 });
  const X = g.transpose(g.op('Gather', [emb, ids], { axis: 0 }), [1, 0, 2]);
  const tower = encodeTower(g, shape, X, lens, steps, layerWeights);
  g.op('Identity', [tower.vector], {}, ['vector']);
  g.output('vector', 'FLOAT', ['batch', vectorSizeOf(shape)]);
  return g.encode();
}
