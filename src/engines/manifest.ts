import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, realpath, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ModeldError } from '../errors/index.js';
import { capOf, isSafeRelativePath, MAX_ARTIFACT_FILES, readCappedText, resolveInside, type FileLimits } from './safe-files.js';
import { ARTIFACT_FORMAT_VERSION, type ArtifactManifest, type ManifestFile } from './types.js';

export const MANIFEST_FILE = 'manifest.json';

/**
 * The manifest's shape, checked by hand rather than with a schema library: this module is on the
 * runner's start-up path, and loading typebox there cost about a second of CPU per replica start
 * on a loaded 2-core machine. Mirrors ArtifactManifest in types.ts. Unknown keys are refused so
 * that a typo is not silently ignored (except inside `training`, which is free-form).
 */
type Check = (value: unknown, field: string) => string | null;

/** A failed check: the field (dotted path) and what is wrong with it. */
class ShapeError extends Error {
  constructor(
    readonly field: string,
    readonly why: string,
  ) {
    super(`${field}: ${why}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const str =
  (minLength = 0): Check =>
  (v) =>
    typeof v !== 'string' ? 'must be string' : v.length < minLength ? `must be a string of at least ${minLength} character(s)` : null;

const int =
  (minimum: number, maximum = Number.MAX_SAFE_INTEGER): Check =>
  (v) =>
    typeof v !== 'number' || !Number.isInteger(v) ? 'must be integer' : v < minimum || v > maximum ? `must be an integer in [${minimum}, ${maximum}]` : null;

const oneOf =
  (...allowed: readonly unknown[]): Check =>
  (v) =>
    allowed.includes(v) ? null : `must be ${allowed.length > 1 ? `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}` : JSON.stringify(allowed[0])}`;

const bool: Check = (v) => (typeof v === 'boolean' ? null : 'must be boolean');

/** A path inside the artifact (isSafeRelativePath): relative, normalized, no `..`. */
const relativeFile: Check = (v) =>
  typeof v === 'string' && isSafeRelativePath(v) ? null : 'must be a normalized relative path inside the artifact (no leading /, no . or .. segment, no backslash)';
const SHA256 = /^[0-9a-f]{64}$/;

interface Field {
  check: Check | ObjectShape;
  optional?: boolean;
}
interface ObjectShape {
  fields: Record<string, Field>;
  /** Unknown keys refused (default true). */
  closed?: boolean;
}

function checkObject(value: unknown, shape: ObjectShape, field: string): void {
  const here = field || '(root)';
  if (!isObject(value)) throw new ShapeError(here, 'must be object');
  for (const [key, spec] of Object.entries(shape.fields)) {
    const sub = field ? `${field}.${key}` : key;
    const v = value[key];
    if (v === undefined) {
      if (spec.optional) continue;
      throw new ShapeError(sub, 'required');
    }
    if (typeof spec.check === 'function') {
      const why = spec.check(v, sub);
      if (why !== null) throw new ShapeError(sub, why);
    } else {
      checkObject(v, spec.check, sub);
    }
  }
  if (shape.closed !== false) {
    const unknown = Object.keys(value).filter((k) => !(k in shape.fields));
    if (unknown.length > 0) throw new ShapeError(here, `must not have additional properties ${JSON.stringify({ additionalProperties: unknown })}`);
  }
}

const record =
  (each: (v: unknown, field: string) => void): Check =>
  (v, field) => {
    if (!isObject(v)) return 'must be object';
    for (const [key, item] of Object.entries(v)) each(item, `${field}.${key}`);
    return null;
  };

const ManifestShape: ObjectShape = {
  fields: {
    formatVersion: { check: oneOf(ARTIFACT_FORMAT_VERSION) },
    name: { check: str(1) },
    modelType: { check: str(1) },
    engine: { check: oneOf('onnx', 'tfjs-use') },
    vectorSize: { check: int(1, 65536) },
    tokenizer: {
      check: { fields: { kind: { check: oneOf('hf-tokenizer-json', 'use-sentencepiece') }, file: { check: relativeFile }, maxTokens: { check: int(1, 8192) } } },
    },
    onnx: {
      optional: true,
      check: {
        fields: {
          file: { check: relativeFile },
          inputs: {
            check: { fields: { ids: { check: str(1) }, attentionMask: { check: str(1), optional: true }, tokenTypeIds: { check: str(1), optional: true } } },
          },
          output: { check: str(1) },
          outputKind: { check: oneOf('token', 'sentence') },
          pooling: { check: oneOf('mean', 'cls', 'max', 'none') },
          idType: { check: oneOf('int64', 'int32') },
        },
      },
    },
    normalize: { check: bool },
    prefixes: { optional: true, check: { fields: { query: { check: str(), optional: true }, passage: { check: str(), optional: true } } } },
    matryoshkaDims: {
      optional: true,
      check: (v, field) => {
        if (!Array.isArray(v)) return 'must be array';
        v.forEach((d, i) => {
          const why = int(1)(d, `${field}.${i}`);
          if (why !== null) throw new ShapeError(`${field}.${i}`, why);
        });
        return null;
      },
    },
    training: {
      optional: true,
      check: { closed: false, fields: { config: { check: record(() => undefined) }, metrics: { check: record(() => undefined) } } },
    },
    files: {
      // Every key is a path the importer hashes and copies: checked here, before any file is opened.
      check: (v, field) => {
        if (isObject(v)) {
          const keys = Object.keys(v);
          if (keys.length > MAX_ARTIFACT_FILES) return `must list at most ${MAX_ARTIFACT_FILES} files`;
          const bad = keys.find((k) => !isSafeRelativePath(k));
          if (bad !== undefined) throw new ShapeError(`${field}[${JSON.stringify(bad.slice(0, 200))}]`, 'must be a normalized relative path inside the artifact (no leading /, no . or .. segment, no backslash)');
        }
        return record((f, sub) =>
          checkObject(f, { fields: { sha256: { check: (h) => (typeof h === 'string' && SHA256.test(h) ? null : 'must be a lowercase hex sha256') }, bytes: { check: int(0) } } }, sub),
        )(v, field);
      },
    },
    createdAt: { check: str(1) },
  },
};

/** Throws MODELD_ERR_ARTIFACT_INVALID naming the first field that does not fit the manifest's shape. */
function checkShape(raw: unknown, where: string): void {
  try {
    checkObject(raw, ManifestShape, '');
  } catch (err) {
    if (!(err instanceof ShapeError)) throw err;
    throw invalid(`${where}: field ${err.field}: ${err.why}`, { field: err.field });
  }
}

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
  checkShape(raw, where);
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

/**
 * Reads and schema-checks `<dir>/manifest.json` (no checksums). With `limits.jsonFileBytes`, a
 * larger manifest is refused before it is read. Throws MODELD_ERR_ARTIFACT_INVALID.
 */
export async function readManifest(dir: string, limits: FileLimits = {}): Promise<ArtifactManifest> {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    const cap = capOf(MANIFEST_FILE, limits);
    if (cap) {
      const { real } = await resolveInside(await realpath(dir), MANIFEST_FILE, limits);
      text = await readCappedText(real, cap.bytes, file);
    } else {
      text = await readFile(file, 'utf8');
    }
  } catch (err) {
    if (err instanceof ModeldError) throw err;
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
 * Reads the manifest and checks every listed file's size and sha256. Every listed path is checked
 * (by checkManifest) to be relative and normalized before any file is opened, and each file's real
 * path (symlinks resolved) must lie inside `dir`; with `limits`, each file must be within its cap.
 * Throws MODELD_ERR_ARTIFACT_INVALID naming the field or the file that does not match; a listed
 * path that leads out of `dir` is refused without a word about what is there.
 */
export async function verifyArtifact(dir: string, limits: FileLimits = {}): Promise<ArtifactManifest> {
  const manifest = await readManifest(dir, limits);
  const root = await realpath(dir);
  const resolved: [string, string, ManifestFile][] = [];
  for (const [name, expected] of Object.entries(manifest.files)) {
    const { real } = await resolveInside(root, name, limits).catch((err: unknown) => {
      throw err instanceof ModeldError ? invalid(`${path.join(dir, name)}: listed in manifest.json but ${err.message.replace(/^.*?: /, '')}`, { file: name }, err) : err;
    });
    resolved.push([name, real, expected]);
  }
  for (const [name, real, expected] of resolved) {
    const file = path.join(dir, name);
    let actual: ManifestFile;
    try {
      actual = await hashFile(real);
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
