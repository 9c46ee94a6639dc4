/**
 * Concurrency of one deployment over a sliding window of time, for the autoscaler: the
 * time-weighted mean and the peak of (inflight + queued), and the requests shed. Kept in
 * fixed buckets so that memory is bounded whatever the request rate; time comes from the caller.
 */
export class LoadWindow {
  readonly #windowMs: number;
  readonly #bucketMs: number;
  /** Per bucket: start time, integral of concurrency x ms, peak, shed count. Ring of buckets. */
  readonly #starts: Float64Array;
  readonly #areas: Float64Array;
  readonly #peaks: Float64Array;
  readonly #shed: Float64Array;
  readonly #createdAt: number;
  #current = 0;
  #lastChangeAt: number;

  constructor(now: number, windowMs = 10_000, buckets = 10) {
    this.#windowMs = windowMs;
    this.#bucketMs = Math.max(1, Math.ceil(windowMs / buckets));
    const n = Math.ceil(windowMs / this.#bucketMs) + 1;
    this.#starts = new Float64Array(n).fill(-Infinity);
    this.#areas = new Float64Array(n);
    this.#peaks = new Float64Array(n);
    this.#shed = new Float64Array(n);
    this.#createdAt = now;
    this.#lastChangeAt = now;
  }

  /** Records that concurrency is `value` from `now` on. */
  set(value: number, now: number): void {
    this.#advance(now);
    this.#current = value;
    const b = this.#bucket(now);
    if (value > this.#peaks[b]!) this.#peaks[b] = value;
  }

  /** Counts one request answered 429. */
  shed(now: number): void {
    this.#advance(now);
    this.#shed[this.#bucket(now)]! += 1;
  }

  /** Mean and peak concurrency and shed count over the last windowMs (or since creation when younger). */
  read(now: number): { meanConcurrency: number; peakConcurrency: number; shed: number; windowMs: number } {
    this.#advance(now);
    const from = now - this.#windowMs;
    let area = 0;
    let peak = this.#current;
    let shed = 0;
    for (let i = 0; i < this.#starts.length; i++) {
      const start = this.#starts[i]!;
      if (start + this.#bucketMs <= from || start > now) continue;
      // A bucket straddling the window's start counts in proportion to its overlap.
      const overlap = start < from ? (start + this.#bucketMs - from) / this.#bucketMs : 1;
      area += this.#areas[i]! * overlap;
      if (this.#peaks[i]! > peak) peak = this.#peaks[i]!;
      shed += this.#shed[i]!;
    }
    const span = Math.max(1, Math.min(this.#windowMs, now - this.#createdAt));
    return { meanConcurrency: area / span, peakConcurrency: peak, shed, windowMs: span };
  }

  /** Integrates the current value from the last change until `now`, bucket by bucket. */
  #advance(now: number): void {
    let t = this.#lastChangeAt;
    if (now <= t) return;
    // Whatever happened before the window (and its oldest bucket) no longer counts: skip it.
    t = Math.max(t, now - this.#windowMs - 2 * this.#bucketMs);
    while (t < now) {
      const b = this.#bucket(t);
      const end = Math.min(now, this.#starts[b]! + this.#bucketMs);
      this.#areas[b]! += this.#current * (end - t);
      if (this.#current > this.#peaks[b]!) this.#peaks[b] = this.#current;
      t = end;
    }
    this.#lastChangeAt = now;
  }

  /** The ring index of the bucket containing time t, reset when it last held an older period. */
  #bucket(t: number): number {
    const start = Math.floor(t / this.#bucketMs) * this.#bucketMs;
    const i = Math.floor(t / this.#bucketMs) % this.#starts.length;
    if (this.#starts[i] !== start) {
      this.#starts[i] = start;
      this.#areas[i] = 0;
      this.#peaks[i] = 0;
      this.#shed[i] = 0;
    }
    return i;
  }
}
