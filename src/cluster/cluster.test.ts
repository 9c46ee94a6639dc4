import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EndpointRegistry } from '../gateway/index.js';
import { openSqliteStore, type Store } from '../store/index.js';
import { ClusterMembers } from './members.js';
import { LeaseLeadership } from './leadership.js';
import { EndpointFollower, PublishingEndpoints } from './shared-endpoints.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const model = { modelId: 'm1', name: 'tiny', modelType: 'imported', vectorSize: 8, matryoshkaDims: null };

let store: Store;
before(async () => {
  store = openSqliteStore(':memory:');
  await store.migrate();
});
after(() => store.close());

function elector(id: string, log: string[], over: Partial<ConstructorParameters<typeof LeaseLeadership>[0]> = {}) {
  return new LeaseLeadership({
    store,
    instanceId: id,
    name: over.name ?? 'test',
    ttlMs: 600,
    renewIntervalMs: 100,
    lead: async () => {
      log.push(`${id} leads`);
    },
    follow: async (reason) => {
      log.push(`${id} follows: ${reason}`);
    },
    ...over,
  });
}

describe('LeaseLeadership', () => {
  it('one of two instances leads; when it stops, the other takes over at once (the lease is released)', async () => {
    const log: string[] = [];
    const a = elector('a', log, { name: 'l1' });
    const b = elector('b', log, { name: 'l1' });
    await a.start();
    await b.start();
    assert.equal(a.isLeader, true);
    assert.equal(b.isLeader, false);
    assert.deepEqual(log, ['a leads', 'b follows: instance a leads']);
    await sleep(300);
    assert.equal(b.isLeader, false, 'renewals keep the lease with a');
    await a.stop();
    assert.equal(a.isLeader, false);
    const t0 = Date.now();
    while (!b.isLeader) {
      assert.ok(Date.now() - t0 < 1000, 'b leads within one renewal');
      await sleep(20);
    }
    assert.deepEqual(log.slice(2), ['a follows: this instance is stopping', 'b leads']);
    await b.stop();
  });

  it('a leader whose renewals fail steps down before its lease can expire, and another takes over only after', async () => {
    const log: string[] = [];
    let failing = false;
    const flaky: Pick<Store, 'acquireLease' | 'releaseLease'> = {
      acquireLease: (name, holder, ttl) => (failing ? new Promise(() => {}) : store.acquireLease(name, holder, ttl)),
      releaseLease: (name, holder) => store.releaseLease(name, holder),
    };
    const a = elector('a', log, { name: 'l2', store: flaky });
    const b = elector('b', log, { name: 'l2' });
    await a.start();
    await b.start();
    failing = true; // the store hangs for a: no answer at all
    const t0 = Date.now();
    while (a.isLeader) {
      assert.ok(Date.now() - t0 < 1000, 'a steps down');
      await sleep(10);
    }
    const steppedDownAfter = Date.now() - t0;
    assert.ok(!b.isLeader, 'nobody else leads while the old lease may still be valid');
    while (!b.isLeader) {
      assert.ok(Date.now() - t0 < 2000, 'b takes over once the lease expired');
      await sleep(10);
    }
    assert.ok(steppedDownAfter <= 600, `a stepped down after ${steppedDownAfter} ms, before the 600 ms TTL`);
    assert.ok(log.includes('a follows: the lease could not be renewed in time'), log.join(' | '));
    await b.stop();
    // stop() does not wait for a store that does not answer.
    await a.stop();
  });

  it('refuses a renewal interval of half the TTL or more', () => {
    assert.throws(() => elector('x', [], { ttlMs: 1000, renewIntervalMs: 500 }), /renewIntervalMs must be less than half/);
  });
});

