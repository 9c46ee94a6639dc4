/**
 * bench/api-overhead: where the server's CPU goes per batch-1 embedding request, layer by layer,
 * in this process (no child server): 2 runner processes of the tiny 32-d test model, the real
 * gateway, the real fastify app (buildApp) with real RS256 tokens and a SQLite store.
 *
 *   authenticate   TokenService.authenticate of a token seen before (the auth guard's work)
 *   fastify floor  app.inject of a bare fastify app with one POST route answering a Buffer
 *                  (what light-my-request + fastify cost with nothing in the route)
 *   gateway.embed  balancing, retry, runner client, vector shaping (includes the runner socket)
 *   app.inject     POST /ai/prediction/embedding/:id: fastify, hooks, auth, route, gateway, writer
 *   http           the same over a real socket on 127.0.0.1 (undici client in this process, so
 *                  its CPU is counted too), answered by the embedding fast path (src/api/fast-embedding.ts)
 *                  and by the fastify route, in turn
 *
 * Every figure is CPU ms per call (process.cpuUsage, user + system) at concurrency 16, the
 * minimum and the median over N rounds: the machine is shared, and CPU time with min-of-N moves
 * much less than wall time under other people's load (it still moves: contention inflates CPU
 * time too, hence --baseline's rounds in turn). The runners' CPU is not counted (other processes).
 *
 * With --baseline DIR (another checkout of modeld sharing this node_modules, e.g. a git worktree
 * of an older commit), the app.inject and http layers are measured for an app built by this
 * checkout's buildApp and TokenService and one built by DIR's, over the same store, gateway and
 * runners, round by round in turn (A B, B A, A B ...), so that both see the same machine load.
 *
 * Usage: node --import tsx bench/api-overhead.ts [--rounds 7] [--ms 500] [--concurrency 16] [--only inject,http] [--baseline DIR]
 * Profile: node --cpu-prof --cpu-prof-dir=bench/tmp --import tsx bench/api-overhead.ts --only inject
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { pino } from 'pino';
import { Pool } from 'undici';
import { TokenService, issuerFor, loadOrCreateKeys } from '../src/auth/index.js';
import { isoAt, Scopes, systemClock } from '../src/domain/index.js';
import type { ModeldApp } from '../src/api/index.js';
import { startCluster, type Cluster } from '../test/integration/gateway-cluster.js';
import { sampleSentences } from '../test/fixtures/text.js';
import { machineLine } from './lib.js';

const arg = (name: string): string | undefined => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const rounds = Number(arg('--rounds')) || 7;
const roundMs = Number(arg('--ms')) || 500;
const concurrency = Number(arg('--concurrency')) || 16;
const only = arg('--only')?.split(',') ?? null;
const want = (layer: string) => only === null || only.includes(layer);

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/**
 * Min over `rounds` rounds of `roundMs` of CPU ms per call, `concurrency` calls in flight, for
 * each of `calls`; each round runs every one of them in turn.
 */
async function perCallEach(calls: Array<(i: number) => Promise<unknown>>): Promise<Figure[]> {
  let i = 0;
  // Warm-up: JIT, connection pools, the verified-token cache.
  for (const call of calls) for (let w = 0; w < 200; w++) await call(i++);
  const all: number[][] = calls.map(() => []);
  const from = process.hrtime.bigint() / 1000n;
  for (let round = 0; round < rounds; round++) {
    // Alternate the order, so that neither side always runs first (or right after the other).
    const order = [...calls.entries()];
    if (round % 2 === 1) order.reverse();
    for (const [k, call] of order) {
      const start = process.cpuUsage();
      const end = performance.now() + roundMs;
      let n = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (performance.now() < end) {
            await call(i++);
            n++;
          }
        }),
      );
      all[k]!.push(cpuMsSince(start) / n);
    }
  }
  // For a --cpu-prof run: the measured window on the profile's clock (microseconds, monotonic).
  if (process.argv.includes('--window')) console.log(`window ${from} ${process.hrtime.bigint() / 1000n}`);
  return all.map((xs) => {
    xs.sort((a, b) => a - b);
    return { min: xs[0]!, median: xs[Math.floor(xs.length / 2)]! };
  });
}

