import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { ModeldError } from '../errors/index.js';
import type { ManifestDraft } from './manifest.js';
import { capOf, existsInside, isSafeRelativePath, readCappedText, resolveInside, type FileLimits } from './safe-files.js';
import { HfTokenizer } from './tokenizer.js';

/** Longest input modeld feeds a model, whatever its config says (the prediction API truncates at 512). */
export const MAX_TOKENS_CAP = 512;

const TEXT_INPUTS = ['input_ids', 'attention_mask', 'token_type_ids'] as const;

export interface HfFolderDraft {
  /** Manifest without files; vectorSize is a placeholder (1) until an inference tells the real one. */
  draft: ManifestDraft;
  /** Files of the model, relative to the folder, '/'-separated. */
  files: string[];
}

function invalid(message: string, details: Record<string, unknown> = {}): ModeldError {
  return new ModeldError('MODELD_ERR_ARTIFACT_INVALID', message, { details });
}

async function isFile(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null))?.isFile() ?? false;
}

/** `rel` of `root` when it is a regular file inside it (symlinks resolved) within its cap, else null when there is nothing of that name. */
async function findInside(root: string, rel: string, limits: FileLimits): Promise<{ real: string; bytes: number } | null> {
  if (!(await existsInside(root, rel))) return null;
  return resolveInside(root, rel, limits);
}

async function readJsonInside(dir: string, root: string, name: string, limits: FileLimits, required: boolean): Promise<unknown> {
  const found = await findInside(root, name, limits);
  if (!found) {
    if (required) throw invalid(`artifact.uri: no ${name} in ${dir}`, { file: name });
    return null;
  }
  const text = await readCappedText(found.real, capOf(name, limits)?.bytes ?? Number.MAX_SAFE_INTEGER, name);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalid(`${path.join(dir, name)}: not valid JSON (${(err as Error).message})`, { file: name });
  }
}

