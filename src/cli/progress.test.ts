import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Deployment, DeploymentState, Model, TrainingProgress } from '../client/index.js';
import {
  bar,
  formatBytes,
  formatDuration,
  ProgressLine,
  renderDeploymentProgress,
  renderTrainingProgress,
  renderUploadProgress,
  trainingProgressKey,
  uploadProgressKey,
} from './progress.js';

function deployment(state: DeploymentState, status: Partial<NonNullable<Deployment['status']>> | null, minReplicas = 1): Deployment {
  return {
    id: 'd1',
    modelId: 'm1',
    region: 'local',
    config: {},
    minReplicas,
    maxReplicas: minReplicas,
    state,
    deployedAt: '2024-01-01T00:00:00.000Z',
    createdBy: 'c',
    ...(status && { status: { replicas: 0, readyReplicas: 0, desiredReplicas: 0, conditions: [], failure: null, ...status } }),
  };
}

test('progress line: state, ready/desired and a proportional bar', () => {
  const rows: Array<[Deployment, string]> = [
    [deployment('DEPLOYING', { readyReplicas: 0, desiredReplicas: 2 }), 'DEPLOYING  ready 0/2 replicas  [--------------------]'],
    [deployment('DEPLOYING', { readyReplicas: 1, desiredReplicas: 2 }), 'DEPLOYING  ready 1/2 replicas  [##########----------]'],
    [deployment('DEPLOYING', { readyReplicas: 1, desiredReplicas: 3 }), 'DEPLOYING  ready 1/3 replicas  [#######-------------]'],
    [deployment('DEPLOYED', { readyReplicas: 2, desiredReplicas: 2 }), 'DEPLOYED  ready 2/2 replicas  [####################]'],
    // Before the controller wrote a status, the target is minReplicas.
    [deployment('DEPLOYING', null, 3), 'DEPLOYING  ready 0/3 replicas  [--------------------]'],
    [deployment('DEPLOYING', { readyReplicas: 0, desiredReplicas: 0 }, 2), 'DEPLOYING  ready 0/2 replicas  [--------------------]'],
    // More ready than desired (scale-down in progress) never overflows the bar.
    [deployment('DEPLOYING', { readyReplicas: 3, desiredReplicas: 2 }), 'DEPLOYING  ready 3/2 replicas  [####################]'],
    [
      deployment('DEPLOY_FAILED', { readyReplicas: 0, desiredReplicas: 1, failure: { reason: 'CrashLoopBackOff', message: 'exit code 1', at: 'x' } }),
      'DEPLOY_FAILED  ready 0/1 replicas  [--------------------]  CrashLoopBackOff: exit code 1',
    ],
    [deployment('DELETING', { replicas: 2 }), 'DELETING  2 replicas left'],
    [deployment('DELETING', { replicas: 1 }), 'DELETING  1 replica left'],
    [
      deployment('DELETE_FAILED', { replicas: 1, failure: { reason: 'DeleteTimeout', message: 'replica r1 did not stop', at: 'x' } }),
      'DELETE_FAILED  1 replica left  DeleteTimeout: replica r1 did not stop',
    ],
  ];
  for (const [d, line] of rows) assert.equal(renderDeploymentProgress(d), line);
});

test('progress line: bar width and elapsed time are options', () => {
  const d = deployment('DEPLOYING', { readyReplicas: 1, desiredReplicas: 4 });
  assert.equal(renderDeploymentProgress(d, { barWidth: 8, elapsedMs: 12_900 }), 'DEPLOYING  ready 1/4 replicas  [##------]  12s');
  assert.equal(bar(0, 0, 4), '[####]');
  assert.equal(bar(-1, 2, 4), '[----]');
});

function stream(isTTY: boolean, columns = 30) {
  const chunks: string[] = [];
  return { chunks, s: { isTTY, columns, write: (c: string) => chunks.push(c) } };
}

test('ProgressLine off a terminal writes each distinct line once', () => {
  const { chunks, s } = stream(false);
  const p = new ProgressLine(s);
  p.update('a');
  p.update('a');
  p.update('b');
  p.finish();
  assert.deepEqual(chunks, ['a\n', 'b\n']);
});