describe('PublishingEndpoints and EndpointFollower', () => {
  it("the leader's publishes reach a follower's gateway, once per change; removals too", async () => {
    const leaderGateway = new EndpointRegistry();
    const followerGateway = new EndpointRegistry();
    const publishing = new PublishingEndpoints({ local: leaderGateway, store });
    const follower = new EndpointFollower({ store, local: followerGateway, intervalMs: 20 });
    let followerPublishes = 0;
    followerGateway.subscribe((c) => {
      if (c.kind === 'published') followerPublishes++;
    });
    await follower.start();
    const endpoints = [
      { replicaId: 'r1', url: 'unix:/tmp/r1.sock', generation: 1 },
      { replicaId: 'r2', url: 'unix:/tmp/r2.sock', generation: 1 },
    ];
    publishing.publish('d1', model, endpoints);
    assert.equal(leaderGateway.readyCount('d1'), 2, 'the local gateway at once');
    publishing.publish('d1', model, endpoints); // same set: no write
    await publishing.flush();
    assert.equal((await store.listServingEndpoints()).find((e) => e.deploymentId === 'd1')?.revision, 1);
    await sleep(80);
    assert.equal(followerGateway.readyCount('d1'), 2);
    assert.deepEqual(followerGateway.modelOf('d1'), model);
    assert.equal(followerPublishes, 1, 'applied once, not at every poll');

    publishing.publish('d1', model, endpoints.slice(1));
    await publishing.flush();
    await sleep(80);
    assert.deepEqual(followerGateway.get('d1')?.endpoints.map((e) => e.replicaId), ['r2']);

    publishing.remove('d1');
    await publishing.flush();
    await sleep(80);
    assert.equal(followerGateway.get('d1'), undefined);
    await follower.stop();
  });

  it('a write that fails is written again at the next publish', async () => {
    let fail = true;
    const flaky = {
      putServingEndpoints: (...args: Parameters<Store['putServingEndpoints']>) => (fail ? Promise.reject(new Error('store down')) : store.putServingEndpoints(...args)),
      deleteServingEndpoints: (id: string) => store.deleteServingEndpoints(id),
    };
    const warnings: string[] = [];
    const publishing = new PublishingEndpoints({ local: new EndpointRegistry(), store: flaky, logger: { warn: (_o, m) => warnings.push(m) } });
    const endpoints = [{ replicaId: 'r1', url: 'unix:/tmp/r1.sock', generation: 1 }];
    publishing.publish('d2', model, endpoints);
    await publishing.flush();
    assert.equal(warnings.length, 1);
    fail = false;
    publishing.publish('d2', model, endpoints);
    await publishing.flush();
    assert.deepEqual((await store.listServingEndpoints()).find((e) => e.deploymentId === 'd2')?.endpoints, endpoints);
  });
});

describe('ClusterMembers', () => {
  it("the leader's load of a deployment is the sum over every live instance's gateway", async () => {
    const load = (inflight: number) => ({ inflight, queued: 1, meanConcurrency: inflight + 0.5, peakConcurrency: inflight + 2, shed: 1, windowMs: 10_000 });
    const localOf = (l: ReturnType<typeof load> | null) => ({ loadOf: (id: string) => (id === 'd1' ? l : null), deploymentIds: () => ['d1'] });
    const leader = new ClusterMembers({ store, instanceId: 'lead', local: localOf(load(2)), heartbeatMs: 50, isLeader: () => true });
    const other = new ClusterMembers({ store, instanceId: 'other', local: localOf(load(3)), heartbeatMs: 50, isLeader: () => false });
    const idle = new ClusterMembers({ store, instanceId: 'idle', local: localOf(null), heartbeatMs: 50, isLeader: () => false });
    await other.start('http://b');
    await idle.start('http://c');
    await leader.start('http://a');
    assert.deepEqual(leader.loadOf('d1'), { inflight: 5, queued: 2, meanConcurrency: 6, peakConcurrency: 9, shed: 2, windowMs: 10_000 });
    assert.equal(leader.loadOf('unknown'), null);
    assert.deepEqual(leader.liveOthers().map((i) => i.id).sort(), ['idle', 'other']);
    await other.stop();
    await leader.heartbeat();
    assert.deepEqual(leader.loadOf('d1'), load(2), 'a stopped instance no longer counts');
    await idle.stop();
    await leader.stop();
    assert.deepEqual(await store.listInstances(), []);
  });
});
