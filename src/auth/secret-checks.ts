import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ModeldError } from '../errors/index.js';

/**
 * Lanes of SecretChecks, in the order they are served: `known` (the address authenticated a
 * client successfully not long ago, and neither it nor the client id has failures since),
 * `clean` (nothing known about the source), `suspect` (the client id or the address has recent
 * failures).
 */
export const Lanes = { KNOWN: 0, CLEAN: 1, SUSPECT: 2 } as const;
export type Lane = (typeof Lanes)[keyof typeof Lanes];

/**
 * Bounds the secret hashes (scrypt, tens of ms of a libuv pool thread each) computed at once, so
 * that a flood of bad credentials cannot take the pool that also serves every file read and
 * write. A check starts when fewer than `maxConcurrent` run and no check of an earlier lane
 * waits; `suspect` checks also only while fewer than `maxConcurrentSuspect` suspect ones run.
 * Each lane holds at most `maxQueued` waiting checks; one more is refused with 429
 * MODELD_ERR_RATE_LIMITED (Retry-After 1 s) instead of waiting without end. `maxConcurrent` 0
 * disables all of it: every check runs at once.
 *
 * A waiting check is judged again when its turn comes (`admit`): its source may have failed
 * meanwhile (a burst from a new address queues as clean, then the first failure makes the rest
 * suspect) or been limited (then it is refused without hashing). The lane depends only on the
 * limiters' state for what the caller sent and where from, never on whether the client id
 * exists, so lanes and waits reveal nothing about which ids exist.
 */
export class SecretChecks {
  readonly #max: number;
  readonly #maxSuspect: number;
  readonly #maxQueued: number;
  #running = 0;
  #runningSuspect = 0;
  /** Waiting checks per lane (index = Lane); each resumes holding a slot of its lane. */
  readonly #queues: [Array<() => void>, Array<() => void>, Array<() => void>] = [[], [], []];
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
  get load(): { running: number; runningSuspect: number; queuedKnown: number; queuedClean: number; queuedSuspect: number } {
    const [known, clean, suspect] = this.#queues;
    return { running: this.#running, runningSuspect: this.#runningSuspect, queuedKnown: known.length, queuedClean: clean.length, queuedSuspect: suspect.length };
  }

  /**
   * Runs `check` once a slot is free for its lane. `admit` gives the source's lane, or throws (a
   * 429) when it is limited; it is called on arrival and again each time the check's turn comes.
   * Rejects with 429 MODELD_ERR_RATE_LIMITED when the lane's queue is full.
   */
  async run<T>(admit: () => Lane, check: () => Promise<T>): Promise<T> {
    let lane = admit();
    if (this.#max === 0) {
      this.#started++;
      return check();
    }
    if (this.#canStart(lane)) this.#take(lane);
    else {
      for (;;) {
        await this.#wait(lane); // resumes holding a slot of `lane`
        let now: Lane;
        try {
          now = admit();
        } catch (err) {
          this.#release(lane);
          throw err;
        }
        if (now === lane) break;
        // Judged otherwise by now: keep the slot if the new lane may start, else pass it on and wait there.
        this.#drop(lane);
        lane = now;
        if (this.#canStart(lane)) {
          this.#take(lane);
          break;
        }
        this.#next();
      }
    }
    try {
      this.#started++;
      return await check();
    } finally {
      this.#release(lane);
    }
  }

  #wait(lane: Lane): Promise<void> {
    const queue = this.#queues[lane];
    if (queue.length >= this.#maxQueued) {
      return Promise.reject(
        new ModeldError('MODELD_ERR_RATE_LIMITED', 'too many client authentications waiting; retry in 1 s', {
          details: { oauthError: 'temporarily_unavailable', retryAfterSeconds: 1, limit: 'secretChecks' },
        }),
      );
    }
    return new Promise<void>((resolve) => queue.push(resolve));
  }

  #canStart(lane: Lane): boolean {
    if (this.#running >= this.#max) return false;
    for (let earlier = 0; earlier < lane; earlier++) if (this.#queues[earlier]!.length > 0) return false;
    return lane !== Lanes.SUSPECT || this.#runningSuspect < this.#maxSuspect;
  }

  #take(lane: Lane): void {
    this.#running++;
    if (lane === Lanes.SUSPECT) this.#runningSuspect++;
  }

  #drop(lane: Lane): void {
    this.#running--;
    if (lane === Lanes.SUSPECT) this.#runningSuspect--;
  }

  #release(lane: Lane): void {
    this.#drop(lane);
    this.#next();
  }

  /** Hands free slots to waiting checks, earlier lanes first. */
  #next(): void {
    for (;;) {
      const lane = ([Lanes.KNOWN, Lanes.CLEAN, Lanes.SUSPECT] as const).find((l) => this.#queues[l].length > 0 && this.#canStart(l));
      if (lane === undefined) return;
      this.#take(lane);
      this.#queues[lane].shift()!();
    }
  }
}

/**
 * Addresses that authenticated a client successfully, and when (most recent last), so that
 * their next checks go in the `known` lane. At most `maxEntries` (least recent dropped); only a
 * success adds one, so a flood of bad attempts cannot fill it.
 */
export class KnownAddresses {
  readonly #seen = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;

  constructor(options: { ttlMs: number; maxEntries: number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries;
  }

  succeeded(address: string, nowMs: number): void {
    this.#seen.delete(address);
    if (this.#seen.size >= this.#maxEntries) {
      const oldest = this.#seen.keys().next();
      if (!oldest.done) this.#seen.delete(oldest.value);
    }
    this.#seen.set(address, nowMs);
  }

  isKnown(address: string, nowMs: number): boolean {
    const at = this.#seen.get(address);
    return at !== undefined && nowMs >= at && nowMs - at < this.#ttlMs;
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
