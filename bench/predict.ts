/**
 * bench/predict: the serving path against the raw engine, on the reference BiGRU encoder
 * (../shared/models/bigru-30k-128.onnx: vocabulary 30k, embedding 128, bidirectional GRU 128,
 * 256-d) with a 30k-word tokenizer, on texts of about 24 tokens.
 *
 *   raw:  in-process tokenize + onnxruntime, 1 intra-op thread, batch 32 and 1; and two such
 *         engines in two worker threads at once (what the machine's 2 cores can do, the shape of
 *         a 2-replica deployment), which is the denominator of the ratios.
 *   e2e:  POST /ai/prediction/embedding/{deploymentId} over HTTP on 127.0.0.1 against a modeld
 *         server (child process) with the same artifact deployed with 2 replicas; closed-loop
 *         load at concurrency 1, 16, 64 with batch 32 and batch 1.
 *   also: deploy-to-DEPLOYED time and server restart-to-serving time (kill -9, start again).
 *
 * Each end-to-end row also prints the CPU milliseconds per request spent by the load generator
 * (this process), the server and the two runners together (from /proc), which is where the 2
 * cores go, and the "cpu ratio": the raw engine's CPU per item over all the CPU an item costs end
 * to end, which is the throughput ratio the path would reach with both cores to itself (figures
 * of CPU time move much less than throughput when other work shares the machine).
 *   floor: the same shape (load generator -> HTTP relay -> Unix socket -> backend, three
 *         processes, two hops) with nothing in it: what this machine charges for the shape alone.
 *   in process: CPU per batch-1 call of a bare runner call, gateway.embed and app.inject, which
 *         splits the server's own cost between the gateway and the HTTP API layer.
 *
 * Usage: npm run bench:predict [-- --seconds 5] [--only 32x16,1x1] [--no-restart]
 *   --only: just these batch x concurrency rows (quick comparisons); --no-restart: skip the kill -9 part.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Pool } from 'undici';
import { loadEngine, measureEngineThroughput } from '../src/engines/index.js';
import { RunnerClient } from '../src/gateway/runner-client.js';
import { runnerConnection } from '../src/runner/index.js';
import { makeBigruArtifact } from '../test/fixtures/models.js';
import { startCluster } from '../test/integration/gateway-cluster.js';
import { sampleSentences } from '../test/fixtures/text.js';
import { CpuMeter, adminCredentials, api, closedLoop, fmt, machineLine, percentile, relayFloor, runnerPids, scrapeMetrics, startServer, token, waitForState, importModel } from './lib.js';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 5;
const onlyArg = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const only = onlyArg === undefined ? null : new Set(onlyArg.split(','));
const restart = !process.argv.includes('--no-restart');
const work = await mkdtemp(path.join(os.tmpdir(), 'modeld-bench-predict-'));
const dataDir = path.join(work, 'data');
let server: Awaited<ReturnType<typeof startServer>> | null = null;

try {
  console.log(machineLine());
  const artifactDir = await makeBigruArtifact(path.join(work, 'bigru'));
  const texts = sampleSentences(4096, { seed: 7, minWords: 16, maxWords: 22 });

  // Raw engine, in process.
  const engine = await loadEngine(artifactDir, { intraOpThreads: 1 });
  const meanTokens = engine.tokenize(texts.slice(0, 512)).ids.reduce((s, ids) => s + ids.length, 0) / 512;
  console.log(`texts: ${texts.length} real sentences, mean ${meanTokens.toFixed(1)} tokens`);
  const raw32Cpu = process.cpuUsage();
  const raw32 = await measureEngineThroughput(engine, texts, 32, seconds);
  const raw1Cpu = process.cpuUsage();
  // CPU per item of the engine alone (one thread, on this process's main thread): what a replica cannot avoid.
  const rawCpuPerItem32 = cpuMsSince(raw32Cpu) / (raw32 * seconds);
  const raw1 = await measureEngineThroughput(engine, texts, 1, seconds);
  const rawCpuPerItem1 = cpuMsSince(raw1Cpu) / (raw1 * seconds);
  const single: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const s = performance.now();
    await engine.embed([texts[i % texts.length]!]);
    single.push(performance.now() - s);
  }
  single.sort((a, b) => a - b);
  const rawP50Batch1 = percentile(single, 50);
  await engine.close();
  // One session with 2 intra-op threads: the raw engine as a single caller would use this machine
  // (the issue's anchors give the Python peer 0.21 of a 1-thread engine and 0.14 of the whole raw machine).
  const engine2t = await loadEngine(artifactDir, { intraOpThreads: 2 });
  const raw32t2 = await measureEngineThroughput(engine2t, texts, 32, seconds);
  const raw1t2 = await measureEngineThroughput(engine2t, texts, 1, seconds);
  await engine2t.close();
  const raw2x32 = await rawInWorkers(artifactDir, texts, 32, 2);
  const raw2x1 = await rawInWorkers(artifactDir, texts, 1, 2);
  console.log(`raw engine, 1 thread:            batch 32 ${fmt(raw32)} items/s, batch 1 ${fmt(raw1)} items/s (p50 ${rawP50Batch1.toFixed(3)} ms per call; CPU per item ${rawCpuPerItem32.toFixed(3)} / ${rawCpuPerItem1.toFixed(3)} ms)`);
  console.log(`raw engine, 1 engine x 2 threads: batch 32 ${fmt(raw32t2)} items/s, batch 1 ${fmt(raw1t2)} items/s`);
  console.log(`raw engine, 2 engines x 1 thread: batch 32 ${fmt(raw2x32)} items/s, batch 1 ${fmt(raw2x1)} items/s  <- denominator of the ratio column`);

  // The server, the artifact imported and deployed with 2 replicas.
  server = await startServer(dataDir);
  const admin = await adminCredentials(dataDir);
  const tok = await token(server.url, admin);
  const C = admin.customerId;
  const model = { id: await importModel(server.url, tok, C, 'bigru-30k-128', artifactDir) };
  const t0 = performance.now();
  const dep = await api<{ id: string }>(server.url, tok, 'POST', `/customers/${C}/ai/deployments`, { modelId: model.id, region: 'local', minReplicas: 2, maxReplicas: 2 });
  await waitForState(server.url, tok, C, dep.id, 'DEPLOYED');
  const deployMs = performance.now() - t0;
  console.log(`deploy-to-DEPLOYED (2 replicas, POST to state DEPLOYED): ${fmt(deployMs)} ms`);

  const route = `/ai/prediction/embedding/${dep.id}`;
  const bodies = (size: number) => {
    const out: string[] = [];
    for (let i = 0; i + size <= texts.length && out.length < 256; i += size) out.push(JSON.stringify({ batch: texts.slice(i, i + size).map((text) => ({ text })) }));
    return out;
  };
  const check = (size: number) => (text: string) => {
    const r = JSON.parse(text) as { predictions: Array<{ vector: number[] }> };
    if (r.predictions.length !== size || r.predictions[0]!.vector.length !== 256) throw new Error('unexpected response shape');
  };
  // Warm the connections, the replicas and the JIT of every process with both request shapes: a
  // server in service is warm, and a cold one spends a visible share of its CPU compiling (the
  // server's compiler threads used ~40 % of its main thread's CPU between requests 500 and 1,500).
  for (const size of [32, 1]) await closedLoop({ url: server.url, path: route, tok, bodies: bodies(size), itemsPerRequest: size, concurrency: 16, seconds: 2 });

  const cpu = new CpuMeter(server.child.pid!, runnerPids(dataDir));
  // Background work (reconcile loop, health probes) is in every row's CPU too: at low request rates it is a visible share.
  cpu.start();
  await new Promise((r) => setTimeout(r, 2_000));
  const idle = cpu.stop();
  console.log(`\nidle (no requests, 2 s): server ${(idle.server / 2).toFixed(1)} CPU ms/s, runners ${(idle.runners / 2).toFixed(1)} CPU ms/s`);
  console.log('end to end over HTTP (2 replicas), closed loop; CPU ms per request of the load generator, the server, the 2 runners;');
  console.log('cpu ratio = raw engine CPU per item / all CPU per item end to end (what the ratio would be with 2 cores to ourselves):');
  console.log('runner calls per request: embedding calls the gateway sent to runners per request (below 1: requests went merged, gateway.maxCallsPerReplica)');
  console.log('steal: share of the machine CPU time the hypervisor gave to others during the row (/proc/stat); above a few % the row is slowed by the host, not by modeld');
  console.log('batch  conc   items/s    ratio   p50 ms   p99 ms  failed   cpu: gen  server runners  cpu ratio  calls/req  steal');
  const rows: Array<{ batch: number; conc: number; r: Awaited<ReturnType<typeof closedLoop>> }> = [];
  for (const batch of [32, 1]) {
    for (const conc of [1, 16, 64]) {
      if (only !== null && !only.has(`${batch}x${conc}`)) continue;
      const callsBefore = await scrapeValue(server.url, tok, 'modeld_gateway_runner_calls_total');
      const stealBefore = cpuTimes();
      cpu.start();
      const r = await closedLoop({ url: server.url, path: route, tok, bodies: bodies(batch), itemsPerRequest: batch, concurrency: conc, seconds, check: check(batch) });
      const used = cpu.stop();
      const steal = stealShare(stealBefore, cpuTimes());
      const callsPerRequest = ((await scrapeValue(server.url, tok, 'modeld_gateway_runner_calls_total')) - callsBefore) / r.ok;
      rows.push({ batch, conc, r });
      const ratio = r.itemsPerSecond / (batch === 32 ? raw2x32 : raw2x1);
      const perRequest = (ms: number) => (ms / r.ok).toFixed(2).padStart(7);
      const cpuRatio = (batch === 32 ? rawCpuPerItem32 : rawCpuPerItem1) / ((used.self + used.server + used.runners) / r.ok / batch);
      console.log(
        `${String(batch).padStart(5)} ${String(conc).padStart(5)} ${fmt(r.itemsPerSecond).padStart(9)} ${ratio.toFixed(2).padStart(8)} ${r.p50Ms.toFixed(2).padStart(8)} ${r.p99Ms.toFixed(2).padStart(8)} ${String(r.failed).padStart(7)}   ${perRequest(used.self)} ${perRequest(used.server)} ${perRequest(used.runners)} ${cpuRatio.toFixed(2).padStart(10)} ${callsPerRequest.toFixed(2).padStart(10)} ${`${(steal * 100).toFixed(1)}%`.padStart(6)}`,
      );
    }
  }
  const c1b1 = rows.find((x) => x.batch === 1 && x.conc === 1)?.r;
  if (c1b1) console.log(`p50 overhead at concurrency 1, batch 1: ${(c1b1.p50Ms - rawP50Batch1).toFixed(3)} ms (end to end p50 ${c1b1.p50Ms.toFixed(3)} ms - raw p50 ${rawP50Batch1.toFixed(3)} ms)`);
  const c16b32 = rows.find((x) => x.batch === 32 && x.conc === 16)?.r;
  const ratios = (r: number, twoEngines: number, twoThreads: number, one: number) =>
    `${(r / twoEngines).toFixed(2)} of 2 raw engines x 1 thread, ${(r / twoThreads).toFixed(2)} of 1 engine x 2 threads, ${(r / one).toFixed(2)} of 1 engine x 1 thread`;
  if (c16b32) console.log(`ratio at batch 32, concurrency 16: ${ratios(c16b32.itemsPerSecond, raw2x32, raw32t2, raw32)}`);
  const c16b1 = rows.find((x) => x.batch === 1 && x.conc === 16)?.r;
  if (c16b1) console.log(`ratio at batch 1, concurrency 16: ${ratios(c16b1.itemsPerSecond, raw2x1, raw1t2, raw1)}`);

  // The floor: the same three processes and two hops with nothing in them.
  console.log('\nfloor: load generator -> node:http relay -> Unix socket -> node:http backend, no auth, JSON, routing or model (answers sized like batch 1 / 32):');
  console.log('batch  conc     req/s   p50 ms   cpu: gen   relay backend');
  for (const [batch, conc] of [[1, 1], [1, 16], [32, 16]] as const) {
    if (only !== null && !only.has(`${batch}x${conc}`)) continue;
    const sizes = batch === 1 ? { backendBytes: 1_036, relayBytes: 2_700 } : { backendBytes: 32_908, relayBytes: 100_000 };
    const f = await relayFloor({ concurrency: conc, seconds, ...sizes, body: bodies(batch)[0]! });
    console.log(`${String(batch).padStart(5)} ${String(conc).padStart(5)} ${fmt(f.r.itemsPerSecond).padStart(9)} ${f.r.p50Ms.toFixed(2).padStart(8)}   ${f.cpu.self.toFixed(2).padStart(7)} ${f.cpu.relay.toFixed(2).padStart(7)} ${f.cpu.backend.toFixed(2).padStart(7)}`);
  }

  console.log('\nserver CPU per batch-1 request, in process (2 runners of the tiny 32-d test model; min of 5 rounds at concurrency 16):');
  const inProcess = await serverCostInProcess(texts);
  console.log(
    `  runner call over HTTP (undici) ${inProcess.bare.toFixed(3)} ms, over frames (RunnerClient) ${inProcess.framed.toFixed(3)} ms, gateway.embed ${inProcess.gateway.toFixed(3)} ms, app.inject (fastify, auth, routes, gateway) ${inProcess.inject.toFixed(3)} ms`,
  );

  if (restart) {
    // Restart-to-serving: kill -9 the server, start it again, time to the first 200 prediction.
    await server.stop('SIGKILL');
    const r0 = performance.now();
    server = await startServer(dataDir);
    const tok2 = await token(server.url, admin);
    for (;;) {
      const r = await fetch(`${server.url}${route}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tok2}`, 'content-type': 'application/json' },
        body: bodies(1)[0],
      });
      await r.arrayBuffer();
      if (r.ok) break;
      await new Promise((res) => setTimeout(res, 10));
    }
    console.log(`restart-to-serving after kill -9 (replicas adopted): ${fmt(performance.now() - r0)} ms (server ready after ${fmt(server.startMs)} ms)`);
  }
} finally {
  if (server) await server.stop('SIGTERM');
  await rm(work, { recursive: true, force: true });
}

/**
 * CPU ms per batch-1 call made in this process, at concurrency 16 (min of 5 rounds of 0.6 s):
 * a bare undici POST /embed to a runner, the same call over frames (a RunnerClient without merging), `gateway.embed` (balancing, retry, runner client,
 * vector shaping) and `app.inject` (fastify, authentication, the route, the gateway, the JSON
 * writer; no socket). What the server spends per request besides the sockets, and in which layer.
 */
