/**
 * The runner's framed protocol: embedding calls over one persistent connection per replica, on
 * the same socket as the HTTP protocol (protocol.ts). The runner tells the two apart by a
 * connection's first four bytes: `MDF1` starts a framed connection, anything else is HTTP.
 *
 * Why: at batch 1 an HTTP call costs the gateway (undici: request line, headers, response parser)
 * and the runner (node:http: parser, IncomingMessage, ServerResponse) about as much CPU as the
 * model, and the answer is already binary. A frame is a length, a type, a call id and a payload.
 *
 * Every frame: u32 LE byte length of what follows, u8 type, u32 LE call id, payload.
 *
 *   HELLO      gateway -> runner, first frame, id 0: u32 protocol version (FRAME_VERSION).
 *   HELLO_OK   runner -> gateway, id 0: u32 the version the runner speaks. Nothing else is sent
 *              on a connection before it; a runner that does not speak frames answers the HELLO
 *              with an HTTP error instead, and the gateway then uses HTTP with that replica.
 *   EMBED      gateway -> runner: u8 dataType (0 none, 1 query, 2 passage), u32 count, then per
 *              text u32 byte length and its UTF-8 bytes.
 *   EMBED_OK   runner -> gateway: the embed frame of protocol.ts (encodeEmbedFrame).
 *   ERROR      runner -> gateway: JSON {status, code, error}, the status and RunnerErrorBody the
 *              HTTP protocol would have answered (400 bad_request, 503 draining / not_ready,
 *              500 engine_error).
 *
 * Calls are multiplexed: the gateway may send several before the first answer, and answers come
 * back in any order, matched by id. A caller that gives up forgets its id; a late answer is
 * dropped. The runner closes a connection after a malformed frame (it cannot find the next one).
 */

export const FRAME_MAGIC = Buffer.from('MDF1', 'latin1');
export const FRAME_VERSION = 1;

export const FrameTypes = {
  HELLO: 1,
  HELLO_OK: 2,
  EMBED: 3,
  EMBED_OK: 4,
  ERROR: 5,
} as const;
export type FrameType = (typeof FrameTypes)[keyof typeof FrameTypes];

/** Bytes before a frame's payload: length (4), type (1), id (4). */
export const FRAME_HEADER_BYTES = 9;

export interface Frame {
  type: number;
  id: number;
  payload: Buffer;
}

export interface FrameError {
  status: number;
  code: string;
  error: string;
}

const DATA_TYPES = [undefined, 'query', 'passage'] as const;

/** One frame: header and payload in one buffer (one write). */
export function encodeFrame(type: FrameType, id: number, payload: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.byteLength);
  buf.writeUInt32LE(5 + payload.byteLength, 0);
  buf[4] = type;
  buf.writeUInt32LE(id, 5);
  buf.set(payload, FRAME_HEADER_BYTES);
  return buf;
}

/** The magic and the HELLO frame: the first bytes a gateway sends on a framed connection. */
export function encodeHello(): Buffer {
  const version = Buffer.allocUnsafe(4);
  version.writeUInt32LE(FRAME_VERSION, 0);
  return Buffer.concat([FRAME_MAGIC, encodeFrame(FrameTypes.HELLO, 0, version)]);
}

export function encodeHelloOk(): Buffer {
  const version = Buffer.allocUnsafe(4);
  version.writeUInt32LE(FRAME_VERSION, 0);
  return encodeFrame(FrameTypes.HELLO_OK, 0, version);
}

/** An EMBED frame, texts as length-prefixed UTF-8, written straight into the frame's buffer. */
export function encodeEmbedCall(id: number, texts: readonly string[], dataType: 'query' | 'passage' | undefined): Buffer {
  let room = FRAME_HEADER_BYTES + 5;
  for (const t of texts) room += 4 + t.length * 3;
  const buf = Buffer.allocUnsafe(room);
  buf[4] = FrameTypes.EMBED;
  buf.writeUInt32LE(id, 5);
  buf[9] = dataType === 'query' ? 1 : dataType === 'passage' ? 2 : 0;
  buf.writeUInt32LE(texts.length, 10);
  let pos = FRAME_HEADER_BYTES + 5;
  for (const t of texts) {
    const n = buf.write(t, pos + 4, 'utf8');
    buf.writeUInt32LE(n, pos);
    pos += 4 + n;
  }
  buf.writeUInt32LE(pos - 4, 0);
  return buf.subarray(0, pos);
}

