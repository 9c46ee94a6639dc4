import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Type } from 'typebox';
import { Value } from 'typebox/value';
import { ModeldError } from '../errors/index.js';
import { ARTIFACT_FORMAT_VERSION, type ArtifactManifest, type ManifestFile } from './types.js';

export const MANIFEST_FILE = 'manifest.json';

const RelativeFile = Type.String({ minLength: 1, pattern: '^(?!/)(?!.*(^|/)\\.\\.(/|$)).+$' });

/** The manifest schema; mirrors ArtifactManifest in types.ts. Unknown keys are refused so that a typo is not silently ignored. */
export const ManifestSchema = Type.Object(
  {
    formatVersion: Type.Literal(ARTIFACT_FORMAT_VERSION),
    name: Type.String({ minLength: 1 }),
    modelType: Type.String({ minLength: 1 }),
    engine: Type.Union([Type.Literal('onnx'), Type.Literal('tfjs-use')]),
    vectorSize: Type.Integer({ minimum: 1, maximum: 65536 }),
    tokenizer: Type.Object(
      {
        kind: Type.Union([Type.Literal('hf-tokenizer-json'), Type.Literal('use-sentencepiece')]),
        file: RelativeFile,
        maxTokens: Type.Integer({ minimum: 1, maximum: 8192 }),
      },
      { additionalProperties: false },
    ),
    onnx: Type.Optional(
      Type.Object(
        {
          file: RelativeFile,
          inputs: Type.Object(
            {
              ids: Type.String({ minLength: 1 }),
              attentionMask: Type.Optional(Type.String({ minLength: 1 })),
              tokenTypeIds: Type.Optional(Type.String({ minLength: 1 })),
            },
            { additionalProperties: false },
          ),
          output: Type.String({ minLength: 1 }),
          outputKind: Type.Union([Type.Literal('token'), Type.Literal('sentence')]),
          pooling: Type.Union([Type.Literal('mean'), Type.Literal('cls'), Type.Literal('max'), Type.Literal('none')]),
          idType: Type.Union([Type.Literal('int64'), Type.Literal('int32')]),
        },
        { additionalProperties: false },
      ),
    ),
    normalize: Type.Boolean(),
    prefixes: Type.Optional(
      Type.Object({ query: Type.Optional(Type.String()), passage: Type.Optional(Type.String()) }, { additionalProperties: false }),
    ),
    matryoshkaDims: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }))),
    training: Type.Optional(
      Type.Object({ config: Type.Record(Type.String(), Type.Unknown()), metrics: Type.Record(Type.String(), Type.Unknown()) }),
    ),
    files: Type.Record(
      Type.String(),
      Type.Object({ sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }), bytes: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
    ),
    createdAt: Type.String({ minLength: 1 }),
  },
  { additionalProperties: false },
);

function invalid(message: string, details: Record<string, unknown> = {}, cause?: unknown): ModeldError {
  return new ModeldError('MODELD_ERR_ARTIFACT_INVALID', message, { details, cause });
}

/** sha256 (hex) and size of one file, streamed. */
export async function hashFile(file: string): Promise<ManifestFile> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/**
 * Checks a parsed manifest against the schema and the cross-field rules (an `onnx` engine needs
 * the `onnx` block, the tokenizer and model files are listed in `files`). Throws
 * MODELD_ERR_ARTIFACT_INVALID naming the first wrong field.
 */
export function checkManifest(raw: unknown, where: string): ArtifactManifest {
  if (!Value.Check(ManifestSchema, raw)) {
    const errors = [...Value.Errors(ManifestSchema, raw)];
    const first = errors.find((e) => e.keyword !== 'anyOf' && e.keyword !== 'boolean') ?? errors[0];
    const pathOf = (p: string) => (p ? p.slice(1).replaceAll('/', '.') : '');
    let field = pathOf(first?.instancePath ?? '') || '(root)';
    let message = first?.message ?? 'invalid';
    if (first?.keyword === 'required') {
      const missing = (first.params as { requiredProperties?: string[] }).requiredProperties ?? [];
      field = [pathOf(first.instancePath), missing[0]].filter(Boolean).join('.');
      message = 'required';
    } else if (first?.keyword === 'const') {
      const allowed = errors
        .filter((e) => e.keyword === 'const' && e.instancePath === first.instancePath)
        .map((e) => JSON.stringify((e.params as { allowedValue?: unknown }).allowedValue));
      message = `must be ${allowed.length > 1 ? `one of ${allowed.join(', ')}` : allowed[0]}`;
    } else if (first?.keyword === 'additionalProperties') {
      message = `${message} ${JSON.stringify(first.params)}`;
    }
    throw invalid(`${where}: field ${field}: ${message}`, { field });
  }
  const m = raw as ArtifactManifest;
  if (m.engine === 'onnx' && !m.onnx) throw invalid(`${where}: field onnx: required when engine is "onnx"`, { field: 'onnx' });
  if (m.onnx) {
    if (!(m.onnx.file in m.files)) throw invalid(`${where}: field onnx.file: "${m.onnx.file}" is not listed in files`, { field: 'onnx.file' });
    if (m.onnx.outputKind === 'sentence' && m.onnx.pooling !== 'none') {
      throw invalid(`${where}: field onnx.pooling: a sentence output takes pooling "none"`, { field: 'onnx.pooling' });
    }
    if (m.onnx.outputKind === 'token' && m.onnx.pooling === 'none') {
      throw invalid(`${where}: field onnx.pooling: a token output needs mean, cls or max pooling`, { field: 'onnx.pooling' });
    }
  }
  if (!(m.tokenizer.file in m.files)) {
    throw invalid(`${where}: field tokenizer.file: "${m.tokenizer.file}" is not listed in files`, { field: 'tokenizer.file' });
  }
  if (MANIFEST_FILE in m.files) throw invalid(`${where}: field files: must not list ${MANIFEST_FILE} itself`, { field: 'files' });
  return m;
}

