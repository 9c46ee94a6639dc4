import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { isoAt, systemClock, type Clock } from '../domain/index.js';
import { ModeldError } from '../errors/index.js';
import { parseEmbeddingBody, type EmbeddingResult } from '../gateway/index.js';
import type { ChunkingJobRecord, Store } from '../store/index.js';
import { chunkText, isChunker, parseChunkerConfig, type ChunkerName, CHUNKERS } from './chunkers.js';
import { maxChunksFor } from './limits.js';

export interface ChunkingServiceDeps {
  config: Pick<Config, 'chunking' | 'limits'>;
  store: Pick<Store, 'createChunkingJob' | 'getChunkingJob' | 'listChunkingJobs' | 'updateChunkingJob' | 'deleteExpiredChunkingJobs'>;
  /** The prediction path: one embedding call (the gateway spreads calls over the replicas). */
  embed(customerId: string, modelId: string, body: unknown): Promise<EmbeddingResult>;
  clock?: Clock;
  logger?: Pick<Logger, 'warn' | 'info'>;
}

export interface SubmitResult {
  chunkingId: string;
  status: 'SUBMITTED';
}

/** One batch item's answer: its chunks, their [start, end) spans in the text, a vector each. */
export interface ChunkedItem {
  chunks: string[];
  spans: number[][];
  vectors: Array<{ tokensUsed: { inputTokens: number }; vector: number[] }>;
}

/** What GET answers (docs/api.md "Async chunking"). */
export interface ChunkingAnswer {
  chunkingId: string;
  status: 'SUBMITTED' | 'READY' | 'RETRIEVED' | 'ERROR';
  chunkedData?: ChunkedItem[];
  message?: string;
}

/** Embedding calls one job keeps in flight (each a separate gateway call, so they spread over replicas). */
const PARALLEL_CALLS = 4;
const SWEEP_INTERVAL_MS = 60_000;
const EMBED_ATTEMPTS = 3;
const RETRY_DELAY_MS = 1000;

/**
 * The Async Chunking API without HTTP: validates and stores a submission (SUBMITTED), works on
 * stored jobs with at most `chunking.concurrency` at once (chunk every batch item, embed the
 * chunks through the gateway, store READY with the result or ERROR with the reason), and deletes
 * jobs `chunking.resultTtlMs` after submission. Jobs live in the store: at start, those still
 * SUBMITTED or RUNNING (a stop or crash interrupted them) are worked on again from the beginning.
 */
export class ChunkingService {
  readonly #deps: ChunkingServiceDeps;
  readonly #clock: Clock;
  readonly #queue: string[] = [];
  readonly #running = new Map<string, Promise<void>>();
  #sweep: NodeJS.Timeout | null = null;
  #stopped = false;
  #idle: Array<() => void> = [];

  constructor(deps: ChunkingServiceDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? systemClock;
  }

  /** Most bytes of body the submission route accepts: the text limit, JSON escapes, the configs. */
  get maxBodyBytes(): number {
    return this.#deps.config.chunking.maxInputBytes * 2 + 64 * 1024;
  }

