import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadEngine } from '../engines/load-engine.js';
import { makeTempDir, type TempDir } from '../../test/fixtures/tmp.js';
import { writeTinyTrainingData, type TinyTrainingData } from '../../test/fixtures/training-data.js';
import { fileURLToPath } from 'node:url';
import { compileTrainingConfig } from './config.js';
import { loadTrainingData } from './data.js';
import { Ranker, SequenceEncoder, clip, checkpointDirOf, type EncoderShape } from './engine/index.js';
import { EncoderParams, loadCheckpoint } from './engine/params.js';
import { evaluateRankings, relevanceByQuery } from './metrics.js';
import { DEFAULT_SEED, EMBEDDING_DIM, runTrainingJob, type TrainingJobInput, type TrainingProgress } from './job.js';
import { textProcessorFromTokenizerJson } from './text-processors.js';

const TINY = {
  dataset_config: 'mlp_ecommerce',
  trainer_config: 'mlp_ecommerce',
  'trainer_config.encoder_config.rnn_units_list': [16],
  'trainer_config.num_epochs': 4,
  'trainer_config.trn_batch_size': 16,
};

/** The validation ndcg@5 of the encoder with the initial weights of a default-seed run (the artifact gives its vocabulary and lengths). */
async function untrainedValidationNdcg5(artifactDir: string, files: TinyTrainingData): Promise<number> {
  const manifest = JSON.parse(await readFile(path.join(artifactDir, 'manifest.json'), 'utf8'));
  const processor = textProcessorFromTokenizerJson(JSON.parse(await readFile(path.join(artifactDir, 'tokenizer.json'), 'utf8')));
  const config = compileTrainingConfig('ecommerce-rnn', TINY);
  const data = await loadTrainingData(files.catalog, files.signals, config.columns, { dataRoots: [path.dirname(fileURLToPath(files.catalog))], seed: DEFAULT_SEED });
  const shape: EncoderShape = { vocabSize: processor.vocabSize, embDim: EMBEDDING_DIM, layers: [{ cell: 'gru', units: 16 }] };
  const weights = new EncoderParams(shape, DEFAULT_SEED).weights();
  const maxTokens = manifest.tokenizer.maxTokens as number;
  const encoder = await SequenceEncoder.create(shape, 1);
  const ranker = await Ranker.create(1);
  try {
    const index = await encoder.encode(weights, data.index.map((it) => clip(processor.encode(it.text), maxTokens)));
    const relevant = relevanceByQuery(data.validation);
    const queries = [...relevant.keys()];
    const vectors = await encoder.encode(weights, queries.map((q) => clip(processor.encode(q), maxTokens)));
    const ranked = await ranker.rank(vectors, index, 32, 10);
    return evaluateRankings(queries.map((q, n) => ({ ranked: Array.from(ranked[n]!, (r) => data.index[r]!.pkid), relevant: relevant.get(q)! }))).ndcg!['5'];
  } finally {
    await Promise.all([encoder.close(), ranker.close()]);
  }
}

