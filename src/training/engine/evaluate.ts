import * as ort from 'onnxruntime-node';
import { GraphBuilder } from './graph-builder.js';
import { buildEncoderGraph, layerWeightDims, vectorSizeOf, weightName, type EncoderShape, type EncoderWeights } from './graphs.js';

/**
 * Evaluation-time compute on onnxruntime: encoding token sequences with the current weights (the
 * encoder graph with its weights as inputs, so one session serves every epoch), and top-k ranking
 * of a catalog by dot product.
 */

/**
 * Sessions of the trainer: `threads` intra-op threads that sleep instead of spinning between ops
 * (a training step is hundreds of small ops; spinning threads would take the CPU from the
 * replicas serving on the same machine, for no gain measured here).
 */
export function sessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}

export class SequenceEncoder {
  private constructor(
    readonly shape: EncoderShape,
    private readonly session: ort.InferenceSession,
  ) {}

  static async create(shape: EncoderShape, threads: number): Promise<SequenceEncoder> {
    return new SequenceEncoder(shape, await ort.InferenceSession.create(buildEncoderGraph(shape), sessionOptions(threads)));
  }

  /**
   * Vectors [seqs.length, 2H] of token id sequences (already truncated). Sequences are encoded in
   * batches of similar length, so that little time goes into padding.
   */
  async encode(weights: EncoderWeights, seqs: readonly (readonly number[])[], batchSize = 256): Promise<Float32Array> {
    const dim = vectorSizeOf(this.shape);
    const out = new Float32Array(seqs.length * dim);
    const order = seqs.map((_, i) => i).sort((a, b) => seqs[a]!.length - seqs[b]!.length || a - b);
    const feeds: Record<string, ort.Tensor> = {
      [weightName.embedding]: new ort.Tensor('float32', weights.embedding, [this.shape.vocabSize, this.shape.embDim]),
    };
    this.shape.layers.forEach((_, l) => {
      const dims = layerWeightDims(this.shape, l);
      for (const k of ['W', 'R', 'B'] as const) feeds[weightName[k](l)] = new ort.Tensor('float32', weights.layers[l]![k], dims[k]);
    });
    for (let start = 0; start < order.length; start += batchSize) {
      const rows = order.slice(start, start + batchSize);
      const T = Math.max(1, ...rows.map((r) => seqs[r]!.length));
      const ids = new BigInt64Array(rows.length * T);
      const mask = new BigInt64Array(rows.length * T);
      rows.forEach((r, b) => {
        const s = seqs[r]!;
        for (let t = 0; t < s.length; t++) {
          ids[b * T + t] = BigInt(s[t]!);
          mask[b * T + t] = 1n;
        }
      });
      feeds.input_ids = new ort.Tensor('int64', ids, [rows.length, T]);
      feeds.attention_mask = new ort.Tensor('int64', mask, [rows.length, T]);
      const vectors = (await this.session.run(feeds, ['vector'])).vector!.data as Float32Array;
      rows.forEach((r, b) => out.set(vectors.subarray(b * dim, b * dim + dim), r * dim));
    }
    return out;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/** Top-k rows of `index` for each query by dot product, best first; ties keep the lower row first (ONNX TopK). */
export class Ranker {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(threads: number): Promise<Ranker> {
    const g = new GraphBuilder('modeld-rank');
    const q = g.input('q', 'FLOAT', ['n', 'd']);
    const index = g.input('index', 'FLOAT', ['m', 'd']);
    const k = g.input('k', 'INT64', [1]);
    const scores = g.op('Gemm', [q, index], { transB: 1 });
    g.opN('TopK', [scores, k], { axis: 1, largest: 1, sorted: 1 }, ['values', 'indices']);
    g.output('values', 'FLOAT', ['n', 'k']);
    g.output('indices', 'INT64', ['n', 'k']);
    return new Ranker(await ort.InferenceSession.create(g.encode(), sessionOptions(threads)));
  }

  async rank(queries: Float32Array, index: Float32Array, dim: number, k: number): Promise<Int32Array[]> {
    const n = queries.length / dim;
    const m = index.length / dim;
    const kk = Math.min(k, m);
    const out: Int32Array[] = [];
    const indexT = new ort.Tensor('float32', index, [m, dim]);
    const kT = new ort.Tensor('int64', BigInt64Array.from([BigInt(kk)]), [1]);
    // Chunks of queries keep the score matrix small.
    const chunk = Math.max(1, Math.floor(4_000_000 / Math.max(1, m)));
    for (let start = 0; start < n; start += chunk) {
      const rows = Math.min(chunk, n - start);
      const qT = new ort.Tensor('float32', queries.subarray(start * dim, (start + rows) * dim), [rows, dim]);
      const idx = (await this.session.run({ q: qT, index: indexT, k: kT }, ['indices'])).indices!.data as BigInt64Array;
      for (let r = 0; r < rows; r++) out.push(Int32Array.from(idx.subarray(r * kk, r * kk + kk), Number));
    }
    return out;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
