import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Value } from 'typebox/value';
import { EventSchema, ModelSchema } from '../../src/api/schemas.js';
import { isoAt, systemClock } from '../../src/domain/index.js';
import { TrainingJobManager } from '../../src/training/jobs/index.js';
import { tinyConfig, writeTinyDataset, type TinyDataset } from '../fixtures/training-jobs-data.js';
import { seedModel, startApi, type ApiHarness, type Tenant } from './api-harness.js';
import { alive } from '../fixtures/processes.js';

/**
 * Training jobs end to end on real parts: M2 through app.inject(), the real job manager spawning
 * real worker processes that run the real training engine, a real SQLite store, the real artifact
 * import. Waits poll the API (no sleeps asserted on).
 */

let h: ApiHarness;
let alice: Tenant;
let auth: string;
let data: TinyDataset;

before(async () => {
  h = await startApi({ training: {} });
  alice = await h.tenant();
  auth = await alice.auth();
  data = await writeTinyDataset(path.join(h.tmp.dir, 'uploads', alice.customerId));
});
after(() => h.close());

const models = () => `/customers/${alice.customerId}/ai/models`;

async function call(method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) {
  const res = await h.app.inject({ method, url, headers: { authorization: auth }, ...(payload !== undefined && { payload: payload as object }) });
  return { status: res.statusCode, body: res.body === '' ? undefined : (JSON.parse(res.body) as any) };
}

