/**
 * Okapi BM25 over a small in-memory catalog, the lexical baseline of bench/quality.
 *
 * score(q, d) = sum over the distinct terms t of q of
 *   idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))
 * with idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5)) (Lucene's form, never negative),
 * k1 = 1.2 and b = 0.75 by default. Terms come from `tokenize`: lower-cased, split on anything
 * that is not a letter or a digit.
 */

export const BM25_K1 = 1.2;
export const BM25_B = 0.75;

/** Lower-cases and splits on non-alphanumerics (Unicode letters and digits); empty pieces dropped. */
export function tokenize(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((t) => t !== '');
}

export class Bm25Index {
  readonly #postings = new Map<string, Array<{ doc: number; tf: number }>>();
  readonly #lengths: Float64Array;
  readonly #avgdl: number;
  readonly #k1: number;
  readonly #b: number;

  /** Indexes `docs` (document i is row i of every ranking). */
  constructor(docs: readonly string[], options: { k1?: number; b?: number } = {}) {
    this.#k1 = options.k1 ?? BM25_K1;
    this.#b = options.b ?? BM25_B;
    this.#lengths = new Float64Array(docs.length);
    let total = 0;
    docs.forEach((text, doc) => {
      const terms = tokenize(text);
      this.#lengths[doc] = terms.length;
      total += terms.length;
      const tf = new Map<string, number>();
      for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + 1);
      for (const [t, n] of tf) {
        let list = this.#postings.get(t);
        if (list === undefined) this.#postings.set(t, (list = []));
        list.push({ doc, tf: n });
      }
    });
    this.#avgdl = docs.length === 0 ? 0 : total / docs.length;
  }

  get size(): number {
    return this.#lengths.length;
  }

  /** idf of a term (0 for a term in no document: it adds nothing). */
  idf(term: string): number {
    const df = this.#postings.get(term)?.length ?? 0;
    if (df === 0) return 0;
    const n = this.#lengths.length;
    return Math.log(1 + (n - df + 0.5) / (df + 0.5));
  }

  /** The BM25 score of every document for `query` (its distinct terms). */
  scores(query: string): Float64Array {
    const out = new Float64Array(this.#lengths.length);
    const k1 = this.#k1;
    const b = this.#b;
    for (const term of new Set(tokenize(query))) {
      const list = this.#postings.get(term);
      if (list === undefined) continue;
      const idf = this.idf(term);
      for (const { doc, tf } of list) {
        const norm = 1 - b + (b * this.#lengths[doc]!) / this.#avgdl;
        out[doc]! += (idf * tf * (k1 + 1)) / (tf + k1 * norm);
      }
    }
    return out;
  }

  /**
   * The best `k` documents for `query`, best first; equal scores keep the lower document first
   * (as rankByDot does), so documents that match nothing follow in catalog order.
   */
  rank(query: string, k: number): number[] {
    const s = this.scores(query);
    const idx = Array.from(s.keys());
    idx.sort((x, y) => s[y]! - s[x]! || x - y);
    return idx.slice(0, k);
  }
}
