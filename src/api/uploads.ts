import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ModeldError, invalidField, quotaExceeded } from '../errors/index.js';

/** One segment of an upload path: no separators, no leading dot (temp and metadata files start with one), 1-128 characters. */
export const UPLOAD_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/**
 * Most segments of an upload path (`my-encoder/onnx/model.onnx` has 3): a model folder such as a
 * Hugging Face export nests at most two or three levels.
 */
export const MAX_UPLOAD_DEPTH = 8;
/** Longest upload path, all segments and slashes included. */
export const MAX_UPLOAD_PATH = 512;
/** Customer ids become directory names; ids issued by modeld are UUIDs. */
const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** What PUT answers and GET lists for one uploaded file. */
export interface UploadInfo {
  /** The upload path: a name, or '/'-separated names for a file inside an upload folder. */
  name: string;
  /** `file://` URI of the stored file, usable as M2 `trainingData.catalog` / `.signals`. */
  uri: string;
  /**
   * For a file inside an upload folder (`name` with a '/'): the `file://` URI of its top-level
   * folder, usable as M2 `artifact.uri` to import the model held there.
   */
  folderUri?: string;
  bytes: number;
  /** Hex SHA-256 of the content. */
  sha256: string;
  uploadedAt: string;
}

interface Meta {
  bytes: number;
  sha256: string;
  uploadedAt: string;
}

const metaName = (name: string): string => `.${name}.meta.json`;

/** What DELETE answers for an upload folder (removed with everything in it). */
export interface UploadFolderInfo {
  name: string;
  uri: string;
  /** Files the folder held. */
  files: number;
  bytes: number;
}

/** The upload quotas of one customer (config `quotas.uploadFiles` / `quotas.uploadBytes`, or its overrides). */
export interface UploadQuota {
  files: number;
  bytes: number;
}

/** What a customer's upload folder holds, as the upload quotas count it. */
export interface UploadUsage {
  files: number;
  bytes: number;
}

/**
 * The one place uploads are counted for the quotas: every regular file under `folder`, in
 * nested folders too, whose name does not start with '.' (modeld's metadata and in-progress
 * temp files do; upload names never do). Symlinks are neither followed nor counted (uploads
 * never create them). A missing folder holds nothing.
 */
export async function countUploads(folder: string): Promise<UploadUsage> {
  const usage: UploadUsage = { files: 0, bytes: 0 };
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw err;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) {
        const size = await lstat(full).then((st) => st.size, () => null);
        if (size === null) continue;
        usage.files += 1;
        usage.bytes += size;
      }
    }
  };
  await walk(folder);
  return usage;
}

/**
 * Files uploaded by customers (training data, the files of a model to import):
 * `<uploadsRoot>/<customerId>/<path>`, where a path is one name or a few '/'-separated names
 * (`my-encoder/onnx/model.onnx`), each checked like a name (see UPLOAD_NAME; no `..`, no leading
 * dot), with a `.<name>.meta.json` beside each file (size, SHA-256, time). A file is written to a
 * temp name in the same folder and renamed over the old one, so a reader never sees half a file
 * and a failed upload leaves the previous version in place. Only this class writes there, so the
 * tree holds no symlinks.
 */
export class UploadStore {
  readonly #root: string;
  /** Bytes being streamed now per customer (not yet renamed into place), so parallel uploads cannot pass the bytes quota together. */
  readonly #streaming = new Map<string, number>();
  /** Per customer, the tail of the chain the final quota check and rename of each upload run on, one at a time. */
  readonly #commits = new Map<string, Promise<unknown>>();

  constructor(uploadsRoot: string) {
    this.#root = path.resolve(uploadsRoot);
  }

  get root(): string {
    return this.#root;
  }

