import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Gauge, Histogram, Registry } from 'prom-client';
import { DeploymentHistory, quantile } from './deployment-history.js';

/** The registry as the server fills it: the gateway's histogram and the controller's gauges. */
function metrics() {
  const registry = new Registry();
  const inference = new Histogram({
    name: 'modeld_inference_duration_seconds',
    help: 'h',
    labelNames: ['deployment', 'operation'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const ready = new Gauge({ name: 'modeld_deployment_ready_replicas', help: 'g', labelNames: ['deployment'], registers: [registry] });
  const desired = new Gauge({ name: 'modeld_deployment_desired_replicas', help: 'g', labelNames: ['deployment'], registers: [registry] });
  return { registry, inference, ready, desired };
}

describe('DeploymentHistory', () => {
  test('a sample per interval: calls per second, latency percentiles from the buckets, replica counts', async () => {
    const m = metrics();
    let now = Date.parse('2026-01-01T00:00:00Z');
    const h = new DeploymentHistory({ registry: m.registry, clock: { now: () => now }, intervalMs: 10_000 });
    m.ready.set({ deployment: 'd1' }, 1);
    m.desired.set({ deployment: 'd1' }, 2);
    await h.sample();
    assert.deepEqual(h.samples('d1'), [], 'the first reading only records the counters');

    // 100 calls in 10 s: 50 at ~3 ms (bucket 2.5-5 ms), 49 at ~20 ms (10-25 ms), 1 at 400 ms (250-500 ms); embed and tokenize together.
    for (let i = 0; i < 50; i++) m.inference.observe({ deployment: 'd1', operation: 'embed' }, 0.003);
    for (let i = 0; i < 49; i++) m.inference.observe({ deployment: 'd1', operation: 'tokenize' }, 0.02);
    m.inference.observe({ deployment: 'd1', operation: 'embed' }, 0.4);
    now += 10_000;
    m.ready.set({ deployment: 'd1' }, 2);
    await h.sample();
    const [s] = h.samples('d1');
    assert.equal(s!.at, '2026-01-01T00:00:10.000Z');
    assert.equal(s!.requestsPerSecond, 10);
    assert.equal(s!.latencyP50Ms, 5, 'the 50th call is the last of the 2.5-5 ms bucket');
    assert.ok(s!.latencyP99Ms! > 10 && s!.latencyP99Ms! <= 25, `p99 ${s!.latencyP99Ms} in the 10-25 ms bucket`);
    assert.equal(s!.readyReplicas, 2);
    assert.equal(s!.desiredReplicas, 2);

    // A quiet interval: 0 calls/s, no latency, replicas still reported.
    now += 10_000;
    await h.sample();
    assert.deepEqual(h.samples('d1')[1], { at: '2026-01-01T00:00:20.000Z', requestsPerSecond: 0, latencyP50Ms: null, latencyP99Ms: null, readyReplicas: 2, desiredReplicas: 2 });
  });

  test('keeps at most `capacity` samples, and drops a deployment once its gauges are gone and it serves nothing', async () => {
    const m = metrics();
    let now = 0;
    const h = new DeploymentHistory({ registry: m.registry, clock: { now: () => now }, capacity: 3 });
    m.ready.set({ deployment: 'd1' }, 1);
    for (let i = 0; i < 6; i++) {
      m.inference.observe({ deployment: 'd1', operation: 'embed' }, 0.01);
      await h.sample();
      now += 10_000;
    }
    const samples = h.samples('d1');
    assert.equal(samples.length, 3);
    assert.deepEqual(samples.map((x) => x.at), ['1970-01-01T00:00:30.000Z', '1970-01-01T00:00:40.000Z', '1970-01-01T00:00:50.000Z']);
    m.ready.remove({ deployment: 'd1' });
    await h.sample();
    assert.deepEqual(h.samples('d1'), []);
    assert.deepEqual(h.samples('unknown'), []);
  });

  test('start() samples on its timer and stop() ends it; a registry without the metrics gives no series', async () => {
    const h = new DeploymentHistory({ registry: new Registry(), clock: { now: () => Date.now() }, intervalMs: 5 });
    h.start();
    h.start();
    await new Promise((r) => setTimeout(r, 30));
    await h.stop();
    await h.stop();
    assert.deepEqual(h.samples('d1'), []);
  });

  test('quantile interpolates inside the bucket and stops at the last finite bound', () => {
    const buckets = new Map([
      [0.01, 10],
      [0.1, 20],
      [Number.POSITIVE_INFINITY, 30],
    ]);
    const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} is not ${b}`);
    close(quantile({ buckets, count: 30 }, 0.5), 0.055);
    close(quantile({ buckets, count: 30 }, 0.2), 0.006);
    assert.equal(quantile({ buckets, count: 30 }, 0.99), 0.1);
    assert.ok(Number.isNaN(quantile({ buckets: new Map(), count: 0 }, 0.5)));
  });
});
