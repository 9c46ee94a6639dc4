import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { JsonWriter, formatFloat32 } from './json-writer.js';

/** The fewest significant digits that parse back to the float32 (the slow, obviously right way). */
function shortestDigits(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return 1;
  for (let p = 1; p <= 9; p++) if (Math.fround(Number(x.toPrecision(p))) === x) return p;
  return 17;
}

function significantDigits(text: string): number {
  const mantissa = text.replace(/^-/, '').replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.max(1, mantissa.length);
}

const anyFloat32 = fc.float({ noDefaultInfinity: true, noNaN: true });
const tinyFloat32 = fc.float({ min: Math.fround(-1e-30), max: Math.fround(1e-30), noNaN: true });
const integerFloat32 = fc.integer({ min: -(2 ** 24), max: 2 ** 24 }).map((n) => Math.fround(n));
const bigIntegerFloat32 = fc.integer({ min: -(2 ** 53), max: 2 ** 53 }).map((n) => Math.fround(n));
const embeddingValue = fc.float({ min: -1, max: 1, noNaN: true });
const bitPatterns = fc.integer({ min: 0, max: 0xffffffff }).map((bits) => new Float32Array(new Uint32Array([bits]).buffer)[0]!);

describe('formatFloat32', () => {
  for (const [name, arb] of [
    ['any float32', anyFloat32],
    ['tiny and subnormal', tinyFloat32],
    ['integer-valued', integerFloat32],
    ['large integer-valued', bigIntegerFloat32],
    ['embedding range', embeddingValue],
    ['every bit pattern', bitPatterns],
  ] as const) {
    it(`round-trips exactly through JSON.parse + Math.fround, with the fewest digits: ${name}`, () => {
      fc.assert(
        fc.property(arb, (x) => {
          const text = formatFloat32(x);
          const back = JSON.parse(text) as number | null;
          if (!Number.isFinite(x)) {
            assert.equal(back, null);
            return;
          }
          assert.ok(Object.is(Math.fround(back as number), x), `${x} printed as ${text}`);
          assert.equal(significantDigits(text), shortestDigits(x), `${x} printed as ${text}`);
        }),
        { numRuns: 20_000 },
      );
    });
  }

  it('prints boundary values the way a reader expects', () => {
    assert.equal(formatFloat32(0), '0');
    assert.equal(formatFloat32(-0), '-0');
    assert.equal(formatFloat32(1), '1');
    assert.equal(formatFloat32(-3), '-3');
    assert.equal(formatFloat32(Math.fround(0.1)), '0.1');
    assert.equal(formatFloat32(Math.fround(0.061234567)), '0.061234567');
    assert.equal(formatFloat32(16777216), '16777216');
    assert.equal(formatFloat32(Math.fround(1e-7)), '1e-7');
    assert.equal(formatFloat32(Math.fround(1.5e-10)), '1.5e-10');
    assert.equal(formatFloat32(Math.fround(3.4028234663852886e38)), '3.4028235e+38');
    assert.equal(formatFloat32(1.401298464324817e-45), '1e-45');
    assert.equal(formatFloat32(Number.NaN), 'null');
    assert.equal(formatFloat32(Number.POSITIVE_INFINITY), 'null');
  });
});

describe('JsonWriter', () => {
  it('writes a whole response that JSON.parse reads back value for value', () => {
    fc.assert(
      fc.property(fc.array(fc.array(anyFloat32, { minLength: 0, maxLength: 40 }), { minLength: 1, maxLength: 8 }), fc.string(), (rows, label) => {
        const w = new JsonWriter(16);
        w.raw('{"label":').string(label).raw(',"rows":[');
        rows.forEach((row, i) => {
          if (i > 0) w.raw(',');
          w.float32Array(Float32Array.from(row));
        });
        w.raw('],"ints":').intArray([0, -127, 255, 42]).raw(',"n":').int(-12345678901).raw('}');
        const parsed = JSON.parse(w.toString()) as { label: string; rows: number[][]; ints: number[]; n: number };
        assert.equal(parsed.label, label);
        assert.deepEqual(parsed.ints, [0, -127, 255, 42]);
        assert.equal(parsed.n, -12345678901);
        parsed.rows.forEach((row, i) => {
          const original = Float32Array.from(rows[i]!);
          assert.equal(row.length, original.length);
          row.forEach((v, j) => assert.ok(Object.is(Math.fround(v), original[j]), `${original[j]} came back as ${v}`));
        });
      }),
      { numRuns: 500 },
    );
  });

  it('writes every safe integer exactly (quantized vectors, token counts)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.maxSafeInteger(), fc.maxSafeNat().map((n) => -n)), (n) => {
        assert.equal(new JsonWriter(8).int(n).toString(), String(n));
      }),
      { numRuns: 20_000 },
    );
    assert.equal(new JsonWriter().intArray([0, 100, 2 ** 31 - 1, 2 ** 31, -(2 ** 53 - 1)]).toString(), `[0,100,${2 ** 31 - 1},${2 ** 31},${-(2 ** 53 - 1)}]`);
  });

  it('writes a slice of a vector buffer', () => {
    const v = Float32Array.from([1, 2, 3, 4, 5]);
    assert.equal(new JsonWriter().float32Array(v, 1, 3).toString(), '[2,3]');
    assert.equal(new JsonWriter().float32Array(v, 2, 2).toString(), '[]');
  });
});