  /** The customer's folder. Throws 400 for a customer id that cannot be a folder name (never for modeld's UUIDs). */
  folderOf(customerId: string): string {
    if (!SAFE_SEGMENT.test(customerId)) throw invalidField('params.CUSTOMER_ID', 'cannot hold uploads (not a plain id)');
    return path.join(this.#root, customerId);
  }

  /**
   * Streams `body` to `<folder>/<name>`, at most `limitBytes` (413 MODELD_ERR_BODY_TOO_LARGE
   * naming the limit beyond it, nothing kept). Replaces an existing file of that name.
   *
   * With `quota`: the folder may hold at most `quota.files` files and `quota.bytes` bytes once
   * this file is in place (a replaced file no longer counts). Refused with 403
   * MODELD_ERR_QUOTA_EXCEEDED, nothing kept: before a byte is read when the file count is full
   * or `announcedBytes` (Content-Length) cannot fit, while streaming as soon as the bytes (with
   * those of the customer's other uploads in progress) pass the quota, and in a final check
   * that recounts the folder; final checks and renames of one customer run one at a time, so
   * parallel uploads never pass a quota together (within this process; the uploads folder
   * belongs to one server).
   */
  async put(
    customerId: string,
    name: string,
    body: AsyncIterable<Buffer>,
    limitBytes: number,
    at: string,
    quota?: UploadQuota,
    announcedBytes?: number,
  ): Promise<UploadInfo> {
    const segments = checkName(name);
    const fileName = segments.at(-1)!;
    const top = this.folderOf(customerId);
    const folder = path.join(top, ...segments.slice(0, -1));
    const target = path.join(folder, fileName);
    // Bytes on disk that stay once this file is in place (a file of the same name is replaced);
    // the whole customer folder counts, nested upload folders included.
    let base = 0;
    if (quota) {
      const usage = await countUploads(top);
      const replaced = await fileSize(target);
      if (replaced === null && usage.files + 1 > quota.files) throw quotaExceeded('uploadFiles', quota.files, usage.files);
      base = usage.bytes - (replaced ?? 0);
      const others = base + (this.#streaming.get(customerId) ?? 0);
      if (announcedBytes !== undefined && Number.isFinite(announcedBytes) && others + announcedBytes > quota.bytes) {
        throw quotaExceeded('uploadBytes', quota.bytes, others, announcedBytes);
      }
    }
    try {
      await mkdir(folder, { recursive: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTDIR') throw conflict(name, 'a folder in it is an uploaded file');
      throw err;
    }
    if ((await stat(target).catch(() => null))?.isDirectory()) throw conflict(name, 'it is an upload folder');
    const temp = path.join(folder, `.${fileName}.${randomUUID()}.part`);
    const out = createWriteStream(temp, { flags: 'wx', mode: 0o640 });
    const hash = createHash('sha256');
    const streaming = this.#streaming;
    let bytes = 0;
    /** This upload's share of #streaming, given back at the end. */
    let reserved = 0;
    let refusal: ModeldError | null = null;
    try {
      await pipeline(
        body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            bytes += chunk.length;
            if (bytes > limitBytes) {
              refusal = tooLargeError(limitBytes);
              throw refusal;
            }
            if (quota) {
              const inFlight = (streaming.get(customerId) ?? 0) + chunk.length;
              streaming.set(customerId, inFlight);
              reserved += chunk.length;
              if (base + inFlight > quota.bytes) {
                refusal = quotaExceeded('uploadBytes', quota.bytes, base + inFlight - bytes, bytes);
                throw refusal;
              }
            }
            hash.update(chunk);
            yield chunk;
          }
        },
        out,
      );
      const meta: Meta = { bytes, sha256: hash.digest('hex'), uploadedAt: at };
      const metaTemp = `${temp}.meta`;
      await writeFile(metaTemp, JSON.stringify(meta));
      await this.#serially(customerId, async () => {
        if (quota) {
          const usage = await countUploads(top);
          const replaced = await fileSize(target);
          const files = usage.files - (replaced === null ? 0 : 1);
          if (files + 1 > quota.files) throw quotaExceeded('uploadFiles', quota.files, files);
          const used = usage.bytes - (replaced ?? 0);
          if (used + bytes > quota.bytes) throw quotaExceeded('uploadBytes', quota.bytes, used, bytes);
        }
        await rename(temp, target);
        await rename(metaTemp, path.join(folder, metaName(fileName)));
      });
      return this.#info(top, name, meta);
    } catch (err) {
      // A refused body can end the pipeline before the file stream has even opened its file:
      // wait until it is closed, or the rm below runs first and the file appears after it.
      if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
      await rm(temp, { force: true });
      await rm(`${temp}.meta`, { force: true });
      if (refusal) throw refusal;
      throw err;
    } finally {
      if (reserved > 0) {
        const left = (this.#streaming.get(customerId) ?? 0) - reserved;
        if (left > 0) this.#streaming.set(customerId, left);
        else this.#streaming.delete(customerId);
      }
    }
  }

  /** What the customer's folder holds now, as the quotas count it (see countUploads). */
  async usage(customerId: string): Promise<UploadUsage> {
    return countUploads(this.folderOf(customerId));
  }

  /** Runs `fn` after every earlier call of this customer has settled. */
  async #serially<T>(customerId: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#commits.get(customerId) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.catch(() => {});
    this.#commits.set(customerId, tail);
    try {
      return await run;
    } finally {
      if (this.#commits.get(customerId) === tail) this.#commits.delete(customerId);
    }
  }

  /** The customer's uploaded files, by path (files inside upload folders included, as `folder/.../file`). */
  async list(customerId: string): Promise<UploadInfo[]> {
    const top = this.folderOf(customerId);
    const out: UploadInfo[] = [];
    const walk = async (rel: string[]): Promise<void> => {
      let entries;
      try {
        entries = await readdir(path.join(top, ...rel), { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
        throw err;
      }
      for (const d of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
        if (!UPLOAD_NAME.test(d.name)) continue;
        const sub = [...rel, d.name];
        if (d.isDirectory() && sub.length < MAX_UPLOAD_DEPTH) await walk(sub);
        else if (d.isFile()) {
          const info = await this.#read(top, sub.join('/'));
          if (info) out.push(info);
        }
      }
    };
    await walk([]);
    return out;
  }

  /**
   * Removes an upload: a file, or an upload folder with everything in it. 404
   * MODELD_ERR_NOT_FOUND when there is neither of that name.
   */
  async delete(customerId: string, name: string): Promise<UploadInfo | UploadFolderInfo> {
    const segments = checkName(name);
    const top = this.folderOf(customerId);
    const target = path.join(top, ...segments);
    const st = await lstat(target).catch(() => null);
    if (st?.isDirectory()) {
      const files = (await this.list(customerId)).filter((f) => f.name.startsWith(`${segments.join('/')}/`));
      await rm(target, { recursive: true, force: true });
      return { name: segments.join('/'), uri: pathToFileURL(target).href, files: files.length, bytes: files.reduce((n, f) => n + f.bytes, 0) };
    }
    const info = await this.#read(top, segments.join('/'));
    if (!info) throw notFound(name);
    const folder = path.dirname(target);
    await rm(target, { force: true });
    await rm(path.join(folder, metaName(segments.at(-1)!)), { force: true });
    return info;
  }

  /**
   * Refuses (403 MODELD_ERR_DATA_PATH_FORBIDDEN naming `field`) a training data URI that points
   * into another customer's upload folder. `when: 'written'` checks the path as written (before
   * anything is looked up, so a refusal tells nothing about the other customer's files);
   * `when: 'real'` checks the real path (symlinks resolved) of a file that exists. A URI that
   * is not a usable file:// path is left to the data resolver.
   */
  async checkOwnership(customerId: string, uri: string, field: string, realFile?: string): Promise<void> {
    let candidate: string;
    if (realFile !== undefined) candidate = realFile;
    else {
      try {
        candidate = path.normalize(fileURLToPath(new URL(uri)));
      } catch {
        return;
      }
    }
    const roots = new Set([this.#root, await realpath(this.#root).catch(() => this.#root)]);
    for (const root of roots) {
      const rel = path.relative(root, candidate);
      if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) continue;
      const owner = rel.split(path.sep)[0]!;
      if (rel.includes(path.sep) && owner !== customerId) {
        throw new ModeldError('MODELD_ERR_DATA_PATH_FORBIDDEN', `${field}: ${path.normalize(fileURLToPath(new URL(uri)))} is in another customer's uploads; use your own uploads (GET .../uploads lists them)`, {
          details: { field },
          status: 403,
        });
      }
    }
  }

  /** The upload at `name` ('/'-separated, checked) under the customer folder `top`, or null when there is no such file. */
  async #read(top: string, name: string): Promise<UploadInfo | null> {
    const file = path.join(top, ...name.split('/'));
    const folder = path.dirname(file);
    const base = path.basename(file);
    let size: number;
    try {
      const s = await lstat(file);
      if (!s.isFile()) return null;
      size = s.size;
    } catch {
      return null;
    }
    let meta: Meta | null = null;
    try {
      meta = JSON.parse(await readFile(path.join(folder, metaName(base)), 'utf8')) as Meta;
    } catch {
      meta = null;
    }
    if (!meta || meta.bytes !== size) {
      // No metadata (a file put there by hand) or a stale one: measure the file itself.
      const hash = createHash('sha256');
      await pipeline(createReadStream(file), async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) hash.update(chunk);
      });
      meta = { bytes: size, sha256: hash.digest('hex'), uploadedAt: (await stat(file)).mtime.toISOString() };
    }
    return this.#info(top, name, meta);
  }

  #info(top: string, name: string, meta: Meta): UploadInfo {
    const segments = name.split('/');
    const info: UploadInfo = { name, uri: pathToFileURL(path.join(top, ...segments)).href, bytes: meta.bytes, sha256: meta.sha256, uploadedAt: meta.uploadedAt };
    if (segments.length > 1) info.folderUri = pathToFileURL(path.join(top, segments[0]!)).href;
    return info;
  }
}

