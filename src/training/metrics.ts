import { METRIC_KS, type MetricK, type MetricName } from './config.js';

/**
 * Retrieval metrics of a trained encoder and the `trainingMetrics` object of API.md. Pure: the
 * trainer encodes the catalog, ranks it per query (`rankByDot`) and hands the ranked pkids here.
 */

/** The metrics of a ranking task; classification adds f1. */
export const RANKING_METRICS = ['hit', 'map', 'mrr', 'ndcg', 'recall'] as const satisfies readonly MetricName[];
export const CLASSIFICATION_METRICS = [...RANKING_METRICS, 'f1'] as const satisfies readonly MetricName[];

/** k as the strings of the wire shape. */
export type KKey = '1' | '3' | '5' | '10';
export type AtK = Record<KKey, number>;
/** `{hit: {"1": 0.5, "3": ...}, map: {...}, ...}` for one split. */
export type MetricsAtK = Partial<Record<MetricName, AtK>>;

/** One evaluated query: the catalog pkids ranked best first (at least 10 when the catalog has them), and its relevant pkids with their weights. */
export interface RankedQuery {
  ranked: readonly string[];
  /** pkid -> weight (> 0). The weight is the graded relevance of ndcg; the other metrics only ask whether a pkid is relevant. */
  relevant: ReadonlyMap<string, number>;
}

/**
 * The metrics of one query at cut-off k:
 * - hit: 1 when a relevant pkid is in the top k;
 * - recall: relevant pkids in the top k / relevant pkids;
 * - mrr: 1 / rank of the first relevant pkid in the top k, else 0;
 * - map: average precision at k, (sum of precision@i at each relevant rank i <= k) / min(relevant, k);
 * - ndcg: DCG / ideal DCG with gain = weight and discount log2(rank + 1);
 * - f1: harmonic mean of precision@k (hits / k) and recall@k, 0 when both are 0.
 * A query with no relevant pkid scores 0 everywhere (the loader never produces one).
 */
export function queryMetric(name: MetricName, k: number, q: RankedQuery): number {
  const nRel = q.relevant.size;
  if (nRel === 0) return 0;
  const top = q.ranked.slice(0, k);
  let hits = 0;
  let firstRank = 0;
  let precisionSum = 0;
  let dcg = 0;
  const seen = new Set<string>();
  for (let i = 0; i < top.length; i++) {
    const pkid = top[i]!;
    // A pkid listed twice counts once (rankings come from a deduplicated index, but callers vary).
    if (seen.has(pkid)) continue;
    seen.add(pkid);
    const w = q.relevant.get(pkid);
    if (w === undefined) continue;
    hits++;
    if (firstRank === 0) firstRank = i + 1;
    precisionSum += hits / (i + 1);
    dcg += w / Math.log2(i + 2);
  }
  switch (name) {
    case 'hit':
      return hits > 0 ? 1 : 0;
    case 'recall':
      return hits / nRel;
    case 'mrr':
      return firstRank === 0 ? 0 : 1 / firstRank;
    case 'map':
      return precisionSum / Math.min(nRel, k);
    case 'ndcg': {
      const ideal = [...q.relevant.values()].sort((a, b) => b - a).slice(0, k);
      let idcg = 0;
      for (let i = 0; i < ideal.length; i++) idcg += ideal[i]! / Math.log2(i + 2);
      return idcg > 0 ? dcg / idcg : 0;
    }
    case 'f1': {
      const p = hits / k;
      const r = hits / nRel;
      return p + r === 0 ? 0 : (2 * p * r) / (p + r);
    }
  }
}

/** The mean over `queries` of each metric at 1, 3, 5 and 10. An empty list gives zeros. */
export function evaluateRankings(queries: readonly RankedQuery[], metrics: readonly MetricName[] = RANKING_METRICS): MetricsAtK {
  const out: MetricsAtK = {};
  for (const name of metrics) {
    const atK = {} as AtK;
    for (const k of METRIC_KS) {
      let sum = 0;
      for (const q of queries) sum += queryMetric(name, k, q);
      atK[String(k) as KKey] = queries.length === 0 ? 0 : sum / queries.length;
    }
    out[name] = atK;
  }
  return out;
}

/** Groups (query, pkid, weight) pairs by query; a pkid given twice for a query has its weights summed. */
export function relevanceByQuery(pairs: Iterable<{ query: string; pkid: string; weight: number }>): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const { query, pkid, weight } of pairs) {
    let rel = out.get(query);
    if (rel === undefined) out.set(query, (rel = new Map()));
    rel.set(pkid, (rel.get(pkid) ?? 0) + weight);
  }
  return out;
}

/**
 * Ranks the index for each query by dot product (the vectors are L2-normalized, so this is cosine).
 * `queries` is n x dim and `index` m x dim, row-major. Returns, per query, the indices of the best
 * `k` rows, best first; equal scores keep the lower row first.
 */
