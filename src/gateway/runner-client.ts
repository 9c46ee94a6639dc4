import { Pool } from 'undici';
import type { TokenizeResult } from '../engines/types.js';
import { ModeldError } from '../errors/index.js';
import { CallMerger } from './call-merger.js';
import { ChannelError, FrameChannel, RunnerAnswerError } from './frame-channel.js';
import { EMBED_CONTENT_TYPE, decodeEmbedFrame, runnerConnection, type EmbedFrame, type EmbedRequest, type RunnerErrorBody } from '../runner/protocol.js';

/** Why a call to a runner failed; decides whether another replica is tried. */
export const RunnerFailures = {
  /** The replica refused or could not take the connection (gone, not listening yet). */
  CONNECT: 'connect',
  /** The connection broke mid-request (the replica died). */
  RESET: 'reset',
  /** The replica is leaving (503 code `draining`). */
  DRAINING: 'draining',
  /** The replica is not ready yet or any more (503 code `not_ready`). */
  NOT_READY: 'not_ready',
  /** The model failed on this input (runner 5xx `engine_error`). */
  ENGINE: 'engine',
  /** The answer was not what the protocol says (wrong status, content type or frame). */
  PROTOCOL: 'protocol',
  /** No answer within the timeout. */
  TIMEOUT: 'timeout',
} as const;
export type RunnerFailure = (typeof RunnerFailures)[keyof typeof RunnerFailures];

/**
 * Failures where the request certainly did not produce a result the client saw and the replica
 * is unusable for now: the same (idempotent) inference may run on another replica, and the
 * failed replica is skipped until the controller publishes the deployment again.
 */
const RETRY_ELSEWHERE: ReadonlySet<string> = new Set([RunnerFailures.CONNECT, RunnerFailures.RESET, RunnerFailures.DRAINING, RunnerFailures.NOT_READY]);

/** A failure that may come from one input of a call: the model failed on it, or the runner refused it. */
function isInputFailure(err: unknown): boolean {
  if (!(err instanceof ModeldError)) return false;
  return err.code === 'MODELD_ERR_VALIDATION' || (err.code === 'MODELD_ERR_REPLICA_FAILED' && err.details?.failure === RunnerFailures.ENGINE);
}

/** True for a runner failure worth retrying on another replica (see RETRY_ELSEWHERE). */
export function isRetryElsewhere(err: unknown): boolean {
  return err instanceof ModeldError && err.code === 'MODELD_ERR_REPLICA_FAILED' && RETRY_ELSEWHERE.has(String(err.details?.failure));
}

export interface RunnerClientOptions {
  /** Longest wait for a runner's response headers and body (`gateway.requestTimeoutMs`). */
  timeoutMs: number;
  /** Keep-alive connections per replica; one per request in flight (`gateway.maxInflightPerReplica`). */
  connectionsPerReplica: number;
  /**
   * Embedding calls on the wire to one replica at once (`gateway.maxCallsPerReplica`); calls
   * beyond it wait and leave merged into one call (call-merger.ts). 0 or absent: each call goes alone.
   */
  maxCallsPerReplica?: number;
  /** Most texts in a merged call (`limits.maxBatchItems`); default 32. */
  maxTextsPerCall?: number;
  /** Called for every embedding call sent, with the number of calls merged into it (metrics). */
  onEmbedSent?: (merged: number) => void;
  /**
   * How embedding calls travel (`gateway.runnerTransport`): `frames` (default), one persistent
   * framed connection per replica (runner/frames.ts), falling back to HTTP for a replica that
   * does not speak frames; `http`, POST /embed over keep-alive HTTP.
   */
  transport?: RunnerTransport;
}

export type RunnerTransport = 'frames' | 'http';

/** Largest answer frame taken from a runner: 512 MiB (it holds count x dim float32s). */
const MAX_ANSWER_FRAME_BYTES = 512 * 1024 * 1024;

/** Most characters of text in one merged call: well under the runner's body limit. */
const MAX_MERGED_CHARS = 1 << 20;

// ENOENT: a Unix socket file that is gone (the runner closed its server or its directory was removed).
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOENT', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNABORTED']);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * Talks to runners (runner/protocol.ts) over HTTP/1.1 keep-alive: one undici Pool per replica
 * endpoint (a Unix socket `http+unix://...` or loopback TCP `http://127.0.0.1:port`), created on first use and closed when the replica is no longer published. Every failure is
 * a ModeldError: MODELD_ERR_REPLICA_FAILED with `details.failure` (a RunnerFailure), or
 * MODELD_ERR_VALIDATION when the runner refused the input; an aborted call rejects with the
 * signal's reason.
 */
export class RunnerClient {
  readonly #options: RunnerClientOptions;
  readonly #pools = new Map<string, Pool>();
  readonly #channels = new Map<string, FrameChannel>();
  /** Endpoints that answered HELLO with HTTP: embedding calls go over HTTP to them. */
  readonly #httpOnly = new Set<string>();
  readonly #merger: CallMerger;
  #closed = false;

