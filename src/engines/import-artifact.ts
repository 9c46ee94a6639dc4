import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, realpath, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ModeldError } from '../errors/index.js';
import { prepareImportIsolated, type CheckOptions } from './check-isolated.js';
import { draftFromHfFolder } from './hf-folder.js';
import { openEngine } from './load-engine.js';
import { artifactIdOf, MANIFEST_FILE, readManifest, saveManifest, verifyArtifact, writeManifest } from './manifest.js';
import { existsInside, resolveInside, type FileLimits } from './safe-files.js';
import type { ArtifactManifest, EmbeddingEngine } from './types.js';

/**
 * What the import request says about the model: its name and type, and optionally what the
 * folder cannot say itself (an extension of M2, `artifact.prefixes` / `artifact.pooling`): the
 * query/passage prefixes the model was trained with and the pooling of a token-output graph.
 * They override the folder's (manifest or default mean, no prefix).
 */
export interface ModelImportMeta {
  name: string;
  modelType: string;
  prefixes?: { query?: string; passage?: string };
  pooling?: 'mean' | 'cls';
}

/** The manifest with the request's prefixes and pooling applied (pooling only where the graph gives token vectors). */
function withDeclared<T extends { prefixes?: ArtifactManifest['prefixes']; onnx?: ArtifactManifest['onnx'] }>(m: T, meta: ModelImportMeta): T {
  const out = { ...m };
  if (meta.prefixes) out.prefixes = { ...meta.prefixes };
  if (meta.pooling) {
    if (out.onnx?.outputKind !== 'token') throw new ModeldError('MODELD_ERR_ARTIFACT_INVALID', 'artifact.pooling is given, but the model pools inside its graph (sentence output); pooling applies only to a token output');
    out.onnx = { ...out.onnx, pooling: meta.pooling };
  }
  return out;
}

export interface ImportedArtifact {
  /** Content address (see artifactIdOf): the folder name under artifactsRoot. */
  artifactId: string;
  dir: string;
  vectorSize: number;
}

async function exists(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null)) !== null;
}

/**
 * Imports a model into the artifact store and returns its content address.
 *
 * Accepts (a) a modeld artifact directory (has manifest.json: schema, paths and checksums
 * verified) and (b) a Hugging Face folder exported for sentence embeddings (see
 * draftFromHfFolder). Everything that reads the folder's files runs in a child process
 * (prepareImportIsolated -> prepareImport): this process parses none of them, so a huge or
 * hostile tokenizer.json, config.json, manifest or graph cannot stall or crash the server. The
 * child copies only the model's own files (each inside the folder after resolving symlinks, each
 * within `options.limits`) into `artifactsRoot/.import-*`, writes the manifest, loads the copy
 * and runs one inference; this process then renames the copy to `artifactsRoot/<artifactId>/`.
 * Idempotent: when `<artifactId>/` already exists it is kept (with the name and modelType of its
 * first import) and returned. `meta.name` / `meta.modelType` go into the new manifest.
 *
 * Every failure about the model is MODELD_ERR_ARTIFACT_INVALID with a message a user can act on
 * that names files relative to the folder ("no tokenizer.json in .", "onnx/model.onnx is not an
 * ONNX model: ...") and no host path; its cause carries the operator detail (operatorDetailOf).
 */
