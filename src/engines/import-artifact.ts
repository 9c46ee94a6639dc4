import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ModeldError } from '../errors/index.js';
import { checkArtifactIsolated, probeVectorSizeIsolated, type CheckOptions } from './check-isolated.js';
import { draftFromHfFolder } from './hf-folder.js';
import { artifactIdOf, MANIFEST_FILE, readManifest, saveManifest, verifyArtifact, writeManifest } from './manifest.js';
import type { ArtifactManifest } from './types.js';

export interface ImportedArtifact {
  /** Content address (see artifactIdOf): the folder name under artifactsRoot. */
  artifactId: string;
  dir: string;
  manifest: ArtifactManifest;
}

async function exists(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null)) !== null;
}

/** The check ran on the copy in a temp folder; the user knows the folder they gave. */
function inSourceTerms(err: unknown, tmp: string, source: string): unknown {
  if (!(err instanceof ModeldError)) return err;
  return new ModeldError(err.code, err.message.replaceAll(tmp, source), { details: err.details, cause: err });
}

async function copyFiles(from: string, to: string, files: string[]): Promise<void> {
  for (const f of files) {
    await mkdir(path.dirname(path.join(to, f)), { recursive: true });
    await copyFile(path.join(from, f), path.join(to, f));
  }
}

/**
 * Imports a model into the artifact store and returns its content address.
 *
 * Accepts (a) a modeld artifact directory (has manifest.json: schema and checksums verified) and
 * (b) a Hugging Face folder exported for sentence embeddings (see draftFromHfFolder). Only the
 * model's own files are copied, into `artifactsRoot/.import-*` and then renamed to
 * `artifactsRoot/<artifactId>/`; the copy is loaded and run once in a child process
 * (checkArtifactIsolated), which for (b) also tells the vector size. Idempotent: when
 * `<artifactId>/` already exists it is kept (with the name and modelType of its first import)
 * and returned. `meta.name` / `meta.modelType` go into the new manifest.
 *
 * Every failure about the model is MODELD_ERR_ARTIFACT_INVALID with a message a user can act on
 * ("artifact.uri: no tokenizer.json in /x", "onnx/model.onnx is not an ONNX model: ...").
 */
export async function importArtifact(
  sourceDir: string,
  artifactsRoot: string,
  meta: { name: string; modelType: string },
  options: CheckOptions = {},
): Promise<ImportedArtifact> {
  const source = path.resolve(sourceDir);
  const st = await stat(source).catch(() => null);
  if (!st?.isDirectory()) {
    throw new ModeldError('MODELD_ERR_ARTIFACT_INVALID', `artifact.uri: ${source} is not a directory`, { details: { field: 'artifact.uri' } });
  }
  await mkdir(artifactsRoot, { recursive: true });
  const tmp = path.join(artifactsRoot, `.import-${process.pid}-${randomBytes(6).toString('hex')}`);
  await mkdir(tmp);
  try {
    let manifest: ArtifactManifest;
    if (await exists(path.join(source, MANIFEST_FILE))) {
      const original = await verifyArtifact(source);
      await copyFiles(source, tmp, Object.keys(original.files));
      manifest = { ...original, name: meta.name, modelType: meta.modelType };
      await saveManifest(tmp, manifest);
      await checkArtifactIsolated(tmp, options).catch((err: unknown) => Promise.reject(inSourceTerms(err, tmp, source)));
    } else {
      const { draft, files } = await draftFromHfFolder(source, meta);
      await copyFiles(source, tmp, files);
      const provisional = await writeManifest(tmp, draft, files);
      const { vectorSize } = await probeVectorSizeIsolated(tmp, provisional, options).catch((err: unknown) => Promise.reject(inSourceTerms(err, tmp, source)));
      manifest = { ...provisional, vectorSize };
      await saveManifest(tmp, manifest);
    }
    const artifactId = artifactIdOf(manifest);
    const dir = path.join(artifactsRoot, artifactId);
    if (await exists(path.join(dir, MANIFEST_FILE))) return { artifactId, dir, manifest: await readManifest(dir) };
    try {
      await rename(tmp, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A concurrent import of the same model won the rename: same content, use theirs.
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await exists(path.join(dir, MANIFEST_FILE)))) {
        return { artifactId, dir, manifest: await readManifest(dir) };
      }
      throw err;
    }
    return { artifactId, dir, manifest };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