  /**
   * Starts taking jobs and sweeping expired ones. `resume` (default true) also queues the jobs a
   * stopped server left SUBMITTED or RUNNING; with several instances only the leader resumes, when
   * it is elected (`resume()`), since the others' jobs are still running where they were accepted.
   */
  async start(options: { resume?: boolean } = {}): Promise<void> {
    await this.#deps.store.deleteExpiredChunkingJobs(isoAt(this.#clock.now()));
    if (options.resume ?? true) await this.resume();
    this.#sweep = setInterval(() => {
      this.#deps.store.deleteExpiredChunkingJobs(isoAt(this.#clock.now())).catch((err: unknown) => this.#deps.logger?.warn({ err }, 'chunking: expiry sweep failed'));
    }, SWEEP_INTERVAL_MS);
    this.#sweep.unref();
    this.#pump();
  }

  /**
   * Queues every job left SUBMITTED or RUNNING that does not run here. After a leader's takeover a
   * job that a live instance is still running may run a second time; the result is the same and
   * the last write wins.
   */
  async resume(): Promise<void> {
    const pending = await this.#deps.store.listChunkingJobs(['SUBMITTED', 'RUNNING']);
    for (const job of pending) if (!this.#running.has(job.id) && !this.#queue.includes(job.id)) this.#queue.push(job.id);
    this.#pump();
  }

  /** Stops taking jobs and waits for the running ones to end; queued ones stay SUBMITTED for the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#sweep) clearInterval(this.#sweep);
    await Promise.allSettled([...this.#running.values()]);
  }

  /** Resolves when no job is queued or running (tests and the bench). */
  idle(): Promise<void> {
    if (this.#queue.length === 0 && this.#running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Validates everything that can be known before chunking (chunker, chunkerConfig, modelConfig,
   * useCaseConfig, batch, size) and stores the job. The model is resolved when the job runs.
   */
  async submit(customerId: string, chunker: string, modelId: string, body: unknown): Promise<SubmitResult> {
    if (!isChunker(chunker)) {
      throw new ModeldError('MODELD_ERR_VALIDATION', `CHUNKER: must be one of ${CHUNKERS.join(', ')}`, { details: { field: 'CHUNKER' } });
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ModeldError('MODELD_ERR_VALIDATION', 'body: must be an object', { details: { field: 'body' } });
    }
    const { batch, chunkerConfig, modelConfig, useCaseConfig, ...rest } = body as Record<string, unknown>;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) throw new ModeldError('MODELD_ERR_VALIDATION', `body.${unknown}: unknown field`, { details: { field: `body.${unknown}` } });
    if (!Array.isArray(batch) || batch.length === 0) {
      throw new ModeldError('MODELD_ERR_VALIDATION', 'body.batch: must be a non-empty array of {text}', { details: { field: 'body.batch' } });
    }
    let bytes = 0;
    batch.forEach((item, i) => {
      const text = (item as { text?: unknown } | null)?.text;
      if (typeof item !== 'object' || item === null || typeof text !== 'string' || Object.keys(item).length !== 1) {
        throw new ModeldError('MODELD_ERR_VALIDATION', `body.batch[${i}]: must be {"text": string}`, { details: { field: `body.batch[${i}].text` } });
      }
      bytes += Buffer.byteLength(text);
    });
    const max = this.#deps.config.chunking.maxInputBytes;
    if (bytes > max) {
      throw new ModeldError('MODELD_ERR_BODY_TOO_LARGE', `body.batch: ${bytes} bytes of text, more than the ${max} one request may submit`, {
        details: { field: 'body.batch', limit: max },
      });
    }
    parseChunkerConfig(chunker, chunkerConfig);
    // The embedding parser is the authority on modelConfig and useCaseConfig (its messages name the fields).
    parseEmbeddingBody({ batch: [{ text: 'x' }], ...(modelConfig !== undefined && { modelConfig }), ...(useCaseConfig !== undefined && { useCaseConfig }) }, 1);
    const now = this.#clock.now();
    const job: ChunkingJobRecord = {
      id: randomUUID(),
      customerId,
      chunker,
      modelId,
      request: { batch, ...(chunkerConfig != null && { chunkerConfig }), ...(modelConfig !== undefined && { modelConfig }), ...(useCaseConfig !== undefined && { useCaseConfig }) },
      status: 'SUBMITTED',
      result: null,
      error: null,
      createdAt: isoAt(now),
      updatedAt: isoAt(now),
      expiresAt: isoAt(now + this.#deps.config.chunking.resultTtlMs),
    };
    await this.#deps.store.createChunkingJob(job);
    this.#queue.push(job.id);
    this.#pump();
    return { chunkingId: job.id, status: 'SUBMITTED' };
  }

  /**
   * The job as the customer sees it; 404 when it is unknown, expired or another customer's. The
   * first answer with the chunks says READY and marks the job RETRIEVED; later ones say RETRIEVED
   * and still carry the chunks until the job expires.
   */
  async get(customerId: string, id: string): Promise<ChunkingAnswer> {
    const job = await this.#deps.store.getChunkingJob(customerId, id);
    if (!job || Date.parse(job.expiresAt) <= this.#clock.now()) {
      throw new ModeldError('MODELD_ERR_NOT_FOUND', `chunking job ${id} not found`, { details: { chunkingId: id } });
    }
    switch (job.status) {
      case 'SUBMITTED':
      case 'RUNNING':
        return { chunkingId: id, status: 'SUBMITTED' };
      case 'ERROR':
        return { chunkingId: id, status: 'ERROR', message: job.error ?? 'failed' };
      case 'READY':
        await this.#deps.store.updateChunkingJob(id, { status: 'RETRIEVED' }, isoAt(this.#clock.now()));
        return { chunkingId: id, status: 'READY', chunkedData: (job.result ?? []) as ChunkedItem[] };
      case 'RETRIEVED':
        return { chunkingId: id, status: 'RETRIEVED', chunkedData: (job.result ?? []) as ChunkedItem[] };
    }
  }

  #pump(): void {
    while (!this.#stopped && this.#running.size < this.#deps.config.chunking.concurrency && this.#queue.length > 0) {
      const id = this.#queue.shift()!;
      if (this.#running.has(id)) continue;
      const run = this.#run(id).finally(() => {
        this.#running.delete(id);
        this.#pump();
        if (this.#queue.length === 0 && this.#running.size === 0) for (const resolve of this.#idle.splice(0)) resolve();
      });
      this.#running.set(id, run);
    }
  }

  async #run(id: string): Promise<void> {
    const store = this.#deps.store;
    const job = await store.updateChunkingJob(id, { status: 'RUNNING' }, isoAt(this.#clock.now()));
    if (!job) return;
    try {
      const result = await this.#work(job);
      await store.updateChunkingJob(id, { status: 'READY', result }, isoAt(this.#clock.now()));
    } catch (err) {
      if (this.#stopped && !(err instanceof ModeldError && err.status < 500)) return; // resumed at the next start
      const message = err instanceof Error ? err.message : String(err);
      this.#deps.logger?.warn({ chunkingId: id, err }, 'chunking job failed');
      await store.updateChunkingJob(id, { status: 'ERROR', error: message }, isoAt(this.#clock.now())).catch(() => undefined);
    }
  }

  /**
   * One embedding call, tried again (up to EMBED_ATTEMPTS in all, 1 s apart, not after stop())
   * when it fails with a retryable error: a replica starting, busy or restarting should delay a
   * job, not fail it.
   */
  async #embedRetrying(customerId: string, modelId: string, body: unknown): Promise<EmbeddingResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#deps.embed(customerId, modelId, body);
      } catch (err) {
        if (!(err instanceof ModeldError && err.retryable) || attempt >= EMBED_ATTEMPTS || this.#stopped) throw err;
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
      }
    }
  }

  async #work(job: ChunkingJobRecord): Promise<ChunkedItem[]> {
    const chunker = job.chunker as ChunkerName;
    const request = job.request as { batch: Array<{ text: string }>; chunkerConfig?: unknown; modelConfig?: unknown; useCaseConfig?: unknown };
    const config = parseChunkerConfig(chunker, request.chunkerConfig);
    const maxChars = this.#deps.config.limits.maxTextChars;
    const perCall = this.#deps.config.limits.maxBatchItems;
    const embedAll = async (texts: string[], modelConfig: unknown): Promise<EmbeddingResult['predictions']> => {
      const calls: string[][] = [];
      for (let i = 0; i < texts.length; i += perCall) calls.push(texts.slice(i, i + perCall).map((t) => t.slice(0, maxChars)));
      const out: EmbeddingResult['predictions'][] = new Array(calls.length);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < calls.length) {
          const k = next++;
          const body = { batch: calls[k]!.map((text) => ({ text })), ...(modelConfig !== undefined && { modelConfig }), ...(request.useCaseConfig !== undefined && { useCaseConfig: request.useCaseConfig }) };
          out[k] = (await this.#embedRetrying(job.customerId, job.modelId, body)).predictions;
        }
      };
      await Promise.all(Array.from({ length: Math.min(PARALLEL_CALLS, calls.length) }, worker));
      return out.flat();
    };
    const items = [];
    let total = 0;
    for (const { text } of request.batch) {
      const chunks = await chunkText(chunker, text, config, {
        embed: async (texts) => (await embedAll(texts, undefined)).map((p) => p.vector),
        regexTimeoutMs: this.#deps.config.chunking.regexTimeoutMs,
      });
      total += chunks.length;
      items.push(chunks);
    }
    const modelConfig = request.modelConfig as { vectorQuantizationMethod?: string } | undefined;
    const vectors = await embedAll(items.flat().map((c) => c.text), request.modelConfig);
    const size = vectors[0]?.vector.length ?? 0;
    const limit = maxChunksFor(size, modelConfig?.vectorQuantizationMethod !== undefined);
    if (total > limit) {
      throw new ModeldError(
        'MODELD_ERR_VALIDATION',
        `the request produced ${total} chunks, more than the ${limit} allowed for ${size}-dimensional ${modelConfig?.vectorQuantizationMethod ? 'quantized' : 'float'} vectors: use larger chunks, less overlap, less text, quantization or dimReductionSize`,
      );
    }
    let k = 0;
    return items.map((chunks) => ({
      chunks: chunks.map((c) => c.text),
      spans: chunks.map((c) => [c.start, c.end]),
      vectors: chunks.map(() => {
        const p = vectors[k++]!;
        return { tokensUsed: p.tokensUsed, vector: Array.from(p.vector) };
      }),
    }));
  }
}
