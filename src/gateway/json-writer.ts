/**
 * A JSON writer for responses made mostly of float32 vectors. `JSON.stringify` widens each
 * float32 to a double and prints up to 17 significant digits (`0.06123456731438637`); this writer
 * prints the shortest decimal that parses back (JSON.parse, then Math.fround) to the very same
 * float32 (`0.061234567`), straight into one growing byte buffer, with no intermediate strings.
 *
 * Contract of `float32()`: for every float32 value x (finite, subnormals, -0 included),
 * `Object.is(Math.fround(JSON.parse(output)), x)`, and no decimal with fewer significant digits
 * does so. Non-finite values print `null`, as JSON.stringify does.
 */

/** 10^0 .. 10^22: every one is exact in a double, so a product by one of them rounds once. */
const POW10: readonly number[] = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));
/** 2^(e-23) for the unbiased float32 exponent e in -126..127 (index e + 126): one unit in the last place. */
const ULP: readonly number[] = Array.from({ length: 254 }, (_, i) => 2 ** (i - 126 - 23));
const LOG10_2 = Math.log10(2);
/**
 * Biased float32 exponents whose values take the inline path of `writeFloat32s` (2^-43 ..
 * 2^27, about 1.1e-13 .. 1.3e8): there the first estimate of the power of ten, and the one
 * rescale, stay inside POW10. Every other finite value goes through `writeFloat32`.
 */
const INLINE_MIN_BIASED = 127 - 43;
const INLINE_MAX_BIASED = 127 + 26;
/** Per biased exponent: 8 - floor(e2 * log10(2)), the first estimate of k in writeFloat32. */
const K_ESTIMATE = Int32Array.from({ length: 256 }, (_, b) => 8 - Math.floor((b - 127) * LOG10_2));
/** Per biased exponent (1..254): half an ulp, ULP[e2 + 126] / 2 as writeFloat32 computes it. */
const HALF_ULP = Float64Array.from({ length: 256 }, (_, b) => (b >= 1 && b <= 254 ? ULP[b - 1]! / 2 : 0));
/** ASCII digit pairs "00".."99", two bytes per pair. */
const PAIRS = Uint8Array.from({ length: 200 }, (_, i) => 0x30 + (i % 2 === 0 ? Math.floor(i / 20) : (i >> 1) % 10));

const CHAR_0 = 0x30;
const CHAR_MINUS = 0x2d;
const CHAR_DOT = 0x2e;
const CHAR_COMMA = 0x2c;
const CHAR_E = 0x65;
const CHAR_PLUS = 0x2b;
const CHAR_OPEN = 0x5b;
const CHAR_CLOSE = 0x5d;

/** Bytes one float32 may take in the fast path ("-0.00000123456789" is 17). */
const FLOAT_ROOM = 24;

/**
 * Margin, in units of the 9th significant digit, that a candidate decimal keeps from the ends of
 * the rounding interval. The scaled value and interval ends carry at most ~1.1e-7 units of double
 * rounding error, JSON.parse adds at most ~1.1e-7 more; a candidate closer than the margin is not
 * trusted and a longer one is printed instead (never a wrong one).
 */
