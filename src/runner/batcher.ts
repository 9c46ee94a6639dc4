import type { EmbedOptions, EmbedResult } from '../engines/index.js';

/** What the batcher needs from an engine. */
export interface BatchTarget {
  readonly vectorSize: number;
  embed(texts: string[], options?: EmbedOptions): Promise<EmbedResult>;
}

export interface BatcherOptions {
  /** How long an idle engine waits for more requests before running what it has; 0 = the next turn of the event loop. */
  batchWaitMs: number;
  /** Most texts per engine call. A request with more texts is split over several calls. */
  maxBatchItems: number;
  /**
   * How many requests are known to be on their way (the runner: admitted, body still being read).
   * When given, an idle engine waits `batchWaitMs` only while this is above 0: a lone request with
   * nothing else arriving goes out on the next turn of the event loop instead of paying the wait
   * (at concurrency 1 the wait was pure latency), and a waiting batch goes as soon as every
   * request that was on its way has joined it. Not given: an idle engine always waits.
   */
  arriving?: () => number;
}

/** Counters since the batcher was created. */
export interface BatcherStats {
  requests: number;
  texts: number;
  /** Engine calls made. */
  batches: number;
  /** Texts in the largest engine call. */
  largestBatch: number;
}

type DataType = EmbedOptions['dataType'];

interface Pending {
  texts: string[];
  dataType: DataType;
  /** Next text not yet handed to the engine. */
  cursor: number;
  /** Texts whose vectors have come back. */
  done: number;
  vectors: Float32Array;
  tokenCounts: number[];
  settled: boolean;
  resolve(result: EmbedResult): void;
  reject(err: unknown): void;
}

interface Slice {
  pending: Pending;
  start: number;
  count: number;
}

/**
 * Dynamic batching in front of one engine. At most one engine call runs at a time; requests that
 * arrive while it runs, or within `batchWaitMs` of the first request reaching an idle engine (when
 * `arriving` is given: only while more requests are known to be on their way), are merged into
 * the next call: oldest first, only requests of the same dataType, at most
 * `maxBatchItems` texts. When a call returns, the next one starts one event-loop turn later,
 * without waiting for the timer (its requests already waited). A full batch does not wait for
 * the timer. Each request gets back exactly its own rows.
 * If an engine call fails, every request with texts in it is rejected with that error.
 */
export class Batcher {
  readonly #target: BatchTarget;
  readonly #waitMs: number;
  readonly #maxItems: number;
  readonly #arriving: (() => number) | undefined;
  /** Requests with texts not yet handed to the engine, oldest first. */
  #queue: Pending[] = [];
  #queuedTexts = 0;
  #running = false;
  #timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  /** The timer is a batchWaitMs wait (not the next-turn flush). */
  #timerIsWait = false;
  #stats: BatcherStats = { requests: 0, texts: 0, batches: 0, largestBatch: 0 };

  constructor(target: BatchTarget, options: BatcherOptions) {
    if (!(options.batchWaitMs >= 0)) throw new RangeError(`batchWaitMs must be >= 0, got ${options.batchWaitMs}`);
    if (!Number.isInteger(options.maxBatchItems) || options.maxBatchItems < 1) {
      throw new RangeError(`maxBatchItems must be an integer >= 1, got ${options.maxBatchItems}`);
    }
    this.#target = target;
    this.#waitMs = options.batchWaitMs;
    this.#maxItems = options.maxBatchItems;
    this.#arriving = options.arriving;
  }

