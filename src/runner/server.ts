import http from 'node:http';
import type net from 'node:net';
import { isModeldError } from '../errors/index.js';
import type { EmbedResult, TokenizeResult } from '../engines/index.js';
import { decodeEmbedCall, encodeError, encodeFrame, encodeHelloOk, FRAME_MAGIC, FRAME_VERSION, FrameReader, FrameTypes, type Frame } from './frames.js';
import { EMBED_CONTENT_TYPE, encodeEmbedFrame, type EmbedRequest, type RunnerErrorBody, type RunnerHealth } from './protocol.js';

/** Largest request body the runner reads; the gateway sends at most a few hundred texts. */
export const MAX_RUNNER_BODY_BYTES = 16 * 1024 * 1024;

/** What the HTTP layer asks of the runner; implemented by Runner (runner.ts). */
export interface RunnerHost {
  /** Current health; called for every `/health` probe, which also resets the orphan timer. */
  probe(): RunnerHealth;
  /** `GET /info`: the replica's identity, its deployment config and runtime facts. */
  info(): Record<string, unknown>;
  /**
   * Admits one unit of work (`/embed`, `/tokenize`) or says why not. An admitted request counts as
   * in flight until `release()` and is served even if a drain starts while its body arrives.
   */
  admit(): RunnerErrorBody | null;
  release(): void;
  embed(request: EmbedRequest): Promise<{ result: EmbedResult; dim: number }>;
  tokenize(texts: string[]): TokenizeResult;
  /** `POST /drain`: stop taking work, exit once in-flight work is done. */
  drain(reason: string): void;
}

/** A rejected request: HTTP status and protocol error body. */
class RequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The runner's server: HTTP (protocol.ts) over node:http, no framework on the hot path, and on the
 * same socket the framed protocol (frames.ts), told apart by a connection's first bytes. Bodies
 * are parsed and validated here; a bad body is a 400 naming the field, an engine failure a 500
 * `engine_error`, and work refused while starting or draining a 503 with the runner's code.
 */
export function createRunnerServer(host: RunnerHost): RunnerServer {
  return new RunnerServer(host);
}

/**
 * An http.Server whose connections are first sniffed: `MDF1` makes a framed connection
 * (FramedConnection), anything else goes to node:http as it came. closeIdleConnections and
 * closeAllConnections cover the framed connections too (idle: no call in flight), so the runner's
 * drain and stop treat both protocols alike.
 */
export class RunnerServer extends http.Server {
  readonly #host: RunnerHost;
  readonly #framed = new Set<FramedConnection>();
  /** Connections whose first bytes have not arrived yet. */
  readonly #sniffing = new Set<net.Socket>();

  constructor(host: RunnerHost) {
    super((req, res) => {
      handle(host, req, res).catch((err: unknown) => {
        // Only reached if writing the response itself failed (client gone): nothing left to tell anyone.
        res.destroy(err instanceof Error ? err : undefined);
      });
    });
    this.#host = host;
    // The gateway keeps connections open between requests; outlive undici's default 4 s idle timeout.
    this.keepAliveTimeout = 30_000;
    this.headersTimeout = 35_000;
    const httpConnection = this.listeners('connection')[0] as (socket: net.Socket) => void;
    this.removeAllListeners('connection');
    this.on('connection', (socket: net.Socket) => this.#sniff(socket, httpConnection));
  }

  #sniff(socket: net.Socket, httpConnection: (socket: net.Socket) => void): void {
    this.#sniffing.add(socket);
    let head: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = head.byteLength === 0 ? chunk : Buffer.concat([head, chunk]);
      const n = Math.min(head.byteLength, FRAME_MAGIC.byteLength);
      const framed = head.subarray(0, n).equals(FRAME_MAGIC.subarray(0, n));
      if (framed && n < FRAME_MAGIC.byteLength) return; // a prefix of the magic: wait for more
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      this.#sniffing.delete(socket);
      if (framed) {
        const connection = new FramedConnection(socket, this.#host, () => this.#framed.delete(connection));
        this.#framed.add(connection);
        connection.start(head.subarray(FRAME_MAGIC.byteLength));
      } else {
        // node:http takes the socket as if it had just connected, its first bytes put back.
        socket.unshift(head);
        httpConnection.call(this, socket);
        process.nextTick(() => socket.resume());
      }
    };
    const onClose = () => this.#sniffing.delete(socket);
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.on('error', () => socket.destroy());
  }