const MARGIN = 1e-6;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export class JsonWriter {
  #buf: Buffer;
  #pos = 0;

  /** `capacityBytes` is a first guess; the buffer doubles when a write does not fit. */
  constructor(capacityBytes = 4096) {
    this.#buf = Buffer.allocUnsafe(Math.max(64, capacityBytes));
  }

  get length(): number {
    return this.#pos;
  }

  /** Appends text verbatim (punctuation, keys known to need no escaping). */
  raw(text: string): this {
    this.#reserve(text.length * 3);
    this.#pos += this.#buf.write(text, this.#pos, 'utf8');
    return this;
  }

  /** Appends a JSON string literal (escaped by JSON.stringify). */
  string(value: string): this {
    return this.raw(JSON.stringify(value));
  }

  /** Appends any JSON value through JSON.stringify (small, non-vector parts of a response). */
  value(value: unknown): this {
    return this.raw(JSON.stringify(value) ?? 'null');
  }

  /** Appends an integer; anything else (fractions, unsafe integers) goes through JSON.stringify. */
  int(value: number): this {
    if (!Number.isSafeInteger(value)) return this.raw(JSON.stringify(value));
    this.#reserve(24);
    let v = value;
    if (v < 0) {
      this.#buf[this.#pos++] = CHAR_MINUS;
      v = -v;
    }
    this.#pos = writeDigits(this.#buf, this.#pos, v, digitCount(v));
    return this;
  }

  /** Appends `[a,b,...]` of integers (quantized vectors). */
  intArray(values: ArrayLike<number>): this {
    this.raw('[');
    for (let i = 0; i < values.length; i++) {
      if (i > 0) this.raw(',');
      this.int(values[i]!);
    }
    return this.raw(']');
  }

  /** Appends `[a,b,...]` of float32 values (read from `values[start..end)`) in their shortest round-tripping form. */
  float32Array(values: Float32Array, start = 0, end = values.length): this {
    this.#reserve(2 + (end - start) * FLOAT_ROOM);
    const buf = this.#buf;
    let pos = this.#pos;
    buf[pos++] = CHAR_OPEN;
    pos = writeFloat32s(buf, pos, values, start, end);
    buf[pos++] = CHAR_CLOSE;
    this.#pos = pos;
    return this;
  }

  /** Appends one float32 value (the argument must already be a float32, e.g. read from a Float32Array). */
  float32(value: number): this {
    this.#reserve(FLOAT_ROOM);
    this.#pos = writeOneFloat32(this.#buf, this.#pos, value);
    return this;
  }

  /** The bytes written so far (a view, valid until the next write). */
  toBuffer(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }

  toString(): string {
    return this.#buf.toString('utf8', 0, this.#pos);
  }

  #reserve(bytes: number): void {
    if (this.#pos + bytes <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + bytes) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }
}

/** The shortest round-tripping decimal of a float32, as a string (tests, small payloads). */
export function formatFloat32(x: number): string {
  const buf = Buffer.allocUnsafe(FLOAT_ROOM);
  return buf.toString('latin1', 0, writeOneFloat32(buf, 0, x));
}

/**
 * The general routine alone, without the inline path of `writeFloat32s`: the oracle the inline
 * path is tested against (json-writer.test.ts requires the same bytes for every value).
 */
export function formatFloat32General(x: number): string {
  const buf = Buffer.allocUnsafe(FLOAT_ROOM);
  return buf.toString('latin1', 0, writeFloat32(buf, 0, x));
}

/** A one-element run for single values: a float32 takes the inline path, anything else writeFloat32. */
const single = new Float32Array(1);

function writeOneFloat32(buf: Uint8Array, pos: number, x: number): number {
  if (Math.fround(x) !== x) return writeFloat32(buf, pos, x);
  single[0] = x;
  return writeFloat32s(buf, pos, single, 0, 1);
}

/**
 * Writes `values[start..end)` comma-separated ((end - start) * FLOAT_ROOM bytes available) and
 * returns the position after them. Prints exactly what `writeFloat32` prints for each value
 * (same digits, same notation), but the common case (a normal float32 of magnitude 2^-43..2^27
 * whose candidates are not near a rounding boundary) runs inline, with no call and no boxed
 * double per value: the same double products as writeFloat32 (s, the interval ends), then the
 * digit-dropping loop on integers, then "0.000ddd" written in place. Whatever falls outside
 * (other magnitudes, zero, non-finite, the rare s just below an integer, candidates near an
 * interval end) is handed to writeFloat32 whole, so both paths print the same bytes.
 */
function writeFloat32s(buf: Uint8Array, pos: number, values: Float32Array, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    if (i > start) buf[pos++] = CHAR_COMMA;
    const x = values[i]!;
    f32[0] = x;
    const bits = u32[0]!;
    const biased = (bits >>> 23) & 0xff;
    if (biased < INLINE_MIN_BIASED || biased > INLINE_MAX_BIASED) {
      pos = writeFloat32(buf, pos, x);
      continue;
    }
    const a = x < 0 ? -x : x;
    const halfUp = HALF_ULP[biased]!;
    const halfDown = (bits & 0x7fffff) === 0 ? halfUp / 2 : halfUp;
    // As in writeFloat32: scale to nine integer digits, rescaling once if the estimate is off.
    let k = K_ESTIMATE[biased]!;
    let s = a * POW10[k]!;
    if (s >= 1e9) s = a * POW10[--k]!;
    else if (s < 1e8) s = a * POW10[++k]!;
    const p = POW10[k]!;
    const loEnd = (a - halfDown) * p;
    const hiEnd = (a + halfUp) * p;
    const lo = loEnd + MARGIN;
    const hi = hiEnd - MARGIN;
    let mantissa = Math.round(s);
    // writeFloat32 takes floor(s / 10^j) of the rounded double quotient; from r = floor(s) the
    // loop below takes the exact floor(r / 10^j). The two differ only when the quotient rounds
    // up to the next integer, which needs s within 2^-23 below an integer: left to writeFloat32.
    const r = Math.floor(s);
    if (!(mantissa > lo && mantissa < hi) || r + 1 - s < 1e-6) {
      pos = writeFloat32(buf, pos, x);
      continue;
    }
    let dropped = 0;
    let q = r;
    let d = 1;
    let slow = false;
    for (let j = 1; j <= 9; j++) {
      // (q * 0.1) | 0 is floor(q / 10) for 0 <= q < 2^31: 0.1 is slightly above 1/10, and the
      // excess never reaches the next integer.
      q = (q * 0.1) | 0;
      d *= 10;
      const c1 = q * d;
      const c2 = c1 + d;
      // c1 <= r <= s < c2 and lo < s < hi: each candidate has only one end to check.
      const in1 = c1 > lo;
      const in2 = c2 < hi;
      if (in1) mantissa = in2 && c2 - s < s - c1 ? q + 1 : q;
      else if (in2) mantissa = q + 1;
      else {
        slow = c1 >= loEnd - MARGIN || c2 <= hiEnd + MARGIN;
        break;
      }
      dropped = j;
    }
    if (slow) {
      pos = writeFloat32(buf, pos, x);
      continue;
    }
    const best = mantissa * POW10[dropped]!;
    if (x < 0) buf[pos++] = CHAR_MINUS;
    // The value is 0.<digits of best> x 10^(9 - k) (10^(10 - k) for best = 10^9, ten digits);
    // place() prints "0.000ddd" for -6 < 9 - k <= 0, which is written inline below.
    if (k < 9 || k > 14 || best >= 1e9) {
      const digits = (best >= 1e9 ? 10 : 9) - dropped;
      pos = place(buf, pos, mantissa, digits, digits + dropped - k);
      continue;
    }
    const n = 9 - dropped;
    // "0.000000" then the nine digits of best over its tail: only the first n digits are kept.
    buf[pos] = CHAR_0;
    buf[pos + 1] = CHAR_DOT;
    buf[pos + 2] = CHAR_0;
    buf[pos + 3] = CHAR_0;
    buf[pos + 4] = CHAR_0;
    buf[pos + 5] = CHAR_0;
    buf[pos + 6] = CHAR_0;
    const at = pos + 2 + k - 9;
    const first = Math.floor(best / 1e8);
    const rest = best - first * 1e8;
    const high = (rest * 1e-4) | 0;
    const low = rest - high * 10000;
    const p1 = (high * 0.01) | 0;
    const p3 = (low * 0.01) | 0;
    const i1 = p1 * 2;
    const i2 = (high - p1 * 100) * 2;
    const i3 = p3 * 2;
    const i4 = (low - p3 * 100) * 2;
    buf[at] = CHAR_0 + first;
    buf[at + 1] = PAIRS[i1]!;
    buf[at + 2] = PAIRS[i1 + 1]!;
    buf[at + 3] = PAIRS[i2]!;
    buf[at + 4] = PAIRS[i2 + 1]!;
    buf[at + 5] = PAIRS[i3]!;
    buf[at + 6] = PAIRS[i3 + 1]!;
    buf[at + 7] = PAIRS[i4]!;
    buf[at + 8] = PAIRS[i4 + 1]!;
    pos = at + n;
  }
  return pos;
}