async function serverCostInProcess(texts: string[]): Promise<{ bare: number; framed: number; gateway: number; inject: number }> {
  const cluster = await startCluster({ replicas: 2 });
  const pools = cluster.replicas.map((r) => {
    const { origin, socketPath } = runnerConnection(r.endpoint!);
    return new Pool(origin, socketPath === undefined ? { connections: 8 } : { socketPath, connections: 8 });
  });
  try {
    const auth = await cluster.auth();
    const route = `/ai/prediction/embedding/${cluster.deployment.id}`;
    const perCall = async (call: (i: number) => Promise<unknown>): Promise<number> => {
      let best = Infinity;
      let i = 0;
      for (let round = 0; round < 5; round++) {
        const start = process.cpuUsage();
        const end = performance.now() + 600;
        let calls = 0;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (performance.now() < end) {
              await call(i++);
              calls++;
            }
          }),
        );
        best = Math.min(best, cpuMsSince(start) / calls);
      }
      return best;
    };
    const text = (i: number) => texts[i % texts.length]!;
    const bare = await perCall(async (i) => {
      const r = await pools[i % pools.length]!.request({ method: 'POST', path: '/embed', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ texts: [text(i)] }) });
      await r.body.arrayBuffer();
      if (r.statusCode !== 200) throw new Error(`runner answered ${r.statusCode}`);
    });
    const client = new RunnerClient({ timeoutMs: 30_000, connectionsPerReplica: 8, transport: 'frames' });
    let framed: number;
    try {
      framed = await perCall((i) => client.embed(cluster.replicas[i % cluster.replicas.length]!.endpoint!, { texts: [text(i)] }));
    } finally {
      await client.close();
    }
    const gateway = await perCall((i) => cluster.gateway.embed(cluster.customerId, cluster.deployment.id, { batch: [{ text: text(i) }] }));
    const inject = await perCall(async (i) => {
      const r = await cluster.app.inject({ method: 'POST', url: route, headers: { authorization: auth, 'content-type': 'application/json' }, payload: JSON.stringify({ batch: [{ text: text(i) }] }) });
      if (r.statusCode !== 200) throw new Error(`inject answered ${r.statusCode}: ${r.body}`);
    });
    return { bare, framed, gateway, inject };
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    await cluster.close();
  }
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