interface Figure {
  min: number;
  median: number;
}

async function perCall(call: (i: number) => Promise<unknown>): Promise<Figure> {
  return (await perCallEach([call]))[0]!;
}

/**
 * An app as `dir`'s buildApp makes it (with `dir`'s TokenService and Metrics, keys of its own)
 * over the cluster's store, gateway and runners, and a token it accepts.
 */
async function appOf(dir: string, c: Cluster): Promise<{ app: ModeldApp; authorization: string; close: () => Promise<void> }> {
  const api = (await import(path.join(dir, 'src/api/index.ts'))) as typeof import('../src/api/index.js');
  const authMod = (await import(path.join(dir, 'src/auth/index.ts'))) as typeof import('../src/auth/index.js');
  const keysDir = await mkdtemp(path.join(os.tmpdir(), 'modeld-bench-api-'));
  const tokens = new authMod.TokenService({ keys: await authMod.loadOrCreateKeys(keysDir), store: c.store, auth: c.config.auth, issuer: authMod.issuerFor(c.config), clock: systemClock });
  const client = { id: randomUUID(), customerId: c.customerId, secretHash: 'unused', scopes: [Scopes.PREDICT], createdAt: isoAt(Date.now()), disabledAt: null };
  await c.store.createClient(client);
  const app = await api.buildApp({
    config: c.config,
    store: c.store,
    authenticator: tokens,
    tokens,
    controller: { notify: () => {} },
    metrics: new api.Metrics({ processMetrics: false }),
    clock: systemClock,
    logger: pino({ level: 'warn' }, new Writable({ write: (_c, _e, done) => done() })),
    artifacts: { importDir: async () => Promise.reject(new Error('no imports here')), release: async () => {} },
    pretrained: { list: async () => [] },
    gateway: c.gateway,
  });
  await app.ready();
  const authorization = `Bearer ${(await tokens.issue(client, [Scopes.PREDICT])).accessToken}`;
  return { app, authorization, close: async () => (await app.close(), await rm(keysDir, { recursive: true, force: true })) };
}