test('ProgressLine on a terminal of unknown width (0 columns) cuts at 80, not to nothing', () => {
  const { chunks, s } = stream(true, 0);
  const p = new ProgressLine(s);
  p.update('TRAINING  epoch 1/2');
  p.update('x'.repeat(100));
  assert.deepEqual(chunks, ['\r\x1b[2KTRAINING  epoch 1/2', `\r\x1b[2K${'x'.repeat(78)}…`]);
});

test('ProgressLine on a terminal redraws in place, cut to the width, and ends the line once', () => {
  const { chunks, s } = stream(true, 10);
  const p = new ProgressLine(s);
  p.update('short');
  p.update('a line longer than ten');
  p.finish();
  p.finish();
  assert.deepEqual(chunks, ['\r\x1b[2Kshort', '\r\x1b[2Ka line l…', '\n']);
});

test('ProgressLine.log writes a line that stays: above the redrawn line on a terminal, as a line of its own elsewhere', () => {
  const tty = stream(true, 80);
  const p = new ProgressLine(tty.s);
  p.update('TRAINING  epoch 2/2');
  p.log('epoch 1 of 2: ndcg@5 0.41 on the validation queries');
  p.finish();
  assert.deepEqual(tty.chunks, ['\r\x1b[2KTRAINING  epoch 2/2', '\r\x1b[2Kepoch 1 of 2: ndcg@5 0.41 on the validation queries\n', '\r\x1b[2KTRAINING  epoch 2/2', '\n']);

  const pipe = stream(false, 80);
  const q = new ProgressLine(pipe.s);
  q.update('TRAINING  epoch 2/2');
  q.log('epoch 1 of 2: done');
  q.update('TRAINING  epoch 2/2');
  q.finish();
  assert.deepEqual(pipe.chunks, ['TRAINING  epoch 2/2\n', 'epoch 1 of 2: done\n'], 'off a terminal the progress line is not repeated');
});

function trainingModel(state: Model['state'], progress?: TrainingProgress, extra: Partial<Model> = {}): Model {
  return { id: 'm1', name: 'shoes', category: 'CUSTOM', modelType: 'ecommerce-rnn', state, ...(progress && { trainingProgress: progress }), ...extra };
}

