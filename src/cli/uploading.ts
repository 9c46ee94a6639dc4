import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { readdir, readFile } from 'node:fs/promises';
import type { Upload } from '../client/index.js';
import { isUploadPath, UPLOAD_NAME_PATTERN } from '../client/index.js';
import { CliError, CliErrorCodes } from './cli-error.js';
import type { CommandContext } from './context.js';
import { ProgressLine, renderUploadProgress, uploadProgressKey } from './progress.js';

/**
 * Streams a local file to the server's uploads with a byte progress bar on stderr (redrawn on a
 * terminal; at 0, 25, 50, 75 and 100 % elsewhere). Throws CliError USAGE when the file is not
 * a readable regular file or the name is one the server refuses.
 */
export async function uploadWithProgress(ctx: CommandContext, file: string, name: string): Promise<Upload> {
  const absolute = path.resolve(ctx.io.cwd, file);
  const size = await fileSize(absolute);
  if (!isUploadPath(name)) {
    throw new CliError(
      CliErrorCodes.USAGE,
      `upload name ${JSON.stringify(name)} is not accepted (letters, digits, '.', '_', '-', starting with a letter or digit, at most 128 characters); choose one with --name`,
    );
  }
  const progress = new ProgressLine(ctx.io.stderr);
  try {
    const upload = await ctx.client().uploadFile(name, () => createReadStream(absolute), {
      size,
      onProgress: ({ sentBytes, totalBytes }) => progress.update(renderUploadProgress(name, sentBytes, totalBytes), uploadProgressKey(sentBytes, totalBytes)),
    });
    // The last read may precede the answer by a while on a big file; show the end once it is stored.
    progress.update(renderUploadProgress(name, upload.bytes, upload.bytes), uploadProgressKey(1, 1));
    return upload;
  } finally {
    progress.finish();
  }
}

/** Hex SHA-256 of a file, read as a stream. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The size of a regular file; CliError USAGE naming the path otherwise. */
export async function fileSize(absolute: string): Promise<number> {
  let info;
  try {
    info = await stat(absolute);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(CliErrorCodes.USAGE, `${absolute}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
  }
  if (!info.isFile()) throw new CliError(CliErrorCodes.USAGE, `${absolute}: not a regular file`);
  return info.size;
}

/**
 * The files of a local model folder that an import needs, as '/'-separated paths relative to
 * it: for a modeld artifact, `manifest.json` and the files it lists; for a Hugging Face export,
 * `tokenizer.json`, `config.json`, `tokenizer_config.json` (those present), the ONNX graph
 * (`onnx/model.onnx`, else `model.onnx`) and the external data beside it (`model.onnx_data`,
 * `model.onnx.data`, ...). Other files of the folder (PyTorch weights, other exports, READMEs)
 * are left out. Throws CliError USAGE when the folder is neither, or a path cannot be an upload
 * name.
 */
export async function modelFilesOf(dir: string): Promise<string[]> {
  const isFile = async (rel: string) => (await stat(path.join(dir, ...rel.split('/'))).catch(() => null))?.isFile() ?? false;
  let files: string[];
  if (await isFile('manifest.json')) {
    let listed: unknown;
    try {
      listed = (JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as { files?: unknown }).files;
    } catch (err) {
      throw new CliError(CliErrorCodes.USAGE, `${path.join(dir, 'manifest.json')}: not valid JSON (${(err as Error).message})`, { cause: err });
    }
    if (typeof listed !== 'object' || listed === null) throw new CliError(CliErrorCodes.USAGE, `${path.join(dir, 'manifest.json')}: no "files" object`);
    files = ['manifest.json', ...Object.keys(listed)];
  } else {
    const graph = (await isFile('onnx/model.onnx')) ? 'onnx/model.onnx' : (await isFile('model.onnx')) ? 'model.onnx' : null;
    if (!graph || !(await isFile('tokenizer.json'))) {
      throw new CliError(CliErrorCodes.USAGE, `${dir}: not a model folder (manifest.json, or tokenizer.json with onnx/model.onnx or model.onnx)`);
    }
    files = [];
    for (const f of ['tokenizer.json', 'config.json', 'tokenizer_config.json']) if (await isFile(f)) files.push(f);
    const graphDir = path.posix.dirname(graph);
    for (const entry of await readdir(path.join(dir, ...graphDir.split('/').filter((s) => s !== '.')))) {
      if (entry === 'model.onnx' || /^model\.onnx[._]/.test(entry) || /\.onnx[._]data$/.test(entry)) {
        const rel = graphDir === '.' ? entry : `${graphDir}/${entry}`;
        if (await isFile(rel)) files.push(rel);
      }
    }
  }
  for (const f of files) {
    if (!isUploadPath(f)) throw new CliError(CliErrorCodes.USAGE, `${f} (in ${dir}): this path cannot be uploaded (each name: letters, digits, '.', '_', '-', starting with a letter or digit)`);
  }
  return [...new Set(files)].sort();
}

/** An upload folder name made from a model name: invalid characters become '-', at most 100 characters. */
export function uploadFolderFor(name: string): string {
  const slug = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 100);
  return UPLOAD_NAME_PATTERN.test(slug) ? slug : 'model';
}