  constructor(options: RunnerClientOptions) {
    this.#options = options;
    this.#merger = new CallMerger(
      {
        maxCallsPerEndpoint: options.maxCallsPerReplica ?? 0,
        maxTexts: options.maxTextsPerCall ?? 32,
        maxChars: MAX_MERGED_CHARS,
        isInputFailure,
        ...(options.onEmbedSent ? { onSend: options.onEmbedSent } : {}),
      },
      (url, request, signal) => this.#embed(url, request, signal),
    );
  }

  /**
   * POST /embed: vectors [texts.length, dim] and token counts, decoded from the binary frame.
   * Calls to a replica that already has `maxCallsPerReplica` on the wire wait and go merged.
   */
  embed(url: string, request: EmbedRequest, signal?: AbortSignal): Promise<EmbedFrame> {
    return this.#merger.embed(url, request, signal);
  }

  async #embed(url: string, request: EmbedRequest, signal?: AbortSignal): Promise<EmbedFrame> {
    if (this.#options.transport === 'http' || this.#httpOnly.has(url)) return this.#embedOverHttp(url, request, signal);
    try {
      return await this.#channel(url).embed(request, signal);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (err instanceof ChannelError && err.failure === 'unsupported') {
        // A runner that speaks HTTP only (started by an older modeld, adopted): HTTP from now on.
        this.#httpOnly.add(url);
        return this.#embedOverHttp(url, request, signal);
      }
      if (err instanceof RunnerAnswerError) throw answerFailure(url, err.answer.status, err.answer);
      if (err instanceof ChannelError) throw failure(url, CHANNEL_FAILURES[err.failure], err.message, err);
      throw err;
    }
  }

  /** Longest wait for a connection to a runner, on either transport. */
  get #connectTimeoutMs(): number {
    return Math.min(this.#options.timeoutMs, 5_000);
  }

  #channel(url: string): FrameChannel {
    if (this.#closed) throw new ModeldError('MODELD_ERR_UNAVAILABLE', 'the server is shutting down');
    let channel = this.#channels.get(url);
    if (!channel || channel.closed) {
      const { origin, socketPath } = runnerConnection(url);
      const { hostname, port } = new URL(origin);
      channel = new FrameChannel({
        connect: socketPath === undefined ? { host: hostname, port: Number(port) } : { path: socketPath },
        timeoutMs: this.#options.timeoutMs,
        connectTimeoutMs: this.#connectTimeoutMs,
        maxFrameBytes: MAX_ANSWER_FRAME_BYTES,
      });
      this.#channels.set(url, channel);
    }
    return channel;
  }

  async #embedOverHttp(url: string, request: EmbedRequest, signal?: AbortSignal): Promise<EmbedFrame> {
    const body = await this.#post(url, '/embed', request, signal, EMBED_CONTENT_TYPE);
    let frame: EmbedFrame;
    try {
      frame = decodeEmbedFrame(new Uint8Array(body));
    } catch (err) {
      throw failure(url, RunnerFailures.PROTOCOL, `bad embed frame: ${(err as Error).message}`, err);
    }
    if (frame.count !== request.texts.length) {
      throw failure(url, RunnerFailures.PROTOCOL, `runner answered ${frame.count} vectors for ${request.texts.length} inputs`);
    }
    return frame;
  }

  /** POST /tokenize: the tokens (and ids) of each text, after truncation. */
  async tokenize(url: string, texts: string[], signal?: AbortSignal): Promise<TokenizeResult> {
    const body = await this.#post(url, '/tokenize', { texts }, signal, 'application/json');
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body).toString('utf8'));
    } catch (err) {
      throw failure(url, RunnerFailures.PROTOCOL, 'tokenize answer is not JSON', err);
    }
    const result = parsed as Partial<TokenizeResult>;
    if (!Array.isArray(result.tokens) || result.tokens.length !== texts.length || !result.tokens.every((t) => Array.isArray(t))) {
      throw failure(url, RunnerFailures.PROTOCOL, `tokenize answer does not hold ${texts.length} token lists`);
    }
    return { tokens: result.tokens, ids: Array.isArray(result.ids) ? result.ids : result.tokens.map(() => []) };
  }

  /**
   * Closes the connections to a replica that is no longer published (in-flight calls finish
   * first); calls still waiting to be sent to it fail at once as `connect`, so they retry elsewhere.
   */
  async closeEndpoint(url: string): Promise<void> {
    this.#merger.failWaiting(url, failure(url, RunnerFailures.CONNECT, 'replica is no longer published'));
    this.#httpOnly.delete(url);
    const channel = this.#channels.get(url);
    this.#channels.delete(url);
    const pool = this.#pools.get(url);
    this.#pools.delete(url);
    await Promise.all([channel?.close(), pool?.close().catch(() => undefined)]);
  }

  /** Idempotent. Closes every connection, waiting for calls in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    const channels = [...this.#channels.values()];
    this.#pools.clear();
    this.#channels.clear();
    await Promise.all([...pools.map((p) => p.close().catch(() => undefined)), ...channels.map((c) => c.close())]);
  }

  #pool(url: string): Pool {
    if (this.#closed) throw new ModeldError('MODELD_ERR_UNAVAILABLE', 'the server is shutting down');
    let pool = this.#pools.get(url);
    if (!pool) {
      const { origin, socketPath } = runnerConnection(url);
      pool = new Pool(origin, {
        ...(socketPath === undefined ? {} : { socketPath }),
        connections: this.#options.connectionsPerReplica,
        pipelining: 1,
        headersTimeout: this.#options.timeoutMs,
        bodyTimeout: this.#options.timeoutMs,
        connectTimeout: this.#connectTimeoutMs,
      });
      this.#pools.set(url, pool);
    }
    return pool;
  }

  async #post(url: string, path: string, payload: unknown, signal: AbortSignal | undefined, expectedType: string): Promise<ArrayBuffer> {
    let response;
    try {
      response = await this.#pool(url).request({
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
        signal,
      });
    } catch (err) {
      throw classify(url, err, signal);
    }
    let bytes: ArrayBuffer;
    try {
      bytes = await response.body.arrayBuffer();
    } catch (err) {
      throw classify(url, err, signal);
    }
    const status = response.statusCode;
    if (status === 200) {
      const type = String(response.headers['content-type'] ?? '');
      if (!type.startsWith(expectedType)) throw failure(url, RunnerFailures.PROTOCOL, `runner answered content-type ${type || '(none)'}`);
      return bytes;
    }
    throw answerFailure(url, status, parseRunnerError(bytes));
  }
}

/** The failure a runner's error answer means, whichever transport it came by (an HTTP status and body, or an ERROR frame). */
function answerFailure(url: string, status: number, error: RunnerErrorBody | null): ModeldError {
  if (status === 503 && (error?.code === 'draining' || error?.code === 'not_ready')) {
    return failure(url, error.code === 'draining' ? RunnerFailures.DRAINING : RunnerFailures.NOT_READY, `replica is ${error.code.replace('_', ' ')}`);
  }
  if (status >= 400 && status < 500) {
    return new ModeldError('MODELD_ERR_VALIDATION', `the model refused the input: ${error?.error ?? `status ${status}`}`);
  }
  if (error?.code === 'engine_error') return failure(url, RunnerFailures.ENGINE, `the model failed: ${error.error}`);
  return failure(url, RunnerFailures.PROTOCOL, `runner answered status ${status}${error ? `: ${error.error}` : ''}`);
}

