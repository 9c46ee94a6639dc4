import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyProgress, epochLine, initialProgress, whereInRun } from './progress.js';

const at = (n: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString();

test('applyProgress folds phases, steps, epoch ends and resumes into the view the API shows', () => {
  let v = initialProgress(at(0));
  assert.equal(v.phase, null);
  v = applyProgress(v, { kind: 'phase', phase: 'loading-data', message: 'reading' }, at(1));
  assert.deepEqual([v.phase, v.epoch, v.updatedAt], ['loading-data', null, at(1)]);
  v = applyProgress(v, { kind: 'resumed', fromEpoch: 2 }, at(2));
  assert.equal(v.epoch, 2);
  v = applyProgress(v, { kind: 'step', epoch: 3, numEpochs: 5, step: 10, steps: 40, loss: 0.5, pairsPerSecond: 900, etaSeconds: 30 }, at(3));
  assert.deepEqual(
    { phase: v.phase, epoch: v.epoch, numEpochs: v.numEpochs, step: v.step, steps: v.steps, loss: v.loss, pairsPerSecond: v.pairsPerSecond, etaSeconds: v.etaSeconds, monitor: v.monitor },
    { phase: 'training', epoch: 3, numEpochs: 5, step: 10, steps: 40, loss: 0.5, pairsPerSecond: 900, etaSeconds: 30, monitor: null },
  );
  v = applyProgress(
    v,
    {
      kind: 'epoch',
      epoch: 3,
      numEpochs: 5,
      loss: 0.4,
      monitor: { key: 'ndcg@5', value: 0.41 },
      bestEpoch: 3,
      evaluation: {} as never,
      trainSeconds: 2,
      evalSeconds: 1,
      etaSeconds: 6,
      stopping: false,
    },
    at(4),
  );
  assert.deepEqual([v.epoch, v.step, v.steps, v.loss, v.monitor, v.bestEpoch, v.etaSeconds, v.pairsPerSecond], [3, 40, 40, 0.4, { key: 'ndcg@5', value: 0.41 }, 3, 6, 900]);
});

test('whereInRun names the epoch in progress, or the phase, for crash messages', () => {
  const base = initialProgress(at(0));
  assert.equal(whereInRun(base, 0), 'before it reported anything');
  assert.equal(whereInRun({ ...base, phase: 'loading-data' }, 0), 'while loading the training data');
  assert.equal(whereInRun({ ...base, phase: 'training', numEpochs: 8 }, 2), 'during epoch 3 of 8');
  assert.equal(whereInRun({ ...base, phase: 'training', numEpochs: 8 }, 8), 'during epoch 8 of 8');
  assert.equal(whereInRun({ ...base, phase: 'exporting', numEpochs: 8 }, 8), 'while exporting the model');
});

test('epochLine words the end of training by what happened: the last epoch, or early stopping', () => {
  const epoch = (n: number, stopping: boolean, bestEpoch: number) =>
    ({
      kind: 'epoch',
      epoch: n,
      numEpochs: 8,
      loss: 0.4,
      monitor: { key: 'ndcg@5', value: 0.41 },
      bestEpoch,
      evaluation: {} as never,
      trainSeconds: 2,
      evalSeconds: 1,
      etaSeconds: 0,
      stopping,
    }) as const;
  assert.equal(epochLine(epoch(3, false, 3)), 'epoch 3 of 8: ndcg@5 0.4100 on the validation queries, loss 0.4000, best epoch 3');
  assert.equal(epochLine(epoch(8, true, 7)), 'epoch 8 of 8: ndcg@5 0.4100 on the validation queries, loss 0.4000, best epoch 7; the last epoch');
  assert.equal(epochLine(epoch(5, true, 2)), 'epoch 5 of 8: ndcg@5 0.4100 on the validation queries, loss 0.4000, best epoch 2; stopping early: no better ndcg@5 since epoch 2');
});
