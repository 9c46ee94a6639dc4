import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../test/fixtures/tmp.js';
import { DEFAULT_RUNNER_SETTINGS, ReplicaFiles, parseRunnerSpec, readRunnerSpec, readStatusFile, writeStatusFile, type RunnerSpec } from './replica-dir.js';

const good: RunnerSpec = {
  replicaId: 'r1',
  deploymentId: 'd1',
  customerId: 'c1',
  generation: 1,
  modelId: 'm1',
  artifactDir: '/artifacts/m1',
  config: { a: 1 },
  intraOpThreads: 1,
  ...DEFAULT_RUNNER_SETTINGS,
  createdAt: '2025-01-01T00:00:00.000Z',
};

test('parseRunnerSpec accepts a complete spec and names the first bad field otherwise', () => {
  assert.deepEqual(parseRunnerSpec(structuredClone(good)), good);
  const cases: Array<[Partial<Record<keyof RunnerSpec, unknown>>, RegExp]> = [
    [{ replicaId: '' }, /spec\.replicaId/],
    [{ artifactDir: 'relative/dir' }, /spec\.artifactDir: must be an absolute path/],
    [{ generation: -1 }, /spec\.generation/],
    [{ intraOpThreads: 0 }, /spec\.intraOpThreads/],
    [{ config: [] }, /spec\.config/],
    [{ batchWaitMs: -1 }, /spec\.batchWaitMs/],
    [{ maxBatchItems: 1.5 }, /spec\.maxBatchItems/],
    [{ orphanTimeoutMs: 'soon' }, /spec\.orphanTimeoutMs/],
  ];
  for (const [patch, message] of cases) {
    assert.throws(() => parseRunnerSpec({ ...good, ...patch }), (err: Error & { code?: string }) => {
      assert.match(err.message, message);
      assert.equal(err.code, 'MODELD_ERR_VALIDATION');
      return true;
    });
  }
  assert.throws(() => parseRunnerSpec(null), /spec: must be an object/);
});

test('readRunnerSpec names the file when it is missing or not JSON', async (t) => {
  const tmp = await makeTempDir('modeld-replica-dir');
  t.after(() => tmp.cleanup());
  assert.throws(() => readRunnerSpec(tmp.dir), /spec\.json: cannot read/);
  writeFileSync(path.join(tmp.dir, ReplicaFiles.spec), '{"replicaId":');
  assert.throws(() => readRunnerSpec(tmp.dir), /spec\.json: not valid JSON/);
  writeFileSync(path.join(tmp.dir, ReplicaFiles.spec), JSON.stringify(good));
  assert.deepEqual(readRunnerSpec(tmp.dir), good);
});

test('status.json is replaced whole and leaves no temporary file behind', async (t) => {
  const tmp = await makeTempDir('modeld-replica-dir');
  t.after(() => tmp.cleanup());
  assert.equal(readStatusFile(tmp.dir), null);
  const status = { pid: 42, port: null, phase: 'starting', error: null, startedAt: 'x', readyAt: null, exitCode: null, stopReason: null } as const;
  writeStatusFile(tmp.dir, status);
  writeStatusFile(tmp.dir, { ...status, port: 1234, phase: 'ready', readyAt: 'y' });
  assert.deepEqual(readStatusFile(tmp.dir), { ...status, port: 1234, phase: 'ready', readyAt: 'y' });
  assert.deepEqual(readdirSync(tmp.dir), [ReplicaFiles.status]);
});
