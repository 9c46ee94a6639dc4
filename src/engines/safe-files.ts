import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { ModeldError } from '../errors/index.js';

/**
 * Caps on the files of an artifact read from an untrusted folder (an import). `jsonFileBytes`
 * applies to `*.json` files (manifest, tokenizer, configs), `modelFileBytes` to every other file
 * (the ONNX graph, its external data). Absent: no cap (the server's own artifacts).
 */
export interface FileLimits {
  jsonFileBytes?: number;
  modelFileBytes?: number;
}

/** Most files a manifest may list (a model is a handful: graph, external data, tokenizer, configs). */
export const MAX_ARTIFACT_FILES = 256;

/**
 * True for a path an artifact may name for one of its own files: relative, '/'-separated,
 * already normalized (no `.` or `..` segment, no empty segment, no trailing '/'), no backslash, no
 * NUL, at most 1024 characters.
 */
export function isSafeRelativePath(p: string): boolean {
  if (p.length === 0 || p.length > 1024 || p.includes('\\') || p.includes('\0')) return false;
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) return false;
  return p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

function invalid(message: string): ModeldError {
  return new ModeldError('MODELD_ERR_ARTIFACT_INVALID', message, { details: {} });
}

/** The cap that applies to `rel`, or undefined. */
export function capOf(rel: string, limits: FileLimits): { bytes: number; key: string } | undefined {
  const json = rel.toLowerCase().endsWith('.json');
  const bytes = json ? limits.jsonFileBytes : limits.modelFileBytes;
  return bytes === undefined ? undefined : { bytes, key: json ? 'limits.importJsonFileBytes' : 'limits.importModelFileBytes' };
}

/**
 * Resolves the file `rel` of the folder `rootReal` (a real path: symlinks already resolved) and
 * returns its real path and size, checking, in this order and before the file is opened: that
 * `rel` is a safe relative path (isSafeRelativePath), that its real path is inside `rootReal`,
 * that it is a regular file, and that it is within its cap. Throws MODELD_ERR_ARTIFACT_INVALID
 * naming `rel` only: a path that leaves the folder gets the same answer whether or not something
 * exists there, and nothing about that file (size, content) is ever told.
 */
export async function resolveInside(rootReal: string, rel: string, limits: FileLimits = {}): Promise<{ real: string; bytes: number }> {
  if (!isSafeRelativePath(rel)) throw invalid(`${JSON.stringify(rel)}: not a relative path inside the model folder`);
  const missing = () => invalid(`${rel}: missing, or not a regular file inside the model folder`);
  let real: string;
  try {
    real = await realpath(path.join(rootReal, ...rel.split('/')));
  } catch {
    throw missing();
  }
  const relReal = path.relative(rootReal, real);
  if (relReal === '' || relReal === '..' || relReal.startsWith(`..${path.sep}`) || path.isAbsolute(relReal)) throw missing();
  const st = await stat(real).catch(() => null);
  if (!st?.isFile()) throw missing();
  const cap = capOf(rel, limits);
  if (cap && st.size > cap.bytes) throw invalid(`${rel}: ${st.size} bytes, more than the ${cap.bytes} bytes a file of an imported model may have (${cap.key})`);
  return { real, bytes: st.size };
}

/** True when `rel` names an entry (of any kind, symlinks not followed) in `rootReal`; for "is this a modeld artifact" probes. */
export async function existsInside(rootReal: string, rel: string): Promise<boolean> {
  return (await realpath(path.join(rootReal, ...rel.split('/'))).catch(() => null)) !== null;
}

/**
 * Reads `file` as UTF-8, at most `maxBytes`: a file that grew past the cap since it was measured
 * is refused rather than read in full.
 */
export async function readCappedText(file: string, maxBytes: number, name: string): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) throw invalid(`${name}: more than the ${maxBytes} bytes a file of an imported model may have`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