test('training line: phase, epoch bar with steps, loss, monitored metric, speed and ETA; absent fields left out', () => {
  const full: TrainingProgress = {
    phase: 'training',
    epoch: 2,
    numEpochs: 3,
    step: 10,
    steps: 40,
    loss: 0.41234,
    pairsPerSecond: 1840.4,
    etaSeconds: 65,
    monitor: { key: 'ndcg@5', value: 0.40123 },
    bestEpoch: 1,
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
  const rows: Array<[Model, string]> = [
    [trainingModel('TRAINING'), 'TRAINING  starting'],
    [trainingModel('TRAINING', {}), 'TRAINING  starting'],
    // A store that keeps unknown fields as null reads like one that leaves them out.
    [
      trainingModel('TRAINING', { phase: 'training', epoch: 1, numEpochs: null, step: null, steps: 4, loss: null, monitor: null, etaSeconds: null } as unknown as TrainingProgress),
      'TRAINING  epoch 1',
    ],
    [trainingModel('TRAINING', { phase: 'loading-data' }), 'TRAINING  loading data'],
    [trainingModel('TRAINING', { phase: 'learning-vocabulary' }), 'TRAINING  learning the vocabulary'],
    [trainingModel('TRAINING', { phase: 'training' }), 'TRAINING  training'],
    [trainingModel('TRAINING', { phase: 'training', epoch: 1, numEpochs: 3, step: 0, steps: 40 }), 'TRAINING  epoch 1/3  [--------------------]  step 0/40'],
    [
      trainingModel('TRAINING', full),
      'TRAINING  epoch 2/3  [#####---------------]  step 10/40  loss 0.4123  val ndcg@5 0.4012 (best epoch 1)  ETA 1m05s  1,840 pairs/s',
    ],
    [trainingModel('TRAINING', { phase: 'training', epoch: 3, step: 50, steps: 40, etaSeconds: 7200 }), 'TRAINING  epoch 3  [####################]  step 50/40  ETA 2h00m'],
    [trainingModel('TRAINING', { ...full, phase: 'exporting' }), 'TRAINING  exporting the model'],
    [trainingModel('AVAILABLE', undefined, { vectorSize: 32 }), 'AVAILABLE  32-d'],
    [trainingModel('TRAINING_FAILED', undefined, { errorMessage: 'catalog /d/c.csv: no column "name"' }), 'TRAINING_FAILED  catalog /d/c.csv: no column "name"'],
  ];
  for (const [m, line] of rows) assert.equal(renderTrainingProgress(m), line);
  assert.equal(renderTrainingProgress(trainingModel('TRAINING', full), { barWidth: 4 }).split('  ')[2], '[#---]');
});

test('training lines are logged once per state, phase and epoch off a terminal', () => {
  const step = (s: number, epoch = 1): Model => trainingModel('TRAINING', { phase: 'training', epoch, numEpochs: 2, step: s, steps: 4, loss: 1 / (s + 1) });
  const snapshots = [trainingModel('TRAINING'), trainingModel('TRAINING', { phase: 'loading-data' }), step(0), step(1), step(3), step(0, 2), step(2, 2), trainingModel('AVAILABLE')];
  const { chunks, s } = stream(false, 200);
  const p = new ProgressLine(s);
  for (const m of snapshots) p.update(renderTrainingProgress(m), trainingProgressKey(m));
  assert.deepEqual(chunks, [
    'TRAINING  starting\n',
    'TRAINING  loading data\n',
    'TRAINING  epoch 1/2  [--------------------]  step 0/4  loss 1.0000\n',
    'TRAINING  epoch 2/2  [--------------------]  step 0/4  loss 1.0000\n',
    'AVAILABLE\n',
  ]);
  // On a terminal every snapshot redraws the line.
  const tty = stream(true, 200);
  const q = new ProgressLine(tty.s);
  for (const m of snapshots) q.update(renderTrainingProgress(m), trainingProgressKey(m));
  assert.equal(tty.chunks.length, snapshots.length);
});

test('durations and sizes', () => {
  const durations: Array<[number, string]> = [[0, '0s'], [59.4, '59s'], [60, '1m00s'], [65, '1m05s'], [3599, '59m59s'], [3600, '1h00m'], [7322, '2h02m'], [-1, '?'], [Infinity, '?']];
  for (const [s, text] of durations) assert.equal(formatDuration(s), text, String(s));
  const sizes: Array<[number, string]> = [[0, '0 B'], [999, '999 B'], [1000, '1.00 KB'], [1536, '1.54 KB'], [12_345_678, '12.3 MB'], [1_070_000_000, '1.07 GB'], [250_000_000, '250 MB']];
  for (const [b, text] of sizes) assert.equal(formatBytes(b), text, String(b));
});

test('upload line: bar, percent and bytes; logged once per quarter off a terminal', () => {
  assert.equal(renderUploadProgress('c.csv', 0, 3_000_000), 'uploading c.csv  [--------------------]  0%  0 B / 3.00 MB');
  assert.equal(renderUploadProgress('c.csv', 1_200_000, 3_000_000), 'uploading c.csv  [########------------]  40%  1.20 MB / 3.00 MB');
  assert.equal(renderUploadProgress('c.csv', 3_000_000, 3_000_000), 'uploading c.csv  [####################]  100%  3.00 MB / 3.00 MB');
  assert.equal(renderUploadProgress('empty.csv', 0, 0), 'uploading empty.csv  [####################]  100%  0 B / 0 B');
  assert.equal(renderUploadProgress('s', 2048, null), 'uploading s  2.05 KB');
  const { chunks, s } = stream(false, 200);
  const p = new ProgressLine(s);
  for (let sent = 0; sent <= 100; sent += 5) p.update(renderUploadProgress('f', sent, 100), uploadProgressKey(sent, 100));
  assert.deepEqual(
    chunks.map((c) => c.split('  ')[2]),
    ['0%', '25%', '50%', '75%', '100%'],
  );
});
