import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModeldError, invalidField } from '../errors/index.js';
import { checkUploadPath } from './uploads.js';

const URI_FIELD = 'body.artifact.uri';
const UPLOAD_FIELD = 'body.artifact.upload';

/** Where one customer may import a model from. */
export interface ImportAreas {
  /** The customer's own upload folder (`<dataDir>/uploads/<customerId>`); it need not exist yet. */
  customerUploads: string;
  /** Operator-configured folders shared by all customers (config `importRoots`); may be empty. */
  importRoots: readonly string[];
  /**
   * Folders never imported from, whatever `importRoots` says (the data directory: other
   * customers' uploads, keys, the database), except `customerUploads` inside them.
   */
  never: readonly string[];
}

/**
 * Resolves the `artifact` of an import request (M2 with `modelType: "imported"`) to the real path
 * of a directory this customer may import from: `{upload: "my-encoder"}` names a folder of the
 * customer's uploads; `{uri: "file:///abs/dir"}` (or `file://localhost/abs/dir`) names a folder
 * inside the customer's uploads or inside one of `importRoots`.
 *
 * The path as written is checked before anything is looked up on disk, then its real path
 * (symlinks resolved) is checked again, and it must be a directory. Every refusal about the place
 * (outside the areas, another customer's uploads, missing, unreadable, not a directory, a symlink
 * leading out) is the same MODELD_ERR_DATA_PATH_FORBIDDEN with the same message, so that an answer
 * tells nothing about the host's file system. Only the syntax of the request gets specific 400
 * MODELD_ERR_VALIDATION messages (not a file:// URI, relative, both or neither field).
 */
export async function resolveImportSource(artifact: { uri?: string; upload?: string }, areas: ImportAreas): Promise<string> {
  const { uri, upload } = artifact;
  if ((uri === undefined) === (upload === undefined)) {
    throw invalidField('body.artifact', 'give exactly one of uri (file:///abs/dir) and upload (the name of one of your upload folders)');
  }
  const field = upload !== undefined ? UPLOAD_FIELD : URI_FIELD;
  const lexical = upload !== undefined ? path.join(areas.customerUploads, ...checkUploadPath(upload, UPLOAD_FIELD)) : parseFileUri(uri!);

  const allowed = await withRealPaths([areas.customerUploads, ...areas.importRoots]);
  const never = await withRealPaths(areas.never);
  const own = await withRealPaths([areas.customerUploads]);
  const permitted = (candidate: string, which: 'given' | 'real' | 'both'): boolean => {
    const pick = (r: { given: string; real: string }) => (which === 'given' ? [r.given] : which === 'real' ? [r.real] : [r.given, r.real]);
    const inAny = (list: { given: string; real: string }[]) => list.some((r) => pick(r).some((root) => isInside(root, candidate)));
    return inAny(allowed) && (!inAny(never) || inAny(own));
  };

  if (!permitted(lexical, 'both')) throw refused(field);
  let real: string;
  try {
    real = await realpath(lexical);
  } catch {
    throw refused(field);
  }
  if (!permitted(real, 'real')) throw refused(field);
  const info = await stat(real).catch(() => null);
  if (!info?.isDirectory()) throw refused(field);
  return real;
}

/** The absolute, normalized path of a `file://` URI; 400 MODELD_ERR_VALIDATION saying what is wrong with its syntax. */
function parseFileUri(uri: string): string {
  if (path.isAbsolute(uri)) {
    throw invalidField(URI_FIELD, `must be a file:// URI, got a bare path; use ${JSON.stringify(`file://${uri}`)}`);
  }
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw invalidField(URI_FIELD, `must be a file:// URI such as file:///abs/dir, got ${JSON.stringify(uri)}`);
  }
  if (url.protocol !== 'file:') {
    throw invalidField(URI_FIELD, `URI scheme ${JSON.stringify(url.protocol.replace(/:$/, ''))} is not supported; only file:// URIs are accepted`, {
      scheme: url.protocol.replace(/:$/, ''),
    });
  }
  if (!/^file:\/\/(localhost)?\//i.test(uri)) {
    throw invalidField(URI_FIELD, `the path must be absolute (file:///abs/dir), got ${JSON.stringify(uri)}`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw invalidField(URI_FIELD, 'a file:// URI must not carry a query or a fragment');
  }
  try {
    return path.normalize(fileURLToPath(url));
  } catch (err) {
    throw invalidField(URI_FIELD, `not a usable file path (${(err as Error).message})`);
  }
}

async function withRealPaths(dirs: readonly string[]): Promise<{ given: string; real: string }[]> {
  return Promise.all(dirs.map(async (d) => ({ given: path.resolve(d), real: await realpath(d).catch(() => path.resolve(d)) })));
}

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** The one refusal of a place: the same code, message and details whatever the reason. */
function refused(field: string): ModeldError {
  return new ModeldError(
    'MODELD_ERR_DATA_PATH_FORBIDDEN',
    `${field}: not a folder you can import from; upload the model's files (PUT /customers/{CUSTOMER_ID}/ai/uploads/{FOLDER}/{FILE}) and import that folder, or name a folder under one of the server's import roots`,
    { details: { field } },
  );
}
