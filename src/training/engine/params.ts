import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { seededRandom } from '../../domain/random.js';
import { layerWeightDims, type EncoderShape, type EncoderWeights } from './graphs.js';

/**
 * The encoder's parameters and their Adam state, as flat Float32Arrays, and their checkpoint file.
 * Embedding rows are updated lazily (only the rows a batch used, as PyTorch's SparseAdam does);
 * row 0 is padding and stays zero.
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
  ) {
    this.m = new Float32Array(value.length);
    this.v = new Float32Array(value.length);
  }

  /** Dense Adam step with bias correction for step `t` (1-based), gradient scaled by `scale`. */
  adam(grad: Float32Array, t: number, o: AdamOptions, scale = 1): void {
    adamRange(this.value, this.m, this.v, grad, 0, this.value.length, 0, t, o, scale);
  }
}

function adamRange(x: Float32Array, m: Float32Array, v: Float32Array, grad: Float32Array, from: number, to: number, gradOffset: number, t: number, o: AdamOptions, scale: number): void {
  const c1 = 1 - o.beta1 ** t;
  const c2 = 1 - o.beta2 ** t;
  const stepSize = (o.lr * Math.sqrt(c2)) / c1;
  const b1 = o.beta1;
  const b2 = o.beta2;
  const eps = o.eps * Math.sqrt(c2);
  for (let i = from, j = gradOffset; i < to; i++, j++) {
    const gi = grad[j]! * scale;
    const mi = (m[i] = b1 * m[i]! + (1 - b1) * gi);
    const vi = (v[i] = b2 * v[i]! + (1 - b2) * gi * gi);
    x[i] = x[i]! - (stepSize * mi) / (Math.sqrt(vi) + eps);
  }
}

export class EncoderParams {
  readonly embedding: Param;
  readonly layers: Array<{ W: Param; R: Param; B: Param }>;

  constructor(readonly shape: EncoderShape, seed: number) {
    const rnd = seededRandom(seed);
    const uniform = (n: number, a: number) => {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = (rnd() * 2 - 1) * a;
      return out;
    };
    const emb = uniform(shape.vocabSize * shape.embDim, 0.5);
    emb.fill(0, 0, shape.embDim);
    this.embedding = new Param('embedding', [shape.vocabSize, shape.embDim], emb);
    this.layers = shape.layers.map((layer, l) => {
      const dims = layerWeightDims(shape, l);
      const a = 1 / Math.sqrt(layer.units);
      return {
        W: new Param(`W${l}`, dims.W, uniform(prod(dims.W), a)),
        R: new Param(`R${l}`, dims.R, uniform(prod(dims.R), a)),
        B: new Param(`B${l}`, dims.B, uniform(prod(dims.B), a)),
      };
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

  /**
   * Lazy Adam on the embedding rows in `rows` (each once), gradients in `grad` at row * E. Row 0
   * (padding) is never updated.
   */
  adamEmbeddingRows(rows: Iterable<number>, grad: Float32Array, t: number, o: AdamOptions, scale: number): void {
    const E = this.shape.embDim;
    const p = this.embedding;
    for (const r of rows) if (r !== 0) adamRange(p.value, p.m, p.v, grad, r * E, r * E + E, r * E, t, o, scale);
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