async function readOptionalJson(dir: string, root: string, name: string, limits: FileLimits): Promise<Record<string, unknown> | null> {
  const v = await readJsonInside(dir, root, name, limits, false);
  if (v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid(`${name} in ${dir} is not valid JSON (top level must be an object)`, { file: name });
  return v as Record<string, unknown>;
}

/** True when `dir` looks like a Hugging Face export (a tokenizer.json or an ONNX model where we look for them). */
export async function looksLikeHfFolder(dir: string): Promise<boolean> {
  for (const f of ['tokenizer.json', 'model.onnx', 'onnx/model.onnx']) if (await isFile(path.join(dir, f))) return true;
  return false;
}

/**
 * Reads a Hugging Face folder exported for sentence embeddings: `tokenizer.json` (+ optional
 * `config.json`, `tokenizer_config.json`) and `onnx/model.onnx` or `model.onnx` taking
 * `input_ids`, optional `attention_mask` / `token_type_ids`, giving `sentence_embedding`
 * (preferred, used as is) or `last_hidden_state` (mean-pooled over the mask). maxTokens comes from
 * tokenizer_config.json `model_max_length`, else config.json `max_position_embeddings`, capped at
 * 512 (default 512). Throws MODELD_ERR_ARTIFACT_INVALID with a message prefixed by `uriField`
 * where the folder itself is wrong.
 */
export async function draftFromHfFolder(
  dir: string,
  meta: { name: string; modelType: string },
  uriField = 'artifact.uri',
  limits: FileLimits = {},
): Promise<HfFolderDraft> {
  const st = await stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw invalid(`${uriField}: ${dir} is not a directory`, { field: uriField });
  const root = await realpath(dir);
  if (!(await existsInside(root, 'tokenizer.json'))) throw invalid(`${uriField}: no tokenizer.json in ${dir}`, { field: uriField });
  const modelRel = (await existsInside(root, 'onnx/model.onnx')) ? 'onnx/model.onnx' : (await existsInside(root, 'model.onnx')) ? 'model.onnx' : null;
  if (!modelRel) throw invalid(`${uriField}: no onnx/model.onnx or model.onnx in ${dir}`, { field: uriField });
  const modelFile = await resolveInside(root, modelRel, limits);

  const config = await readOptionalJson(dir, root, 'config.json', limits);
  const tokConfig = await readOptionalJson(dir, root, 'tokenizer_config.json', limits);
  const fromTok = tokConfig?.model_max_length;
  const fromCfg = config?.max_position_embeddings;
  const declared = typeof fromTok === 'number' && fromTok > 0 ? fromTok : typeof fromCfg === 'number' && fromCfg > 0 ? fromCfg : MAX_TOKENS_CAP;
  const maxTokens = Math.min(MAX_TOKENS_CAP, Math.floor(declared));

  // Building the tokenizer turns a bad tokenizer.json into a clear error now. For an import this
  // runs in the check child process (check-main.ts), never in the server.
  const tokenizerJson = await readJsonInside(dir, root, 'tokenizer.json', limits, true);
  HfTokenizer.fromJson(tokenizerJson, tokConfig, maxTokens, path.join(dir, 'tokenizer.json'));

  // Loaded on demand: onnx-proto (protobufjs) costs about 150 ms at every server start and is only needed to import a model.
  const { inspectOnnx } = await import('./onnx-graph.js');
  const graph = await inspectOnnx(modelFile.real, modelRel);
  for (const i of graph.inputs) {
    if (!(TEXT_INPUTS as readonly string[]).includes(i.name)) {
      throw invalid(`${modelRel}: graph input '${i.name}' is not a text input (expected ${TEXT_INPUTS.join(', ')})`, { input: i.name });
    }
    if (i.elemType !== 'int64' && i.elemType !== 'int32') {
      throw invalid(`${modelRel}: graph input '${i.name}' is ${i.elemType}, expected int64 or int32`, { input: i.name });
    }
  }
  const ids = graph.inputs.find((i) => i.name === 'input_ids');
  if (!ids) throw invalid(`${modelRel}: the graph has no 'input_ids' input (inputs: ${graph.inputs.map((i) => i.name).join(', ') || 'none'})`);
  const idType = ids.elemType as 'int64' | 'int32';
  const odd = graph.inputs.find((i) => i.elemType !== idType);
  if (odd) throw invalid(`${modelRel}: graph input '${odd.name}' is ${odd.elemType} but input_ids is ${idType}; modeld feeds all text inputs with one integer type`);
  const has = (n: string) => graph.inputs.some((i) => i.name === n);

  const sentence = graph.outputs.find((o) => o.name === 'sentence_embedding');
  const token = graph.outputs.find((o) => o.name === 'last_hidden_state');
  const out = sentence ?? token;
  if (!out) {
    throw invalid(`${modelRel}: the graph has neither a 'sentence_embedding' nor a 'last_hidden_state' output (outputs: ${graph.outputs.map((o) => o.name).join(', ')})`);
  }
  if (out.elemType !== 'float32') throw invalid(`${modelRel}: output '${out.name}' is ${out.elemType}, expected float32`);
  const expectedRank = out === sentence ? 2 : 3;
  if (out.rank !== null && out.rank !== expectedRank) throw invalid(`${modelRel}: output '${out.name}' has ${out.rank} dimensions, expected ${expectedRank}`);

  const modelDir = path.posix.dirname(modelRel);
  const files = ['tokenizer.json', modelRel, ...graph.externalData.map((f) => path.posix.normalize(path.posix.join(modelDir, f)))];
  for (const f of files) {
    if (!isSafeRelativePath(f)) throw invalid(`${modelRel}: an external data file is outside the model folder`);
    if (!(await existsInside(root, f))) throw invalid(`${uriField}: ${f} (external data of ${modelRel}) is missing in ${dir}`, { field: uriField });
    await resolveInside(root, f, limits);
  }
  if (config) files.push('config.json');
  if (tokConfig) files.push('tokenizer_config.json');

  const inputs: { ids: string; attentionMask?: string; tokenTypeIds?: string } = { ids: 'input_ids' };
  if (has('attention_mask')) inputs.attentionMask = 'attention_mask';
  if (has('token_type_ids')) inputs.tokenTypeIds = 'token_type_ids';
  return {
    draft: {
      name: meta.name,
      modelType: meta.modelType,
      engine: 'onnx',
      vectorSize: 1,
      tokenizer: { kind: 'hf-tokenizer-json', file: 'tokenizer.json', maxTokens },
      onnx: {
        file: modelRel,
        inputs,
        output: out.name,
        outputKind: out === sentence ? 'sentence' : 'token',
        pooling: out === sentence ? 'none' : 'mean',
        idType,
      },
      normalize: true,
    },
    files: [...new Set(files)].sort(),
  };
}
