/**
 * The ranking side of bench/quality: turn rankings into modeld's metrics (the same
 * `evaluateRankings` training reports), embed texts in batches, rank by dot product.
 */
import type { EmbeddingEngine, EmbedOptions } from '../../src/engines/index.js';
import { evaluateRankings, rankByDot, type MetricsAtK, type RankedQuery } from '../../src/training/index.js';
import type { Bm25Index } from './bm25.js';

/** Rankings are cut at 10, the largest k of the metrics. */
export const RANK_DEPTH = 10;

/** The test set: queries (sorted) and each query's relevant pkids with their weights. */
export interface TestSet {
  queries: string[];
  relevant: Map<string, Map<string, number>>;
}

/** Metrics of rankings given as row indices into `pkids`, one per test query (in `test.queries` order). */
export function evaluateRows(test: TestSet, pkids: readonly string[], rows: ReadonlyArray<ArrayLike<number>>): MetricsAtK {
  const ranked: RankedQuery[] = test.queries.map((q, i) => ({ ranked: Array.from(rows[i]!, (r) => pkids[r]!), relevant: test.relevant.get(q)! }));
  return evaluateRankings(ranked);
}

export function bm25Rows(index: Bm25Index, queries: readonly string[]): number[][] {
  return queries.map((q) => index.rank(q, RANK_DEPTH));
}

/** Embeds `texts` in batches of `batch`; calls `progress(done)` after each batch. Row-major, L2-normalized rows. */
export async function embedAll(engine: EmbeddingEngine, texts: readonly string[], options: EmbedOptions, batch = 32, progress?: (done: number) => void): Promise<Float32Array> {
  const out = new Float32Array(texts.length * engine.vectorSize);
  for (let i = 0; i < texts.length; i += batch) {
    const { vectors } = await engine.embed(texts.slice(i, i + batch), options);
    out.set(vectors, i * engine.vectorSize);
    progress?.(Math.min(texts.length, i + batch));
  }
  return out;
}

/** Ranks items for queries with an engine: queries embedded as `query`, items as `passage` (as served). */
export async function engineRows(engine: EmbeddingEngine, queries: readonly string[], itemTexts: readonly string[], progress?: (what: string, done: number, total: number) => void): Promise<Int32Array[]> {
  const items = await embedAll(engine, itemTexts, { dataType: 'passage' }, 32, (d) => progress?.('items', d, itemTexts.length));
  const qs = await embedAll(engine, queries, { dataType: 'query' }, 64, (d) => progress?.('queries', d, queries.length));
  return rankByDot(qs, items, engine.vectorSize, RANK_DEPTH);
}
