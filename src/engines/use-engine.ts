import { readFile } from 'node:fs/promises';
import path from 'node:path';
import tf from '@energetic-ai/core';
import type { GraphModel, Tensor } from '@energetic-ai/core';
// Types only (erased at run time): the bundle's d.ts re-exports tfjs-core's, but its `io` is a value.
import type { io } from '@tensorflow/tfjs-core';
import { ModeldError } from '../errors/index.js';
import { l2NormalizeRows } from './pooling.js';
import type { ArtifactManifest, EmbedOptions, EmbedResult, EmbeddingEngine, TokenizeResult } from './types.js';
import { USE_MODEL_FILE } from './shipped-use.js';
import { UseTokenizer, type UseVocabulary } from './use-tokenizer.js';


/*
 * Runtime choice, measured on this 2-core machine at batch 32 (8-20 word sentences, other work
 * running): @tensorflow/tfjs 4.22 with its default Node backend (`cpu`, pure JS) 0.4 items/s;
 * @tensorflow/tfjs-backend-wasm 4.22 (SIMD) 9-12 items/s; the tfjs 4.5 + WASM build that
 * @energetic-ai/core bundles (the runtime @energetic-ai/embeddings' initModel uses) 14.5
 * items/s. We use the fastest, the @energetic-ai/core bundle. It keeps tfjs' one engine per
 * process in a global, so a process that also imports @tensorflow/tfjs shares (and fights over)
 * it: serve USE from a runner process, not from a process that trains with tfjs.
 */

interface GraphModelJson {
  modelTopology: unknown;
  weightsManifest: Array<{ paths: string[]; weights: io.WeightsManifestEntry[] }>;
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  signature?: unknown;
  userDefinedMetadata?: Record<string, unknown>;
}

/**
 * Universal Sentence Encoder lite (512-d) on tfjs. Input is sparse (`indices` [nnz, 2], `values`
 * [nnz]) token ids from UseTokenizer; output [batch, 512], L2-normalized here. Calls are
 * serialized (one tfjs engine per process, and execution runs on the JS thread).
 */
