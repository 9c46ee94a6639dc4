import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { JsonWriter, formatFloat32, formatFloat32General } from './json-writer.js';

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

describe('the inline run path prints what the general routine prints, byte for byte', () => {
  /**
   * Writes `values` both through JsonWriter.float32Array (the inline run path and its fallbacks)
   * and formatFloat32 (one value at a time), and compares each with formatFloat32General (the
   * routine every value went through before the inline path, and the one it falls back to).
   */
  function assertSameAsGeneral(values: Float32Array): void {
    const CHUNK = 8192;
    for (let from = 0; from < values.length; from += CHUNK) {
      const to = Math.min(values.length, from + CHUNK);
      const printed = new JsonWriter(16).float32Array(values, from, to).toString();
      const expected = `[${Array.from(values.subarray(from, to), formatFloat32General).join(',')}]`;
      if (printed !== expected) {
        const got = printed.slice(1, -1).split(',');
        for (let i = from; i < to; i++) {
          const x = values[i]!;
          assert.equal(got[i - from], formatFloat32General(x), `float32 bits 0x${bitsOf(x).toString(16)} (${x})`);
        }
        assert.equal(printed, expected);
      }
    }
    // The single-value entry points share the run path: a sample through them too.
    for (let i = 0; i < values.length; i += 61) {
      const x = values[i]!;
      assert.equal(formatFloat32(x), formatFloat32General(x), `formatFloat32 of ${x}`);
      assert.equal(new JsonWriter(8).float32(x).toString(), formatFloat32General(x), `float32() of ${x}`);
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
    assertSameAsGeneral(new Float32Array(bits.buffer));
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
      assertSameAsGeneral(denseRun(first, last - first + 1));
    }
  });

  it('every float32 in whole binades of the embedding range', () => {
    // [2^-4, 2^-3), [2^-8, 2^-7), [2^-20, 2^-19): 2^23 values each would be too slow, so every
    // 13th, plus a dense stretch across the lower end of each binade.
    for (const low of [2 ** -4, 2 ** -8, 2 ** -20]) {
      const first = bitsOf(low);
      const bits = new Uint32Array(Math.ceil(0x800000 / 13));
      for (let i = 0; i < bits.length; i++) bits[i] = first + i * 13;
      assertSameAsGeneral(new Float32Array(bits.buffer));
      assertSameAsGeneral(denseRun(first - 20_000, 40_000));
    }
  });

  it('subnormals, zeros, extremes and non-finite values', () => {
    assertSameAsGeneral(denseRun(0, 50_000)); // ±0 and the smallest subnormals
    assertSameAsGeneral(denseRun(0x7fffff - 50_000, 50_001)); // largest subnormals, smallest normal
    assertSameAsGeneral(denseRun(0x7f7fffff - 20_000, 20_001)); // up to the largest finite float32
    assertSameAsGeneral(
      Float32Array.from([0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3.4028234663852886e38, -3.4028234663852886e38, 1.1754943508222875e-38, 1.401298464324817e-45, -1.401298464324817e-45]),
    );
  });
});
