/**
 * Pooling and normalization over flat row-major buffers, no allocation per element. Inputs are
 * right-padded: row `b` has `lengths[b]` real tokens followed by padding, so the attention mask
 * of row b is `t < lengths[b]`.
 */

export type Pooling = 'mean' | 'cls' | 'max' | 'none';

/**
 * Pools a token output `[batch, seq, dim]` into `out` (`[batch, dim]`, row offset `outRow`).
 * `mean` averages the unmasked positions, `cls` takes position 0, `max` takes the per-dimension
 * maximum over the unmasked positions. A row with no unmasked position pools to zeros.
 */
export function poolTokens(
  hidden: Float32Array,
  batch: number,
  seq: number,
  dim: number,
  lengths: ArrayLike<number>,
  pooling: Exclude<Pooling, 'none'>,
  out: Float32Array,
  outRow = 0,
): void {
  for (let b = 0; b < batch; b++) {
    const o = (outRow + b) * dim;
    const base = b * seq * dim;
    const len = Math.min(lengths[b]!, seq);
    if (len <= 0) {
      out.fill(0, o, o + dim);
      continue;
    }
    if (pooling === 'cls') {
      for (let d = 0; d < dim; d++) out[o + d] = hidden[base + d]!;
    } else if (pooling === 'mean') {
      for (let d = 0; d < dim; d++) out[o + d] = 0;
      for (let t = 0; t < len; t++) {
        const h = base + t * dim;
        for (let d = 0; d < dim; d++) out[o + d]! += hidden[h + d]!;
      }
      const inv = 1 / len;
      for (let d = 0; d < dim; d++) out[o + d]! *= inv;
    } else {
      for (let d = 0; d < dim; d++) out[o + d] = hidden[base + d]!;
      for (let t = 1; t < len; t++) {
        const h = base + t * dim;
        for (let d = 0; d < dim; d++) {
          const v = hidden[h + d]!;
          if (v > out[o + d]!) out[o + d] = v;
        }
      }
    }
  }
}

/** L2-normalizes each of the `rows` rows of `v` (`[rows, dim]`) in place. A zero row stays zero (never NaN). */
export function l2NormalizeRows(v: Float32Array, rows: number, dim: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let s = 0;
    for (let d = 0; d < dim; d++) s += v[o + d]! * v[o + d]!;
    if (s <= 0 || !Number.isFinite(s)) continue;
    const inv = 1 / Math.sqrt(s);
    for (let d = 0; d < dim; d++) v[o + d]! *= inv;
  }
}