export class UseEngine implements EmbeddingEngine {
  readonly manifest: ArtifactManifest;
  readonly vectorSize: number;
  #model: GraphModel;
  #tokenizer: UseTokenizer;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(manifest: ArtifactManifest, model: GraphModel, tokenizer: UseTokenizer) {
    this.manifest = manifest;
    this.vectorSize = manifest.vectorSize;
    this.#model = model;
    this.#tokenizer = tokenizer;
  }

  /** The tfjs backend in use (`wasm`). */
  static backend(): string {
    return tf.getBackend();
  }

  /**
   * Loads model.json, its weight shards and vocab.json from `dir`. Throws
   * MODELD_ERR_ARTIFACT_INVALID naming the file that is missing or wrong.
   */
  static async open(dir: string, manifest: ArtifactManifest): Promise<UseEngine> {
    const modelFile = path.join(dir, USE_MODEL_FILE);
    const vocabFile = path.join(dir, manifest.tokenizer.file);
    const bad = (message: string, cause?: unknown) => new ModeldError('MODELD_ERR_ARTIFACT_INVALID', message, { cause });
    let json: GraphModelJson;
    let vocab: UseVocabulary;
    try {
      json = JSON.parse(await readFile(modelFile, 'utf8')) as GraphModelJson;
    } catch (err) {
      throw bad(`${modelFile}: cannot read the tfjs graph model (${(err as Error).message})`, err);
    }
    try {
      vocab = JSON.parse(await readFile(vocabFile, 'utf8')) as UseVocabulary;
      if (!Array.isArray(vocab) || !Array.isArray(vocab[0])) throw new Error('expected an array of [piece, score]');
    } catch (err) {
      throw bad(`${vocabFile}: cannot read the USE vocabulary (${(err as Error).message})`, err);
    }
    if (!Array.isArray(json.weightsManifest)) throw bad(`${modelFile}: no weightsManifest`);
    const paths = json.weightsManifest.flatMap((g) => g.paths);
    for (const p of paths) if (!(p in manifest.files)) throw bad(`${modelFile}: weight shard ${p} is not listed in manifest.json files`);
    const shards = await Promise.all(paths.map((p) => readFile(path.join(dir, p))));
    const all = Buffer.concat(shards);
    const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
    await tf.ready();
    let model: GraphModel;
    try {
      model = await tf.loadGraphModel(
        tf.io.fromMemory({
          modelTopology: json.modelTopology as object,
          weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
          weightData,
          format: json.format,
          generatedBy: json.generatedBy,
          convertedBy: json.convertedBy,
        }),
      );
    } catch (err) {
      throw bad(`${modelFile}: tfjs cannot load the graph model (${(err as Error).message})`, err);
    }
    return new UseEngine(manifest, model, new UseTokenizer(vocab, manifest.tokenizer.maxTokens));
  }

  #encodeAll(texts: string[], options?: EmbedOptions): number[][] {
    const prefix = options?.dataType ? this.manifest.prefixes?.[options.dataType] : undefined;
    return texts.map((t) => this.#tokenizer.encode(prefix ? prefix + t : t));
  }

  tokenize(texts: string[]): TokenizeResult {
    const ids = this.#encodeAll(texts);
    return { ids, tokens: ids.map((row) => row.map((id) => this.#tokenizer.piece(id))) };
  }

  async embed(texts: string[], options?: EmbedOptions): Promise<EmbedResult> {
    if (this.#closed) throw new ModeldError('MODELD_ERR_UNAVAILABLE', 'engine is closed');
    const n = texts.length;
    if (n === 0) return { vectors: new Float32Array(0), tokenCounts: [] };
    const ids = this.#encodeAll(texts, options);
    const tokenCounts = ids.map((r) => r.length);
    const run = this.#queue.then(() => this.#run(ids, n));
    this.#queue = run.catch(() => undefined);
    return { vectors: await run, tokenCounts };
  }

  async #run(rows: number[][], n: number): Promise<Float32Array> {
    // The graph pools per row of the sparse input; a row with no entry would be dropped from the
    // output, so an empty text is fed as the lone word separator piece.
    let nnz = 0;
    for (const r of rows) nnz += Math.max(1, r.length);
    const indices = new Int32Array(nnz * 2);
    const values = new Int32Array(nnz);
    let k = 0;
    for (let i = 0; i < n; i++) {
      const r = rows[i]!;
      if (r.length === 0) {
        indices[2 * k] = i;
        indices[2 * k + 1] = 0;
        values[k++] = this.#separatorId();
        continue;
      }
      for (let j = 0; j < r.length; j++, k++) {
        indices[2 * k] = i;
        indices[2 * k + 1] = j;
        values[k] = r[j]!;
      }
    }
    const ti = tf.tensor2d(indices, [nnz, 2], 'int32');
    const tv = tf.tensor1d(values, 'int32');
    let out: Tensor | undefined;
    try {
      out = (await this.#model.executeAsync({ indices: ti, values: tv })) as Tensor;
      if (out.shape.length !== 2 || out.shape[0] !== n || out.shape[1] !== this.vectorSize) {
        throw new ModeldError('MODELD_ERR_INTERNAL', `USE output has shape [${out.shape.join(', ')}], expected [${n}, ${this.vectorSize}]`);
      }
      const data = (await out.data()) as Float32Array;
      const vectors = data.length === n * this.vectorSize ? data : data.slice(0, n * this.vectorSize);
      l2NormalizeRows(vectors, n, this.vectorSize);
      return vectors;
    } finally {
      ti.dispose();
      tv.dispose();
      out?.dispose();
    }
  }

  #separatorId(): number {
    return this.#tokenizer.separatorId;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    this.#model.dispose();
  }
}
