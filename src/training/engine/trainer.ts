import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { seededRandom } from '../../domain/random.js';
import { seededShuffle, sampleQueries, type TrainingData } from '../data.js';
import { bestEpoch, evaluateRankings, relevanceByQuery, shouldStopEarly, type EpochEvaluation, type RankedQuery } from '../metrics.js';
import type { MetricK, MetricName } from '../config.js';
import type { TrainingProgress } from '../job-types.js';
import { Ranker, SequenceEncoder, sessionOptions } from './evaluate.js';
import { buildTrainStepGraph, layerWeightDims, vectorSizeOf, weightName, type EncoderShape, type EncoderWeights } from './graphs.js';
import { ADAM_DEFAULTS, AdamUpdater, EncoderParams, loadCheckpoint, saveCheckpoint, type AdamOptions } from './params.js';

/**
 * The training loop of the two-tower encoder: one encoder for queries and items, in-batch
 * negatives, Adam, evaluation of the whole catalog every epoch, early stopping on the monitored
 * validation metric, the best epoch's weights kept, and a checkpoint after every epoch that a new
 * run resumes from.
 *
 * Each step: JS looks up the embeddings of the batch (spatial dropout applied), onnxruntime runs
 * the training-step graph (forward, loss, every gradient), JS scatters the embedding gradients,
 * and an onnxruntime Adam graph updates the weights (lazily the embedding rows the batch used).
 */

/**
 * A text's token ids as the served model sees them when it truncates at `maxTokens` (a learned
 * processor: the first `maxTokens` ids, see `clip`; a base model's tokenizer: its own truncation,
 * special tokens kept). Never empty.
 */
export type TokenEncoder = (text: string, maxTokens: number) => number[];

export interface TrainerOptions {
  shape: EncoderShape;
  /** The embedding's starting values ([vocabSize x embDim], a base model's token embeddings); random from `seed` when absent. */
  initialEmbedding?: Float32Array;
  embTrainable: boolean;
  /** Spatial dropout on the embeddings (whole channels of a sequence), 0..1. */
  embDropout: number;
  numEpochs: number;
  patience: number;
  batchSize: number;
  monitor: { name: MetricName; k: MetricK; key: string };
  metricNames: readonly MetricName[];
  queryTokens: number;
  itemTokens: number;
  seed: number;
  threads: number;
  /** Where the checkpoint lives; an existing one (same run) is resumed. */
  checkpointDir: string;
  /** Training queries evaluated each epoch besides the validation queries. */
  trainEvalQueries?: number;
  adam?: AdamOptions;
  /** Scores are scale x cosine. */
  scale?: number;
  /** Global gradient norm clip. */
  clipNorm?: number;
  onProgress?: (p: TrainingProgress) => void;
  signal?: AbortSignal;
  /** Seconds between step progress reports. */
  progressEverySeconds?: number;
}

export interface TrainerResult {
  best: EncoderWeights;
  bestEpoch: number;
  evaluations: EpochEvaluation[];
  losses: number[];
  /** Wall-clock seconds of training and evaluation, resumed runs included. */
  seconds: number;
  pairsPerSecond: number;
}

interface CheckpointState {
  /** Identifies the run: a checkpoint of another run is ignored. */
  key: string;
  epoch: number;
  adamStep: number;
  evaluations: EpochEvaluation[];
  losses: number[];
  bestEpoch: number;
  seconds: number;
  trainSeconds: number;
  pairsTrained: number;
}

/** Token ids of a text as training uses them: at most `max`, and never empty (an empty text reads one padding position). */
export function clip(ids: readonly number[], max: number): number[] {
  return ids.length === 0 ? [0] : ids.slice(0, max);
}

export interface TokenizedData {
  /** Per index item, its ids (truncated to itemTokens). */
  items: number[][];
  pkids: string[];
  /** Unique training queries and their ids (truncated to queryTokens). */
  queries: string[];
  queryIds: number[][];
  /** Training pairs as (query index, item index, weight). */
  pairs: Array<{ q: number; i: number; weight: number }>;
}