/**
 * Writes one float32 at `pos` (FLOAT_ROOM bytes available) and returns the position after it.
 * Fast path for magnitudes 1e-14..1e9 (every embedding value): scale to nine integer digits with
 * one exact power of ten, then drop trailing digits while a multiple of 10^j still lies inside
 * the float32 rounding interval, keeping the candidate closest to the value.
 */
function writeFloat32(buf: Uint8Array, pos: number, x: number): number {
  if (x === 0) {
    if (Object.is(x, -0)) buf[pos++] = CHAR_MINUS;
    buf[pos++] = CHAR_0;
    return pos;
  }
  if (x !== x || x === Infinity || x === -Infinity) {
    buf[pos] = 0x6e; // null
    buf[pos + 1] = 0x75;
    buf[pos + 2] = 0x6c;
    buf[pos + 3] = 0x6c;
    return pos + 4;
  }
  let a = x;
  if (a < 0) {
    buf[pos++] = CHAR_MINUS;
    a = -a;
  }
  f32[0] = a;
  const bits = u32[0]!;
  const biased = bits >>> 23;
  // Subnormals (biased 0) and the largest binade go the exact slow way.
  if (biased === 0 || biased >= 254) return slowFloat32(buf, pos, a);
  const e2 = biased - 127;
  // Half the gap to each float32 neighbour; the lower gap halves at an exact power of two.
  const ulp = ULP[e2 + 126]!;
  const halfUp = ulp / 2;
  const halfDown = (bits & 0x7fffff) === 0 ? ulp / 4 : halfUp;
  let k = 8 - Math.floor(e2 * LOG10_2);
  if (k < 0 || k > 22) return slowFloat32(buf, pos, a);
  let s = a * POW10[k]!;
  // The estimate of the decimal exponent may be one too small or too large: rescale once.
  if (s >= 1e9) {
    if (--k < 0) return slowFloat32(buf, pos, a);
    s = a * POW10[k]!;
  } else if (s < 1e8) {
    if (++k > 22) return slowFloat32(buf, pos, a);
    s = a * POW10[k]!;
  }
  const p = POW10[k]!;
  const loEnd = (a - halfDown) * p;
  const hiEnd = (a + halfUp) * p;
  const lo = loEnd + MARGIN;
  const hi = hiEnd - MARGIN;
  let best = Math.round(s);
  if (!(best > lo && best < hi)) return slowFloat32(buf, pos, a);
  let dropped = 0;
  for (let j = 1; j <= 9; j++) {
    const d = POW10[j]!;
    const c1 = Math.floor(s / d) * d;
    const c2 = c1 + d;
    const in1 = c1 > lo && c1 < hi;
    const in2 = c2 > lo && c2 < hi;
    if (in1) best = in2 && c2 - s < s - c1 ? c2 : c1;
    else if (in2) best = c2;
    else {
      // A candidate on an interval end (a tie, as for some large integers) may or may not
      // round-trip (ties go to even): let the exact path decide rather than print a longer one.
      if (c1 >= loEnd - MARGIN || c2 <= hiEnd + MARGIN) return slowFloat32(buf, pos, a);
      break;
    }
    dropped = j;
  }
  // The loop stops at the first level with no candidate, so `mantissa` has no trailing zero,
  // except when all nine digits went (a power of ten) and the mantissa is 1.
  const mantissa = best / POW10[dropped]!;
  const n = (best >= 1e9 ? 10 : 9) - dropped;
  // The value is 0.<mantissa digits> x 10^pointPos.
  return place(buf, pos, mantissa, n, n + dropped - k);
}