  override closeIdleConnections(): void {
    super.closeIdleConnections();
    for (const socket of this.#sniffing) socket.destroy();
    for (const connection of this.#framed) connection.closeWhenIdle();
  }

  override closeAllConnections(): void {
    super.closeAllConnections();
    for (const socket of this.#sniffing) socket.destroy();
    for (const connection of this.#framed) connection.destroy();
  }
}

/**
 * The runner's side of one framed connection (frames.ts): a HELLO first, then EMBED calls, each
 * admitted, embedded and answered like POST /embed (same admission, same error codes), several
 * at a time. A malformed frame ends the connection: after it the next frame cannot be found.
 */
class FramedConnection {
  readonly #socket: net.Socket;
  readonly #host: RunnerHost;
  readonly #onGone: () => void;
  readonly #reader = new FrameReader(MAX_RUNNER_BODY_BYTES);
  #greeted = false;
  #inflight = 0;
  #closing = false;

  constructor(socket: net.Socket, host: RunnerHost, onGone: () => void) {
    this.#socket = socket;
    this.#host = host;
    this.#onGone = onGone;
  }

  start(rest: Buffer): void {
    this.#socket.setNoDelay?.(true);
    this.#socket.on('data', (chunk: Buffer) => this.#read(chunk));
    this.#socket.once('close', () => this.#onGone());
    // The gateway ended its side (the socket is half-open: http.Server allows it): answer what is in flight, then end ours.
    this.#socket.once('end', () => this.closeWhenIdle());
    if (rest.byteLength > 0) this.#read(rest);
    this.#socket.resume();
  }

  /** Ends the connection now if no call is in flight, else once the last one is answered. */
  closeWhenIdle(): void {
    this.#closing = true;
    if (this.#inflight === 0) this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #read(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.#reader.push(chunk);
    } catch {
      this.#socket.destroy();
      return;
    }
    for (const frame of frames) {
      if (!this.#greeted) {
        if (frame.type !== FrameTypes.HELLO || frame.payload.byteLength !== 4 || frame.payload.readUInt32LE(0) !== FRAME_VERSION) {
          this.#socket.end(encodeError(frame.id, { status: 400, code: 'bad_request', error: `the first frame must be HELLO version ${FRAME_VERSION}` }));
          return;
        }
        this.#greeted = true;
        this.#socket.write(encodeHelloOk());
      } else if (frame.type === FrameTypes.EMBED) {
        void this.#embed(frame.id, frame.payload);
      } else {
        this.#socket.end(encodeError(frame.id, { status: 400, code: 'bad_request', error: `unexpected frame type ${frame.type}` }));
        return;
      }
    }
  }

  async #embed(id: number, payload: Buffer): Promise<void> {
    const refusal = this.#host.admit();
    if (refusal !== null) {
      this.#send(encodeError(id, { status: 503, ...refusal }));
      return;
    }
    this.#inflight++;
    try {
      let request: EmbedRequest;
      try {
        const call = decodeEmbedCall(payload);
        request = call.dataType === undefined ? { texts: call.texts } : { texts: call.texts, dataType: call.dataType };
      } catch (err) {
        throw new RequestError(400, 'bad_request', (err as Error).message);
      }
      let embedded: { result: EmbedResult; dim: number };
      try {
        embedded = await this.#host.embed(request);
      } catch (err) {
        throw asRequestError(err);
      }
      this.#send(encodeFrame(FrameTypes.EMBED_OK, id, encodeEmbedFrame(embedded.result.vectors, embedded.dim, embedded.result.tokenCounts)));
    } catch (err) {
      const e = err instanceof RequestError ? err : new RequestError(500, 'engine_error', err instanceof Error ? err.message : String(err));
      this.#send(encodeError(id, { status: e.status, code: e.code, error: e.message }));
    } finally {
      this.#host.release();
      this.#inflight--;
      if (this.#closing && this.#inflight === 0) this.#socket.end();
    }
  }

  #send(frame: Buffer): void {
    if (!this.#socket.destroyed && this.#socket.writable) this.#socket.write(frame);
  }
}

async function handle(host: RunnerHost, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const route = q === -1 ? url : url.slice(0, q);
  const method = req.method ?? 'GET';

  if (route === '/health') {
    if (method !== 'GET') return methodNotAllowed(req, res, 'GET');
    const health = host.probe();
    return sendJson(res, health.phase === 'ready' ? 200 : 503, health);
  }
  if (route === '/info') {
    if (method !== 'GET') return methodNotAllowed(req, res, 'GET');
    return sendJson(res, 200, host.info());
  }
  if (route === '/drain') {
    if (method !== 'POST') return methodNotAllowed(req, res, 'POST');
    req.resume();
    host.drain('drain request');
    return sendJson(res, 202, { phase: host.probe().phase });
  }
  if (route !== '/embed' && route !== '/tokenize') {
    req.resume();
    return sendJson(res, 404, errorBody('not_found', `no route ${method} ${route}`));
  }
  if (method !== 'POST') return methodNotAllowed(req, res, 'POST');

  const refusal = host.admit();
  if (refusal !== null) {
    req.resume();
    return sendJson(res, 503, refusal);
  }
  try {
    const body = await readJson(req);
    if (route === '/embed') {
      const request = parseEmbedRequest(body);
      let embedded: { result: EmbedResult; dim: number };
      try {
        embedded = await host.embed(request);
      } catch (err) {
        throw asRequestError(err);
      }
      const frame = encodeEmbedFrame(embedded.result.vectors, embedded.dim, embedded.result.tokenCounts);
      res.writeHead(200, { 'content-type': EMBED_CONTENT_TYPE, 'content-length': frame.byteLength });
      res.end(frame);
    } else {
      const texts = parseTexts(body);
      let result: TokenizeResult;
      try {
        result = host.tokenize(texts);
      } catch (err) {
        throw asRequestError(err);
      }
      sendJson(res, 200, result);
    }
  } catch (err) {
    if (err instanceof RequestError) sendJson(res, err.status, errorBody(err.code, err.message));
    else sendJson(res, 500, errorBody('engine_error', err instanceof Error ? err.message : String(err)));
  } finally {
    host.release();
  }
}

/** Engine errors are 500 unless the engine said the input was wrong (a 4xx ModeldError). */
function asRequestError(err: unknown): RequestError {
  if (isModeldError(err) && err.status < 500) return new RequestError(400, 'bad_request', err.message);
  return new RequestError(500, 'engine_error', err instanceof Error ? err.message : String(err));
}

function parseEmbedRequest(body: unknown): EmbedRequest {
  const texts = parseTexts(body);
  const dataType = (body as Record<string, unknown>).dataType;
  if (dataType !== undefined && dataType !== null && dataType !== 'query' && dataType !== 'passage') {
    throw new RequestError(400, 'bad_request', `dataType: must be "query" or "passage", got ${JSON.stringify(dataType)}`);
  }
  return dataType === 'query' || dataType === 'passage' ? { texts, dataType } : { texts };
}

function parseTexts(body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new RequestError(400, 'bad_request', 'body: must be a JSON object with a "texts" array');
  }
  const texts = (body as Record<string, unknown>).texts;
  if (!Array.isArray(texts) || texts.length === 0) throw new RequestError(400, 'bad_request', 'texts: must be a non-empty array of strings');
  for (let i = 0; i < texts.length; i++) {
    if (typeof texts[i] !== 'string') throw new RequestError(400, 'bad_request', `texts[${i}]: must be a string`);
  }
  return texts as string[];
}

function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.byteLength;
      if (size > MAX_RUNNER_BODY_BYTES) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) {
        reject(new RequestError(413, 'bad_request', `body: larger than ${MAX_RUNNER_BODY_BYTES} bytes`));
        return;
      }
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
      } catch (err) {
        reject(new RequestError(400, 'bad_request', `body: not valid JSON (${(err as Error).message})`));
      }
    });
    req.on('error', reject);
    // A client that goes away mid-body must not stay counted in flight (it would hold up a drain).
    req.on('close', () => {
      if (!req.complete) reject(new RequestError(400, 'bad_request', 'body: the client closed the connection before sending it whole'));
    });
  });
}

function methodNotAllowed(req: http.IncomingMessage, res: http.ServerResponse, allowed: string): void {
  req.resume();
  res.setHeader('allow', allowed);
  sendJson(res, 405, errorBody('method_not_allowed', `${req.method} not allowed on ${req.url}; use ${allowed}`));
}

function errorBody(code: string, error: string): RunnerErrorBody {
  return { error, code };
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
