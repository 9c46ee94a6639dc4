import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Upload } from '../client/index.js';
import { UPLOAD_NAME_PATTERN } from '../client/index.js';
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
  if (!UPLOAD_NAME_PATTERN.test(name)) {
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