/** Writes `mantissa` (n digits) as 0.<digits> x 10^pointPos, in Number#toString's notation. */
function place(buf: Uint8Array, pos: number, mantissa: number, n: number, pointPos: number): number {
  if (pointPos >= n && pointPos <= 21) {
    pos = writeDigits(buf, pos, mantissa, n);
    for (let i = n; i < pointPos; i++) buf[pos++] = CHAR_0;
    return pos;
  }
  if (pointPos > 0 && pointPos <= 21) {
    const divisor = POW10[n - pointPos]!;
    const head = Math.floor(mantissa / divisor);
    pos = writeDigits(buf, pos, head, pointPos);
    buf[pos++] = CHAR_DOT;
    return writeDigits(buf, pos, mantissa - head * divisor, n - pointPos);
  }
  if (pointPos <= 0 && pointPos > -6) {
    buf[pos++] = CHAR_0;
    buf[pos++] = CHAR_DOT;
    for (let i = pointPos; i < 0; i++) buf[pos++] = CHAR_0;
    return writeDigits(buf, pos, mantissa, n);
  }
  const divisor = POW10[n - 1]!;
  const head = Math.floor(mantissa / divisor);
  buf[pos++] = CHAR_0 + head;
  if (n > 1) {
    buf[pos++] = CHAR_DOT;
    pos = writeDigits(buf, pos, mantissa - head * divisor, n - 1);
  }
  buf[pos++] = CHAR_E;
  const exp = pointPos - 1;
  buf[pos++] = exp < 0 ? CHAR_MINUS : CHAR_PLUS;
  const abs = Math.abs(exp);
  return writeDigits(buf, pos, abs, digitCount(abs));
}