export function rankByDot(queries: Float32Array, index: Float32Array, dim: number, k: number): Int32Array[] {
  if (dim <= 0 || queries.length % dim !== 0 || index.length % dim !== 0) throw new RangeError(`rankByDot: matrix sizes ${queries.length}, ${index.length} are not multiples of dim ${dim}`);
  const n = queries.length / dim;
  const m = index.length / dim;
  const kk = Math.min(k, m);
  const out: Int32Array[] = [];
  const bestScore = new Float64Array(kk);
  const bestRow = new Int32Array(kk);
  for (let qi = 0; qi < n; qi++) {
    let size = 0;
    const qo = qi * dim;
    for (let r = 0; r < m; r++) {
      let s = 0;
      const ro = r * dim;
      for (let d = 0; d < dim; d++) s += queries[qo + d]! * index[ro + d]!;
      if (size === kk && s <= bestScore[kk - 1]!) continue;
      // Insertion into the sorted top-k buffer; strict > keeps the earlier row ahead on ties.
      let pos = size < kk ? size : kk - 1;
      while (pos > 0 && s > bestScore[pos - 1]!) {
        bestScore[pos] = bestScore[pos - 1]!;
        bestRow[pos] = bestRow[pos - 1]!;
        pos--;
      }
      bestScore[pos] = s;
      bestRow[pos] = r;
      if (size < kk) size++;
    }
    out.push(bestRow.slice(0, size));
  }
  return out;
}

/** `summary` of API.md's trainingMetrics. training_time is in seconds. */
export interface TrainingSummary {
  best_epoch: number;
  index_size: number;
  vector_size: number;
  training_time: number;
  num_trn_queries: number;
  num_val_queries: number;
  num_unique_training_pairs: number;
}

/** One epoch's evaluation: the sampled training queries and the validation queries. */
export interface EpochEvaluation {
  trn: MetricsAtK;
  val: MetricsAtK;
}

/** API.md's `trainingMetrics`: epoch_metrics holds one value per epoch (epoch 1 first), final_metrics the best epoch's. */
export interface TrainingMetrics {
  summary: TrainingSummary;
  epoch_metrics: Partial<Record<MetricName, { trn: Record<KKey, number[]>; val: Record<KKey, number[]> }>>;
  final_metrics: Partial<Record<MetricName, { trn: AtK; val: AtK }>>;
}

/**
 * The epoch (1-based) with the highest validation value of the monitored metric; the earliest
 * one on ties (the smaller model is as good). Throws RangeError for no epochs.
 */
export function bestEpoch(epochs: readonly EpochEvaluation[], monitor: { name: MetricName; k: MetricK }): number {
  if (epochs.length === 0) throw new RangeError('bestEpoch: no epochs evaluated');
  let best = 0;
  const value = (e: EpochEvaluation): number => e.val[monitor.name]?.[String(monitor.k) as KKey] ?? -Infinity;
  for (let i = 1; i < epochs.length; i++) if (value(epochs[i]!) > value(epochs[best]!)) best = i;
  return best + 1;
}

/** Early stopping: true once `patience` epochs have passed without beating the best validation value. */
export function shouldStopEarly(epochs: readonly EpochEvaluation[], monitor: { name: MetricName; k: MetricK }, patience: number): boolean {
  return epochs.length > 0 && epochs.length - bestEpoch(epochs, monitor) >= patience;
}

/**
 * Assembles trainingMetrics from the per-epoch evaluations. `summary.best_epoch` (1-based) picks
 * final_metrics. Throws RangeError when best_epoch is not one of the epochs.
 */
export function buildTrainingMetrics(summary: TrainingSummary, epochs: readonly EpochEvaluation[]): TrainingMetrics {
  const best = epochs[summary.best_epoch - 1];
  if (best === undefined) throw new RangeError(`buildTrainingMetrics: best_epoch ${summary.best_epoch} is not among ${epochs.length} epochs`);
  const names = Object.keys(best.val) as MetricName[];
  const epoch_metrics: TrainingMetrics['epoch_metrics'] = {};
  const final_metrics: TrainingMetrics['final_metrics'] = {};
  for (const name of names) {
    const series = (split: 'trn' | 'val'): Record<KKey, number[]> => {
      const r = {} as Record<KKey, number[]>;
      for (const k of METRIC_KS) r[String(k) as KKey] = epochs.map((e) => e[split][name]?.[String(k) as KKey] ?? 0);
      return r;
    };
    epoch_metrics[name] = { trn: series('trn'), val: series('val') };
    final_metrics[name] = { trn: { ...best.trn[name]! }, val: { ...best.val[name]! } };
  }
  return { summary: { ...summary }, epoch_metrics, final_metrics };
}
