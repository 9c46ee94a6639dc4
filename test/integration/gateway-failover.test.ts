/**
 * A replica dies (SIGKILL), or leaves (drain), while requests are in flight on it: the gateway
 * retries each failed call on the other replica, so that every client request still succeeds.
 * Real runner processes, real sockets, HTTP clients on loopback.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Pool } from 'undici';
import { loadEngine } from '../../src/engines/index.js';
import { startCluster, texts, type Cluster } from './gateway-cluster.js';

const REQUESTS = 200;
const CONCURRENCY = 16;
const KILL_AFTER = 40;

describe('gateway failover', () => {
  let c: Cluster;
  let client: Pool;

  before(async () => {
    c = await startCluster({ replicas: 2, gateway: { maxInflightPerReplica: 8, maxQueuePerDeployment: 64, retries: 2 } });
    await c.app.listen({ host: '127.0.0.1', port: 0 });
    const address = c.app.server.address();
    assert.ok(address && typeof address === 'object');
    client = new Pool(`http://127.0.0.1:${address.port}`, { connections: CONCURRENCY });
  });
  after(async () => {
    await client?.close();
    await c?.close();
  });

  it('merges requests waiting for a replica into fewer runner calls; each request gets its own vectors', async () => {
    const engine = await loadEngine(c.artifactDir);
    const batch = texts(48, 'merge');
    const expected = await engine.embed(batch);
    await engine.close();
    const counter = async (m: typeof c.gatewayMetrics.runnerCallsTotal) => (await m.get()).values[0]?.value ?? 0;
    const sentBefore = await counter(c.gatewayMetrics.runnerCallsTotal);
    const mergedBefore = await counter(c.gatewayMetrics.mergedCallsTotal);
    // 48 single-text requests at once: 2 replicas x 8 slots are leased, 2 calls per replica on the
    // wire (gateway.maxCallsPerReplica), the rest wait in the gateway and go merged.
    const results = await Promise.all(batch.map((text) => c.gateway.embed(c.customerId, c.deployment.id, { batch: [{ text }] })));
    const sent = (await counter(c.gatewayMetrics.runnerCallsTotal)) - sentBefore;
    const merged = (await counter(c.gatewayMetrics.mergedCallsTotal)) - mergedBefore;
    assert.ok(sent < 48, `runner calls sent for 48 requests: ${sent}`);
    // At least one call was a merge, so at most sent - 1 requests went alone.
    assert.ok(merged > 0 && merged <= 48 && merged >= 48 - sent + 1, `requests sent merged: ${merged}`);
    results.forEach((r, i) => {
      assert.equal(r.predictions.length, 1);
      assert.equal(r.predictions[0]!.tokensUsed.inputTokens, expected.tokenCounts[i]);
      const v = r.predictions[0]!.vector;
      for (let d = 0; d < v.length; d++) assert.ok(Math.abs(v[d]! - expected.vectors[i * v.length + d]!) < 1e-5, `request ${i}, dim ${d}`);
    });
  });

  it(`SIGKILL of one replica while ${REQUESTS} requests run at concurrency ${CONCURRENCY}: every request succeeds`, async () => {
    const auth = await c.auth();
    const engine = await loadEngine(c.artifactDir);
    const batch = texts(4, 'failover');
    const expected = await engine.embed(batch);
    await engine.close();
    const [victim, survivor] = c.replicas;
    assert.ok(victim?.pid && survivor);

    let next = 0;
    let completed = 0;
    let killedAt = -1;
    let inflightOnVictimAtKill = 0;
    const failures: string[] = [];
    const killWhenLoaded = () => {
      if (killedAt >= 0 || completed < KILL_AFTER) return;
      const onVictim = c.registry.get(c.deployment.id)!.endpoints.find((e) => e.replicaId === victim.replicaId)!;
      if (onVictim.inflight === 0) return; // wait for a moment when it has work to lose
      inflightOnVictimAtKill = onVictim.inflight;
      killedAt = completed;
      process.kill(victim.pid!, 'SIGKILL');
    };
    const worker = async () => {
      while (next < REQUESTS) {
        const i = next++;
        try {
          const res = await client.request({
            method: 'POST',
            path: `/ai/prediction/embedding/${c.deployment.id}`,
            headers: { authorization: auth, 'content-type': 'application/json' },
            body: JSON.stringify({ batch: batch.map((text) => ({ text })) }),
          });
          const text = await res.body.text();
          if (res.statusCode !== 200) {
            failures.push(`request ${i}: ${res.statusCode} ${text}`);
          } else {
            const body = JSON.parse(text) as { predictions: Array<{ vector: number[] }> };
            body.predictions.forEach((p, k) => {
              for (let d = 0; d < 32; d++) {
                if (Math.abs(p.vector[d]! - expected.vectors[k * 32 + d]!) > 1e-5) throw new Error(`request ${i}: wrong vector ${k}`);
              }
            });
          }
        } catch (err) {
          failures.push(`request ${i}: ${(err as Error).message}`);
        }
        completed++;
        killWhenLoaded();
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));

    const retries = await c.metrics.registry.getSingleMetric('modeld_gateway_retries_total')!.get();
    const retried = retries.values.reduce((n, v) => n + v.value, 0);
    const byReason = Object.fromEntries(retries.values.map((v) => [String(v.labels.reason), v.value]));
    const endpoints = c.registry.get(c.deployment.id)!.endpoints;
    console.log(
      `failover: ${REQUESTS} requests, concurrency ${CONCURRENCY}, replica killed after ${killedAt} completed with ${inflightOnVictimAtKill} in flight on it; ` +
        `failed requests: ${failures.length}; calls retried on the other replica: ${retried} ${JSON.stringify(byReason)}; ` +
        `served: ${endpoints.map((e) => `${e.replicaId.slice(-1)}=${e.served}${e.failed ? ' (marked failed)' : ''}`).join(', ')}`,
    );
    assert.ok(killedAt >= 0, 'the victim was killed while it had requests in flight');
    assert.deepEqual(failures, []);
    assert.ok(retried >= 1, 'at least the calls in flight on the killed replica were retried');
    assert.equal(endpoints.find((e) => e.replicaId === victim.replicaId)!.failed, true, 'the dead replica is skipped until the next publish');
    // After the kill every request went to the survivor.
    const load = c.registry.loadOf(c.deployment.id)!;
    assert.equal(load.inflight, 0);
    assert.equal(load.queued, 0);
  });
});

describe('gateway with a replica leaving', () => {
  let c: Cluster;

  before(async () => {
    c = await startCluster({ replicas: 2, gateway: { maxInflightPerReplica: 4, maxQueuePerDeployment: 64, retries: 2 } });
  });
  after(async () => {
    await c?.close();
  });

  it('a replica drained and stopped under load (not yet unpublished) loses no request', async () => {
    const [leaving] = c.replicas;
    assert.ok(leaving);
    let next = 0;
    let completed = 0;
    let deleting: Promise<void> | null = null;
    const failures: string[] = [];
    const worker = async () => {
      while (next < 100) {
        const i = next++;
        try {
          await c.gateway.embed(c.customerId, c.deployment.id, { batch: [{ text: `leaving ${i}` }] });
        } catch (err) {
          failures.push(`request ${i}: ${(err as Error).message}`);
        }
        completed++;
        // The runtime asks the runner to drain (503 draining to new work), waits, then stops it;
        // the gateway still has it published, as between a controller's decision and its publish.
        if (completed === 20) deleting = c.runtime.deleteReplica(leaving.replicaId, { graceMs: 2_000 });
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    await deleting;
    const retries = await c.metrics.registry.getSingleMetric('modeld_gateway_retries_total')!.get();
    const byReason = Object.fromEntries(retries.values.map((v) => [String(v.labels.reason), v.value]));
    console.log(`drain: 100 requests at concurrency 8, failed: ${failures.length}, retried: ${JSON.stringify(byReason)}`);
    assert.deepEqual(failures, []);
    assert.ok(Object.keys(byReason).every((r) => ['draining', 'connect', 'reset', 'not_ready'].includes(r)), JSON.stringify(byReason));
  });
});
