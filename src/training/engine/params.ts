import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { seededRandom } from '../../domain/random.js';
import { GraphBuilder } from './graph-builder.js';
import { layerWeightDims, type EncoderShape, type EncoderWeights } from './graphs.js';

/**
 * The encoder's parameters and their Adam state, as flat Float32Arrays, and their checkpoint file.
 * The recurrent layers' tensors are views into one flat buffer, so that one Adam update covers
 * them all. Embedding rows are updated lazily (only the rows a batch used, as PyTorch's
 * SparseAdam does); row 0 is padding and stays zero. The update itself runs on onnxruntime
 * (`AdamUpdater`): vectorized, it costs a fraction of a JS loop.
 */

const prod = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);

export interface AdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

export const ADAM_DEFAULTS: AdamOptions = { lr: 5e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

/** One tensor with its two Adam moments. */
export class Param {
  readonly m: Float32Array;
  readonly v: Float32Array;
  constructor(
    readonly name: string,
    readonly dims: number[],
    readonly value: Float32Array,
    moments?: { m: Float32Array; v: Float32Array },
  ) {
    this.m = moments?.m ?? new Float32Array(value.length);
    this.v = moments?.v ?? new Float32Array(value.length);
  }
}

export class EncoderParams {
  readonly embedding: Param;
  readonly layers: Array<{ W: Param; R: Param; B: Param }>;
  /** Every recurrent layer's W, R and B, back to back, with their moments: the tensors are views into these. */
  readonly dense: { value: Float32Array; m: Float32Array; v: Float32Array };

  /**
   * Random initialization from `seed`; `initialEmbedding` ([vocabSize x embDim], a base model's
   * token embeddings) replaces the random embedding, row 0 included (padding positions never reach
   * a state, and row 0 is never updated). Throws RangeError when its size is not the shape's.
   */
  constructor(readonly shape: EncoderShape, seed: number, initialEmbedding?: Float32Array) {
    const rnd = seededRandom(seed);
    const uniform = (n: number, a: number) => {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = (rnd() * 2 - 1) * a;
      return out;
    };
    const emb = uniform(shape.vocabSize * shape.embDim, 0.5);
    if (initialEmbedding) {
      if (initialEmbedding.length !== emb.length) throw new RangeError(`initial embedding has ${initialEmbedding.length} values, the shape needs ${shape.vocabSize} x ${shape.embDim}`);
      emb.set(initialEmbedding);
    } else {
      emb.fill(0, 0, shape.embDim);
    }
    this.embedding = new Param('embedding', [shape.vocabSize, shape.embDim], emb);
    const size = shape.layers.reduce((n, _, l) => {
      const dims = layerWeightDims(shape, l);
      return n + prod(dims.W) + prod(dims.R) + prod(dims.B);
    }, 0);
    this.dense = { value: new Float32Array(size), m: new Float32Array(size), v: new Float32Array(size) };
    let offset = 0;
    const view = (name: string, dims: number[], a: number) => {
      const n = prod(dims);
      const at = (x: Float32Array) => x.subarray(offset, offset + n);
      const p = new Param(name, dims, at(this.dense.value), { m: at(this.dense.m), v: at(this.dense.v) });
      p.value.set(uniform(n, a));
      offset += n;
      return p;
    };
    this.layers = shape.layers.map((layer, l) => {
      const dims = layerWeightDims(shape, l);
      const a = 1 / Math.sqrt(layer.units);
      return { W: view(`W${l}`, dims.W, a), R: view(`R${l}`, dims.R, a), B: view(`B${l}`, dims.B, a) };
    });
  }

  all(): Param[] {
    return [this.embedding, ...this.layers.flatMap((l) => [l.W, l.R, l.B])];
  }

  weights(): EncoderWeights {
    return { embedding: this.embedding.value, layers: this.layers.map((l) => ({ W: l.W.value, R: l.R.value, B: l.B.value })) };
  }

  /** A copy of the current values (the best epoch's weights are kept this way). */
  snapshot(): EncoderWeights {
    return { embedding: this.embedding.value.slice(), layers: this.layers.map((l) => ({ W: l.W.value.slice(), R: l.R.value.slice(), B: l.B.value.slice() })) };
  }
}

/**
 * One Adam step with global-norm gradient clipping, on onnxruntime, for two groups: the dense
 * recurrent weights (`EncoderParams.dense`) and the embedding rows a batch used (compacted: row
 * values, moments and gradients side by side). The clip factor is min(1, clipNorm / |g|) over
 * both groups. Updated values and moments are copied back.
 */
export class AdamUpdater {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly o: AdamOptions,
    private readonly clipNorm: number,
  ) {}

  static async create(o: AdamOptions, clipNorm: number, sessionOptions: ort.InferenceSession.SessionOptions): Promise<AdamUpdater> {
    const g = new GraphBuilder('modeld-adam');
    const lrt = g.input('lrt', 'FLOAT', []);
    const epst = g.input('epst', 'FLOAT', []);
    const groups = ['d', 'e'].map((k) => ({
      x: g.input(`x_${k}`, 'FLOAT', [`n_${k}`]),
      m: g.input(`m_${k}`, 'FLOAT', [`n_${k}`]),
      v: g.input(`v_${k}`, 'FLOAT', [`n_${k}`]),
      g: g.input(`g_${k}`, 'FLOAT', [`n_${k}`]),
      k,
    }));
    const sq = (x: string) => g.op('ReduceSumSquare', [x], { keepdims: 0 });
    const norm = g.op('Sqrt', [g.add(g.add(sq(groups[0]!.g), sq(groups[1]!.g)), g.scalar(1e-30))]);
    const factor = g.op('Min', [g.scalar(1), g.op('Div', [g.scalar(clipNorm), norm])]);
    g.op('Identity', [norm], {}, ['norm']);
    g.output('norm', 'FLOAT', []);
    for (const p of groups) {
      const grad = g.mul(p.g, factor);
      const m = g.add(g.mul(p.m, g.scalar(o.beta1)), g.mul(grad, g.scalar(1 - o.beta1)));
      const v = g.add(g.mul(p.v, g.scalar(o.beta2)), g.mul(g.mul(grad, grad), g.scalar(1 - o.beta2)));
      const step = g.op('Div', [g.mul(m, lrt), g.add(g.op('Sqrt', [v]), epst)]);
      g.op('Sub', [p.x, step], {}, [`x2_${p.k}`]);
      g.op('Identity', [m], {}, [`m2_${p.k}`]);
      g.op('Identity', [v], {}, [`v2_${p.k}`]);
      for (const out of ['x2', 'm2', 'v2']) g.output(`${out}_${p.k}`, 'FLOAT', [`n_${p.k}`]);
    }
    return new AdamUpdater(await ort.InferenceSession.create(g.encode(), sessionOptions), o, clipNorm);
  }

  /**
   * Step `t` (1-based). `rows` are the embedding rows with a gradient (each once, never row 0),
   * `embGrad` the full [vocab, E] gradient buffer (only those rows are read). Returns the gradient
   * norm before clipping.
   */
  async step(params: EncoderParams, denseGrad: Float32Array, rows: readonly number[], embGrad: Float32Array | null, t: number): Promise<number> {
    const o = this.o;
    const c1 = 1 - o.beta1 ** t;
    const c2 = 1 - o.beta2 ** t;
    const E = params.shape.embDim;
    // Compact the rows (at least one element: an empty tensor is not worth the edge case).
    const n = Math.max(1, rows.length * E);
    const x = new Float32Array(n);
    const m = new Float32Array(n);
    const v = new Float32Array(n);
    const g = new Float32Array(n);
    const emb = params.embedding;
    // Plain loops: a subarray per row would allocate thousands of views per step.
    for (let k = 0; k < rows.length; k++) {
      const from = rows[k]! * E;
      const to = k * E;
      for (let e = 0; e < E; e++) {
        x[to + e] = emb.value[from + e]!;
        m[to + e] = emb.m[from + e]!;
        v[to + e] = emb.v[from + e]!;
        g[to + e] = embGrad![from + e]!;
      }
    }
    const d = params.dense;
    const f = (a: Float32Array) => new ort.Tensor('float32', a, [a.length]);
    const out = await this.session.run({
      lrt: new ort.Tensor('float32', Float32Array.of((o.lr * Math.sqrt(c2)) / c1), []),
      epst: new ort.Tensor('float32', Float32Array.of(o.eps * Math.sqrt(c2)), []),
      x_d: f(d.value),
      m_d: f(d.m),
      v_d: f(d.v),
      g_d: f(denseGrad),
      x_e: f(x),
      m_e: f(m),
      v_e: f(v),
      g_e: f(g),
    });
    d.value.set(out.x2_d!.data as Float32Array);
    d.m.set(out.m2_d!.data as Float32Array);
    d.v.set(out.v2_d!.data as Float32Array);
    const x2 = out.x2_e!.data as Float32Array;
    const m2 = out.m2_e!.data as Float32Array;
    const v2 = out.v2_e!.data as Float32Array;
    for (let k = 0; k < rows.length; k++) {
      const from = k * E;
      const to = rows[k]! * E;
      for (let e = 0; e < E; e++) {
        emb.value[to + e] = x2[from + e]!;
        emb.m[to + e] = m2[from + e]!;
        emb.v[to + e] = v2[from + e]!;
      }
    }
    return out.norm!.data[0] as number;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/** Files of a checkpoint directory: `state.json` and one binary of every tensor (values, then Adam moments) in `all()` order, and `best.bin`. */
export interface CheckpointFiles<S> {
  state: S;
  params: EncoderParams;
  best: EncoderWeights | null;
}

function weightArrays(w: EncoderWeights): Float32Array[] {
  return [w.embedding, ...w.layers.flatMap((l) => [l.W, l.R, l.B])];
}

function concatBytes(arrays: Float32Array[]): Buffer {
  return Buffer.concat(arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
}

function readInto(buf: Buffer, arrays: Float32Array[], what: string): void {
  const total = arrays.reduce((n, a) => n + a.byteLength, 0);
  if (buf.byteLength !== total) throw new Error(`${what}: ${buf.byteLength} bytes, expected ${total}`);
  let off = 0;
  for (const a of arrays) {
    new Uint8Array(a.buffer, a.byteOffset, a.byteLength).set(buf.subarray(off, off + a.byteLength));
    off += a.byteLength;
  }
}

/** Writes the checkpoint as a whole: into a fresh directory, then renamed over the old one. */
export async function saveCheckpoint<S>(dir: string, c: CheckpointFiles<S>): Promise<void> {
  const tmp = `${dir}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const ps = c.params.all();
  await writeFile(path.join(tmp, 'params.bin'), concatBytes(ps.flatMap((p) => [p.value, p.m, p.v])));
  if (c.best) await writeFile(path.join(tmp, 'best.bin'), concatBytes(weightArrays(c.best)));
  await writeFile(path.join(tmp, 'state.json'), JSON.stringify(c.state));
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
}

/** Reads a checkpoint written by saveCheckpoint for the same shape; null when there is none. */
export async function loadCheckpoint<S>(dir: string, shape: EncoderShape): Promise<CheckpointFiles<S> | null> {
  let stateText: string;
  try {
    stateText = await readFile(path.join(dir, 'state.json'), 'utf8');
  } catch {
    return null;
  }
  const params = new EncoderParams(shape, 0);
  readInto(await readFile(path.join(dir, 'params.bin')), params.all().flatMap((p) => [p.value, p.m, p.v]), 'checkpoint params.bin');
  let best: EncoderWeights | null = null;
  try {
    const buf = await readFile(path.join(dir, 'best.bin'));
    best = params.snapshot();
    readInto(buf, weightArrays(best), 'checkpoint best.bin');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return { state: JSON.parse(stateText) as S, params, best };
}