/** Decodes an EMBED payload; throws a message naming what is wrong with it. */
export function decodeEmbedCall(payload: Buffer): { texts: string[]; dataType: 'query' | 'passage' | undefined } {
  if (payload.byteLength < 5) throw new Error(`embed call is ${payload.byteLength} bytes, shorter than its header`);
  const kind = payload[0]!;
  if (kind >= DATA_TYPES.length) throw new Error(`dataType: unknown code ${kind}`);
  const count = payload.readUInt32LE(1);
  if (count === 0) throw new Error('texts: must be a non-empty array of strings');
  // Each text takes at least its 4-byte length: a count the payload cannot hold is a lie.
  if (count > (payload.byteLength - 5) / 4) throw new Error(`texts: ${count} announced, the call cannot hold them`);
  const texts = new Array<string>(count);
  let pos = 5;
  for (let i = 0; i < count; i++) {
    if (pos + 4 > payload.byteLength) throw new Error(`texts[${i}]: truncated`);
    const n = payload.readUInt32LE(pos);
    pos += 4;
    if (pos + n > payload.byteLength) throw new Error(`texts[${i}]: truncated`);
    texts[i] = payload.toString('utf8', pos, pos + n);
    pos += n;
  }
  if (pos !== payload.byteLength) throw new Error(`embed call has ${payload.byteLength - pos} bytes after its texts`);
  return { texts, dataType: DATA_TYPES[kind] };
}

export function encodeError(id: number, error: FrameError): Buffer {
  return encodeFrame(FrameTypes.ERROR, id, Buffer.from(JSON.stringify(error), 'utf8'));
}

/** Decodes an ERROR payload; null when it is not one. */
export function decodeError(payload: Buffer): FrameError | null {
  try {
    const parsed = JSON.parse(payload.toString('utf8')) as Partial<FrameError>;
    if (typeof parsed.status === 'number' && typeof parsed.code === 'string' && typeof parsed.error === 'string') return parsed as FrameError;
  } catch {
    // fall through
  }
  return null;
}

/**
 * Cuts a byte stream into frames. `push` takes each chunk as it arrives and returns the frames it
 * completed; a payload is a view of the chunk when a frame fits in one (no copy), else of the
 * chunks joined. Chunks are kept, not copied: the caller must not reuse them (socket chunks are fresh).
 * A frame announcing more than `maxFrameBytes` throws (the stream cannot be trusted after it).
 */
export class FrameReader {
  readonly #maxFrameBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Bytes the frame being assembled needs in all (known once its length arrived), else 0. */
  #need = 0;

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Bytes received that do not yet make a whole frame. */
  get buffered(): number {
    return this.#pendingBytes;
  }

  push(chunk: Buffer): Frame[] {
    let buf: Buffer;
    if (this.#pendingBytes === 0) buf = chunk;
    else {
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.byteLength;
      // A large frame arrives in many chunks: join them once, when the frame is whole.
      if (this.#need > 0 && this.#pendingBytes < this.#need) return [];
      buf = Buffer.concat(this.#pending, this.#pendingBytes);
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    this.#need = 0;
    const frames: Frame[] = [];
    let pos = 0;
    while (buf.byteLength - pos >= 4) {
      const length = buf.readUInt32LE(pos);
      if (length < 5 || length > this.#maxFrameBytes) {
        throw new Error(`frame of ${length} bytes (the limit is ${this.#maxFrameBytes}, the least 5)`);
      }
      if (buf.byteLength - pos - 4 < length) {
        this.#need = 4 + length;
        break;
      }
      frames.push({ type: buf[pos + 4]!, id: buf.readUInt32LE(pos + 5), payload: buf.subarray(pos + FRAME_HEADER_BYTES, pos + 4 + length) });
      pos += 4 + length;
    }
    if (pos < buf.byteLength) {
      this.#pending.push(buf.subarray(pos));
      this.#pendingBytes = buf.byteLength - pos;
    }
    return frames;
  }
}
