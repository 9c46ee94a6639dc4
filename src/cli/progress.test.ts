import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Deployment, DeploymentState } from '../client/index.js';
import { bar, ProgressLine, renderDeploymentProgress } from './progress.js';

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

test('ProgressLine on a terminal redraws in place, cut to the width, and ends the line once', () => {
  const { chunks, s } = stream(true, 10);
  const p = new ProgressLine(s);
  p.update('short');
  p.update('a line longer than ten');
  p.finish();
  p.finish();
  assert.deepEqual(chunks, ['\r\x1b[2Kshort', '\r\x1b[2Ka line l…', '\n']);
});