async function submit(over: Record<string, unknown> = {}): Promise<any> {
  const res = await call('POST', models(), {
    name: 'tiny',
    modelType: 'ecommerce-rnn',
    region: 'local',
    trainingData: { catalog: data.catalogUri, signals: data.signalsUri },
    config: tinyConfig(),
    ...over,
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.state, 'TRAINING');
  return res.body;
}

/** Polls M3 until `done(model)` holds (the test runner's timeout bounds the wait). */
async function waitModel(id: string, done: (m: any) => boolean, query = ''): Promise<any> {
  for (;;) {
    const res = await call('GET', `${models()}/${id}${query}`);
    if (res.status === 200 && done(res.body)) return res.body;
    if (res.status !== 200) return res.body;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const settled = (m: any) => m.state !== 'TRAINING';

async function eventsOf(id: string): Promise<any[]> {
  const res = await call('GET', `${models()}/${id}/events`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  for (const e of res.body) assert.ok(Value.Check(EventSchema, e), JSON.stringify(e));
  return res.body;
}

/** The running worker's pid, once the job has one. */
async function workerPid(modelId: string): Promise<{ pid: number; dir: string }> {
  for (;;) {
    const job = await h.store.getTrainingJobByModel(modelId);
    assert.ok(job, 'the model has a job');
    const dir = path.join(h.tmp.dir, 'training', job.id);
    const file = path.join(dir, 'worker.pid');
    const pid = job.state === 'RUNNING' && existsSync(file) ? Number(readFileSync(file, 'utf8')) : NaN;
    // Never 0 or 1: kill(0) would signal this test's own process group.
    if (Number.isInteger(pid) && pid > 1) return { pid, dir };
    assert.ok(job.state === 'QUEUED' || job.state === 'RUNNING', `job is ${job.state}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}


describe('training jobs (real worker processes, real engine)', () => {
  test('a tiny model trains to AVAILABLE: vector size, metrics only with ?metrics=true, compiled config, progress and events', async () => {
    const created = await submit();
    const done = await waitModel(created.id, settled);
    assert.equal(done.state, 'AVAILABLE', done.errorMessage);
    assert.ok(Value.Check(ModelSchema, structuredClone(done)), JSON.stringify(done));
    assert.equal(done.vectorSize, 32, '2 x the 16 units of the last (bidirectional) layer');
    assert.ok(Date.parse(done.trainingStarted) <= Date.parse(done.trainingCompleted));
    assert.equal(done.trainingMetrics, undefined, 'metrics only on request');
    assert.equal(done.trainingProgress, undefined, 'progress only while training');
    assert.equal(done.config['trainer_config.num_epochs'], 2);
    assert.deepEqual(done.config['trainer_config.encoder_config.rnn_units_list'], [16]);

    const withMetrics = (await call('GET', `${models()}/${created.id}?metrics=true`)).body;
    const m = withMetrics.trainingMetrics;
    assert.ok(m && m.summary && m.epoch_metrics && m.final_metrics, JSON.stringify(m));
    assert.equal(m.summary.vector_size, 32);
    assert.ok(m.summary.best_epoch >= 1 && m.summary.best_epoch <= 2);
    assert.equal(m.epoch_metrics.ndcg.val['5'].length, 2, 'one value per epoch');

    const events = await eventsOf(created.id);
    const reasons = events.map((e) => e.reason);
    for (const r of ['TrainingQueued', 'TrainingStarted', 'TrainingPhase', 'EpochCompleted', 'TrainingCompleted']) assert.ok(reasons.includes(r), `${r} in ${reasons.join(', ')}`);
    const epochs = events.filter((e) => e.reason === 'EpochCompleted');
    assert.deepEqual(
      epochs.map((e) => e.data.epoch),
      [1, 2],
    );
    assert.equal(epochs[0].data.monitor.key, 'ndcg@5');
    assert.ok(reasons.indexOf('TrainingCompleted') > reasons.lastIndexOf('EpochCompleted'));
    const job = await h.store.getTrainingJobByModel(created.id);
    assert.equal(job?.state, 'SUCCEEDED');
    assert.equal(job?.attempts, 1);
    assert.ok(!existsSync(path.join(h.tmp.dir, 'training', job!.id)), 'the job directory is removed after success');
    const artifact = path.join(h.tmp.dir, 'artifacts');
    assert.ok(existsSync(artifact));
    assert.match(await h.metrics.render(), /modeld_training_jobs_total\{outcome="succeeded"\} [1-9]/);
  });

  test('a missing column fails at data loading: TRAINING_FAILED naming the column and the file', async () => {
    const broken = await writeTinyDataset(path.join(h.tmp.dir, 'uploads', alice.customerId, 'broken'), { dropCatalogColumn: 'name' });
    const created = await submit({ name: 'broken', trainingData: { catalog: broken.catalogUri, signals: broken.signalsUri } });
    const done = await waitModel(created.id, settled);
    assert.equal(done.state, 'TRAINING_FAILED');
    assert.match(done.errorMessage, /"name"/);
    assert.ok(done.errorMessage.includes(broken.catalogFile), done.errorMessage);
    assert.match(done.errorMessage, /index_title_col_name/);
    assert.equal(done.trainingProgress?.phase, 'loading-data', 'the progress shows where it stopped');
    const events = await eventsOf(created.id);
    const failed = events.find((e) => e.reason === 'TrainingFailed');
    assert.equal(failed?.type, 'Warning');
    assert.equal(failed?.message, done.errorMessage);
    assert.equal((await h.store.getTrainingJobByModel(created.id))?.state, 'FAILED');
  });

  test('kill -9 of the worker: TRAINING_FAILED saying the training process died and where, never left TRAINING; the next job still runs', async () => {
    const created = await submit({ name: 'crash', config: tinyConfig({ 'trainer_config.num_epochs': 64, 'trainer_config.monitor_patience': 64 }) });
    const { pid } = await workerPid(created.id);
    // Mid-way: after the first epoch's evaluation, long before the 64th.
    await waitModel(created.id, (m) => (m.trainingProgress?.bestEpoch ?? 0) >= 1 || m.state !== 'TRAINING');
    process.kill(pid, 'SIGKILL');
    const done = await waitModel(created.id, settled);
    assert.equal(done.state, 'TRAINING_FAILED');
    assert.match(done.errorMessage, /^the training process exited with signal SIGKILL during epoch ([2-9]|[1-5][0-9]|6[0-4]) of 64/);
    assert.ok(done.trainingProgress.epoch >= 1, 'the progress shows how far it got');
    assert.equal((await h.store.getTrainingJobByModel(created.id))?.state, 'FAILED');
    assert.deepEqual(h.training?.runningJobIds, []);
    // The slot is free again: a new job runs (and fails fast on purpose, to keep this test short).
    const broken = await writeTinyDataset(path.join(h.tmp.dir, 'uploads', alice.customerId, 'broken2'), { dropCatalogColumn: 'name' });
    const next = await submit({ name: 'after-crash', trainingData: { catalog: broken.catalogUri, signals: broken.signalsUri } });
    assert.equal((await waitModel(next.id, settled)).state, 'TRAINING_FAILED');
  });

  test('DELETE of a TRAINING model kills the worker process group, cancels the job, removes the model and the job directory', async () => {
    const created = await submit({ name: 'doomed', config: tinyConfig({ 'trainer_config.num_epochs': 64, 'trainer_config.monitor_patience': 64 }) });
    const { pid, dir } = await workerPid(created.id);
    assert.ok(alive(pid));
    const jobId = (await h.store.getTrainingJobByModel(created.id))!.id;
    const res = await call('DELETE', `${models()}/${created.id}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.state, 'DELETING');
    assert.ok(!alive(pid), 'the worker is gone when DELETE answers');
    assert.ok(!existsSync(dir), 'the job directory is removed');
    assert.equal((await call('GET', `${models()}/${created.id}`)).status, 404);
    assert.equal(await h.store.getTrainingJob(jobId), null, 'the job went with the model');
    assert.match(await h.metrics.render(), /modeld_training_jobs_total\{outcome="cancelled"\} [1-9]/);
    assert.deepEqual(h.training?.runningJobIds, []);
  });
});

describe('concurrency', () => {
  const long = () => tinyConfig({ 'trainer_config.num_epochs': 64, 'trainer_config.monitor_patience': 64 });

  test('training.concurrency 1: a second job waits QUEUED (no worker, no trainingStarted) while the first runs with every core; DELETE of the queued one cancels it', async () => {
    const first = await submit({ name: 'first', config: long() });
    await workerPid(first.id);
    const second = await submit({ name: 'second', config: long() });
    const waiting = (await call('GET', `${models()}/${second.id}`)).body;
    assert.equal(waiting.state, 'TRAINING');
    assert.equal(waiting.trainingStarted, undefined, 'not started while queued');
    assert.equal(waiting.trainingProgress?.phase, undefined);
    assert.equal((await h.store.getTrainingJobByModel(second.id))?.state, 'QUEUED');
    assert.equal(h.training?.runningJobIds.length, 1);
    assert.match(await h.metrics.render(), /^modeld_training_jobs_running 1$/m);
    const started = (await eventsOf(first.id)).find((e) => e.reason === 'TrainingStarted');
    assert.equal(started.data.threads, Math.max(1, os.availableParallelism()));

    assert.equal((await call('DELETE', `${models()}/${second.id}`)).status, 200);
    assert.equal((await call('DELETE', `${models()}/${first.id}`)).status, 200);
    assert.deepEqual(h.training?.runningJobIds, []);
    assert.match(await h.metrics.render(), /^modeld_training_jobs_running 0$/m);
  });

  test('training.concurrency 2: two jobs run at once, each with floor(cores / 2) threads (at least 1)', async () => {
    const h2 = await startApi({ config: { training: { dataRoots: [], concurrency: 2 } }, training: {} });
    try {
      const carol = await h2.tenant();
      const carolAuth = await carol.auth();
      const d = await writeTinyDataset(path.join(h2.tmp.dir, 'uploads', carol.customerId));
      const post = async (name: string) => {
        const res = await h2.app.inject({
          method: 'POST',
          url: `/customers/${carol.customerId}/ai/models`,
          headers: { authorization: carolAuth },
          payload: { name, modelType: 'ecommerce-rnn', region: 'local', trainingData: { catalog: d.catalogUri, signals: d.signalsUri }, config: long() },
        });
        assert.equal(res.statusCode, 200, res.body);
        return res.json().id as string;
      };
      const ids = [await post('a'), await post('b')];
      for (;;) {
        const jobs = await Promise.all(ids.map((id) => h2.store.getTrainingJobByModel(id)));
        if (jobs.every((j) => j?.state === 'RUNNING')) break;
        assert.ok(jobs.every((j) => j?.state === 'QUEUED' || j?.state === 'RUNNING'), JSON.stringify(jobs.map((j) => j?.state)));
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(h2.training?.threadsPerJob, Math.max(1, Math.floor(os.availableParallelism() / 2)));
      for (const id of ids) {
        const started = (await h2.store.listEvents('model', id)).find((e) => e.reason === 'TrainingStarted');
        assert.equal(started?.data?.threads, h2.training?.threadsPerJob);
      }
      assert.match(await h2.metrics.render(), /^modeld_training_jobs_running 2$/m);
    } finally {
      await h2.close();
    }
  });
});

describe('the job layer at start', () => {
  test('a job interrupted maxAttempts times is not started again: TRAINING_FAILED saying it was interrupted', async () => {
    const model = await seedModel(h.store, alice.customerId, {
      modelType: 'ecommerce-rnn',
      state: 'TRAINING',
      vectorSize: null,
      config: tinyConfig(),
      trainingData: { catalog: data.catalogUri, signals: data.signalsUri },
    });
    const now = isoAt(Date.now());
    await h.store.createTrainingJob({ id: randomUUID(), modelId: model.id, customerId: alice.customerId, state: 'RUNNING', progress: null, checkpoint: null, attempts: 3, error: null, createdAt: now, updatedAt: now });
    const manager = new TrainingJobManager({
      store: h.store,
      clock: systemClock,
      trainingDir: path.join(h.tmp.dir, 'training-second'),
      dataRoots: h.config.training.dataRoots,
      concurrency: 1,
      importArtifact: async () => {
        throw new Error('not reached');
      },
    });
    await manager.start();
    const done = await waitModel(model.id, settled);
    await manager.stop();
    assert.equal(done.state, 'TRAINING_FAILED');
    assert.match(done.errorMessage, /interrupted 3 times .* not started again after 3 attempts/);
  });

  test('a TRAINING model without a job (the server died between the two writes of M2) is failed, not left TRAINING', async () => {
    const model = await seedModel(h.store, alice.customerId, { modelType: 'ecommerce-rnn', state: 'TRAINING', vectorSize: null });
    const manager = new TrainingJobManager({
      store: h.store,
      clock: systemClock,
      trainingDir: path.join(h.tmp.dir, 'training-third'),
      dataRoots: h.config.training.dataRoots,
      concurrency: 1,
      importArtifact: async () => {
        throw new Error('not reached');
      },
    });
    await manager.start();
    await manager.stop();
    const after = (await call('GET', `${models()}/${model.id}`)).body;
    assert.equal(after.state, 'TRAINING_FAILED');
    assert.match(after.errorMessage, /interrupted/);
  });
});
