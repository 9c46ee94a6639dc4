/**
 * bench/quality: retrieval quality on held-out queries of the sample dataset (real text of this
 * machine, bench/quality/dataset.ts). The signals are split by query before anything is trained:
 * a seeded `--test-share` of the unique queries (default 0.2) is the test set, never seen by the
 * trained model (neither its training pairs, its validation split nor its vocabulary). Every
 * method ranks the whole catalog for each test query; ndcg@5 and mrr@3 are modeld's own
 * `evaluateRankings` (weights as graded relevance), the same numbers training reports.
 *
 * Methods: BM25 (bench/quality/bm25.ts) and the shipped Universal Sentence Encoder lite, each over
 * name + description and over the name alone; and a model trained with the default ecommerce
 * config on the training split (`runTrainingJob`), loaded from its artifact with `loadEngine` and
 * embedding exactly as a served model does. With the default ecommerce columns the trained
 * model's item text is the `name` column only (index_title_col_name name, no description column).
 *
 * `--dataset man-summaries` swaps the dataset for the second recipe of bench/quality/dataset.ts:
 * the installed packages, queried by the one-line summaries of the man pages they ship (text
 * written by people, not cut from the indexed text).
 *
 * Usage: node --import tsx bench/quality.ts [--dataset descriptions|man-summaries] [--items N] [--seed S] [--test-share F] [--epochs N]
 *          [--threads N] [--skip-use] [--skip-trained] [--with-description] [--keep DIR]
 * --with-description trains with dataset_config.index_desc_col_name "description" (not the
 * default config; a diagnostic of how much the item text matters).
 */
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureShippedPretrained, loadEngine, SHIPPED_USE_ID } from '../src/engines/index.js';
import { compileTrainingConfig, relevanceByQuery, type MetricsAtK } from '../src/training/index.js';
import { runTrainingJob } from '../src/training/job.js';
import { machineLine } from './lib.js';
import { Bm25Index } from './quality/bm25.js';
import { DEFAULT_ITEMS, DEFAULT_SEED, buildManSummaryDataset, buildSampleDataset, splitSignalsByQuery, writeSampleDataset, type CatalogItem } from './quality/dataset.js';
import { bm25Rows, engineRows, evaluateRows, type TestSet } from './quality/evaluate.js';

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: String(DEFAULT_ITEMS) },
    seed: { type: 'string', default: String(DEFAULT_SEED) },
    'test-share': { type: 'string', default: '0.2' },
    epochs: { type: 'string' },
    threads: { type: 'string' },
    'skip-use': { type: 'boolean', default: false },
    'skip-trained': { type: 'boolean', default: false },
    // Diagnostic, not the default config: also index the description column for the trained model.
    'with-description': { type: 'boolean', default: false },
    keep: { type: 'string' },
    dataset: { type: 'string', default: 'descriptions' },
  },
});
const items = Number(values.items);
const seed = Number(values.seed);
const testShare = Number(values['test-share']);
const epochs = values.epochs === undefined ? undefined : Number(values.epochs);
if (!(testShare > 0 && testShare < 1)) throw new Error(`--test-share must be between 0 and 1, got ${values['test-share']}`);

const log = (s: string): void => void process.stderr.write(`${s}\n`);
const rows: Array<{ method: string; itemText: string; m: MetricsAtK; seconds: number }> = [];
const t0 = performance.now();

