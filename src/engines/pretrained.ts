import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { catalogueEntry, PRETRAINED_CATALOGUE, type CatalogueEntry, type CatalogueFamily, type PretrainedModel } from '../domain/index.js';
import { ModeldError } from '../errors/index.js';
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
  const entry = catalogueEntry(id);
  if (entry) {
    const query = m.prefixes?.query ? `query prefix ${JSON.stringify(m.prefixes.query)}` : 'no query prefix';
    const passage = m.prefixes?.passage ? `passage prefix ${JSON.stringify(m.prefixes.passage)}` : 'no passage prefix';
    const mrl = m.matryoshkaDims?.length ? `, Matryoshka ${m.matryoshkaDims.join(', ')}` : '';
    return `${entry.source}: ${m.vectorSize}-d text embeddings, ${m.onnx?.pooling ?? 'mean'} pooling, ${query}, ${passage}${mrl}; Lucidworks pre-trained catalogue, installed from a Hugging Face export`;
  }
  return `${m.name}: ${m.vectorSize}-d text embeddings (${m.engine === 'onnx' ? 'ONNX' : 'tfjs'}), installed in the models directory`;
}

/**
 * Checks that a Hugging Face folder fits the catalogue entry it is installed as: config.json's
 * hidden_size is the entry's vector size and tokenizer.json carries the family's tokenizer model
 * (WordPiece for BERT, Unigram for XLM-RoBERTa). Throws MODELD_ERR_ARTIFACT_INVALID saying what
 * the folder has and what the name needs.
 */
async function checkFitsEntry(dir: string, entry: CatalogueEntry, cfg: Record<string, unknown>): Promise<void> {
  const refuse = (why: string) => new ModeldError('MODELD_ERR_ARTIFACT_INVALID', `${entry.name}: this folder is not an export of ${entry.source}: ${why}`, { details: { model: entry.name } });
  if (entry.vectorSize !== null) {
    if (typeof cfg.hidden_size !== 'number') throw refuse('config.json has no hidden_size');
    if (cfg.hidden_size !== entry.vectorSize) throw refuse(`config.json hidden_size is ${cfg.hidden_size}, ${entry.name} has ${entry.vectorSize}`);
  }
  const wanted = FAMILY_TOKENIZER[entry.family];
  if (wanted) {
    const tok = await readFile(path.join(dir, 'tokenizer.json'), 'utf8')
      .then((t) => JSON.parse(t) as { model?: { type?: string } })
      .catch(() => null);
    const kind = tok?.model?.type ?? 'unreadable';
    if (kind !== wanted) throw refuse(`tokenizer.json is a ${kind} tokenizer, ${entry.name} (${entry.family}) uses ${wanted}`);
  }
}

/** The tokenizer.json model type each catalogue family's export carries (null: not checked). */
const FAMILY_TOKENIZER: Record<CatalogueFamily, string | null> = { bert: 'WordPiece', 'xlm-roberta': 'Unigram', lucidworks: null };

/**
 * The manifest of a Hugging Face folder, built in place after a child process ran the model once
 * to learn its vector size. A folder named after a catalogue entry (PRETRAINED_CATALOGUE) must
 * fit it (checkFitsEntry, then the probed size) and takes the entry's pooling, prefixes, longest
 * input and Matryoshka sizes; any other folder is mean-pooled with no prefix.
 */
async function draftInPlace(dir: string, id: string, options: CheckOptions): Promise<ArtifactManifest> {
  const cfg = await readFile(path.join(dir, 'config.json'), 'utf8')
    .then((t) => JSON.parse(t) as Record<string, unknown>)
    .catch(() => ({}) as Record<string, unknown>);
  const entry = catalogueEntry(id);
  if (entry) await checkFitsEntry(dir, entry, cfg);
  const name = entry ? id : typeof cfg._name_or_path === 'string' && cfg._name_or_path ? cfg._name_or_path : id;
  const { draft, files } = await draftFromHfFolder(dir, { name, modelType: id }, `models directory ${id}`);
  if (entry) {
    if (draft.onnx?.outputKind === 'token') draft.onnx.pooling = entry.pooling;
    draft.tokenizer.maxTokens = Math.min(draft.tokenizer.maxTokens, entry.maxTokens);
    if (entry.prefixes.query !== undefined || entry.prefixes.passage !== undefined) draft.prefixes = { ...entry.prefixes };
    if (entry.matryoshkaDims.length > 0) draft.matryoshkaDims = [...entry.matryoshkaDims];
  }
  // Hash and probe against an in-memory manifest; manifest.json appears only once it is right.
  const provisional = await buildManifest(dir, draft, files);
  const { vectorSize } = await probeVectorSizeIsolated(dir, provisional, options);
  if (entry?.vectorSize != null && vectorSize !== entry.vectorSize) {
    throw new ModeldError('MODELD_ERR_ARTIFACT_INVALID', `${id}: the model gives ${vectorSize}-d vectors, ${id} has ${entry.vectorSize}`, { details: { model: id } });
  }
  return { ...provisional, vectorSize };
}

/** Converts a Hugging Face folder in place: writes manifest.json beside its files (nothing is copied). */
async function convertInPlace(dir: string, id: string, options: CheckOptions): Promise<ArtifactManifest> {
  const manifest = await draftInPlace(dir, id, options);
  await saveManifest(dir, manifest);
  return manifest;
}

/**
 * `modeld models install <name> <folder>`: copies the files of a Hugging Face export that the
 * model needs (tokenizer, config, ONNX graph and its external data; nothing else) into a hidden
 * temp folder of `modelsDir`, checks them against the catalogue entry and a probe inference, writes
 * manifest.json and renames the folder to `<modelsDir>/<name>`: a running server lists it within
 * its catalogue refresh (10 s). `name` must be a catalogue name; an installed name is refused
 * unless `replace`. Throws MODELD_ERR_VALIDATION / MODELD_ERR_CONFLICT / MODELD_ERR_ARTIFACT_INVALID.
 */
export async function installPretrained(modelsDir: string, name: string, folder: string, options: CheckOptions & { replace?: boolean } = {}): Promise<ArtifactManifest> {
  const entry = catalogueEntry(name);
  if (!entry) {
    throw new ModeldError('MODELD_ERR_VALIDATION', `name: ${JSON.stringify(name)} is not in the pre-trained catalogue (${PRETRAINED_CATALOGUE.map((e) => e.name).join(', ')})`, {
      details: { field: 'name' },
    });
  }
  const target = path.join(modelsDir, name);
  if ((await stat(target).catch(() => null)) && !options.replace) {
    throw new ModeldError('MODELD_ERR_CONFLICT', `${name} is already installed in ${modelsDir} (pass --replace to install it again)`);
  }
  const source = path.resolve(folder);
  const { files } = await draftFromHfFolder(source, { name, modelType: name }, 'folder', options.limits);
  for (const extra of ['tokenizer_config.json', 'special_tokens_map.json']) {
    if (!files.includes(extra) && (await isFile(path.join(source, extra)))) files.push(extra);
  }
  await mkdir(modelsDir, { recursive: true });
  const temp = await mkdtemp(path.join(modelsDir, `.${name}.installing-`));
  try {
    for (const f of files) {
      await mkdir(path.dirname(path.join(temp, f)), { recursive: true });
      await copyFile(path.join(source, f), path.join(temp, f));
    }
    const manifest = await convertInPlace(temp, name, options);
    if (options.replace) await rm(target, { recursive: true, force: true });
    await rename(temp, target);
    return manifest;
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
}

async function isFile(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null))?.isFile() ?? false;
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