/** Writes a non-negative integer as exactly `n` digits (leading zeros when it has fewer). */
function writeDigits(buf: Uint8Array, pos: number, value: number, n: number): number {
  let v = value;
  if (v < 2147483648) {
    let i = pos + n - 1;
    for (; i > pos; i -= 2) {
      // 0.01 as a double is slightly above 1/100, so v * 0.01 never rounds below the true
      // quotient, and for v < 2^31 never reaches the next integer: this is floor(v / 100).
      const q = (v * 0.01) | 0;
      const pair = (v - q * 100) * 2;
      buf[i] = PAIRS[pair + 1]!;
      buf[i - 1] = PAIRS[pair]!;
      v = q;
    }
    if (i === pos) buf[i] = CHAR_0 + v;
  } else {
    for (let i = pos + n - 1; i >= pos; i--) {
      const q = Math.floor(v / 10);
      buf[i] = CHAR_0 + (v - q * 10);
      v = q;
    }
  }
  return pos + n;
}

/**
 * Exact fallback for subnormals, magnitudes outside 1e-14..1e9 and candidates too close to an
 * interval end: the fewest significant digits whose decimal parses back to the same float32.
 * Writes at most 15 bytes ("3.4028235e+38").
 */
function slowFloat32(buf: Uint8Array, pos: number, a: number): number {
  let text = String(a);
  for (let precision = 1; precision <= 9; precision++) {
    const parsed = Number(a.toPrecision(precision));
    if (Math.fround(parsed) === a) {
      text = String(parsed);
      break;
    }
  }
  for (let i = 0; i < text.length; i++) buf[pos++] = text.charCodeAt(i);
  return pos;
}

function digitCount(v: number): number {
  let n = 1;
  while (n < 22 && v >= POW10[n]!) n++;
  return n;
}