const CHANNEL_FAILURES: Record<ChannelError['failure'], RunnerFailure> = {
  connect: RunnerFailures.CONNECT,
  reset: RunnerFailures.RESET,
  timeout: RunnerFailures.TIMEOUT,
  protocol: RunnerFailures.PROTOCOL,
  // Handled before (HTTP from then on); here only for completeness of the map.
  unsupported: RunnerFailures.PROTOCOL,
};

function parseRunnerError(bytes: ArrayBuffer): RunnerErrorBody | null {
  try {
    const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<RunnerErrorBody>;
    return typeof parsed.error === 'string' && typeof parsed.code === 'string' ? (parsed as RunnerErrorBody) : null;
  } catch {
    return null;
  }
}

function failure(url: string, kind: RunnerFailure, message: string, cause?: unknown): ModeldError {
  return new ModeldError('MODELD_ERR_REPLICA_FAILED', `replica ${url}: ${message}`, { details: { failure: kind }, cause });
}

/** Maps a transport error to a RunnerFailure; an abort by the caller's signal rethrows its reason. */
function classify(url: string, err: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason;
  if (err instanceof ModeldError) return err;
  const code = String((err as { code?: unknown }).code ?? '');
  const causeCode = String(((err as { cause?: { code?: unknown } }).cause ?? {}).code ?? '');
  const message = (err as Error).message ?? String(err);
  if (CONNECT_CODES.has(code) || CONNECT_CODES.has(causeCode)) return failure(url, RunnerFailures.CONNECT, `connection failed (${code || causeCode})`, err);
  if (TIMEOUT_CODES.has(code)) return failure(url, RunnerFailures.TIMEOUT, `no answer in time (${code})`, err);
  if (RESET_CODES.has(code) || RESET_CODES.has(causeCode)) return failure(url, RunnerFailures.RESET, `connection lost (${code || causeCode}: ${message})`, err);
  return failure(url, RunnerFailures.PROTOCOL, message, err);
}
