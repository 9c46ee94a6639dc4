import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PretrainedModel } from '../domain/index.js';
import { probeVectorSizeIsolated, type CheckOptions } from './check-isolated.js';
import { draftFromHfFolder, looksLikeHfFolder } from './hf-folder.js';
import { buildManifest, checkArtifactFilesPresent, MANIFEST_FILE, readManifest, saveManifest } from './manifest.js';
import { SHIPPED_USE_DESCRIPTION, SHIPPED_USE_ID } from './shipped-use.js';
import type { ArtifactManifest } from './types.js';

/** A folder of the models directory that is not offered, and why. */
export interface SkippedPretrained {
  id: string;
  reason: string;
}

export interface PretrainedListing {
  /** Usable models, sorted by id. */
  models: PretrainedModel[];
  /** Folders that are not usable, with the reason (never thrown: one broken folder must not hide the others). */
  skipped: SkippedPretrained[];
}

/** Folder names usable as a model id in a URL path. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Remembers a failed conversion of a Hugging Face folder, with the sizes and mtimes of the files
 * it looked at, so a listing does not spawn a probe process for the same broken folder every time.
 */
const FAILURE_MARKER = '.modeld-import-error.json';

async function folderSignature(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'config.json', 'model.onnx', 'onnx/model.onnx']) {
    const st = await stat(path.join(dir, f)).catch(() => null);
    parts.push(st ? `${f}:${st.size}:${st.mtimeMs}` : `${f}:-`);
  }
  return parts.join('|');
}

function describe(id: string, m: ArtifactManifest): string {
  if (id === SHIPPED_USE_ID) return SHIPPED_USE_DESCRIPTION;
  return `${m.name}: ${m.vectorSize}-d text embeddings (${m.engine === 'onnx' ? 'ONNX' : 'tfjs'}), installed in the models directory`;
}

/**
 * Converts a Hugging Face folder in place: writes manifest.json beside its files (nothing is
 * copied), after a child process ran the model once to learn its vector size.
 */
async function convertInPlace(dir: string, id: string, options: CheckOptions): Promise<ArtifactManifest> {
  const cfg = await readFile(path.join(dir, 'config.json'), 'utf8')
    .then((t) => JSON.parse(t) as Record<string, unknown>)
    .catch(() => ({}) as Record<string, unknown>);
  const name = typeof cfg._name_or_path === 'string' && cfg._name_or_path ? cfg._name_or_path : id;
  const { draft, files } = await draftFromHfFolder(dir, { name, modelType: id }, `models directory ${id}`);
  // Hash and probe against an in-memory manifest; manifest.json appears only once it is right.
  const provisional = await buildManifest(dir, draft, files);
  const { vectorSize } = await probeVectorSizeIsolated(dir, provisional, options);
  const manifest = { ...provisional, vectorSize };
  await saveManifest(dir, manifest);
  return manifest;
}

/**
 * Lists the pre-trained models of `modelsDir`: every folder whose name is a valid id (id = folder
 * name = modelType). A modeld artifact folder (manifest.json) is offered when its manifest is
 * valid and its files are present with their sizes (checksums are verified by the runner that
 * loads it, not on every listing). A Hugging Face folder (tokenizer.json + onnx/model.onnx or
 * model.onnx) is converted on first sight by writing manifest.json into it. Folders that fail are
 * returned in `skipped` with the reason; a failed conversion is not retried until one of the
 * folder's files changes. A missing modelsDir lists nothing.
 */
export async function listPretrained(modelsDir: string, options: CheckOptions = {}): Promise<PretrainedListing> {
  const entries = await readdir(modelsDir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  const models: PretrainedModel[] = [];
  const skipped: SkippedPretrained[] = [];
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (e.name.startsWith('.') || !e.isDirectory()) continue;
    const id = e.name;
    const dir = path.resolve(modelsDir, id);
    if (!ID_PATTERN.test(id)) {
      skipped.push({ id, reason: `folder name is not a usable model id (letters, digits, '.', '_', '-'; at most 128)` });
      continue;
    }
    try {
      let manifest: ArtifactManifest;
      if (await stat(path.join(dir, MANIFEST_FILE)).catch(() => null)) {
        manifest = await readManifest(dir);
        await checkArtifactFilesPresent(dir, manifest);
      } else if (await looksLikeHfFolder(dir)) {
        const marker = path.join(dir, FAILURE_MARKER);
        const signature = await folderSignature(dir);
        const previous = await readFile(marker, 'utf8')
          .then((t) => JSON.parse(t) as { signature?: string; reason?: string })
          .catch(() => null);
        if (previous?.signature === signature && previous.reason) throw new Error(previous.reason);
        try {
          manifest = await convertInPlace(dir, id, options);
          await rm(marker, { force: true });
        } catch (err) {
          await writeFile(marker, JSON.stringify({ signature, reason: (err as Error).message })).catch(() => undefined);
          throw err;
        }
      } else {
        skipped.push({ id, reason: 'neither a modeld artifact (manifest.json) nor a Hugging Face export (tokenizer.json + onnx/model.onnx)' });
        continue;
      }
      models.push({ id, name: manifest.name, modelType: id, description: describe(id, manifest), vectorSize: manifest.vectorSize, artifactDir: dir });
    } catch (err) {
      skipped.push({ id, reason: (err as Error).message });
    }
  }
  return { models, skipped };
}
