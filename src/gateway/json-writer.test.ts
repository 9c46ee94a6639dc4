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
