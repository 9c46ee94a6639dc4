import net from 'node:net';
import { decodeError, encodeEmbedCall, encodeHello, FRAME_VERSION, FrameReader, FrameTypes, type Frame, type FrameError } from '../runner/frames.js';
import { decodeEmbedFrame, type EmbedFrame, type EmbedRequest } from '../runner/protocol.js';

/** How long a closing channel waits for the runner to end its side of the connection. */
const END_GRACE_MS = 1_000;

/** Why a framed call failed without an answer from the runner (the runner client maps these to RunnerFailures). */
export type ChannelFailure =
  /** The connection could not be made, or closed before the call was sent: the call never reached the runner. */
  | 'connect'
  /** The connection broke with the call sent. */
  | 'reset'
  /** No answer within the timeout. */
  | 'timeout'
  /** The runner answered something the protocol does not allow. */
  | 'protocol'
  /** The runner answered the HELLO with something other than frames (a runner that speaks HTTP only). */
  | 'unsupported';

export class ChannelError extends Error {
  constructor(
    readonly failure: ChannelFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The runner's ERROR frame: what the HTTP protocol would have answered (status and RunnerErrorBody). */
export class RunnerAnswerError extends Error {
  constructor(readonly answer: FrameError) {
    super(answer.error);
  }
}

export interface FrameChannelOptions {
  /** Where the runner listens: a Unix socket path, or a loopback host and port. */
  connect: { path: string } | { host: string; port: number };
  /** Longest wait for one call's answer. */
  timeoutMs: number;
  /** Longest wait for the connection and its HELLO_OK; calls waiting for it then fail as `connect`. */
  connectTimeoutMs: number;
  /** Largest frame accepted from the runner. */
  maxFrameBytes: number;
}

interface Call {
  readonly count: number;
  readonly resolve: (frame: EmbedFrame) => void;
  readonly reject: (err: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | null;
  readonly timer: NodeJS.Timeout;
  /** The encoded EMBED frame, until it is written. */
  bytes: Buffer | null;
}

/**
 * The gateway's side of one framed connection to one runner (runner/frames.ts): connects on
 * construction, says HELLO, and from HELLO_OK on sends every call at once, several in flight,
 * answers matched by id. Calls made before HELLO_OK wait for it. Every failure rejects the calls
 * it concerns with a ChannelError (or RunnerAnswerError when the runner answered an error), an
 * aborted call with its signal's reason; a channel whose connection ended rejects new calls
 * (`closed`), and the owner makes a new one.
 */
export class FrameChannel {
  readonly #options: FrameChannelOptions;
  readonly #socket: net.Socket;
  readonly #reader: FrameReader;
  readonly #calls = new Map<number, Call>();
  #nextId = 1;
  #greeted = false;
  #closed = false;
  /** close() was asked: the connection ends once no call is in flight. */
  #ending = false;
  #connectTimer: NodeJS.Timeout | null = null;

  constructor(options: FrameChannelOptions) {
    this.#options = options;
    this.#reader = new FrameReader(options.maxFrameBytes);
    this.#socket = net.connect(options.connect);
    this.#socket.setNoDelay(true);
    this.#connectTimer = setTimeout(() => {
      this.#fail(new ChannelError('connect', `no connection and HELLO_OK in ${options.connectTimeoutMs} ms`));
      this.#socket.destroy();
    }, options.connectTimeoutMs);
    this.#socket.write(encodeHello());
    this.#socket.on('data', (chunk: Buffer) => this.#read(chunk));
    this.#socket.on('error', (err: NodeJS.ErrnoException) => {
      // Before HELLO_OK nothing was sent but the HELLO: the calls never reached the runner.
      this.#fail(new ChannelError(this.#greeted ? 'reset' : 'connect', `${this.#greeted ? 'connection lost' : 'connection failed'} (${err.code ?? err.message})`, { cause: err }));
    });
    // The runner ended its side (a drain): no new call may be written; calls on it fail at 'close'.
    this.#socket.on('end', () => {
      this.#closed = true;
    });
    this.#socket.on('close', () => {
      this.#fail(
        this.#greeted
          ? new ChannelError('reset', 'the runner closed the connection')
          : new ChannelError('connect', 'the runner closed the connection before answering HELLO'),
      );
    });
  }

  /** The connection has ended (or failed): the channel takes no more calls. */
  get closed(): boolean {
    return this.#closed || this.#ending;
  }

  /** Calls sent or waiting for HELLO_OK, not yet answered. */
  get inflight(): number {
    return this.#calls.size;
  }

  embed(request: EmbedRequest, signal?: AbortSignal): Promise<EmbedFrame> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.closed) return Promise.reject(new ChannelError('connect', 'the connection to the runner has ended'));
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 0xffffffff ? 1 : this.#nextId + 1;
    return new Promise<EmbedFrame>((resolve, reject) => {
      const onAbort = signal
        ? () => {
            this.#forget(id);
            reject(signal.reason);
          }
        : null;
      const timer = setTimeout(() => {
        this.#forget(id);
        reject(new ChannelError('timeout', `no answer in ${this.#options.timeoutMs} ms`));
      }, this.#options.timeoutMs);
      const call: Call = { count: request.texts.length, resolve, reject, signal, onAbort, timer, bytes: encodeEmbedCall(id, request.texts, request.dataType) };
      this.#calls.set(id, call);
      if (onAbort) signal!.addEventListener('abort', onAbort, { once: true });
      if (this.#greeted) this.#write(call);
    });
  }

  /** Ends the connection once the calls in flight are answered; new calls are refused. Resolves when it has closed. */
  close(): Promise<void> {
    this.#ending = true;
    if (this.#socket.closed) return Promise.resolve();
    const closed = new Promise<void>((resolve) => this.#socket.once('close', () => resolve()));
    if (this.#calls.size === 0) this.#end();
    return closed;
  }

  /** Ends our side; a runner that does not end its own within a second (stopped, hung) is cut. */
  #end(): void {
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), END_GRACE_MS).unref();
  }

  /** Cuts the connection now; calls in flight fail as `reset`. */
  destroy(): void {
    this.#socket.destroy();
  }

  #write(call: Call): void {
    const bytes = call.bytes!;
    call.bytes = null;
    this.#socket.write(bytes);
  }

  #read(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.#reader.push(chunk);
    } catch (err) {
      this.#fail(
        this.#greeted
          ? new ChannelError('protocol', `bad frame from the runner: ${(err as Error).message}`)
          : new ChannelError('unsupported', `the runner does not speak frames (it answered ${JSON.stringify(chunk.subarray(0, 12).toString('latin1'))})`),
      );
      this.#socket.destroy();
      return;
    }
    for (const frame of frames) this.#onFrame(frame);
  }

  #onFrame(frame: Frame): void {
    if (!this.#greeted) {
      if (frame.type === FrameTypes.HELLO_OK && frame.payload.byteLength === 4 && frame.payload.readUInt32LE(0) === FRAME_VERSION) {
        this.#greeted = true;
        clearTimeout(this.#connectTimer!);
        for (const call of this.#calls.values()) this.#write(call);
        return;
      }
      this.#fail(new ChannelError('unsupported', `the runner answered HELLO with frame type ${frame.type}`));
      this.#socket.destroy();
      return;
    }
    const call = this.#calls.get(frame.id);
    if (!call) return; // its caller gave up (aborted, timed out): the answer is dropped
    this.#forget(frame.id);
    if (frame.type === FrameTypes.EMBED_OK) {
      let decoded: EmbedFrame;
      try {
        decoded = decodeEmbedFrame(frame.payload);
      } catch (err) {
        call.reject(new ChannelError('protocol', `bad embed frame: ${(err as Error).message}`));
        return;
      }
      if (decoded.count !== call.count) call.reject(new ChannelError('protocol', `runner answered ${decoded.count} vectors for ${call.count} inputs`));
      else call.resolve(decoded);
    } else if (frame.type === FrameTypes.ERROR) {
      const answer = decodeError(frame.payload);
      call.reject(answer ? new RunnerAnswerError(answer) : new ChannelError('protocol', 'runner answered an unreadable ERROR frame'));
    } else {
      call.reject(new ChannelError('protocol', `runner answered frame type ${frame.type}`));
    }
  }

  #forget(id: number): void {
    const call = this.#calls.get(id);
    if (!call) return;
    this.#calls.delete(id);
    clearTimeout(call.timer);
    if (call.onAbort) call.signal!.removeEventListener('abort', call.onAbort);
    if (this.#ending && this.#calls.size === 0) this.#end();
  }

  /** The connection is over: every call still waiting fails with `err` (a call not yet written, as `connect`). */
  #fail(err: ChannelError): void {
    this.#closed = true;
    clearTimeout(this.#connectTimer!);
    for (const [id, call] of [...this.#calls]) {
      this.#forget(id);
      call.reject(call.bytes !== null && err.failure === 'reset' ? new ChannelError('connect', err.message) : err);
    }
  }
}
