import path from 'node:path';
import ort from 'onnxruntime-node';
import { ModeldError } from '../errors/index.js';
import { l2NormalizeRows, poolTokens } from './pooling.js';
import { HfTokenizer, type Encoded } from './tokenizer.js';
import type { ArtifactManifest, EmbedOptions, EmbedResult, EmbeddingEngine, TokenizeResult } from './types.js';

export interface OnnxEngineOptions {
  /** onnxruntime intra-op threads (default 1). */
  intraOpThreads?: number;
  /**
   * Accept an output dimension that differs from manifest.vectorSize and adopt it (import probing
   * only, where the size is not known yet). Otherwise a mismatch is MODELD_ERR_ARTIFACT_INVALID.
   */
  adoptOutputSize?: boolean;
}

type OnnxSpec = NonNullable<ArtifactManifest['onnx']>;

/**
 * Integer input buffers reused across calls, grown on demand. int64 inputs are written through an
 * Int32Array view of the same memory (little-endian low word = id, high word = 0), so filling
 * them creates no BigInt per element.
 */
class IdBuffers {
  #int64: boolean;
  #capacity = 0;
  ids!: Int32Array;
  mask!: Int32Array;
  /** All zeros, never written after allocation (token type ids). */
  zeros!: Int32Array;
  #idsT!: BigInt64Array | Int32Array;
  #maskT!: BigInt64Array | Int32Array;
  #zerosT!: BigInt64Array | Int32Array;

  constructor(int64: boolean) {
    this.#int64 = int64;
    this.ensure(32 * 32);
  }

