import type { Clock } from '../domain/index.js';
import type { Timers } from './timers.js';

export interface WorkQueueOptions {
  clock: Clock;
  timers: Timers;
  /** First retry delay after an error; doubles with each consecutive error of the same key. */
  backoffBaseMs: number;
  backoffMaxMs: number;
}

/**
 * A work queue of keys (deployment ids), in the manner of client-go's rate-limited delaying
 * queue:
 *
 * - a key is queued at most once (adding it again while queued does nothing);
 * - a key is handed to one worker at a time; adding it while a worker holds it marks it dirty,
 *   and `done()` queues it again, so a change during a sync is never lost;
 * - `addAfter(key, ms)` queues it later (the earliest pending time wins);
 * - `addRateLimited(key)` queues it after base * 2^(consecutive errors), capped; `forget(key)`
 *   resets the count after a success.
 *
 * After `shutDown()` nothing is queued any more and `get()` resolves null.
 */
export class WorkQueue {
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #queue: string[] = [];
  readonly #queued = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #delayed = new Map<string, { at: number; handle: unknown }>();
  readonly #failures = new Map<string, number>();
  readonly #waiters: Array<(key: string | null) => void> = [];
  #idleWaiters: Array<() => void> = [];
  #shutDown = false;

  constructor(options: WorkQueueOptions) {
    this.#clock = options.clock;
    this.#timers = options.timers;
    this.#baseMs = options.backoffBaseMs;
    this.#maxMs = options.backoffMaxMs;
  }

  /** Keys waiting for a worker (not those being processed, not those delayed). */
  get length(): number {
    return this.#queue.length;
  }

  get shuttingDown(): boolean {
    return this.#shutDown;
  }

  add(key: string): void {
    if (this.#shutDown) return;
    if (this.#processing.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#processing.add(key);
      waiter(key);
      return;
    }
    this.#queued.add(key);
    this.#queue.push(key);
  }

  /** Queues the key in `ms` (now when ms <= 0). An earlier pending time for the key wins. */
  addAfter(key: string, ms: number): void {
    if (this.#shutDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.#clock.now() + ms;
    const pending = this.#delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) this.#timers.clearTimeout(pending.handle);
    const handle = this.#timers.setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, ms);
    this.#delayed.set(key, { at, handle });
  }

  /** Queues the key after its backoff delay and counts one more consecutive error for it. */
  addRateLimited(key: string): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    const delay = Math.min(this.#baseMs * 2 ** Math.min(failures, 40), this.#maxMs);
    this.addAfter(key, delay);
    return delay;
  }

  /** Consecutive errors counted for the key. */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** The key succeeded: its next error starts the backoff from the base again. */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** The next key to process; waits for one. Null once the queue is shut down. */
  get(): Promise<string | null> {
    if (this.#shutDown) return Promise.resolve(null);
    const key = this.#queue.shift();
    if (key !== undefined) {
      this.#queued.delete(key);
      this.#processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** The worker finished with the key; if it was added meanwhile, it is queued again. */
  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.delete(key)) this.add(key);
    this.#checkIdle();
  }

  /** Resolves once no key is queued and none is being processed (delayed keys do not count). */
  whenIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops handing out keys: pending delays are cancelled and waiting workers get null. Idempotent. */
  shutDown(): void {
    this.#shutDown = true;
    for (const { handle } of this.#delayed.values()) this.#timers.clearTimeout(handle);
    this.#delayed.clear();
    this.#queue.length = 0;
    this.#queued.clear();
    this.#dirty.clear();
    for (const waiter of this.#waiters.splice(0)) waiter(null);
    this.#checkIdle();
  }

  #isIdle(): boolean {
    return this.#queue.length === 0 && this.#processing.size === 0;
  }

  #checkIdle(): void {
    if (!this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}