/** Reads and schema-checks `<dir>/manifest.json` (no checksums). Throws MODELD_ERR_ARTIFACT_INVALID. */
export async function readManifest(dir: string): Promise<ArtifactManifest> {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw invalid(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { file }, err);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw invalid(`${file}: not valid JSON (${(err as Error).message})`, { file }, err);
  }
  return checkManifest(raw, file);
}

/**
 * Reads the manifest and checks every listed file's size and sha256. Throws
 * MODELD_ERR_ARTIFACT_INVALID naming the field or the file that does not match.
 */
export async function verifyArtifact(dir: string): Promise<ArtifactManifest> {
  const manifest = await readManifest(dir);
  for (const [name, expected] of Object.entries(manifest.files)) {
    const file = path.join(dir, name);
    let actual: ManifestFile;
    try {
      actual = await hashFile(file);
    } catch (err) {
      throw invalid(`${file}: listed in manifest.json but cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { file: name }, err);
    }
    if (actual.bytes !== expected.bytes || actual.sha256 !== expected.sha256) {
      throw invalid(`${file}: checksum mismatch (manifest sha256 ${expected.sha256.slice(0, 12)}..., ${expected.bytes} bytes; file ${actual.sha256.slice(0, 12)}..., ${actual.bytes} bytes)`, {
        file: name,
      });
    }
  }
  return manifest;
}

/** Quick presence check for listings: every listed file exists with the listed size (no hashing). */
export async function checkArtifactFilesPresent(dir: string, manifest: ArtifactManifest): Promise<void> {
  for (const [name, expected] of Object.entries(manifest.files)) {
    const file = path.join(dir, name);
    const st = await stat(file).catch(() => null);
    if (!st?.isFile()) throw invalid(`${file}: listed in manifest.json but missing`, { file: name });
    if (st.size !== expected.bytes) throw invalid(`${file}: ${st.size} bytes, manifest.json says ${expected.bytes}`, { file: name });
  }
}

export type ManifestDraft = Omit<ArtifactManifest, 'formatVersion' | 'files' | 'createdAt'> & { createdAt?: string };

/** Hashes `files` (paths relative to `dir`) and returns the checked manifest, without writing it. */
export async function buildManifest(dir: string, draft: ManifestDraft, files: string[]): Promise<ArtifactManifest> {
  const entries: Record<string, ManifestFile> = {};
  for (const name of [...files].sort()) entries[name] = await hashFile(path.join(dir, name));
  return checkManifest(
    { formatVersion: ARTIFACT_FORMAT_VERSION, ...draft, files: entries, createdAt: draft.createdAt ?? new Date().toISOString() },
    path.join(dir, MANIFEST_FILE),
  );
}

/**
 * Hashes `files` (paths relative to `dir`), writes `<dir>/manifest.json` atomically (temp file +
 * rename) and returns the manifest. The draft is checked against the schema before writing.
 */
export async function writeManifest(dir: string, draft: ManifestDraft, files: string[]): Promise<ArtifactManifest> {
  const manifest = await buildManifest(dir, draft, files);
  await saveManifest(dir, manifest);
  return manifest;
}

/** Writes an already-built manifest to `<dir>/manifest.json` atomically (temp file + rename), without re-hashing. */
export async function saveManifest(dir: string, manifest: ArtifactManifest): Promise<void> {
  checkManifest(manifest, path.join(dir, MANIFEST_FILE));
  const tmp = path.join(dir, `.${MANIFEST_FILE}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`);
  await writeFile(tmp, JSON.stringify(manifest, null, 2) + '\n');
  await rename(tmp, path.join(dir, MANIFEST_FILE));
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value as object)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The content address of an artifact: sha256 (hex) of the canonical JSON of what decides the
 * vectors it produces — the `files` map plus the serving fields (engine, vectorSize, tokenizer,
 * onnx wiring, normalize, prefixes, matryoshkaDims). Name, modelType, createdAt and training
 * details are left out, so importing the same model twice under two names gives one artifact.
 */
export function artifactIdOf(manifest: ArtifactManifest): string {
  const { formatVersion, engine, vectorSize, tokenizer, onnx, normalize, prefixes, matryoshkaDims, files } = manifest;
  const addressed = { formatVersion, engine, vectorSize, tokenizer, onnx, normalize, prefixes, matryoshkaDims, files };
  return createHash('sha256').update(canonicalJson(addressed)).digest('hex');
}
