/**
 * Does dynamic batching in the runner pay off? Two replicas of the benchmark model (bigru) run by
 * the process runtime, one with batching off (maxBatchItems 1) and one with the defaults; 16
 * concurrent clients on keep-alive connections each send one-text requests for a fixed time.
 * Prints throughput, latency and the mean batch size the runner formed, and checks that batching
 * formed real batches (throughput is printed, not asserted: bench/predict measures it).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { decodeEmbedFrame, runnerConnection } from '../../src/runner/index.js';
import { ProcessRuntime } from '../../src/runtimes/index.js';
import { makeBigruArtifact } from '../fixtures/models.js';
import { makeTempDir } from '../fixtures/tmp.js';
import { callRunner, jsonOf, replicaSpec, waitReady } from './runtime.contract.js';

const CONCURRENCY = 16;
const WARM_UP_MS = 500;
const MEASURE_MS = 3_000;

const vocabulary = ['red', 'running', 'shoes', 'blue', 'winter', 'coat', 'green', 'garden', 'chair', 'leather', 'bag', 'small', 'kitchen', 'table', 'men', 'women', 'kids', 'black', 'white', 'cotton'];
const query = (i: number): string => Array.from({ length: 3 + (i % 5) }, (_, k) => vocabulary[(i * 7 + k * 3) % vocabulary.length]).join(' ');

interface LoadResult {
  requests: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

function post(agent: http.Agent, endpoint: string, body: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const { origin, socketPath } = runnerConnection(endpoint);
    const req = http.request(
      `${origin}/embed`,
      { ...(socketPath === undefined ? {} : { socketPath }), method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.byteLength } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`embed answered ${res.statusCode}`))));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** CONCURRENCY closed loops of one-text requests; counts only what completes inside the measuring window. */
async function load(endpoint: string): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const latencies: number[] = [];
  const start = performance.now();
  const measureFrom = start + WARM_UP_MS;
  const end = measureFrom + MEASURE_MS;
  let n = 0;
  try {
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < end) {
          const body = Buffer.from(JSON.stringify({ texts: [query(n++)] }));
          const t0 = performance.now();
          const frame = decodeEmbedFrame(await post(agent, endpoint, body));
          const t1 = performance.now();
          assert.equal(frame.count, 1);
          if (t0 >= measureFrom && t1 <= end) latencies.push(t1 - t0);
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { requests: latencies.length, perSecond: (latencies.length / MEASURE_MS) * 1000, p50Ms: at(0.5), p99Ms: at(0.99) };
}

test('dynamic batching at concurrency 16 with one-text requests (bigru)', async (t) => {
  const tmp = await makeTempDir('modeld-batching');
  const runtimes: ProcessRuntime[] = [];
  t.after(async () => {
    for (const rt of runtimes) await rt.stop({ stopReplicas: true });
    await tmp.cleanup();
  });
  const bigru = await makeBigruArtifact(path.join(tmp.dir, 'bigru'));
  const results: Record<string, LoadResult & { meanBatch: number; batches: number }> = {};

  for (const [label, runner] of [
    ['unbatched (maxBatchItems 1)', { maxBatchItems: 1, batchWaitMs: 0 }],
    ['batched (maxBatchItems 256, batchWaitMs 1)', { maxBatchItems: 256, batchWaitMs: 1 }],
  ] as const) {
    const rt = new ProcessRuntime({ replicasDir: path.join(tmp.dir, `replicas-${runtimes.length}`), runner, stopGraceMs: 5_000 });
    runtimes.push(rt);
    await rt.start();
    const spec = replicaSpec(bigru);
    await rt.createReplica(spec);
    const { endpoint } = await waitReady(rt, spec.replicaId);
    const before = jsonOf<{ batching: { requests: number; batches: number } }>(await callRunner(endpoint!, 'GET', '/info')).batching;
    const r = await load(endpoint!);
    const after = jsonOf<{ batching: { requests: number; batches: number } }>(await callRunner(endpoint!, 'GET', '/info')).batching;
    const batches = after.batches - before.batches;
    results[label] = { ...r, batches, meanBatch: (after.requests - before.requests) / batches };
    await rt.stop({ stopReplicas: true }); // one replica at a time: they share 2 cores
  }

  t.diagnostic(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  for (const [label, r] of Object.entries(results)) {
    t.diagnostic(
      `${label}: ${r.perSecond.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, ` +
        `${r.batches} engine calls, mean batch ${r.meanBatch.toFixed(2)}`,
    );
  }
  const [off, on] = Object.values(results);
  assert.ok(off && on);
  t.diagnostic(`speed-up: ${(on.perSecond / off.perSecond).toFixed(2)}x`);
  assert.equal(off.meanBatch, 1);
  // Unbatched is exactly 1. How far above 1 the batched mean gets depends on how many requests
  // the load generator keeps outstanding, which a busy machine lowers (5.9-6.1 alone here, 1.5-1.6
  // beside other test runs): 1.2 says batches formed without failing on a crowded machine.
  assert.ok(on.meanBatch > 1.2, `batching formed batches of ${on.meanBatch.toFixed(2)} on average`);
  // Throughput is reported, not asserted: on a shared machine a timed comparison fails by chance
  // (bench/predict measures it).
});
