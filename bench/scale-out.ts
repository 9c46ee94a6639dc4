/**
 * Several modeld instances on one PostgreSQL (docs/cluster.md), measured on this machine:
 *
 * 1. embedding requests/s of one deployment (process runtime, 2 replicas) through one instance,
 *    then through two instances sharing the load, at the same total client concurrency;
 * 2. the leader takeover time after SIGKILL of the leader (default lease settings), several times;
 * 3. deploy-to-DEPLOYED through the Kubernetes runtime on the fake API (bench/kube-deploy.ts,
 *    with the process runtime as its anchor in the same run).
 *
 *   npm run bench:scale-out -- [--seconds 10] [--concurrency 8] [--takeovers 3]
 *
 * Everything runs on one machine: two instances here share its cores with the replicas and the
 * load generator, so the ratio shows what a second instance costs or gains on the same cores, not
 * what a second node would add (see the printed explanation).
 */
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { makeModeldArtifact } from '../test/fixtures/models.js';
import { startThrowawayPostgres } from '../test/fixtures/postgres.js';
import { alive } from '../test/fixtures/processes.js';
import { sampleSentences } from '../test/fixtures/text.js';
import { makeTempDir } from '../test/fixtures/tmp.js';
import { adminCredentials, api, closedLoop, fmt, importModel, machineLine, repoRoot, runnerPids, startServer, token, waitForState, type LoadResult, type ServerProcess } from './lib.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, concurrency: { type: 'string', default: '8' }, takeovers: { type: 'string', default: '3' } } });
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const takeovers = Number(values.takeovers);

const postgres = await startThrowawayPostgres();
const tmp = await makeTempDir('modeld-bench-scale-out');
const dataDir = path.join(tmp.dir, 'data');
const configFile = path.join(tmp.dir, 'config.json');
await writeFile(configFile, JSON.stringify({ publicUrl: 'http://modeld.bench' }));
const env = (id: string) => ({ MODELD_DATABASE_URL: postgres.url, MODELD_INSTANCE_ID: id, MODELD_CONFIG: configFile });
const servers = new Map<string, ServerProcess>();
const db = new pg.Client({ connectionString: postgres.url });
await db.connect();

const leaseHolder = async () => (await db.query<{ holder: string }>("SELECT holder FROM leases WHERE name = 'leader'")).rows[0]?.holder || null;

try {
  servers.set('a', await startServer(dataDir, undefined, env('a')));
  const admin = await adminCredentials(dataDir);
  const a = servers.get('a')!;
  const tok = await token(a.url, admin);
  const base = `/customers/${admin.customerId}/ai`;
  const modelId = await importModel(a.url, tok, admin.customerId, 'bench', await makeModeldArtifact(path.join(tmp.dir, 'model')));
  const d = await api<{ id: string }>(a.url, tok, 'POST', `${base}/deployments`, { modelId, region: 'local', minReplicas: 2, maxReplicas: 2 });
  await waitForState(a.url, tok, admin.customerId, d.id, 'DEPLOYED');
  const texts = sampleSentences(256, { seed: 3, minWords: 4, maxWords: 16 });
  const bodies = Array.from({ length: 64 }, (_, i) => JSON.stringify({ batch: texts.slice((i * 4) % 252, ((i * 4) % 252) + 4).map((text) => ({ text })) }));
  const route = `/ai/prediction/embedding/${d.id}`;
  const loop = (url: string, c: number) => closedLoop({ url, path: route, tok, bodies, itemsPerRequest: 4, concurrency: c, seconds });

  // Warm-up, then one instance alone.
  await loop(a.url, concurrency).catch(() => undefined);
  const one = await loop(a.url, concurrency);

  servers.set('b', await startServer(dataDir, undefined, env('b')));
  const b = servers.get('b')!;
  // Let the follower read the endpoints the leader published.
  await new Promise((r) => setTimeout(r, 1500));
  const [viaA, viaB] = await Promise.all([loop(a.url, concurrency / 2), loop(b.url, concurrency / 2)]);
  const two = { requests: viaA.ok + viaB.ok, failed: viaA.failed + viaB.failed, rate: (viaA.ok + viaB.ok) / Math.max(viaA.seconds, viaB.seconds) };
  const oneRate = one.ok / one.seconds;

  // Takeovers: SIGKILL the leader, time until the other holds the lease; the killed one comes back as a follower.
  const takeoverMs: number[] = [];
  for (let i = 0; i < takeovers; i++) {
    const leader = (await leaseHolder())!;
    const other = leader === 'a' ? 'b' : 'a';
    const t0 = performance.now();
    await servers.get(leader)!.stop('SIGKILL');
    while ((await leaseHolder()) !== other) {
      if (performance.now() - t0 > 60_000) throw new Error('no takeover within 60 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    takeoverMs.push(performance.now() - t0);
    servers.set(leader, await startServer(dataDir, undefined, env(leader)));
  }
  const stillServing = await loop(servers.get('a')!.url, 2).then((r: LoadResult) => r.ok > 0 && r.failed === 0);

  console.log(machineLine());
  console.log(`embedding requests/s, one deployment of 2 process replicas, ${concurrency} concurrent clients, 4 texts per request, ${seconds} s each`);
  console.log(`  through one instance:              ${fmt(oneRate)} req/s  (p50 ${fmt(one.p50Ms, 2)} ms, p99 ${fmt(one.p99Ms, 2)} ms, ${one.failed} failed)`);
  console.log(`  through two instances (half each): ${fmt(two.rate)} req/s  (${fmt(viaA.ok / viaA.seconds)} + ${fmt(viaB.ok / viaB.seconds)}, p50 ${fmt(viaA.p50Ms, 2)} / ${fmt(viaB.p50Ms, 2)} ms, ${two.failed} failed)`);
  console.log(`  ratio two / one:                   ${(two.rate / oneRate).toFixed(2)}`);
  console.log('  (one machine: both instances, both replicas and the load generator share its cores, so a second');
  console.log('   instance adds gateway capacity but no inference capacity; on a cluster each instance has its own');
  console.log('   node and the replicas are pods elsewhere, so the gateway side scales with the instances)');
  const sorted = [...takeoverMs].sort((x, y) => x - y);
  console.log(`leader takeover after SIGKILL (lease TTL 5000 ms, renewal every 1000 ms): median ${fmt(sorted[Math.floor(sorted.length / 2)]!)} ms  (${takeoverMs.map((t) => fmt(t)).join(', ')})`);
  console.log(`  the deployment still served after ${takeovers} takeovers: ${stillServing ? 'yes' : 'NO'}`);
} finally {
  for (const s of servers.values()) await s.stop('SIGKILL');
  for (const pid of runnerPids(dataDir)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await db.end();
  await postgres.stop();
  await tmp.cleanup();
}

// 3. Deploy-to-DEPLOYED through the Kubernetes runtime on the fake API, with its process-runtime anchor.
const kube = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'bench/kube-deploy.ts'), '--runs', '3'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
process.stdout.write(kube.stdout.split('\n').slice(1).join('\n'));
if (kube.status !== 0) process.exitCode = 1;
