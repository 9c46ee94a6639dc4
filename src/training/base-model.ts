import { open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { HfTokenizer, MANIFEST_FILE, readManifest, type ArtifactManifest } from '../engines/index.js';
import { ModeldError } from '../errors/index.js';
import { baseModelNotInstalled } from './config.js';

const { onnx } = onnxProto;

/**
 * The pre-trained base of a transformer-RNN trainer (`e5_small_v2_rnn`), read in the training
 * worker from its installed folder `<modelsDir>/<name>/` (what `modeld models install` writes: a
 * manifest.json beside the Hugging Face export's files): its tokenizer, which becomes the text
 * processor and is shipped verbatim in the trained artifact, and its input token embedding
 * matrix, which initialises the encoder's embedding layer.
 */

/** Largest ONNX graph file decoded to find the embeddings (protobuf's own limit; larger exports keep their weights in external data files). */
export const MAX_BASE_ONNX_BYTES = 2 * 1024 ** 3;
/** Largest token embedding matrix read, as float32 bytes (vocabulary x hidden x 4): 1 GiB, which multilingual-e5-large's 250,002 x 1,024 fits. */
export const MAX_BASE_EMBEDDING_BYTES = 1024 ** 3;

/** The initializer names of the input token embeddings in Hugging Face exports (BERT, RoBERTa, XLM-RoBERTa, DistilBERT). */
const EMBEDDING_NAME = /(^|\.)word_embeddings\.weight$/;

export interface TokenEmbeddings {
  /** The ONNX initializer they were read from. */
  initializer: string;
  /** How it was found: by its name, or as the only 2-D initializer whose first dimension is the vocabulary size. */
  foundBy: 'name' | 'shape';
  rows: number;
  dim: number;
  /** rows x dim, row-major, float32 (a float16 initializer is widened). */
  values: Float32Array;
}

export interface BaseModel {
  name: string;
  dir: string;
  manifest: ArtifactManifest;
  /** tokenizer.json as installed, byte for byte. */
  tokenizerJson: string;
  /** tokenizer_config.json as installed, when the manifest lists one (the runner reads it too). */
  tokenizerConfig: string | null;
  /** Longest input of the base (manifest `tokenizer.maxTokens`). */
  maxTokens: number;
  /** Ids the tokenizer can produce: its largest id + 1. */
  vocabSize: number;
  embeddings: TokenEmbeddings;
  /** The base's tokenizer truncating at `maxTokens` (special tokens kept), exactly as a runner loads it. */
  tokenizer(maxTokens: number): HfTokenizer;
}

function invalid(name: string, why: string): ModeldError {
  return new ModeldError('MODELD_ERR_ARTIFACT_INVALID', `base model ${name}: ${why}`, { details: { baseModel: name } });
}

/** Largest token id of a tokenizer.json (model vocabulary and added tokens) + 1. */
export function tokenizerVocabSize(doc: unknown): number {
  const d = doc as { model?: { vocab?: unknown }; added_tokens?: Array<{ id?: number }> } | null;
  let max = -1;
  const vocab = d?.model?.vocab;
  if (Array.isArray(vocab)) max = vocab.length - 1; // Unigram: [piece, score] by id
  else if (vocab && typeof vocab === 'object') for (const id of Object.values(vocab)) if (typeof id === 'number' && id > max) max = id;
  for (const t of d?.added_tokens ?? []) if (typeof t.id === 'number' && t.id > max) max = t.id;
  return max + 1;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

const dimsOf = (t: onnxProto.onnx.ITensorProto): number[] => (t.dims ?? []).map((d) => Number(d));
const isFloat = (t: onnxProto.onnx.ITensorProto) => t.dataType === onnx.TensorProto.DataType.FLOAT || t.dataType === onnx.TensorProto.DataType.FLOAT16;

/** The bytes of an initializer stored in an external data file next to the graph (`location`, `offset`, `length`), read within the model's folder. */
async function externalBytes(t: onnxProto.onnx.ITensorProto, modelDir: string, expected: number, what: string): Promise<Uint8Array> {
  const kv = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = kv.get('location');
  if (!location) throw new Error(`${what}: external data without a location`);
  const file = path.resolve(modelDir, location);
  if (path.relative(modelDir, file).startsWith('..') || path.isAbsolute(path.relative(modelDir, file))) throw new Error(`${what}: external data ${location} is outside the model's folder`);
  const offset = Number(kv.get('offset') ?? 0);
  const length = kv.has('length') ? Number(kv.get('length')) : expected;
  if (length !== expected) throw new Error(`${what}: external data holds ${length} bytes, the tensor needs ${expected}`);
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, offset);
    if (bytesRead !== length) throw new Error(`${what}: ${location} ends before offset ${offset} + ${length}`);
    return buf;
  } finally {
    await fh.close();
  }
}