/**
 * Splits an upload path into its names; 400 naming `params.FILENAME` unless every name fits
 * UPLOAD_NAME (so no `.`, `..`, empty segment, leading dot or backslash), there are at most
 * MAX_UPLOAD_DEPTH of them and the whole is at most MAX_UPLOAD_PATH characters.
 */
export function checkUploadPath(name: string, field = 'params.FILENAME'): string[] {
  const segments = name.split('/');
  if (name.length > MAX_UPLOAD_PATH || segments.length > MAX_UPLOAD_DEPTH || !segments.every((s) => UPLOAD_NAME.test(s))) {
    throw invalidField(
      field,
      `must be 1-${MAX_UPLOAD_DEPTH} '/'-separated names of 1-128 letters, digits, '.', '_' and '-', each starting with a letter or digit, at most ${MAX_UPLOAD_PATH} characters in all; got ${JSON.stringify(name.slice(0, 140))}`,
    );
  }
  return segments;
}

/** Size of the regular file at `file`, null when there is none. */
async function fileSize(file: string): Promise<number | null> {
  try {
    const st = await lstat(file);
    return st.isFile() ? st.size : null;
  } catch {
    return null;
  }
}

const checkName = (name: string): string[] => checkUploadPath(name);

function conflict(name: string, why: string): ModeldError {
  return new ModeldError('MODELD_ERR_CONFLICT', `upload ${JSON.stringify(name)} cannot be written: ${why}`, { details: { name } });
}

function tooLargeError(limitBytes: number): ModeldError {
  return new ModeldError('MODELD_ERR_BODY_TOO_LARGE', `upload larger than the limit of ${limitBytes} bytes (limits.uploadLimitBytes)`, {
    details: { limitBytes },
  });
}

function notFound(name: string): ModeldError {
  return new ModeldError('MODELD_ERR_NOT_FOUND', `upload ${JSON.stringify(name)} not found`, { details: { name } });
}