export function tokenize(data: TrainingData, encode: TokenEncoder, queryTokens: number, itemTokens: number): TokenizedData {
  const pkids = data.index.map((it) => it.pkid);
  const itemIndex = new Map(pkids.map((p, i) => [p, i]));
  const items = data.index.map((it) => encode(it.text, itemTokens));
  const queries: string[] = [];
  const queryIndex = new Map<string, number>();
  const pairs: TokenizedData['pairs'] = [];
  for (const p of data.train) {
    let q = queryIndex.get(p.query);
    if (q === undefined) {
      q = queries.length;
      queryIndex.set(p.query, q);
      queries.push(p.query);
    }
    pairs.push({ q, i: itemIndex.get(p.pkid)!, weight: p.weight });
  }
  return { items, pkids, queries, queryIds: queries.map((q) => encode(q, queryTokens)), pairs };
}

/** Automatic batch size: 128, or smaller for small data (at least ten steps an epoch, at least 8 pairs a batch). */
export function autoBatchSize(pairs: number): number {
  let b = 128;
  while (b > 8 && pairs < b * 10) b /= 2;
  return Math.min(b, Math.max(2, pairs));
}

export async function trainEncoder(data: TrainingData, tok: TokenizedData, encode: TokenEncoder, o: TrainerOptions): Promise<TrainerResult> {
  const { shape } = o;
  const E = shape.embDim;
  const Tq = o.queryTokens;
  const Ti = o.itemTokens;
  const adam = o.adam ?? ADAM_DEFAULTS;
  const scale = o.scale ?? 20;
  const clipNorm = o.clipNorm ?? 5;
  const progressEvery = (o.progressEverySeconds ?? 2) * 1000;
  const key = JSON.stringify({ shape, e: o.embTrainable, d: o.embDropout, b: o.batchSize, Tq, Ti, seed: o.seed, pairs: tok.pairs.length, items: tok.items.length, ...(o.initialEmbedding && { init: 'base' }) });

  const checkpoint = await loadCheckpoint<CheckpointState>(o.checkpointDir, shape).catch(() => null);
  const resumed = checkpoint !== null && checkpoint.state.key === key ? checkpoint : null;
  const params = resumed?.params ?? new EncoderParams(shape, o.seed, o.initialEmbedding);
  let best: EncoderWeights | null = resumed?.best ?? null;
  const state: CheckpointState = resumed?.state ?? { key, epoch: 0, adamStep: 0, evaluations: [], losses: [], bestEpoch: 0, seconds: 0, trainSeconds: 0, pairsTrained: 0 };
  if (resumed) o.onProgress?.({ kind: 'resumed', fromEpoch: state.epoch });

  const step = await ort.InferenceSession.create(buildTrainStepGraph({ shape, queryTokens: Tq, itemTokens: Ti, scale }), sessionOptions(o.threads));
  const encoder = await SequenceEncoder.create(shape, o.threads);
  const ranker = await Ranker.create(o.threads);
  const adamUpdater = await AdamUpdater.create(adam, clipNorm, sessionOptions(o.threads));

  // Evaluation sets: validation queries, and a fixed sample of training queries. Queries are
  // encoded as the served model will encode them: truncated at the item length.
  const valRel = relevanceByQuery(data.validation);
  const trnRel = relevanceByQuery(data.train);
  const valQueries = [...valRel.keys()];
  const trnQueries = sampleQueries([...trnRel.keys()], o.trainEvalQueries ?? 1000, o.seed + 1);
  const evalIds = (qs: string[]) => qs.map((q) => encode(q, Ti));
  const valIds = evalIds(valQueries);
  const trnIds = evalIds(trnQueries);
  const dim = vectorSizeOf(shape);

  const evaluate = async (w: EncoderWeights): Promise<EpochEvaluation> => {
    const index = await encoder.encode(w, tok.items);
    const split = async (qs: string[], ids: number[][], rel: Map<string, Map<string, number>>) => {
      const ranked = await ranker.rank(await encoder.encode(w, ids), index, dim, 10);
      const rq: RankedQuery[] = qs.map((q, n) => ({ ranked: Array.from(ranked[n]!, (r) => tok.pkids[r]!), relevant: rel.get(q)! }));
      return evaluateRankings(rq, o.metricNames);
    };
    return { trn: await split(trnQueries, trnIds, trnRel), val: await split(valQueries, valIds, valRel) };
  };

  // Which items each training query is relevant to: in-batch "negatives" that are in fact relevant are masked.
  const relevantItems = new Map<number, Set<number>>();
  for (const p of tok.pairs) {
    let s = relevantItems.get(p.q);
    if (s === undefined) relevantItems.set(p.q, (s = new Set()));
    s.add(p.i);
  }

  const B = o.batchSize;
  const xq = new Float32Array(Tq * B * E);
  const xi = new Float32Array(Ti * B * E);
  const dropQ = new Float32Array(B * E);
  const dropI = new Float32Array(B * E);
  const embGrad = o.embTrainable ? new Float32Array(shape.vocabSize * E) : null;
  const touched = new Set<number>();
  const emb = params.embedding.value;
  const keep = 1 - o.embDropout;

  const embedBatch = (seqs: number[][], T: number, x: Float32Array, drop: Float32Array, n: number) => {
    x.fill(0, 0, T * n * E);
    for (let b = 0; b < n; b++) {
      const s = seqs[b]!;
      for (let t = 0; t < s.length; t++) {
        const src = s[t]! * E;
        const dst = (t * n + b) * E;
        for (let e = 0; e < E; e++) x[dst + e] = emb[src + e]! * drop[b * E + e]!;
      }
    }
  };
  const gatherGrad = (seqs: number[][], n: number, dx: Float32Array, drop: Float32Array) => {
    for (let b = 0; b < n; b++) {
      const s = seqs[b]!;
      for (let t = 0; t < s.length; t++) {
        const id = s[t]!;
        if (id === 0) continue;
        touched.add(id);
        const dst = id * E;
        const src = (t * n + b) * E;
        for (let e = 0; e < E; e++) embGrad![dst + e] += dx[src + e]! * drop[b * E + e]!;
      }
    }
  };

  const steps = Math.ceil(tok.pairs.length / B);
  const startedAt = Date.now() - state.seconds * 1000;
  try {
    for (let epoch = state.epoch + 1; epoch <= o.numEpochs; epoch++) {
      const rnd = seededRandom((o.seed * 1009 + epoch) >>> 0);
      const order = seededShuffle(
        tok.pairs.map((_, n) => n),
        (o.seed * 7919 + epoch) >>> 0,
      );
      const epochStart = performance.now();
      let lossSum = 0;
      let lossWeight = 0;
      let lastReport = Date.now();
      for (let s = 0; s < steps; s++) {
        if (o.signal?.aborted) throw o.signal.reason ?? new DOMException('training aborted', 'AbortError');
        const batch = order.slice(s * B, s * B + B).map((n) => tok.pairs[n]!);
        const n = batch.length;
        if (n < 2) continue;
        const qSeqs = batch.map((p) => tok.queryIds[p.q]!);
        const iSeqs = batch.map((p) => tok.items[p.i]!);
        for (const drop of [dropQ, dropI])
          for (let k = 0; k < n * E; k++) drop[k] = o.embDropout > 0 ? (rnd() < keep ? 1 / keep : 0) : 1;
        embedBatch(qSeqs, Tq, xq, dropQ, n);
        embedBatch(iSeqs, Ti, xi, dropI, n);
        const w = new Float32Array(n);
        let wSum = 0;
        batch.forEach((p, b) => (wSum += w[b] = Math.log1p(p.weight)));
        for (let b = 0; b < n; b++) w[b] = w[b]! / wSum;
        const negmask = new Float32Array(n * n);
        for (let a = 0; a < n; a++) {
          const rel = relevantItems.get(batch[a]!.q)!;
          for (let b = 0; b < n; b++) if (a !== b && (batch[b]!.i === batch[a]!.i || rel.has(batch[b]!.i))) negmask[a * n + b] = -1e4;
        }
        const feeds: Record<string, ort.Tensor> = {
          xq: new ort.Tensor('float32', xq.subarray(0, Tq * n * E), [Tq, n, E]),
          xi: new ort.Tensor('float32', xi.subarray(0, Ti * n * E), [Ti, n, E]),
          lq: new ort.Tensor('int32', Int32Array.from(qSeqs, (q) => q.length), [n]),
          li: new ort.Tensor('int32', Int32Array.from(iSeqs, (q) => q.length), [n]),
          w: new ort.Tensor('float32', w, [n]),
          negmask: new ort.Tensor('float32', negmask, [n, n]),
        };
        params.layers.forEach((layer, l) => {
          const dims = layerWeightDims(shape, l);
          feeds[weightName.W(l)] = new ort.Tensor('float32', layer.W.value, dims.W);
          feeds[weightName.R(l)] = new ort.Tensor('float32', layer.R.value, dims.R);
          feeds[weightName.B(l)] = new ort.Tensor('float32', layer.B.value, dims.B);
        });
        const out = await step.run(feeds);
        const loss = out.loss!.data[0] as number;
        if (!Number.isFinite(loss)) throw new Error(`the training loss became ${loss} at epoch ${epoch}, step ${s + 1}`);
        lossSum += loss * n;
        lossWeight += n;

        // Gradients, clipped by their global norm, then Adam (on onnxruntime).
        if (embGrad) {
          gatherGrad(qSeqs, n, out.dxq!.data as Float32Array, dropQ);
          gatherGrad(iSeqs, n, out.dxi!.data as Float32Array, dropI);
        }
        const rows = [...touched];
        await adamUpdater.step(params, out.dDense!.data as Float32Array, rows, embGrad, ++state.adamStep);
        if (embGrad) {
          for (const r of rows) embGrad.fill(0, r * E, r * E + E);
          touched.clear();
        }
        state.pairsTrained += n;

        if (o.onProgress && Date.now() - lastReport >= progressEvery) {
          lastReport = Date.now();
          const elapsed = (performance.now() - epochStart) / 1000;
          const perStep = elapsed / (s + 1);
          const evalGuess = state.evaluations.length > 0 ? (state.seconds - state.trainSeconds) / state.evaluations.length : 0;
          o.onProgress({
            kind: 'step',
            epoch,
            numEpochs: o.numEpochs,
            step: s + 1,
            steps,
            loss: lossSum / lossWeight,
            pairsPerSecond: lossWeight / elapsed,
            etaSeconds: Math.round(perStep * (steps - s - 1) + (o.numEpochs - epoch) * (perStep * steps + evalGuess) + evalGuess),
          });
        }
      }
      const trainSeconds = (performance.now() - epochStart) / 1000;
      const evalStart = performance.now();
      const evaluation = await evaluate(params.weights());
      const evalSeconds = (performance.now() - evalStart) / 1000;
      state.evaluations.push(evaluation);
      state.losses.push(lossWeight > 0 ? lossSum / lossWeight : NaN);
      state.epoch = epoch;
      state.trainSeconds += trainSeconds;
      state.seconds = (Date.now() - startedAt) / 1000;
      const bestNow = bestEpoch(state.evaluations, o.monitor);
      if (bestNow === epoch || best === null) best = params.snapshot();
      state.bestEpoch = bestNow;
      const stopping = epoch === o.numEpochs || shouldStopEarly(state.evaluations, o.monitor, o.patience);
      await saveCheckpoint(o.checkpointDir, { state, params, best });
      o.onProgress?.({
        kind: 'epoch',
        epoch,
        numEpochs: o.numEpochs,
        loss: state.losses.at(-1)!,
        monitor: { key: o.monitor.key, value: (evaluation.val as Partial<Record<MetricName, Record<string, number>>>)[o.monitor.name]?.[String(o.monitor.k)] ?? 0 },
        bestEpoch: bestNow,
        evaluation,
        trainSeconds,
        evalSeconds,
        etaSeconds: stopping ? 0 : Math.round((o.numEpochs - epoch) * (trainSeconds + evalSeconds)),
        stopping,
      });
      if (stopping) break;
    }
  } finally {
    await Promise.all([step.release(), encoder.close(), ranker.close(), adamUpdater.close()]);
  }
  if (best === null || state.evaluations.length === 0) throw new Error('training ended before its first epoch');
  return {
    best,
    bestEpoch: state.bestEpoch,
    evaluations: state.evaluations,
    losses: state.losses,
    seconds: state.seconds,
    pairsPerSecond: state.trainSeconds > 0 ? state.pairsTrained / state.trainSeconds : 0,
  };
}

export const CHECKPOINT_DIR = 'checkpoint';
export function checkpointDirOf(workDir: string): string {
  return path.join(workDir, CHECKPOINT_DIR);
}