async function rawInWorkers(artifactDir: string, texts: string[], batch: number, n: number): Promise<number> {
  const workers = Array.from({ length: n }, () => new Worker(new URL('./raw-worker.mjs', import.meta.url), { workerData: { artifactDir, texts, batch, seconds } }));
  const ready = workers.map((w) => new Promise<void>((resolve) => w.once('message', () => resolve())));
  await Promise.all(ready);
  const done = workers.map((w) => new Promise<number>((resolve) => w.once('message', (m: { itemsPerSecond: number }) => resolve(m.itemsPerSecond))));
  for (const w of workers) w.postMessage('go');
  const total = (await Promise.all(done)).reduce((a, b) => a + b, 0);
  await Promise.all(workers.map((w) => w.terminate()));
  return total;
}

/** The value of an unlabelled Prometheus counter or gauge on the server's /metrics (`tok`: scope modeld.ops or modeld.admin). */
async function scrapeValue(url: string, tok: string, name: string): Promise<number> {
  const text = await scrapeMetrics(url, tok);
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`${name} not on /metrics`);
  return Number(line.slice(name.length + 1));
}

/** The machine's CPU time counters (all CPUs, jiffies) from /proc/stat: total and steal; null without /proc. */
function cpuTimes(): { total: number; steal: number } | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7] ?? 0 };
  } catch {
    return null;
  }
}

function stealShare(before: ReturnType<typeof cpuTimes>, after: ReturnType<typeof cpuTimes>): number {
  if (!before || !after || after.total <= before.total) return 0;
  return (after.steal - before.steal) / (after.total - before.total);
}