console.log(machineLine());
const texts = sampleSentences(1024, { seed: 7, minWords: 16, maxWords: 22 });
const text = (i: number) => texts[i % texts.length]!;
const cluster = await startCluster({ replicas: 2 });
const results: Array<[string, Figure]> = [];
try {
  const auth = await cluster.auth();
  const route = `/ai/prediction/embedding/${cluster.deployment.id}`;
  const payload = (i: number) => JSON.stringify({ batch: [{ text: text(i) }] });
  const headers = { authorization: auth, 'content-type': 'application/json' };

  const baseline = arg('--baseline');
  if (baseline !== undefined) {
    const apps = [
      { name: 'this checkout', ...(await appOf(process.cwd(), cluster)) },
      { name: path.basename(baseline), ...(await appOf(path.resolve(baseline), cluster)) },
    ];
    try {
      if (want('inject')) {
        const best = await perCallEach(
          apps.map(({ app, authorization }) => async (i: number) => {
            const r = await app.inject({ method: 'POST', url: route, headers: { authorization, 'content-type': 'application/json' }, payload: payload(i) });
            if (r.statusCode !== 200) throw new Error(`inject answered ${r.statusCode}: ${r.body}`);
          }),
        );
        apps.forEach((a, k) => results.push([`app.inject, ${a.name}`, best[k]!]));
      }
      if (want('http')) {
        const pools = await Promise.all(apps.map(async ({ app }) => new Pool(await app.listen({ host: '127.0.0.1', port: 0 }), { connections: concurrency })));
        const best = await perCallEach(
          apps.map(({ authorization }, k) => async (i: number) => {
            const r = await pools[k]!.request({ method: 'POST', path: route, headers: { authorization, 'content-type': 'application/json' }, body: payload(i) });
            await r.body.arrayBuffer();
            if (r.statusCode !== 200) throw new Error(`http answered ${r.statusCode}`);
          }),
        );
        apps.forEach((a, k) => results.push([`http, ${a.name}`, best[k]!]));
        await Promise.all(pools.map((p) => p.close()));
      }
    } finally {
      for (const a of apps) await a.close();
    }
  }

  if (want('authenticate')) {
    // A TokenService like the app's (own keys, same store and config), with a client of the customer.
    const keysDir = await mkdtemp(path.join(os.tmpdir(), 'modeld-bench-api-'));
    try {
      const tokens = new TokenService({ keys: await loadOrCreateKeys(keysDir), store: cluster.store, auth: cluster.config.auth, issuer: issuerFor(cluster.config), clock: systemClock });
      const client = { id: randomUUID(), customerId: cluster.customerId, secretHash: 'unused', scopes: [Scopes.PREDICT], createdAt: isoAt(Date.now()), disabledAt: null };
      await cluster.store.createClient(client);
      const bearer = `Bearer ${(await tokens.issue(client, [Scopes.PREDICT])).accessToken}`;
      results.push(['TokenService.authenticate (seen token)', await perCall(() => tokens.authenticate(bearer))]);
    } finally {
      await rm(keysDir, { recursive: true, force: true });
    }
  }

  if (want('floor')) {
    const bare = Fastify({ logger: false });
    const bytes = Buffer.from(JSON.stringify({ predictions: [{ tokensUsed: { inputTokens: 24 }, vector: Array.from({ length: 32 }, (_, k) => k / 32) }] }));
    bare.post('/x/:id', async (_req, reply) => reply.type('application/json').send(bytes));
    await bare.ready();
    results.push(['fastify floor (bare app.inject)', await perCall((i) => bare.inject({ method: 'POST', url: '/x/1', headers, payload: payload(i) }))]);
    await bare.close();
  }

  if (want('gateway')) {
    results.push(['gateway.embed', await perCall((i) => cluster.gateway.embed(cluster.customerId, cluster.deployment.id, { batch: [{ text: text(i) }] }))]);
  }

  if (want('inject') && baseline === undefined) {
    results.push([
      'app.inject prediction route',
      await perCall(async (i) => {
        const r = await cluster.app.inject({ method: 'POST', url: route, headers, payload: payload(i) });
        if (r.statusCode !== 200) throw new Error(`inject answered ${r.statusCode}: ${r.body}`);
      }),
    ]);
  }

  if (want('http') && baseline === undefined) {
    const address = await cluster.app.listen({ host: '127.0.0.1', port: 0 });
    const pool = new Pool(address, { connections: concurrency });
    const fast = cluster.app.fastEmbedding!;
    // The same requests, answered by the fast path and by the fastify route, round by round in turn.
    const over = (viaFastPath: boolean) => async (i: number) => {
      fast.enabled = viaFastPath;
      const r = await pool.request({ method: 'POST', path: route, headers, body: payload(i) });
      await r.body.arrayBuffer();
      if (r.statusCode !== 200) throw new Error(`http answered ${r.statusCode}`);
    };
    const [viaFast, viaFastify] = await perCallEach([over(true), over(false)]);
    fast.enabled = true;
    results.push(['http 127.0.0.1, fast path (server + client)', viaFast!], ['http 127.0.0.1, fastify route (server + client)', viaFastify!]);
    await pool.close();
  }
} finally {
  await cluster.close();
}
console.log(`CPU ms per batch-1 call over ${rounds} rounds of ${roundMs} ms (taken in turn where several are compared) at concurrency ${concurrency}, this process only:`);
console.log(`  ${'layer'.padEnd(40)}   min  median`);
for (const [name, f] of results) console.log(`  ${name.padEnd(40)} ${f.min.toFixed(3)}  ${f.median.toFixed(3)}`);