export async function importArtifact(
  sourceDir: string,
  artifactsRoot: string,
  meta: ModelImportMeta,
  options: CheckOptions = {},
): Promise<ImportedArtifact> {
  const source = path.resolve(sourceDir);
  await mkdir(artifactsRoot, { recursive: true, mode: 0o700 });
  const tmp = path.join(artifactsRoot, `.import-${process.pid}-${randomBytes(6).toString('hex')}`);
  await mkdir(tmp, { mode: 0o700 });
  try {
    const { artifactId, vectorSize } = await prepareImportIsolated(source, tmp, meta, options);
    const dir = path.join(artifactsRoot, artifactId);
    if (await exists(path.join(dir, MANIFEST_FILE))) return { artifactId, dir, vectorSize: (await readManifest(dir)).vectorSize };
    try {
      await rename(tmp, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A concurrent import of the same model won the rename: same content, use theirs.
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await exists(path.join(dir, MANIFEST_FILE)))) {
        return { artifactId, dir, vectorSize: (await readManifest(dir)).vectorSize };
      }
      throw err;
    }
    return { artifactId, dir, vectorSize };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Copies `files` (checked relative paths) of the folder whose real path is `rootReal` into `to`, each checked again (resolveInside) just before. */
async function copyFiles(rootReal: string, to: string, files: readonly string[], limits: FileLimits): Promise<void> {
  for (const f of files) {
    const { real } = await resolveInside(rootReal, f, limits);
    await mkdir(path.dirname(path.join(to, ...f.split('/'))), { recursive: true });
    await copyFile(real, path.join(to, ...f.split('/')));
    // copyFile keeps the source's mode (an importRoots folder may be 0644); artifacts are 0600.
    await chmod(path.join(to, ...f.split('/')), 0o600);
  }
}

/**
 * The child-process side of importArtifact (run by check-main.ts, never in the server): checks
 * the untrusted folder `sourceDir`, copies the model's files into the empty folder `destDir`,
 * writes its manifest there, loads the copy and runs one inference. For a modeld artifact, the
 * manifest is read within its cap and checked (every `files` key relative and normalized) before
 * any listed file is opened; each file must resolve inside the folder and be within its cap; the
 * checksums are verified on the copy, which is what is kept. Returns the copy's content address
 * and vector size.
 */
export async function prepareImport(
  sourceDir: string,
  destDir: string,
  meta: ModelImportMeta,
  limits: FileLimits = {},
): Promise<{ artifactId: string; vectorSize: number }> {
  if (!(await stat(sourceDir).catch(() => null))?.isDirectory()) {
    throw new ModeldError('MODELD_ERR_ARTIFACT_INVALID', 'artifact.uri: not a directory', { details: { field: 'artifact.uri' } });
  }
  const root = await realpath(sourceDir);
  let manifest: ArtifactManifest;
  if (await existsInside(root, MANIFEST_FILE)) {
    const original = await readManifest(root, limits);
    await copyFiles(root, destDir, Object.keys(original.files), limits);
    manifest = withDeclared({ ...original, name: meta.name, modelType: meta.modelType }, meta);
    await saveManifest(destDir, manifest);
    await verifyArtifact(destDir, limits);
    const engine = await openEngine(destDir, manifest);
    const size = await embedCheck(engine);
    if (size !== manifest.vectorSize) throw new Error(`the model gives ${size}-d vectors, manifest.json says vectorSize ${manifest.vectorSize}`);
  } else {
    const { draft: found, files } = await draftFromHfFolder(root, meta, 'artifact.uri', limits);
    const draft = withDeclared(found, meta);
    await copyFiles(root, destDir, files, limits);
    const provisional = await writeManifest(destDir, draft, files);
    const engine = await openEngine(destDir, provisional, { adoptOutputSize: true });
    const vectorSize = await embedCheck(engine);
    manifest = { ...provisional, vectorSize };
    await saveManifest(destDir, manifest);
  }
  return { artifactId: artifactIdOf(manifest), vectorSize: manifest.vectorSize };
}

/** Runs one inference of two texts on `engine`, checks the output (size, finite values), closes it and returns the vector size. */
export async function embedCheck(engine: EmbeddingEngine): Promise<number> {
  const texts = ['modeld checks that this model embeds text.', 'A second, different sentence.'];
  const { vectors } = await engine.embed(texts);
  const size = engine.vectorSize;
  if (vectors.length !== texts.length * size) throw new Error(`the model returned ${vectors.length} numbers for ${texts.length} texts of ${size} dimensions`);
  for (let i = 0; i < vectors.length; i++) if (!Number.isFinite(vectors[i]!)) throw new Error(`the model output has a non-finite value (${vectors[i]}) at ${i}`);
  await engine.close();
  return size;
}
