/**
 * What the API does to a vector after the model made it: Matryoshka truncation with
 * re-normalization, then optional quantization. Pure functions on typed arrays.
 */

export const QuantizationMethods = { MIN_MAX: 'min-max', MAX_SCALE: 'max-scale' } as const;
export type QuantizationMethod = (typeof QuantizationMethods)[keyof typeof QuantizationMethods];

/**
 * Copies `source[start .. start+dim)` into `out` and scales it to unit L2 norm. An all-zero row
 * stays zero (there is no direction to keep). Returns `out`.
 */
export function normalizedSlice(source: Float32Array, start: number, dim: number, out = new Float32Array(dim)): Float32Array {
  let sum = 0;
  for (let i = 0; i < dim; i++) {
    const v = source[start + i]!;
    sum += v * v;
  }
  const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
  for (let i = 0; i < dim; i++) out[i] = source[start + i]! * scale;
  return out;
}

/**
 * `min-max`: maps the row's [min, max] linearly onto the integers 0..255 (min -> 0, max -> 255).
 * A constant row maps to all zeros.
 */
export function quantizeMinMax(v: Float32Array): Int16Array {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const out = new Int16Array(v.length);
  const range = max - min;
  if (!(range > 0)) return out;
  const scale = 255 / range;
  for (let i = 0; i < v.length; i++) out[i] = Math.min(255, Math.max(0, Math.round((v[i]! - min) * scale)));
  return out;
}

/**
 * `max-scale`: divides the row by its largest absolute value and maps it onto the integers
 * -127..127 (the largest magnitude becomes +-127, zero stays 0, signs are kept). An all-zero row
 * stays zero.
 */
export function quantizeMaxScale(v: Float32Array): Int16Array {
  let maxAbs = 0;
  for (let i = 0; i < v.length; i++) {
    const x = Math.abs(v[i]!);
    if (x > maxAbs) maxAbs = x;
  }
  const out = new Int16Array(v.length);
  if (!(maxAbs > 0)) return out;
  const scale = 127 / maxAbs;
  // Rounds half away from zero so that v and -v quantize to opposite integers.
  for (let i = 0; i < v.length; i++) {
    const x = v[i]! * scale;
    out[i] = Math.min(127, Math.max(-127, x < 0 ? -Math.round(-x) : Math.round(x)));
  }
  return out;
}

export function quantize(v: Float32Array, method: QuantizationMethod): Int16Array {
  return method === QuantizationMethods.MIN_MAX ? quantizeMinMax(v) : quantizeMaxScale(v);
}

export interface VectorShaping {
  /** Keep this many leading dimensions (already checked to be 1..dim); undefined keeps all. */
  dimReductionSize?: number;
  quantization?: QuantizationMethod;
}

/**
 * The served form of row `row` of a [count, dim] batch: the first `dimReductionSize` dimensions,
 * L2-normalized (so a truncated vector is a unit vector again, and so is a full one whatever the
 * replica sent), then quantized when asked: Float32Array for floats, Int16Array for integers.
 */
export function shapeVector(vectors: Float32Array, dim: number, row: number, shaping: VectorShaping): Float32Array | Int16Array {
  const keep = shaping.dimReductionSize !== undefined && shaping.dimReductionSize < dim ? shaping.dimReductionSize : dim;
  const unit = normalizedSlice(vectors, row * dim, keep);
  return shaping.quantization ? quantize(unit, shaping.quantization) : unit;
}

/** Dot product of two rows of equal length (cosine similarity for unit vectors). */
export function dot(a: Float32Array, aStart: number, b: Float32Array, bStart: number, dim: number): number {
  let s = 0;
  for (let i = 0; i < dim; i++) s += a[aStart + i]! * b[bStart + i]!;
  return s;
}
