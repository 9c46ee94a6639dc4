/**
 * What a replica pod's `fetch-artifact` init container does (fetch-artifact-main.ts): download one
 * artifact from modeld's internal artifact endpoint (api/routes/internal-artifacts.ts) into an
 * emptyDir, trusting nothing it receives. The manifest's bytes must have the sha256 the pod
 * template names (the runtime computed it from the artifact modeld verified); every file the
 * manifest lists must then have the size and sha256 the manifest gives. Paths are checked by the
 * manifest's own rules (relative, normalized, inside the folder) before anything is written.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkManifest, MANIFEST_FILE } from '../engines/manifest.js';

export interface FetchArtifactOptions {
  /** `<modeld>/internal/artifacts/<kind>/<name>` */
  url: string;
  token: string;
  /** sha256 (hex) of manifest.json's bytes. */
  manifestSha256: string;
  /** Where the artifact goes (created; files already there are replaced). */
  dir: string;
  /** Per request (default 10 min: a model file may be large). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * Thrown with a one-line reason naming the file. `hopeless`: what modeld serves is not the
 * artifact the pod was made for (checksum, manifest, a file modeld does not have); another try
 * cannot help, so the init container exits 3 (the runner's load-failure code) instead of 1.
 */
export class FetchArtifactError extends Error {
  constructor(
    message: string,
    readonly hopeless = false,
  ) {
    super(message);
  }
}

/** Downloads and checks the artifact; resolves with the number of bytes written. */
export async function fetchArtifact(options: FetchArtifactOptions): Promise<{ files: number; bytes: number }> {
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 600_000;
  const base = options.url.replace(/\/+$/, '');
  const get = async (route: string, what: string): Promise<Response> => {
    let res: Response;
    try {
      res = await doFetch(`${base}/${route}`, { headers: { authorization: `Bearer ${options.token}` }, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw new FetchArtifactError(`${what}: cannot reach ${base}: ${(err as Error).message}`);
    }
    if (!res.ok) {
      const body = await res.text().catch(() => '');
      let message = body.slice(0, 300);
      try {
        message = String((JSON.parse(body) as { message?: unknown }).message ?? message);
      } catch {
        // not modeld's error shape: the raw text
      }
      // 404: modeld has no such artifact (or file) for this token; 401: the token is not good.
      // Neither gets better by trying again with the same pod template... except an expired
      // token, which the runtime refreshes: 401 stays retryable.
      throw new FetchArtifactError(`${what}: cannot read (HTTP ${res.status}${message ? `: ${message}` : ''})`, res.status === 404);
    }
    return res;
  };

  const manifestBytes = Buffer.from(await (await get(MANIFEST_FILE, MANIFEST_FILE)).arrayBuffer());
  const sha = createHash('sha256').update(manifestBytes).digest('hex');
  if (sha !== options.manifestSha256.toLowerCase()) {
    throw new FetchArtifactError(`${MANIFEST_FILE}: sha256 ${sha.slice(0, 12)}... is not the expected ${options.manifestSha256.slice(0, 12)}...`, true);
  }
  let manifest;
  try {
    manifest = checkManifest(JSON.parse(manifestBytes.toString('utf8')), MANIFEST_FILE);
  } catch (err) {
    throw new FetchArtifactError(`${MANIFEST_FILE}: ${(err as Error).message}`, true);
  }

  await mkdir(options.dir, { recursive: true });
  const root = path.resolve(options.dir);
  let bytes = 0;
  for (const [name, expected] of Object.entries(manifest.files)) {
    const target = path.resolve(root, name);
    // checkManifest refused absolute and `..` paths already; this is the belt to its braces.
    if (!target.startsWith(root + path.sep)) throw new FetchArtifactError(`${name}: leaves the artifact folder`, true);
    await mkdir(path.dirname(target), { recursive: true });
    const res = await get(`files/${name.split('/').map(encodeURIComponent).join('/')}`, name);
    if (!res.body) throw new FetchArtifactError(`${name}: empty answer`);
    const hash = createHash('sha256');
    let size = 0;
    const tmp = `${target}.part`;
    const counted = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>).on('data', (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
    });
    try {
      await pipeline(counted, createWriteStream(tmp, { mode: 0o600 }));
    } catch (err) {
      await rm(tmp, { force: true });
      throw new FetchArtifactError(`${name}: download failed: ${(err as Error).message}`);
    }
    const actual = hash.digest('hex');
    if (size !== expected.bytes || actual !== expected.sha256) {
      await rm(tmp, { force: true });
      throw new FetchArtifactError(`${name}: checksum mismatch (manifest ${expected.sha256.slice(0, 12)}..., ${expected.bytes} bytes; received ${actual.slice(0, 12)}..., ${size} bytes)`, true);
    }
    await rename(tmp, target);
    bytes += size;
  }
  // The manifest last: a folder with a manifest is a complete folder.
  await writeFile(path.join(root, MANIFEST_FILE), manifestBytes, { mode: 0o600 });
  return { files: Object.keys(manifest.files).length, bytes: bytes + manifestBytes.length };
}
