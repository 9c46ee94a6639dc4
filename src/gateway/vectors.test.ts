import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { normalizedSlice, quantizeMaxScale, quantizeMinMax, shapeVector } from './vectors.js';

const row = fc.array(fc.float({ min: -10, max: 10, noNaN: true }), { minLength: 1, maxLength: 64 }).map((a) => Float32Array.from(a));

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

describe('quantizeMinMax', () => {
  it('maps the row onto integers 0..255 with its min at 0 and its max at 255, order kept', () => {
    fc.assert(
      fc.property(row, (v) => {
        const q = quantizeMinMax(v);
        assert.equal(q.length, v.length);
        for (const x of q) assert.ok(Number.isInteger(x) && x >= 0 && x <= 255, `${x} out of 0..255`);
        const min = Math.min(...v);
        const max = Math.max(...v);
        if (max > min) {
          assert.equal(q[v.indexOf(min)], 0);
          assert.equal(q[v.indexOf(max)], 255);
        } else {
          assert.ok(q.every((x) => x === 0));
        }
        for (let i = 0; i < v.length; i++) for (let j = 0; j < v.length; j++) if (v[i]! < v[j]!) assert.ok(q[i]! <= q[j]!);
      }),
    );
  });

  it('gives the documented values on a known row', () => {
    assert.deepEqual([...quantizeMinMax(Float32Array.from([-1, 0, 1]))], [0, 128, 255]);
  });
});

describe('quantizeMaxScale', () => {
  it('maps the row onto integers -127..127, the largest magnitude to +-127, signs kept', () => {
    fc.assert(
      fc.property(row, (v) => {
        const q = quantizeMaxScale(v);
        for (const x of q) assert.ok(Number.isInteger(x) && x >= -127 && x <= 127, `${x} out of -127..127`);
        const maxAbs = Math.max(...[...v].map(Math.abs));
        if (maxAbs === 0) {
          assert.ok(q.every((x) => x === 0));
          return;
        }
        const i = [...v].findIndex((x) => Math.abs(x) === maxAbs);
        assert.equal(Math.abs(q[i]!), 127);
        for (let k = 0; k < v.length; k++) {
          if (v[k]! > 0) assert.ok(q[k]! >= 0);
          if (v[k]! < 0) assert.ok(q[k]! <= 0);
        }
      }),
    );
  });

  it('gives the documented values on a known row', () => {
    assert.deepEqual([...quantizeMaxScale(Float32Array.from([0.5, -0.25, 0]))], [127, -64, 0]);
  });
});

describe('normalizedSlice and shapeVector', () => {
  it('every served float vector has unit length, truncated or not', () => {
    fc.assert(
      fc.property(row.filter((v) => norm(v) > 1e-3), fc.integer({ min: 1, max: 64 }), (v, keep) => {
        const d = Math.min(keep, v.length);
        const out = shapeVector(v, v.length, 0, { dimReductionSize: d }) as Float32Array;
        assert.equal(out.length, d);
        if (norm(v.subarray(0, d)) > 1e-3) assert.ok(Math.abs(norm(out) - 1) < 1e-5, `norm ${norm(out)}`);
      }),
    );
  });

  it('truncation keeps the leading dimensions in proportion (Matryoshka), then re-normalizes', () => {
    const v = Float32Array.from([3, 4, 12, 0]);
    const out = shapeVector(v, 4, 0, { dimReductionSize: 2 }) as Float32Array;
    assert.deepEqual([...out].map((x) => Number(x.toFixed(6))), [0.6, 0.8]);
  });

  it('reads the right row of a batch and leaves the source untouched', () => {
    const batch = Float32Array.from([1, 0, 0, 2]);
    assert.deepEqual([...normalizedSlice(batch, 2, 2)], [0, 1]);
    assert.deepEqual([...batch], [1, 0, 0, 2]);
  });

  it('quantizes after truncation', () => {
    const v = Float32Array.from([0.1, -0.2, 0.3, 0.9]);
    const q = shapeVector(v, 4, 0, { dimReductionSize: 3, quantization: 'max-scale' });
    assert.ok(q instanceof Int16Array);
    assert.deepEqual([...q], [42, -85, 127]);
  });

  it('keeps an all-zero row at zero instead of dividing by zero', () => {
    assert.deepEqual([...normalizedSlice(new Float32Array(3), 0, 3)], [0, 0, 0]);
  });
});
