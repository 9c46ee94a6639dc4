import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ModeldError } from '../errors/index.js';

/**
 * Bounds the secret hashes (scrypt, tens of ms of a libuv pool thread each) computed at once, so
 * that a flood of bad credentials cannot take the pool that also serves every file read and
 * write. Two lanes: `clean` checks (neither the client id nor the address has recent failures)
 * go first; `suspect` ones (either has) run only when no clean check waits, and at most
 * `maxConcurrentSuspect` at once. Each lane holds at most `maxQueued` waiting checks; one more is
 * refused with 429 MODELD_ERR_RATE_LIMITED (Retry-After 1 s) instead of waiting without end.
 * `maxConcurrent` 0 disables all of it: every check runs at once.
 *
 * A waiting check is judged again when its turn comes (`admit`): its source may have failed
 * meanwhile (a burst from a new address queues as clean, then the first failure makes the rest
 * suspect) or been limited (then it is refused without hashing). The lane depends only on the
 * limiters' state for what the caller sent, never on whether the client id exists, so lanes and
 * waits reveal nothing about which ids exist.
 */
export class SecretChecks {
  readonly #max: number;
  readonly #maxSuspect: number;
  readonly #maxQueued: number;
  #running = 0;
  #runningSuspect = 0;
  readonly #clean: Array<() => void> = [];
  readonly #suspect: Array<() => void> = [];
  #started = 0;

  constructor(options: { maxConcurrent: number; maxConcurrentSuspect: number; maxQueued: number }) {
    this.#max = options.maxConcurrent;
    this.#maxSuspect = Math.min(options.maxConcurrentSuspect, options.maxConcurrent || Infinity);
    this.#maxQueued = options.maxQueued;
  }

  /** Checks started since this object was made (each is one scrypt). */
  get started(): number {
    return this.#started;
  }

  /** Checks running now, and waiting per lane. */
  get load(): { running: number; runningSuspect: number; queuedClean: number; queuedSuspect: number } {
    return { running: this.#running, runningSuspect: this.#runningSuspect, queuedClean: this.#clean.length, queuedSuspect: this.#suspect.length };
  }

  /**
   * Runs `check` once a slot of its lane is free. `admit` says whether the source is suspect, or
   * throws (a 429) when it is limited; it is called on arrival and again each time the check's
   * turn comes. Rejects with 429 MODELD_ERR_RATE_LIMITED when the lane's queue is full.
   */
  async run<T>(admit: () => boolean, check: () => Promise<T>): Promise<T> {
    let suspect = admit();
    if (this.#max === 0) {
      this.#started++;
      return check();
    }
    if (this.#canStart(suspect)) this.#take(suspect);
    else {
      for (;;) {
        await this.#wait(suspect); // resumes with a slot of that lane taken for this check
        let now: boolean;
        try {
          now = admit();
        } catch (err) {
          this.#release(suspect);
          throw err;
        }
        if (!now) {
          if (suspect) this.#runningSuspect--;
          suspect = false;
          break;
        }
        if (suspect) break;
        // Queued as clean, suspect by now: it needs a suspect slot (and no clean check waiting), or waits in that lane.
        if (this.#runningSuspect < this.#maxSuspect && this.#clean.length === 0) {
          this.#runningSuspect++;
          suspect = true;
          break;
        }
        this.#release(false);
        suspect = true;
      }
    }
    try {
      this.#started++;
      return await check();
    } finally {
      this.#release(suspect);
    }
  }

  #wait(suspect: boolean): Promise<void> {
    const queue = suspect ? this.#suspect : this.#clean;
    if (queue.length >= this.#maxQueued) {
      return Promise.reject(
        new ModeldError('MODELD_ERR_RATE_LIMITED', 'too many client authentications waiting; retry in 1 s', {
          details: { oauthError: 'temporarily_unavailable', retryAfterSeconds: 1, limit: 'secretChecks' },
        }),
      );
    }
    return new Promise<void>((resolve) => queue.push(resolve));
  }

  #canStart(suspect: boolean): boolean {
    if (this.#running >= this.#max) return false;
    return !suspect || (this.#runningSuspect < this.#maxSuspect && this.#clean.length === 0);
  }

  #take(suspect: boolean): void {
    this.#running++;
    if (suspect) this.#runningSuspect++;
  }

  #release(suspect: boolean): void {
    this.#running--;
    if (suspect) this.#runningSuspect--;
    this.#next();
  }

  /** Hands free slots to waiting checks: clean ones first. */
  #next(): void {
    for (;;) {
      if (this.#clean.length > 0 && this.#canStart(false)) {
        this.#take(false);
        this.#clean.shift()!();
      } else if (this.#suspect.length > 0 && this.#canStart(true)) {
        this.#take(true);
        this.#suspect.shift()!();
      } else return;
    }
  }
}

/** What is remembered of a verified secret. */
interface Remembered {
  mac: Buffer;
  /** The stored hash it was verified against: a changed hash is a miss. */
  secretHash: string;
  untilMs: number;
}

const NO_MAC = Buffer.alloc(32);

/**
 * Secrets verified recently, so that a client asking for tokens again skips scrypt (and with it
 * the limits and the queue: a client under attack keeps getting tokens). Kept per client id as
 * HMAC-SHA256(per-process random key, id NUL secret), never the secret; compared in constant
 * time. At most `maxEntries` clients (oldest dropped); an entry lives `ttlMs` (0: nothing is
 * remembered) and is dropped by forget() when the client changes.
 */
export class RememberedSecrets {
  readonly #key = randomBytes(32);
  readonly #entries = new Map<string, Remembered>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;

  constructor(options: { ttlMs: number; maxEntries: number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries;
  }

  mac(clientId: string, secret: string): Buffer {
    return createHmac('sha256', this.#key).update(clientId).update('\0').update(secret).digest();
  }

  /**
   * The stored hash `mac` was verified against, when it was verified less than ttlMs ago; else
   * null. The comparison runs (against zeros) even when nothing is remembered for the id.
   */
  lookup(clientId: string, mac: Buffer, nowMs: number): string | null {
    const e = this.#entries.get(clientId);
    const same = timingSafeEqual(e?.mac ?? NO_MAC, mac);
    if (e === undefined || !same) return null;
    if (nowMs >= e.untilMs || nowMs < e.untilMs - this.#ttlMs) {
      this.#entries.delete(clientId);
      return null;
    }
    return e.secretHash;
  }

  remember(clientId: string, secretHash: string, mac: Buffer, nowMs: number): void {
    if (this.#ttlMs === 0) return;
    this.#entries.delete(clientId);
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(clientId, { mac, secretHash, untilMs: nowMs + this.#ttlMs });
  }

  forget(clientId: string): void {
    this.#entries.delete(clientId);
  }
}