describe('float32 output is byte-identical to the previous routine', () => {
  /**
   * Writes `values` both through JsonWriter.float32Array (the inline run path and its fallbacks)
   * and formatFloat32 (one value at a time), and compares each with the legacy oracle.
   */
  function assertSameAsLegacy(values: Float32Array): void {
    const CHUNK = 8192;
    for (let from = 0; from < values.length; from += CHUNK) {
      const to = Math.min(values.length, from + CHUNK);
      const printed = new JsonWriter(16).float32Array(values, from, to).toString();
      const expected = `[${Array.from(values.subarray(from, to), legacyFormatFloat32).join(',')}]`;
      if (printed !== expected) {
        const got = printed.slice(1, -1).split(',');
        for (let i = from; i < to; i++) {
          const x = values[i]!;
          assert.equal(got[i - from], legacyFormatFloat32(x), `float32 bits 0x${bitsOf(x).toString(16)} (${x})`);
        }
        assert.equal(printed, expected);
      }
    }
    // The single-value entry points share the run path: a sample through them too.
    for (let i = 0; i < values.length; i += 61) {
      const x = values[i]!;
      assert.equal(formatFloat32(x), legacyFormatFloat32(x), `formatFloat32 of ${x}`);
      assert.equal(new JsonWriter(8).float32(x).toString(), legacyFormatFloat32(x), `float32() of ${x}`);
    }
  }

  const scratch = new Float32Array(1);
  const scratchBits = new Uint32Array(scratch.buffer);
  function bitsOf(x: number): number {
    scratch[0] = x;
    return scratchBits[0]!;
  }

  /** Every float32 from bit pattern `first`, `count` of them, with both signs. */
  function denseRun(first: number, count: number): Float32Array {
    const bits = new Uint32Array(count * 2);
    for (let i = 0; i < count; i++) {
      bits[2 * i] = first + i;
      bits[2 * i + 1] = (first + i) | 0x80000000;
    }
    return new Float32Array(bits.buffer);
  }

  it('a million random bit patterns (every exponent, both signs, NaN and infinities included)', () => {
    let state = 0x9e3779b9;
    const bits = new Uint32Array(1_000_000);
    for (let i = 0; i < bits.length; i++) {
      // xorshift32: reproducible, covers all 32 bits.
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      bits[i] = state >>> 0;
    }
    assertSameAsLegacy(new Float32Array(bits.buffer));
  });

  it('every float32 around powers of ten, the notation switch points and the inline range ends', () => {
    const anchors: number[] = [];
    for (let e = -45; e <= 38; e++) anchors.push(Math.fround(Number(`1e${e}`)));
    // Where the notation changes (1e-6 / 1e-7, 1e21) and where the inline path hands over
    // (2^-43, 2^27), plus 2^-126 (smallest normal) and 1, 0.5, 2 (exact powers of two).
    anchors.push(Math.fround(9.5e-7), Math.fround(9.999999e-7), Math.fround(1e21), 2 ** -43, 2 ** 27, 2 ** 28, 2 ** -44, 2 ** -126, 0.5, 2);
    for (const anchor of anchors) {
      const center = bitsOf(anchor);
      const first = Math.max(0, center - 1500);
      const last = Math.min(0x7f7fffff, center + 1500);
      assertSameAsLegacy(denseRun(first, last - first + 1));
    }
  });

  it('every float32 in whole binades of the embedding range', () => {
    // [2^-4, 2^-3), [2^-8, 2^-7), [2^-20, 2^-19): 2^23 values each would be too slow, so every
    // 13th, plus a dense stretch across the lower end of each binade.
    for (const low of [2 ** -4, 2 ** -8, 2 ** -20]) {
      const first = bitsOf(low);
      const bits = new Uint32Array(Math.ceil(0x800000 / 13));
      for (let i = 0; i < bits.length; i++) bits[i] = first + i * 13;
      assertSameAsLegacy(new Float32Array(bits.buffer));
      assertSameAsLegacy(denseRun(first - 20_000, 40_000));
    }
  });

  it('subnormals, zeros, extremes and non-finite values', () => {
    assertSameAsLegacy(denseRun(0, 50_000)); // ±0 and the smallest subnormals
    assertSameAsLegacy(denseRun(0x7fffff - 50_000, 50_001)); // largest subnormals, smallest normal
    assertSameAsLegacy(denseRun(0x7f7fffff - 20_000, 20_001)); // up to the largest finite float32
    assertSameAsLegacy(
      Float32Array.from([0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3.4028234663852886e38, -3.4028234663852886e38, 1.1754943508222875e-38, 1.401298464324817e-45, -1.401298464324817e-45]),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The reference oracle: a verbatim copy of the float32 routine as it was before the inline run
// path of writeFloat32s (json-writer.ts at d8942e5). The writer must print exactly its bytes.
// ---------------------------------------------------------------------------------------------
/** 10^0 .. 10^22: every one is exact in a double, so a product by one of them rounds once. */
const POW10: readonly number[] = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));
/** 2^(e-23) for the unbiased float32 exponent e in -126..127 (index e + 126): one unit in the last place. */
const ULP: readonly number[] = Array.from({ length: 254 }, (_, i) => 2 ** (i - 126 - 23));
const LOG10_2 = Math.log10(2);
/** ASCII digit pairs "00".."99", two bytes per pair. */
const PAIRS = Uint8Array.from({ length: 200 }, (_, i) => 0x30 + (i % 2 === 0 ? Math.floor(i / 20) : (i >> 1) % 10));

const CHAR_0 = 0x30;
const CHAR_MINUS = 0x2d;
const CHAR_DOT = 0x2e;
const CHAR_E = 0x65;
const CHAR_PLUS = 0x2b;

const MARGIN = 1e-6;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

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

const legacyBuf = Buffer.allocUnsafe(32);

/** What the writer printed for x before the rewrite. */
function legacyFormatFloat32(x: number): string {
  return legacyBuf.toString('latin1', 0, writeFloat32(legacyBuf, 0, x));
}
