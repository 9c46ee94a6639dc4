import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReplicaSpec } from '../types.js';
import { FakeRuntime, FakeWorld, type FakeBehaviour } from './fake-runtime.js';
import { ManualClock } from './manual-clock.js';

function spec(replicaId: string, deploymentId = 'd1'): ReplicaSpec {
  return { replicaId, deploymentId, customerId: 'c', generation: 1, modelId: 'm', artifactDir: '/a', config: {}, intraOpThreads: 1 };
}

async function started(behaviour: FakeBehaviour, world = new FakeWorld()) {
  const clock = new ManualClock();
  const runtime = new FakeRuntime({ clock, world, behaviour: () => behaviour });
  await runtime.start();
  return { clock, runtime, world };
}

async function phaseOf(runtime: FakeRuntime, id: string) {
  return (await runtime.listReplicas()).find((r) => r.replicaId === id);
}

describe('FakeRuntime', () => {
  it('a replica becomes ready after N ms of the injected clock, with a fake:// endpoint', async () => {
    const { clock, runtime } = await started({ kind: 'ready', afterMs: 300 });
    await runtime.createReplica(spec('r1'));
    assert.equal((await phaseOf(runtime, 'r1'))?.phase, 'starting');
    await clock.advance(299);
    assert.equal((await phaseOf(runtime, 'r1'))?.phase, 'starting');
    await clock.advance(1);
    const r = await phaseOf(runtime, 'r1');
    assert.equal(r?.phase, 'ready');
    assert.equal(r?.endpoint, 'fake://r1');
    assert.equal(r?.readyAt, new Date(clock.now()).toISOString());
  });

  it('reports a load failure and an exit code until the replica is deleted', async () => {
    const { clock, runtime } = await started({ kind: 'loadFails', afterMs: 50, error: 'bad onnx' });
    await runtime.createReplica(spec('r1'));
    await clock.advance(50);
    const r = await phaseOf(runtime, 'r1');
    assert.deepEqual([r?.phase, r?.loadFailed, r?.lastError, r?.exitCode], ['exited', true, 'bad onnx', 1]);
    await runtime.deleteReplica('r1', { graceMs: 0 });
    assert.equal(await phaseOf(runtime, 'r1'), undefined);
  });

  it('exits with the scripted code after being ready', async () => {
    const { clock, runtime } = await started({ kind: 'exits', afterMs: 100, exitCode: 3, error: 'segv', readyAfterMs: 10 });
    await runtime.createReplica(spec('r1'));
    await clock.advance(10);
    assert.equal((await phaseOf(runtime, 'r1'))?.phase, 'ready');
    await clock.advance(90);
    const r = await phaseOf(runtime, 'r1');
    assert.deepEqual([r?.phase, r?.exitCode, r?.lastError, r?.loadFailed], ['exited', 3, 'segv', false]);
  });

  it('kill() crashes a replica now', async () => {
    const { runtime } = await started({ kind: 'hangs' });
    await runtime.createReplica(spec('r1'));
    runtime.kill('r1', 137, 'SIGKILL');
    assert.equal((await phaseOf(runtime, 'r1'))?.exitCode, 137);
  });

  it('refuses duplicate ids and filters by deployment', async () => {
    const { runtime } = await started({ kind: 'hangs' });
    await runtime.createReplica(spec('r1', 'd1'));
    await runtime.createReplica(spec('r2', 'd2'));
    await assert.rejects(runtime.createReplica(spec('r1')), { code: 'MODELD_ERR_CONFLICT' });
    assert.deepEqual(
      (await runtime.listReplicas('d2')).map((r) => r.replicaId),
      ['r2'],
    );
  });

  it('deleteReplica drains: draining while requests are in flight, gone once idle or after graceMs', async () => {
    const { clock, runtime } = await started({ kind: 'ready', afterMs: 0 });
    await runtime.createReplica(spec('r1'));
    await runtime.createReplica(spec('r2'));
    runtime.setInflight('r1', 2);
    runtime.setInflight('r2', 1);
    let r1Gone = false;
    const d1 = runtime.deleteReplica('r1', { graceMs: 1000 }).then(() => (r1Gone = true));
    const d2 = runtime.deleteReplica('r2', { graceMs: 1000 });
    assert.equal((await phaseOf(runtime, 'r1'))?.phase, 'draining');
    runtime.setInflight('r1', 0);
    await d1;
    assert.equal(r1Gone, true);
    assert.equal(await phaseOf(runtime, 'r1'), undefined);
    await clock.advance(1000);
    await d2;
    assert.equal(await phaseOf(runtime, 'r2'), undefined);
    await runtime.deleteReplica('r2', { graceMs: 0 });
  });

  it('a new runtime over the same world adopts the replicas; stopReplicas stops them', async () => {
    const { clock, runtime, world } = await started({ kind: 'ready', afterMs: 0 });
    await runtime.createReplica(spec('r1'));
    await runtime.stop();
    await assert.rejects(runtime.listReplicas(), { code: 'MODELD_ERR_UNAVAILABLE' });
    const next = new FakeRuntime({ clock, world });
    await next.start();
    assert.deepEqual(
      (await next.listReplicas()).map((r) => [r.replicaId, r.phase]),
      [['r1', 'ready']],
    );
    await next.stop({ stopReplicas: true });
    await next.start();
    assert.deepEqual(await next.listReplicas(), []);
  });

  it('scripted faults make an operation throw until cleared', async () => {
    const { runtime } = await started({ kind: 'hangs' });
    runtime.setFault('createReplica', new Error('cluster unreachable'));
    await assert.rejects(runtime.createReplica(spec('r1')), /cluster unreachable/);
    runtime.setFault('createReplica', null);
    await runtime.createReplica(spec('r1'));
    assert.equal((await runtime.listReplicas()).length, 1);
  });
});