describe('runTrainingJob', () => {
  let tmp: TempDir;
  let data: TinyTrainingData;
  const input = (workDir: string, config: Record<string, unknown> = TINY): TrainingJobInput => ({
    modelId: 'model-1',
    modelName: 'tiny',
    modelType: 'ecommerce-rnn',
    config,
    trainingData: { catalog: data.catalog, signals: data.signals },
    dataRoots: [tmp.dir],
    workDir: path.join(tmp.dir, workDir),
    threads: 1,
  });
  let first: Awaited<ReturnType<typeof runTrainingJob>>;
  const events: TrainingProgress[] = [];

  before(async () => {
    tmp = await makeTempDir('modeld-train-job-');
    data = await writeTinyTrainingData(tmp.dir, { items: 150 });
    first = await runTrainingJob(input('run-a'), { onProgress: (p) => events.push(p) });
  });
  after(() => tmp.cleanup());

  it('trains, reports phases and epochs in order, and learns the task', async () => {
    const phases = events.filter((e) => e.kind === 'phase').map((e) => (e as { phase: string }).phase);
    assert.deepEqual(phases, ['loading-data', 'learning-vocabulary', 'training', 'exporting']);
    const epochs = events.filter((e): e is Extract<TrainingProgress, { kind: 'epoch' }> => e.kind === 'epoch');
    assert.deepEqual(
      epochs.map((e) => e.epoch),
      [1, 2, 3, 4],
    );
    assert.equal(epochs.at(-1)!.stopping, true);
    assert.ok(epochs.at(-1)!.loss < epochs[0]!.loss, `loss falls: ${epochs.map((e) => e.loss.toFixed(3)).join(' ')}`);
    // Better than the same encoder before training (its initial weights), which already ranks by
    // shared words: the validation ndcg@5 of the best epoch against the untrained one's.
    const untrained = await untrainedValidationNdcg5(first.artifactDir, data);
    const trained = first.metrics.final_metrics.ndcg!.val['5'];
    assert.ok(trained > untrained + 0.1, `validation ndcg@5: trained ${trained}, untrained ${untrained}`);
  });

  it('returns trainingMetrics in the API.md shape', () => {
    const m = first.metrics;
    assert.deepEqual(Object.keys(m.summary).sort(), [
      'best_epoch',
      'index_size',
      'num_trn_queries',
      'num_unique_training_pairs',
      'num_val_queries',
      'training_time',
      'vector_size',
    ]);
    assert.equal(m.summary.vector_size, 32);
    assert.equal(m.summary.index_size, data.items);
    assert.deepEqual(Object.keys(m.final_metrics).sort(), ['hit', 'map', 'mrr', 'ndcg', 'recall']);
    for (const name of ['hit', 'map', 'mrr', 'ndcg', 'recall'] as const) {
      for (const split of ['trn', 'val'] as const) {
        assert.deepEqual(Object.keys(m.epoch_metrics[name]![split]), ['1', '3', '5', '10']);
        assert.equal(m.epoch_metrics[name]![split]['5'].length, 4);
        assert.equal(m.final_metrics[name]![split]['5'], m.epoch_metrics[name]![split]['5'][m.summary.best_epoch - 1]);
      }
    }
    assert.equal(first.vectorSize, 32);
    assert.equal(first.config['trainer_config.num_epochs'], 4);
  });

  it('exports an artifact whose served vectors are the trained encoder vectors (max abs difference < 1e-5)', async () => {
    const engine = await loadEngine(first.artifactDir);
    try {
      assert.equal(engine.vectorSize, 32);
      const manifest = JSON.parse(await readFile(path.join(first.artifactDir, 'manifest.json'), 'utf8'));
      assert.equal(manifest.training.metrics.summary.best_epoch, first.metrics.summary.best_epoch);
      const processor = textProcessorFromTokenizerJson(JSON.parse(await readFile(path.join(first.artifactDir, 'tokenizer.json'), 'utf8')));
      const texts = ['', 'the first words of a text', 'UPPER case and digits 2024', 'a much longer text '.repeat(20)];
      const served = (await engine.embed(texts)).vectors;
      // The trained model: the best epoch's weights from the checkpoint, through the training-time encoder.
      const shape: EncoderShape = { vocabSize: processor.vocabSize, embDim: 128, layers: [{ cell: 'gru', units: 16 }] };
      const ckpt = await loadCheckpoint(checkpointDirOf(path.join(tmp.dir, 'run-a')), shape);
      const encoder = await SequenceEncoder.create(shape, 1);
      const maxTokens = manifest.tokenizer.maxTokens as number;
      const trained = await encoder.encode(
        ckpt!.best!,
        texts.map((t) => clip(processor.encode(t), maxTokens)),
      );
      await encoder.close();
      let maxDiff = 0;
      for (let i = 0; i < served.length; i++) maxDiff = Math.max(maxDiff, Math.abs(served[i]! - trained[i]!));
      assert.ok(maxDiff < 1e-5, `max abs difference ${maxDiff}`);
      let norm = 0;
      for (let i = 0; i < 32; i++) norm += served[32 + i]! ** 2;
      assert.ok(Math.abs(norm - 1) < 1e-5, 'served vectors are unit length');
    } finally {
      await engine.close();
    }
  });

  it('is deterministic, and a run stopped after an epoch resumes to the same result', async () => {
    const controller = new AbortController();
    await assert.rejects(
      runTrainingJob(input('run-b'), {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.kind === 'epoch' && p.epoch === 2) controller.abort();
        },
      }),
      (err: Error) => err.name === 'AbortError',
    );
    const resumed: TrainingProgress[] = [];
    const second = await runTrainingJob(input('run-b'), { onProgress: (p) => resumed.push(p) });
    assert.deepEqual(
      resumed.find((p) => p.kind === 'resumed'),
      { kind: 'resumed', fromEpoch: 2 },
    );
    assert.deepEqual(
      resumed.filter((p) => p.kind === 'epoch').map((p) => (p as { epoch: number }).epoch),
      [3, 4],
    );
    assert.deepEqual(second.metrics.epoch_metrics, first.metrics.epoch_metrics);
    assert.deepEqual(await readFile(path.join(second.artifactDir, 'model.onnx')), await readFile(path.join(first.artifactDir, 'model.onnx')));
  });

  it('trains an LSTM stack too', async () => {
    const result = await runTrainingJob(
      input('run-lstm', { ...TINY, 'trainer_config.encoder_config.rnn_names_list': ['lstm', 'gru'], 'trainer_config.encoder_config.rnn_units_list': [32, 16], 'trainer_config.num_epochs': 2 }),
    );
    assert.equal(result.vectorSize, 32);
    const engine = await loadEngine(result.artifactDir);
    try {
      const { vectors } = await engine.embed(['one text', 'another text']);
      assert.equal(vectors.length, 64);
      assert.ok(vectors.every(Number.isFinite));
    } finally {
      await engine.close();
    }
  });

  it('fails with a message naming the missing column and the file', async () => {
    await assert.rejects(runTrainingJob(input('run-bad', { ...TINY, 'dataset_config.index_title_col_name': 'title' })), (err: Error) => {
      assert.match(err.message, /title/);
      assert.match(err.message, /catalog\.csv/);
      return true;
    });
  });
});