  /** Makes room for `size` elements; the returned views cover exactly `size`. */
  ensure(size: number): void {
    if (size <= this.#capacity) return;
    const cap = Math.max(size, this.#capacity * 2);
    this.#capacity = cap;
    if (this.#int64) {
      this.#idsT = new BigInt64Array(cap);
      this.#maskT = new BigInt64Array(cap);
      this.#zerosT = new BigInt64Array(cap);
      this.ids = new Int32Array(this.#idsT.buffer);
      this.mask = new Int32Array(this.#maskT.buffer);
      this.zeros = new Int32Array(this.#zerosT.buffer);
    } else {
      this.ids = this.#idsT = new Int32Array(cap);
      this.mask = this.#maskT = new Int32Array(cap);
      this.zeros = this.#zerosT = new Int32Array(cap);
    }
  }

  /** Element stride in the Int32 views (2 for int64, 1 for int32). */
  get stride(): number {
    return this.#int64 ? 2 : 1;
  }

  tensors(size: number, dims: number[]): { ids: ort.Tensor; mask: ort.Tensor; zeros: ort.Tensor } {
    const type = this.#int64 ? 'int64' : 'int32';
    return {
      ids: new ort.Tensor(type, this.#idsT.subarray(0, size), dims),
      mask: new ort.Tensor(type, this.#maskT.subarray(0, size), dims),
      zeros: new ort.Tensor(type, this.#zerosT.subarray(0, size), dims),
    };
  }
}

/**
 * An ONNX embedding model on onnxruntime-node. Calls are serialized on the session (onnxruntime-node
 * runs a session synchronously on the JS thread inside a setImmediate, so two overlapping runs
 * would only contend and could see each other's reused input buffers); tokenization of the next
 * call still overlaps the wait for the current one. `embed` blocks the event loop while the
 * session runs.
 */
export class OnnxEngine implements EmbeddingEngine {
  readonly manifest: ArtifactManifest;
  #vectorSize: number;
  #session: ort.InferenceSession;
  #tokenizer: HfTokenizer;
  #spec: OnnxSpec;
  #buffers: IdBuffers;
  #adopt: boolean;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(manifest: ArtifactManifest, session: ort.InferenceSession, tokenizer: HfTokenizer, adopt: boolean) {
    this.manifest = manifest;
    this.#vectorSize = manifest.vectorSize;
    this.#session = session;
    this.#tokenizer = tokenizer;
    this.#spec = manifest.onnx!;
    this.#buffers = new IdBuffers(this.#spec.idType === 'int64');
    this.#adopt = adopt;
  }

  get vectorSize(): number {
    return this.#vectorSize;
  }

  /**
   * Opens the session and the tokenizer of an artifact whose manifest was already checked.
   * Throws MODELD_ERR_ARTIFACT_INVALID when onnxruntime refuses the graph or the manifest names an
   * input or output the graph does not have (or the graph needs an input the manifest does not feed).
   */
  static async open(dir: string, manifest: ArtifactManifest, options: OnnxEngineOptions = {}): Promise<OnnxEngine> {
    const spec = manifest.onnx;
    if (!spec) throw new ModeldError('MODELD_ERR_ARTIFACT_INVALID', `${path.join(dir, 'manifest.json')}: field onnx: required for engine onnx`);
    const tokFile = path.join(dir, manifest.tokenizer.file);
    const cfgName = path.posix.join(path.posix.dirname(manifest.tokenizer.file), 'tokenizer_config.json');
    const tokenizer = await HfTokenizer.fromFile(tokFile, manifest.tokenizer.maxTokens, cfgName in manifest.files ? path.join(dir, cfgName) : undefined);
    const modelFile = path.join(dir, spec.file);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(modelFile, {
        intraOpNumThreads: options.intraOpThreads ?? 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        // Warnings (e.g. unused initializers) would flood every replica log; errors still surface as exceptions.
        logSeverityLevel: 3,
      });
    } catch (err) {
      throw new ModeldError('MODELD_ERR_ARTIFACT_INVALID', `${modelFile}: onnxruntime cannot load the model (${oneLine(err)})`, { cause: err });
    }
    const fed = [spec.inputs.ids, spec.inputs.attentionMask, spec.inputs.tokenTypeIds].filter((x): x is string => x !== undefined);
    const problem =
      fed.filter((n) => !session.inputNames.includes(n)).map((n) => `graph has no input '${n}' (inputs: ${session.inputNames.join(', ')})`)[0] ??
      session.inputNames.filter((n) => !fed.includes(n)).map((n) => `graph input '${n}' is not fed by manifest onnx.inputs`)[0] ??
      (session.outputNames.includes(spec.output) ? undefined : `graph has no output '${spec.output}' (outputs: ${session.outputNames.join(', ')})`);
    if (problem) {
      await session.release();
      throw new ModeldError('MODELD_ERR_ARTIFACT_INVALID', `${modelFile}: ${problem}`);
    }
    return new OnnxEngine(manifest, session, tokenizer, options.adoptOutputSize ?? false);
  }

  #encodeAll(texts: string[], options?: EmbedOptions): Encoded[] {
    const prefix = options?.dataType ? this.manifest.prefixes?.[options.dataType] : undefined;
    const out = new Array<Encoded>(texts.length);
    for (let i = 0; i < texts.length; i++) out[i] = this.#tokenizer.encode(prefix ? prefix + texts[i] : texts[i]!);
    return out;
  }

  tokenize(texts: string[]): TokenizeResult {
    const enc = this.#encodeAll(texts);
    return { tokens: enc.map((e) => e.tokens), ids: enc.map((e) => e.ids) };
  }

  async embed(texts: string[], options?: EmbedOptions): Promise<EmbedResult> {
    if (this.#closed) throw new ModeldError('MODELD_ERR_UNAVAILABLE', 'engine is closed');
    const n = texts.length;
    if (n === 0) return { vectors: new Float32Array(0), tokenCounts: [] };
    const encoded = this.#encodeAll(texts, options);
    const tokenCounts = new Array<number>(n);
    let seq = 1; // a zero-length sequence axis breaks some graphs; an empty text is one padding position
    for (let i = 0; i < n; i++) {
      const len = encoded[i]!.ids.length;
      tokenCounts[i] = len;
      if (len > seq) seq = len;
    }
    const run = this.#queue.then(() => this.#run(encoded, tokenCounts, n, seq));
    this.#queue = run.catch(() => undefined);
    return { vectors: await run, tokenCounts };
  }

  async #run(encoded: Encoded[], lengths: number[], n: number, seq: number): Promise<Float32Array> {
    const spec = this.#spec;
    const size = n * seq;
    const buf = this.#buffers;
    buf.ensure(size);
    const stride = buf.stride;
    const ids = buf.ids;
    const mask = buf.mask;
    ids.fill(0, 0, size * stride);
    mask.fill(0, 0, size * stride);
    for (let b = 0; b < n; b++) {
      const row = encoded[b]!.ids;
      let p = b * seq * stride;
      for (let t = 0; t < row.length; t++, p += stride) {
        ids[p] = row[t]!;
        mask[p] = 1;
      }
    }
    const dims = [n, seq];
    const t = buf.tensors(size, dims);
    const feeds: Record<string, ort.Tensor> = { [spec.inputs.ids]: t.ids };
    if (spec.inputs.attentionMask) feeds[spec.inputs.attentionMask] = t.mask;
    if (spec.inputs.tokenTypeIds) feeds[spec.inputs.tokenTypeIds] = t.zeros;
    let results: ort.InferenceSession.OnnxValueMapType;
    try {
      results = await this.#session.run(feeds, [spec.output]);
    } catch (err) {
      throw new ModeldError('MODELD_ERR_INTERNAL', `onnxruntime run failed (${oneLine(err)})`, { cause: err });
    }
    const output = results[spec.output] as ort.Tensor;
    if (output.type !== 'float32') throw this.#shapeError(`output '${spec.output}' is ${output.type}, expected float32`);
    const data = output.data as Float32Array;
    const od = output.dims;
    let vectors: Float32Array;
    let dim: number;
    if (spec.outputKind === 'sentence') {
      if (od.length !== 2 || od[0] !== n) throw this.#shapeError(`output '${spec.output}' has shape [${od.join(', ')}], expected [${n}, dim]`);
      dim = od[1]!;
      vectors = data.length === n * dim ? data : data.slice(0, n * dim);
    } else {
      if (od.length !== 3 || od[0] !== n || od[1] !== seq) {
        throw this.#shapeError(`output '${spec.output}' has shape [${od.join(', ')}], expected [${n}, ${seq}, dim]`);
      }
      dim = od[2]!;
      vectors = new Float32Array(n * dim);
      poolTokens(data, n, seq, dim, lengths, spec.pooling as 'mean' | 'cls' | 'max', vectors);
    }
    if (dim !== this.#vectorSize) {
      if (!this.#adopt) throw this.#shapeError(`output '${spec.output}' has ${dim} dimensions but manifest.json says vectorSize ${this.#vectorSize}`);
      this.#vectorSize = dim;
    }
    if (this.manifest.normalize) l2NormalizeRows(vectors, n, dim);
    return vectors;
  }

  #shapeError(message: string): ModeldError {
    return new ModeldError('MODELD_ERR_ARTIFACT_INVALID', `${this.#spec.file}: ${message}`);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    await this.#session.release();
  }
}

function oneLine(err: unknown): string {
  return String((err as Error)?.message ?? err)
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 500);
}
