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
 *                  its CPU is counted too)
 *
 * Every figure is CPU ms per call (process.cpuUsage, user + system) at concurrency 16, the
 * minimum over N rounds: the machine is shared, and CPU time with min-of-N moves much less than
 * wall time under other people's load. The runners' CPU is not counted (other processes).
 *
 * Usage: node --import tsx bench/api-overhead.ts [--rounds 7] [--ms 500] [--concurrency 16] [--only inject,http]
 * Profile: node --cpu-prof --cpu-prof-dir=bench/tmp --import tsx bench/api-overhead.ts --only inject
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { Pool } from 'undici';
import { TokenService, issuerFor, loadOrCreateKeys } from '../src/auth/index.js';
import { isoAt, Scopes, systemClock } from '../src/domain/index.js';
import { startCluster } from '../test/integration/gateway-cluster.js';
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

/** Min over `rounds` rounds of `roundMs` of CPU ms per call, `concurrency` calls in flight. */
async function perCall(call: (i: number) => Promise<unknown>): Promise<number> {
  let i = 0;
  // Warm-up: JIT, connection pools, the verified-token cache.
  for (let w = 0; w < 200; w++) await call(i++);
  let best = Infinity;
  const from = process.hrtime.bigint() / 1000n;
  for (let round = 0; round < rounds; round++) {
    const start = process.cpuUsage();
    const end = performance.now() + roundMs;
    let calls = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          await call(i++);
          calls++;
        }
      }),
    );
    best = Math.min(best, cpuMsSince(start) / calls);
  }
  // For a --cpu-prof run: the measured window on the profile's clock (microseconds, monotonic).
  if (process.argv.includes('--window')) console.log(`window ${from} ${process.hrtime.bigint() / 1000n}`);
  return best;
}

console.log(machineLine());
const texts = sampleSentences(1024, { seed: 7, minWords: 16, maxWords: 22 });
const text = (i: number) => texts[i % texts.length]!;
const cluster = await startCluster({ replicas: 2 });
const results: Array<[string, number]> = [];
try {
  const auth = await cluster.auth();
  const route = `/ai/prediction/embedding/${cluster.deployment.id}`;
  const payload = (i: number) => JSON.stringify({ batch: [{ text: text(i) }] });
  const headers = { authorization: auth, 'content-type': 'application/json' };

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

  if (want('inject')) {
    results.push([
      'app.inject prediction route',
      await perCall(async (i) => {
        const r = await cluster.app.inject({ method: 'POST', url: route, headers, payload: payload(i) });
        if (r.statusCode !== 200) throw new Error(`inject answered ${r.statusCode}: ${r.body}`);
      }),
    ]);
  }

  if (want('http')) {
    const address = await cluster.app.listen({ host: '127.0.0.1', port: 0 });
    const pool = new Pool(address, { connections: concurrency });
    results.push([
      'http 127.0.0.1 (server + client)',
      await perCall(async (i) => {
        const r = await pool.request({ method: 'POST', path: route, headers, body: payload(i) });
        await r.body.arrayBuffer();
        if (r.statusCode !== 200) throw new Error(`http answered ${r.statusCode}`);
      }),
    ]);
    await pool.close();
  }
} finally {
  await cluster.close();
}
console.log(`CPU ms per batch-1 call, min of ${rounds} rounds of ${roundMs} ms at concurrency ${concurrency} (this process only):`);
for (const [name, ms] of results) console.log(`  ${name.padEnd(36)} ${ms.toFixed(3)}`);
