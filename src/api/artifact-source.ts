import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModeldError, invalidField } from '../errors/index.js';

const FIELD = 'body.artifact.uri';

/**
 * Resolves the `artifact.uri` of an import request (M2 with `modelType: "imported"`) to an
 * existing directory the server may read. Accepts `file:///abs/dir` and `file://localhost/abs/dir`.
 * When `importRoots` is not empty, both the path as written and its target (symlinks resolved)
 * must be inside one of them; the written path is checked before anything is looked up on disk,
 * so that a refused path tells nothing about what exists outside the roots.
 *
 * Throws a 400 ModeldError naming `body.artifact.uri`: MODELD_ERR_VALIDATION for a URI that is
 * not `file://`, a relative path, or a path that is missing or not a directory;
 * MODELD_ERR_DATA_PATH_FORBIDDEN for a path outside the import roots.
 */
export async function resolveImportDir(uri: string, importRoots: readonly string[]): Promise<string> {
  if (path.isAbsolute(uri)) {
    throw invalidField(FIELD, `must be a file:// URI, got a bare path; use ${JSON.stringify(`file://${uri}`)}`);
  }
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw invalidField(FIELD, `must be a file:// URI such as file:///abs/dir, got ${JSON.stringify(uri)}`);
  }
  if (url.protocol !== 'file:') {
    throw invalidField(FIELD, `URI scheme ${JSON.stringify(url.protocol.replace(/:$/, ''))} is not supported; only file:// URIs are accepted`, {
      scheme: url.protocol.replace(/:$/, ''),
    });
  }
  if (!/^file:\/\/(localhost)?\//i.test(uri)) {
    throw invalidField(FIELD, `the path must be absolute (file:///abs/dir), got ${JSON.stringify(uri)}`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw invalidField(FIELD, 'a file:// URI must not carry a query or a fragment');
  }
  let lexical: string;
  try {
    lexical = path.normalize(fileURLToPath(url));
  } catch (err) {
    throw invalidField(FIELD, `not a usable file path (${(err as Error).message})`);
  }

  const roots = await Promise.all(importRoots.map(async (r) => ({ given: r, real: await realpath(r).catch(() => path.resolve(r)) })));
  if (roots.length > 0 && !roots.some((r) => isInside(r.given, lexical) || isInside(r.real, lexical))) throw forbidden(lexical, importRoots);

  let real: string;
  try {
    real = await realpath(lexical);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw invalidField(FIELD, `${lexical} does not exist`);
    throw invalidField(FIELD, `${lexical} cannot be read (${code ?? (err as Error).message})`);
  }
  if (roots.length > 0 && !roots.some((r) => isInside(r.real, real))) throw forbidden(lexical, importRoots);

  const info = await stat(real);
  if (!info.isDirectory()) {
    throw invalidField(FIELD, `${lexical} is not a directory; point at the folder holding the model (manifest.json, or config.json + tokenizer.json + onnx/model.onnx)`);
  }
  return real;
}

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

function forbidden(dir: string, roots: readonly string[]): ModeldError {
  return new ModeldError('MODELD_ERR_DATA_PATH_FORBIDDEN', `${FIELD}: ${dir} is outside the directories models may be imported from (${roots.join(', ')})`, {
    details: { field: FIELD, importRoots: [...roots] },
  });
}