console.log(machineLine());
const work = values.keep !== undefined ? path.resolve(values.keep) : await mkdtemp(path.join(os.tmpdir(), 'modeld-bench-quality-'));
await mkdir(work, { recursive: true });
// An interrupted run leaves no temp directory behind (a --keep directory stays).
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    if (values.keep === undefined) rmSync(work, { recursive: true, force: true });
    process.exit(130);
  });
}
try {
  // Dataset and the split by query (before any training).
  if (values.dataset !== 'descriptions' && values.dataset !== 'man-summaries') throw new Error(`--dataset must be descriptions or man-summaries, got ${values.dataset}`);
  const data = values.dataset === 'man-summaries' ? await buildManSummaryDataset({ seed }) : await buildSampleDataset({ items, seed });
  const split = splitSignalsByQuery(data.signals, testShare, seed);
  const dataDir = path.join(work, 'data');
  const files = await writeSampleDataset(dataDir, { catalog: data.catalog, signals: split.train });
  await writeSampleDataset(path.join(work, 'test'), { catalog: data.catalog, signals: split.test });
  const test: TestSet = { queries: [], relevant: relevanceByQuery(split.test.map((s) => ({ query: s.query, pkid: s.pkid, weight: s.aggr_count }))) };
  test.queries = [...test.relevant.keys()].sort();
  const trainQueries = new Set(split.train.map((s) => s.query)).size;
  const st = data.stats;
  console.log(`dataset ${values.dataset}: ${st.items} items (${st.dpkgItems} Debian packages, ${st.manItems} man pages), ${st.signals} signals, ${st.uniqueQueries} unique queries, seed ${seed}`);
  console.log(`split by query (seed ${seed}): train ${trainQueries} queries / ${split.train.length} signals; test (held out) ${test.queries.length} queries / ${split.test.length} signals`);
  console.log(`files: ${files.catalog}, ${files.signals} (training split)`);

  const pkids = data.catalog.map((c) => c.pkid);
  const full = data.catalog.map((c) => `${c.name} ${c.description}`);
  const names = data.catalog.map((c) => c.name);
  const timed = async (method: string, itemText: string, f: () => Promise<ArrayLike<number>[]> | ArrayLike<number>[]): Promise<void> => {
    const t = performance.now();
    const ranked = await f();
    const m = evaluateRows(test, pkids, ranked);
    rows.push({ method, itemText, m, seconds: (performance.now() - t) / 1000 });
    log(`${method} (${itemText}): ndcg@5 ${m.ndcg!['5'].toFixed(4)} mrr@3 ${m.mrr!['3'].toFixed(4)}`);
  };

  await timed('BM25', 'name + description', () => bm25Rows(new Bm25Index(full), test.queries));
  await timed('BM25', 'name', () => bm25Rows(new Bm25Index(names), test.queries));

  if (!values['skip-use']) {
    const modelsDir = path.join(work, 'models');
    await ensureShippedPretrained(modelsDir);
    const use = await loadEngine(path.join(modelsDir, SHIPPED_USE_ID));
    try {
      const progress = (what: string, done: number, total: number): void => {
        if (done === total || done % 512 === 0) log(`  USE: ${what} ${done}/${total}`);
      };
      await timed('USE lite (pre-trained)', 'name + description', () => engineRows(use, test.queries, full, progress));
      await timed('USE lite (pre-trained)', 'name', () => engineRows(use, test.queries, names, progress));
    } finally {
      await use.close();
    }
  }

  if (!values['skip-trained']) {
    const config: Record<string, unknown> = { dataset_config: 'mlp_ecommerce', trainer_config: 'mlp_ecommerce' };
    if (epochs !== undefined) config['trainer_config.num_epochs'] = epochs;
    if (values['with-description']) config['dataset_config.index_desc_col_name'] = 'description';
    const compiled = compileTrainingConfig('ecommerce-rnn', config);
    // The item text a served trained model is given: the configured title and description columns, joined as the loader joins them.
    const column = (c: CatalogItem, col: string | null): string => (col === null ? '' : String((c as unknown as Record<string, unknown>)[col] ?? '').trim());
    const trainedTexts = data.catalog.map((c) => [column(c, compiled.columns.title), column(c, compiled.columns.desc)].filter((t) => t !== '').join(' '));
    const itemText = [compiled.columns.title, compiled.columns.desc].filter((c) => c !== null).join(' + ');
    const t = performance.now();
    const result = await runTrainingJob(
      {
        modelId: 'bench-quality',
        modelName: 'bench-quality',
        modelType: 'ecommerce-rnn',
        config,
        trainingData: { catalog: pathToFileURL(files.catalog).href, signals: pathToFileURL(files.signals).href },
        dataRoots: [dataDir],
        workDir: path.join(work, 'job'),
        seed,
        ...(values.threads === undefined ? {} : { threads: Number(values.threads) }),
      },
      {
        onProgress: (p) => {
          if (p.kind === 'phase') log(`  train: ${p.phase}: ${p.message}`);
          if (p.kind === 'epoch')
            log(`  train: epoch ${p.epoch}/${p.numEpochs} loss ${p.loss.toFixed(4)} val ${p.monitor.key} ${p.monitor.value.toFixed(4)} (best epoch ${p.bestEpoch}) ${p.trainSeconds.toFixed(1)} s + eval ${p.evalSeconds.toFixed(1)} s${p.stopping ? ' (early stop)' : ''}`);
        },
      },
    );
    const trainSeconds = (performance.now() - t) / 1000;
    const s = result.metrics.summary;
    console.log(
      `trained: default ecommerce config${epochs === undefined ? '' : `, num_epochs ${epochs}`}${values['with-description'] ? ', index_desc_col_name description' : ''}, vector size ${result.vectorSize}, best epoch ${s.best_epoch}, ` +
        `${s.num_trn_queries} training / ${s.num_val_queries} validation queries (its own split of the training split), ${trainSeconds.toFixed(0)} s`,
    );
    const engine = await loadEngine(result.artifactDir);
    try {
      await timed(values['with-description'] ? 'trained (ecommerce + desc column)' : 'trained (ecommerce default)', itemText, () => engineRows(engine, test.queries, trainedTexts));
    } finally {
      await engine.close();
    }
  }

  console.log('');
  console.log(`held-out queries: ${test.queries.length}; catalog: ${pkids.length} items; metrics: modeld evaluateRankings (ndcg gain = aggr_count)`);
  const w = Math.max(...rows.map((r) => r.method.length));
  const v = Math.max(...rows.map((r) => r.itemText.length));
  console.log(`${'method'.padEnd(w)}  ${'item text'.padEnd(v)}  ndcg@5  mrr@3   hit@10  seconds`);
  for (const r of rows) {
    console.log(`${r.method.padEnd(w)}  ${r.itemText.padEnd(v)}  ${r.m.ndcg!['5'].toFixed(4)}  ${r.m.mrr!['3'].toFixed(4)}  ${r.m.hit!['10'].toFixed(4)}  ${r.seconds.toFixed(1)}`);
  }
  console.log(`total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
} finally {
  if (values.keep === undefined) await rm(work, { recursive: true, force: true });
}