  stats(): BatcherStats {
    return { ...this.#stats };
  }

  /** Embeds `texts` (at least one) as part of whatever batch they land in; rejects with the engine's error. */
  embed(texts: string[], dataType?: DataType): Promise<EmbedResult> {
    if (texts.length === 0) return Promise.resolve({ vectors: new Float32Array(0), tokenCounts: [] });
    return new Promise<EmbedResult>((resolve, reject) => {
      const pending: Pending = {
        texts,
        dataType,
        cursor: 0,
        done: 0,
        vectors: new Float32Array(texts.length * this.#target.vectorSize),
        tokenCounts: new Array<number>(texts.length).fill(0),
        settled: false,
        resolve,
        reject,
      };
      this.#stats.requests++;
      this.#stats.texts += texts.length;
      this.#queue.push(pending);
      this.#queuedTexts += texts.length;
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#running) return; // the running call's completion flushes the queue
    if (this.#queuedTexts >= this.#maxItems) {
      this.#flush();
      return;
    }
    const noCompanyComing = this.#arriving !== undefined && this.#arriving() <= 0;
    if (this.#timer !== null) {
      // Everyone the timer was waiting for has arrived: no reason to sit out the rest of the wait.
      if (noCompanyComing && this.#timerIsWait) {
        this.#clearTimer();
        this.#timer = setImmediate(() => this.#flush());
      }
      return;
    }
    if (this.#waitMs === 0 || noCompanyComing) {
      this.#timer = setImmediate(() => this.#flush());
    } else {
      this.#timer = setTimeout(() => this.#flush(), this.#waitMs);
      this.#timerIsWait = true;
    }
  }

  #clearTimer(): void {
    if (this.#timer === null) return;
    clearTimeout(this.#timer as NodeJS.Timeout);
    clearImmediate(this.#timer as NodeJS.Immediate);
    this.#timer = null;
    this.#timerIsWait = false;
  }

  #flush(): void {
    this.#clearTimer();
    if (this.#running || this.#queue.length === 0) return;
    const slices = this.#takeBatch();
    const texts: string[] = [];
    for (const s of slices) for (let i = 0; i < s.count; i++) texts.push(s.pending.texts[s.start + i]!);
    const dataType = slices[0]!.pending.dataType;
    this.#running = true;
    this.#stats.batches++;
    if (texts.length > this.#stats.largestBatch) this.#stats.largestBatch = texts.length;
    let call: Promise<EmbedResult>;
    try {
      call = this.#target.embed(texts, dataType === undefined ? {} : { dataType });
    } catch (err) {
      call = Promise.reject(err);
    }
    call.then(
      (result) => this.#deliver(slices, result, texts.length),
      (err: unknown) => this.#fail(slices, err),
    ).finally(() => {
      // Next batch on the next turn of the event loop, after its I/O phase: an engine that runs on
      // the JS thread (onnxruntime-node) blocks the loop, so requests that arrived meanwhile are
      // still unread sockets now; one turn later they are queued and join the batch.
      setImmediate(() => {
        this.#running = false;
        if (this.#queue.length > 0) this.#flush();
      });
    });
  }

  /** Oldest request first; then later requests of the same dataType, until maxBatchItems texts. */
  #takeBatch(): Slice[] {
    const dataType = this.#queue[0]!.dataType;
    const slices: Slice[] = [];
    let room = this.#maxItems;
    for (const p of this.#queue) {
      if (room === 0) break;
      if (p.dataType !== dataType) continue;
      const count = Math.min(room, p.texts.length - p.cursor);
      slices.push({ pending: p, start: p.cursor, count });
      p.cursor += count;
      room -= count;
      this.#queuedTexts -= count;
    }
    this.#queue = this.#queue.filter((p) => p.cursor < p.texts.length);
    return slices;
  }

  #deliver(slices: Slice[], result: EmbedResult, total: number): void {
    const dim = this.#target.vectorSize;
    if (result.vectors.length !== total * dim || result.tokenCounts.length !== total) {
      this.#fail(slices, new Error(`engine returned ${result.vectors.length} values and ${result.tokenCounts.length} token counts for ${total} texts of dimension ${dim}`));
      return;
    }
    let row = 0;
    for (const s of slices) {
      const p = s.pending;
      if (!p.settled) {
        p.vectors.set(result.vectors.subarray(row * dim, (row + s.count) * dim), s.start * dim);
        for (let i = 0; i < s.count; i++) p.tokenCounts[s.start + i] = result.tokenCounts[row + i]!;
        p.done += s.count;
        if (p.done === p.texts.length) {
          p.settled = true;
          p.resolve({ vectors: p.vectors, tokenCounts: p.tokenCounts });
        }
      }
      row += s.count;
    }
  }

  #fail(slices: Slice[], err: unknown): void {
    for (const s of slices) {
      const p = s.pending;
      if (p.settled) continue;
      p.settled = true;
      // Texts of this request still queued are dropped: the request has failed as a whole.
      if (p.cursor < p.texts.length) {
        this.#queuedTexts -= p.texts.length - p.cursor;
        p.cursor = p.texts.length;
        this.#queue = this.#queue.filter((q) => q !== p);
      }
      p.reject(err);
    }
  }
}
