/**
 * The gateway <-> runner wire protocol, over HTTP/1.1 keep-alive on a Unix domain socket in the
 * replica directory (or loopback TCP, see runnerEndpoint).
 *
 *   GET  /health    -> 200 RunnerHealth when ready, 503 RunnerHealth otherwise. Each probe also
 *                      tells the runner a controller is alive (orphaned runners exit by themselves).
 *   POST /embed     JSON EmbedRequest -> 200 `application/x-modeld-embeddings` (encodeEmbedFrame),
 *                      errors as JSON RunnerErrorBody with 4xx (bad input) or 5xx.
 *   POST /tokenize  JSON {texts} -> 200 JSON TokenizeResult.
 *   POST /drain     -> 202; the runner takes no new work (503 code `draining`) and exits once idle.
 *
 * Requests are small JSON; responses carry float32 vectors as raw little-endian bytes so that no
 * float goes through JSON between runner and gateway.
 */

export const EMBED_CONTENT_TYPE = 'application/x-modeld-embeddings';

/** Scheme of a runner endpoint on a Unix domain socket: `http+unix://<percent-encoded socket path>`. */
const UNIX_SCHEME = 'http+unix://';

/**
 * A runner's endpoint URL from where it listens: `http+unix://<percent-encoded path>` for a Unix
 * domain socket (the default for process replicas: no TCP stack on the way, and the socket is as
 * private as its directory), `http://127.0.0.1:<port>` for loopback TCP (a socket path that does
 * not fit in sun_path, or a replica started by a modeld that predates sockets). Null before it
 * listens.
 */
export function runnerEndpoint(where: { socketPath?: string | null; port: number | null }): string | null {
  if (where.socketPath) return `${UNIX_SCHEME}${encodeURIComponent(where.socketPath)}`;
  return where.port === null ? null : `http://127.0.0.1:${where.port}`;
}

/**
 * How to reach an endpoint URL: the HTTP origin to put in requests and, for `http+unix://`, the
 * socket path to connect to (node:http `socketPath`, undici `socketPath`). Other URLs pass as they are.
 */
export function runnerConnection(endpoint: string): { origin: string; socketPath?: string } {
  if (!endpoint.startsWith(UNIX_SCHEME)) return { origin: endpoint };
  return { origin: 'http://localhost', socketPath: decodeURIComponent(endpoint.slice(UNIX_SCHEME.length)) };
}
const MAGIC = 0x3145444d; // 'MDE1' little-endian

export interface EmbedRequest {
  texts: string[];
  dataType?: 'query' | 'passage';
}

export interface RunnerHealth {
  replicaId: string;
  deploymentId: string;
  generation: number;
  phase: 'starting' | 'ready' | 'draining' | 'failed';
  vectorSize: number | null;
  inflight: number;
  error: string | null;
}

export interface RunnerErrorBody {
  error: string;
  /** `bad_request`, `draining`, `not_ready`, `engine_error`. */
  code: string;
}

export interface EmbedFrame {
  count: number;
  dim: number;
  tokenCounts: Uint32Array;
  /** Row-major [count, dim]. */
  vectors: Float32Array;
}

/** Encodes vectors and token counts into one buffer: header (magic, count, dim), counts, floats. */
export function encodeEmbedFrame(vectors: Float32Array, dim: number, tokenCounts: ArrayLike<number>): Buffer {
  const count = tokenCounts.length;
  if (vectors.length !== count * dim) throw new RangeError(`vectors length ${vectors.length} != ${count} x ${dim}`);
  const headerBytes = 12 + 4 * count;
  const buf = Buffer.allocUnsafe(headerBytes + 4 * vectors.length);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(count, 4);
  buf.writeUInt32LE(dim, 8);
  for (let i = 0; i < count; i++) buf.writeUInt32LE(tokenCounts[i]!, 12 + 4 * i);
  const floats = Buffer.from(vectors.buffer, vectors.byteOffset, vectors.byteLength);
  floats.copy(buf, headerBytes);
  return buf;
}

/** Decodes a frame; throws on a truncated or foreign buffer. The result does not alias `buf` unless it is aligned. */
export function decodeEmbedFrame(buf: Uint8Array): EmbedFrame {
  if (buf.byteLength < 12) throw new Error(`embed frame too short (${buf.byteLength} bytes)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new Error('embed frame has a wrong magic number');
  const count = view.getUint32(4, true);
  const dim = view.getUint32(8, true);
  const headerBytes = 12 + 4 * count;
  const expected = headerBytes + 4 * count * dim;
  if (buf.byteLength !== expected) throw new Error(`embed frame is ${buf.byteLength} bytes, expected ${expected}`);
  const tokenCounts = new Uint32Array(count);
  for (let i = 0; i < count; i++) tokenCounts[i] = view.getUint32(12 + 4 * i, true);
  const start = buf.byteOffset + headerBytes;
  let vectors: Float32Array;
  if (start % 4 === 0) vectors = new Float32Array(buf.buffer, start, count * dim);
  else {
    // Copied to an aligned buffer (not with slice(): on a Buffer it is a view of the same memory).
    vectors = new Float32Array(count * dim);
    new Uint8Array(vectors.buffer).set(buf.subarray(headerBytes));
  }
  return { count, dim, tokenCounts, vectors };
}
