import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ModeldError, invalidField } from '../errors/index.js';

/** Upload names: no separators, no leading dot (temp and metadata files start with one), 1-128 characters. */
export const UPLOAD_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Customer ids become directory names; ids issued by modeld are UUIDs. */
const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** What PUT answers and GET lists for one uploaded file. */
export interface UploadInfo {
  name: string;
  /** `file://` URI of the stored file, usable as M2 `trainingData.catalog` / `.signals`. */
  uri: string;
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

/**
 * Training data files uploaded by customers: `<uploadsRoot>/<customerId>/<name>`, with a
 * `.<name>.meta.json` beside each (size, SHA-256, time). A file is written to a temp name in the
 * same folder and renamed over the old one, so a reader never sees half a file and a failed
 * upload leaves the previous version in place.
 */
export class UploadStore {
  readonly #root: string;

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
   */
  async put(customerId: string, name: string, body: AsyncIterable<Buffer>, limitBytes: number, at: string): Promise<UploadInfo> {
    checkName(name);
    const folder = this.folderOf(customerId);
    await mkdir(folder, { recursive: true });
    const temp = path.join(folder, `.${name}.${randomUUID()}.part`);
    const hash = createHash('sha256');
    let bytes = 0;
    let tooLarge = false;
    try {
      await pipeline(
        body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            bytes += chunk.length;
            if (bytes > limitBytes) {
              tooLarge = true;
              throw tooLargeError(limitBytes);
            }
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(temp, { flags: 'wx', mode: 0o640 }),
      );
      const meta: Meta = { bytes, sha256: hash.digest('hex'), uploadedAt: at };
      const metaTemp = `${temp}.meta`;
      await writeFile(metaTemp, JSON.stringify(meta));
      await rename(temp, path.join(folder, name));
      await rename(metaTemp, path.join(folder, metaName(name)));
      return this.#info(folder, name, meta);
    } catch (err) {
      await rm(temp, { force: true });
      await rm(`${temp}.meta`, { force: true });
      if (tooLarge) throw tooLargeError(limitBytes);
      throw err;
    }
  }

  /** The customer's uploads, by name. */
  async list(customerId: string): Promise<UploadInfo[]> {
    const folder = this.folderOf(customerId);
    let names: string[];
    try {
      names = (await readdir(folder, { withFileTypes: true })).filter((d) => d.isFile() && UPLOAD_NAME.test(d.name)).map((d) => d.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: UploadInfo[] = [];
    for (const name of names.sort()) {
      const info = await this.#read(folder, name);
      if (info) out.push(info);
    }
    return out;
  }

  /** Removes an upload; 404 MODELD_ERR_NOT_FOUND when there is none of that name. */
  async delete(customerId: string, name: string): Promise<UploadInfo> {
    checkName(name);
    const folder = this.folderOf(customerId);
    const info = await this.#read(folder, name);
    if (!info) throw notFound(name);
    await rm(path.join(folder, name), { force: true });
    await rm(path.join(folder, metaName(name)), { force: true });
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

  async #read(folder: string, name: string): Promise<UploadInfo | null> {
    const file = path.join(folder, name);
    let size: number;
    try {
      const s = await stat(file);
      if (!s.isFile()) return null;
      size = s.size;
    } catch {
      return null;
    }
    let meta: Meta | null = null;
    try {
      meta = JSON.parse(await readFile(path.join(folder, metaName(name)), 'utf8')) as Meta;
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
    return this.#info(folder, name, meta);
  }

  #info(folder: string, name: string, meta: Meta): UploadInfo {
    return { name, uri: pathToFileURL(path.join(folder, name)).href, bytes: meta.bytes, sha256: meta.sha256, uploadedAt: meta.uploadedAt };
  }
}

function checkName(name: string): void {
  if (!UPLOAD_NAME.test(name)) {
    throw invalidField('params.FILENAME', `must be 1-128 characters of letters, digits, '.', '_' and '-', starting with a letter or digit; got ${JSON.stringify(name.slice(0, 140))}`);
  }
}

function tooLargeError(limitBytes: number): ModeldError {
  return new ModeldError('MODELD_ERR_BODY_TOO_LARGE', `upload larger than the limit of ${limitBytes} bytes (limits.uploadLimitBytes)`, {
    details: { limitBytes },
  });
}

function notFound(name: string): ModeldError {
  return new ModeldError('MODELD_ERR_NOT_FOUND', `upload ${JSON.stringify(name)} not found`, { details: { name } });
}