async function tensorValues(t: onnxProto.onnx.ITensorProto, modelDir: string, what: string): Promise<Float32Array> {
  const n = dimsOf(t).reduce((a, b) => a * b, 1);
  const half = t.dataType === onnx.TensorProto.DataType.FLOAT16;
  const width = half ? 2 : 4;
  let raw: Uint8Array | null = null;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) raw = await externalBytes(t, modelDir, n * width, what);
  else if (t.rawData && t.rawData.length > 0) raw = t.rawData;
  if (raw === null) {
    // Values as repeated fields: float_data for FLOAT, int32_data (one half per entry) for FLOAT16.
    if (!half && t.floatData && t.floatData.length === n) return Float32Array.from(t.floatData);
    if (half && t.int32Data && t.int32Data.length === n) return Float32Array.from(t.int32Data, (h) => halfToFloat(h));
    throw new Error(`${what}: holds no data for its ${n} values`);
  }
  if (raw.byteLength !== n * width) throw new Error(`${what}: ${raw.byteLength} bytes of data for ${n} values`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float32Array(n);
  if (half) for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
  else for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

/**
 * Reads the input token embedding matrix [rows, hidden] of an ONNX export: the initializer named
 * `...word_embeddings.weight` (2-D, at least `vocabSize` rows), else the only 2-D float initializer
 * whose first dimension is `vocabSize` (when several are, the one `hiddenSize` wide). FLOAT and
 * FLOAT16, inline or in an external data file. Caps: the graph file at MAX_BASE_ONNX_BYTES, the
 * matrix at `maxBytes` (MAX_BASE_EMBEDDING_BYTES). Throws an Error saying what the graph has.
 */
export async function readTokenEmbeddings(
  onnxFile: string,
  o: { vocabSize: number; hiddenSize?: number | null; maxBytes?: number },
): Promise<TokenEmbeddings> {
  const size = (await stat(onnxFile)).size;
  if (size > MAX_BASE_ONNX_BYTES) throw new Error(`${path.basename(onnxFile)} is ${size} bytes, above the ${MAX_BASE_ONNX_BYTES}-byte cap of a graph read for its embeddings`);
  const model = onnx.ModelProto.decode(await readFile(onnxFile));
  const inits = (model.graph?.initializer ?? []).filter((t) => dimsOf(t).length === 2 && isFloat(t));
  let found: onnxProto.onnx.ITensorProto | undefined = inits.find((t) => EMBEDDING_NAME.test(t.name ?? '') && dimsOf(t)[0]! >= o.vocabSize);
  let foundBy: TokenEmbeddings['foundBy'] = 'name';
  if (!found) {
    foundBy = 'shape';
    let candidates = inits.filter((t) => dimsOf(t)[0] === o.vocabSize);
    if (candidates.length > 1 && o.hiddenSize) candidates = candidates.filter((t) => dimsOf(t)[1] === o.hiddenSize);
    if (candidates.length !== 1) {
      const list = inits.map((t) => `${t.name} [${dimsOf(t).join(', ')}]`).slice(0, 12);
      throw new Error(
        `no input token embeddings in ${path.basename(onnxFile)}: no initializer named *word_embeddings.weight, and ${candidates.length} 2-D float initializers have ${o.vocabSize} rows (the tokenizer's vocabulary) where one is needed${list.length ? `; 2-D float initializers: ${list.join(', ')}` : ''}`,
      );
    }
    found = candidates[0]!;
  }
  const [rows, dim] = dimsOf(found) as [number, number];
  if (rows * dim * 4 > (o.maxBytes ?? MAX_BASE_EMBEDDING_BYTES)) {
    throw new Error(`the token embeddings ${found.name} [${rows}, ${dim}] take ${rows * dim * 4} bytes as float32, above the ${o.maxBytes ?? MAX_BASE_EMBEDDING_BYTES}-byte cap of training`);
  }
  const values = await tensorValues(found, path.dirname(onnxFile), `initializer ${found.name}`);
  return { initializer: found.name ?? '', foundBy, rows, dim, values };
}

/**
 * Loads the installed base model `name` from `<modelsDir>/<name>/`. Throws `notInstalled` (by
 * default the 400 of `baseModelNotInstalled`: the model and the install command) when the folder is
 * not an installed model, MODELD_ERR_ARTIFACT_INVALID when it is one without a usable tokenizer or
 * token embeddings.
 */
export async function loadBaseModel(modelsDir: string, name: string, notInstalled: () => Error = () => baseModelNotInstalled(name)): Promise<BaseModel> {
  const dir = path.join(modelsDir, name);
  if (!(await stat(path.join(dir, MANIFEST_FILE)).catch(() => null))) throw notInstalled();
  const manifest = await readManifest(dir);
  if (manifest.engine !== 'onnx' || !manifest.onnx || manifest.tokenizer.kind !== 'hf-tokenizer-json') {
    throw invalid(name, `an ONNX model with a Hugging Face tokenizer.json is needed, the installed folder is a ${manifest.engine} model with a ${manifest.tokenizer.kind} tokenizer`);
  }
  const tokenizerJson = await readFile(path.join(dir, manifest.tokenizer.file), 'utf8');
  const cfgName = path.posix.join(path.posix.dirname(manifest.tokenizer.file), 'tokenizer_config.json');
  const tokenizerConfig = cfgName in manifest.files ? await readFile(path.join(dir, cfgName), 'utf8') : null;
  const tokDoc = JSON.parse(tokenizerJson) as unknown;
  const cfgDoc = tokenizerConfig === null ? null : (JSON.parse(tokenizerConfig) as Record<string, unknown>);
  const vocabSize = tokenizerVocabSize(tokDoc);
  if (vocabSize <= 0) throw invalid(name, `${manifest.tokenizer.file} has no vocabulary`);
  const config = await readFile(path.join(dir, 'config.json'), 'utf8')
    .then((t) => JSON.parse(t) as { hidden_size?: unknown })
    .catch(() => null);
  const hiddenSize = typeof config?.hidden_size === 'number' ? config.hidden_size : null;
  let embeddings: TokenEmbeddings;
  try {
    embeddings = await readTokenEmbeddings(path.join(dir, manifest.onnx.file), { vocabSize, hiddenSize });
  } catch (err) {
    throw invalid(name, (err as Error).message);
  }
  if (embeddings.rows < vocabSize) throw invalid(name, `the token embeddings have ${embeddings.rows} rows, the tokenizer gives ids up to ${vocabSize - 1}`);
  return {
    name,
    dir,
    manifest,
    tokenizerJson,
    tokenizerConfig,
    maxTokens: manifest.tokenizer.maxTokens,
    vocabSize,
    embeddings,
    tokenizer: (maxTokens) => HfTokenizer.fromJson(tokDoc, cfgDoc, maxTokens, path.join(dir, manifest.tokenizer.file)),
  };
}
