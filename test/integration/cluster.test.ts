/**
 * Two modeld instances (`modeld serve` child processes) on one real PostgreSQL and one shared
 * data directory, as two pods of the manifests would run: the first leads (controller, training
 * jobs), the second follows (it serves the whole API and the gateway over the endpoints the leader
 * publishes). Load goes through both; the leader is killed with SIGKILL in the middle of it. The
 * follower takes the lease over within the lease's TTL plus one renewal, adopts the dead
 * leader's replicas (same processes, no restart), keeps the deployment served, and reconciles a
 * deployment created after the kill. A client that retries a request once on another instance
 * when its connection breaks (what a Service and any HTTP client with one retry give) sees no
 * failure at all.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { Agent, request } from 'undici';
import { adminCredentials, api, importModel, repoRoot, runnerPids, startServer, token, type ServerProcess } from '../../bench/lib.js';
import { makeModeldArtifact } from '../fixtures/models.js';
import { tinyConfig, writeTinyDataset } from '../fixtures/training-jobs-data.js';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../fixtures/postgres.js';
import { alive } from '../fixtures/processes.js';
import { makeTempDir, type TempDir } from '../fixtures/tmp.js';

const LEASE_TTL_MS = 3000;
const RENEW_MS = 500;

let postgres: ThrowawayPostgres | undefined;
let tmp: TempDir | undefined;
const servers: ServerProcess[] = [];

before(async () => {
  postgres = await startThrowawayPostgres();
  tmp = await makeTempDir('modeld-cluster-');
});

after(async () => {
  for (const s of servers) await s.stop('SIGKILL');
  // Replicas outlive a killed server (they would be adopted); nothing adopts them after the test.
  if (tmp) for (const pid of runnerPids(path.join(tmp.dir, 'data'))) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await postgres?.stop();
  await tmp?.cleanup();
});

async function leaseHolder(db: pg.Client): Promise<string | null> {
  const { rows } = await db.query<{ holder: string }>("SELECT holder FROM leases WHERE name = 'leader'");
  return rows[0]?.holder || null;
}

test('two instances on one PostgreSQL: one leads, both serve; SIGKILL of the leader loses no request and the other takes over', async () => {
  const dataDir = path.join(tmp!.dir, 'data');
  const env = (id: string) => ({
    MODELD_DATABASE_URL: postgres!.url,
    MODELD_INSTANCE_ID: id,
    MODELD_CONFIG: path.join(tmp!.dir, 'config.json'),
  });
  await writeFile(path.join(tmp!.dir, 'config.json'), JSON.stringify({ publicUrl: 'http://modeld.cluster.test', cluster: { leaseTtlMs: LEASE_TTL_MS, renewIntervalMs: RENEW_MS, syncIntervalMs: 200 } }));
  const a = await startServer(dataDir, undefined, env('instance-a'));
  servers.push(a);
  const b = await startServer(dataDir, undefined, env('instance-b'));
  servers.push(b);
  const db = new pg.Client({ connectionString: postgres!.url });
  await db.connect();
  try {
    assert.equal(await leaseHolder(db), 'instance-a', 'the first instance leads');
    const { rows: instances } = await db.query<{ id: string }>('SELECT id FROM instances ORDER BY id');
    assert.deepEqual(instances.map((r) => r.id), ['instance-a', 'instance-b']);

    // One admin client (created by the leader only), and tokens of either instance work on both.
    const admin = await adminCredentials(dataDir);
    const tokA = await token(a.url, admin);
    const tokB = await token(b.url, admin);
    const customerId = admin.customerId;
    assert.ok(await api(b.url, tokA, 'GET', `/customers/${customerId}/ai/models`));
    assert.ok(await api(a.url, tokB, 'GET', `/customers/${customerId}/ai/models`));
    // Any instance tells who leads.
    const view = await api<{ self: string; leader: string; instances: Array<{ id: string; live: boolean; leader: boolean }> }>(b.url, tokB, 'GET', '/admin/cluster');
    assert.equal(view.self, 'instance-b');
    assert.equal(view.leader, 'instance-a');
    assert.deepEqual(view.instances.map((i) => [i.id, i.live, i.leader]), [['instance-a', true, true], ['instance-b', true, false]]);
    // And so does the CLI, pointed at either instance.
    const cli = await promisify(execFile)(process.execPath, [path.join(repoRoot, 'bin/modeld.js'), 'admin', 'cluster'], {
      env: { ...process.env, MODELD_URL: b.url, MODELD_CREDENTIALS: path.join(dataDir, 'admin-credentials.json') },
    });
    assert.match(cli.stdout, /instance-a\s+leader\s+yes/);
    assert.match(cli.stdout, /instance-b \(answered\)\s+follower\s+yes/);

    // A deployment created through the follower is reconciled by the leader and served by both.
    const modelId = await importModel(b.url, tokB, customerId, 'tiny', await makeModeldArtifact(path.join(tmp!.dir, 'tiny')));
    const base = `/customers/${customerId}/ai/deployments`;
    const d1 = await api<{ id: string }>(b.url, tokB, 'POST', base, { modelId, region: 'local', minReplicas: 2, maxReplicas: 2 });
    await waitDeployed(b.url, tokB, `${base}/${d1.id}`, 2);
    const replicasBefore = runnerPids(dataDir);
    assert.equal(replicasBefore.length, 2);
    // The leader lists the replicas its runtime observes; the follower, without touching the
    // runtime, the ready ones the leader published.
    type Replica = { replicaId: string; phase: string; pid: number | null };
    const fromLeader = await api<Replica[]>(a.url, tokA, 'GET', `${base}/${d1.id}/replicas`);
    assert.deepEqual(fromLeader.map((r) => r.pid).sort(), [...replicasBefore].sort());
    // (It learns them within one sync interval of the leader's publish.)
    let fromFollower: Replica[] = [];
    for (let tries = 0; fromFollower.length < 2 && tries < 50; tries++) {
      if (tries > 0) await sleep(100);
      fromFollower = await api<Replica[]>(b.url, tokB, 'GET', `${base}/${d1.id}/replicas`);
    }
    assert.deepEqual(fromFollower.map((r) => [r.replicaId, r.phase, r.pid]).sort(), fromLeader.map((r) => [r.replicaId, 'ready', null]).sort());

    // Load through both instances; a request whose connection breaks is sent once more to the other instance.
    const agent = new Agent({ connections: 8 });
    const urls = [a.url, b.url];
    const tokens = [tokA, tokB];
    const outcomes = { ok: 0, failed: [] as string[], retriedElsewhere: 0, byInstance: [0, 0] };
    let stop = false;
    const embed = async (i: number): Promise<number> => {
      const r = await request(`${urls[i]}/ai/prediction/embedding/${d1.id}`, {
        method: 'POST',
        dispatcher: agent,
        headers: { authorization: `Bearer ${tokens[i]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ batch: [{ text: 'red running shoes' }, { text: 'a blue denim jacket' }] }),
      });
      const text = await r.body.text();
      if (r.statusCode !== 200) throw Object.assign(new Error(`${r.statusCode} ${text}`), { status: r.statusCode });
      assert.equal((JSON.parse(text) as { predictions: unknown[] }).predictions.length, 2);
      return i;
    };
    const worker = async (w: number) => {
      for (let n = 0; !stop; n++) {
        const first = (w + n) % 2;
        try {
          outcomes.byInstance[await embed(first)]! += 1;
          outcomes.ok += 1;
        } catch (err) {
          if ((err as { status?: number }).status !== undefined) {
            outcomes.failed.push((err as Error).message);
            continue;
          }
          // The connection broke or was refused: the instance is gone; once more on the other one.
          try {
            outcomes.byInstance[await embed(1 - first)]! += 1;
            outcomes.ok += 1;
            outcomes.retriedElsewhere += 1;
          } catch (again) {
            outcomes.failed.push((again as Error).message);
          }
        }
      }
    };
    const load = Promise.all(Array.from({ length: 4 }, (_, w) => worker(w)));
    await sleep(1500);
    const beforeKill = { ...outcomes, byInstance: [...outcomes.byInstance] };
    assert.ok(beforeKill.byInstance[0]! > 0 && beforeKill.byInstance[1]! > 0, `both instances served: ${beforeKill.byInstance}`);

    // SIGKILL of the leader, under load.
    const killedAt = performance.now();
    await a.stop('SIGKILL');
    let takeoverMs = -1;
    while (performance.now() - killedAt < 4 * LEASE_TTL_MS) {
      if ((await leaseHolder(db)) === 'instance-b') {
        takeoverMs = performance.now() - killedAt;
        break;
      }
      await sleep(50);
    }
    assert.ok(takeoverMs >= 0, 'instance-b took the lease over');
    assert.ok(takeoverMs <= LEASE_TTL_MS + 2 * RENEW_MS + 1000, `taken over in ${takeoverMs} ms`);

    // A deployment created after the kill is reconciled by the new leader.
    const d2 = await api<{ id: string }>(b.url, tokB, 'POST', base, { modelId, region: 'local', minReplicas: 1, maxReplicas: 1 });
    await waitDeployed(b.url, tokB, `${base}/${d2.id}`, 1);
    await sleep(1000);
    stop = true;
    await load;
    await agent.close();

    assert.deepEqual(outcomes.failed, [], `no request failed (${outcomes.ok} ok, ${outcomes.retriedElsewhere} retried on the other instance)`);
    assert.ok(outcomes.byInstance[1]! > beforeKill.byInstance[1]!, 'the survivor kept serving');
    // The dead leader's replicas were adopted, not replaced.
    for (const pid of replicasBefore) assert.ok(alive(pid), `replica ${pid} still runs`);
    const d1After = await api<{ state: string; status: { readyReplicas: number; restartCount: number } }>(b.url, tokB, 'GET', `${base}/${d1.id}`);
    assert.equal(d1After.state, 'DEPLOYED');
    assert.equal(d1After.status.readyReplicas, 2);
    const after = await api<{ leader: string; instances: Array<{ id: string; live: boolean }> }>(b.url, tokB, 'GET', '/admin/cluster');
    assert.equal(after.leader, 'instance-b');
    assert.deepEqual(after.instances.filter((i) => i.live).map((i) => i.id), ['instance-b'], 'the killed instance is no longer live');
    console.log(
      `cluster: ${outcomes.ok} requests ok (${beforeKill.byInstance.join(' + ')} before the kill), ${outcomes.retriedElsewhere} retried on the other instance, takeover ${Math.round(takeoverMs)} ms (lease TTL ${LEASE_TTL_MS} ms, renewal every ${RENEW_MS} ms)`,
    );
  } finally {
    await db.end();
  }
});

async function waitDeployed(url: string, tok: string, route: string, ready: number): Promise<void> {
  const end = Date.now() + 60_000;
  for (;;) {
    const d = await api<{ state: string; status: { readyReplicas: number; failure: unknown } }>(url, tok, 'GET', route);
    if (d.state === 'DEPLOYED' && d.status.readyReplicas === ready) return;
    assert.notEqual(d.state, 'DEPLOY_FAILED', JSON.stringify(d.status.failure));
    assert.ok(Date.now() < end, `${route} still ${d.state}: ${JSON.stringify(d.status)}`);
    await sleep(100);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

test('a training submitted through a follower runs on the leader; when the leader dies mid-training, the new leader resumes it from its checkpoint', async () => {
  // After the first test instance-b leads alone; instance-c joins as a follower.
  const dataDir = path.join(tmp!.dir, 'data');
  const leader = servers.find((s) => s.child.exitCode === null && s.child.signalCode === null)!;
  assert.ok(leader, 'the first test left its surviving leader running');
  const db = new pg.Client({ connectionString: postgres!.url });
  await db.connect();
  try {
    const leaderId = (await leaseHolder(db))!;
    const c = await startServer(dataDir, undefined, { MODELD_DATABASE_URL: postgres!.url, MODELD_INSTANCE_ID: 'instance-c', MODELD_CONFIG: path.join(tmp!.dir, 'config.json') });
    servers.push(c);
    const admin = await adminCredentials(dataDir);
    const tok = await token(c.url, admin);
    const base = `/customers/${admin.customerId}/ai`;
    const data = await writeTinyDataset(path.join(dataDir, 'uploads', admin.customerId));
    const created = await api<{ id: string }>(c.url, tok, 'POST', `${base}/models`, {
      name: 'trained-across-a-takeover',
      modelType: 'ecommerce-rnn',
      region: 'local',
      trainingData: { catalog: data.catalogUri, signals: data.signalsUri },
      config: tinyConfig({ 'trainer_config.num_epochs': 12, 'trainer_config.monitor_patience': 12 }),
    });
    type Model = { state: string; errorMessage?: string; trainingProgress?: { bestEpoch?: number } };
    const model = () => api<Model>(c.url, tok, 'GET', `${base}/models/${created.id}`);
    const until = async (done: (m: Model) => boolean, what: string) => {
      const end = Date.now() + 120_000;
      for (;;) {
        const m = await model();
        if (done(m)) return m;
        assert.ok(Date.now() < end, `${what}: still ${JSON.stringify(m)}`);
        await sleep(100);
      }
    };
    // The follower's notify reaches no manager: the leader's rescan picks the job up.
    const midway = await until((m) => (m.trainingProgress?.bestEpoch ?? 0) >= 1 || m.state !== 'TRAINING', 'an epoch finished on the leader');
    assert.equal(midway.state, 'TRAINING', midway.errorMessage);

    await leader.stop('SIGKILL');
    const done = await until((m) => m.state !== 'TRAINING', 'the new leader finishes the job');
    assert.equal(done.state, 'AVAILABLE', done.errorMessage);
    assert.equal(await leaseHolder(db), 'instance-c');
    assert.notEqual(leaderId, 'instance-c');
    const events = await api<Array<{ reason: string; data: Record<string, unknown> }>>(c.url, tok, 'GET', `${base}/models/${created.id}/events?limit=1000`);
    const reasons = events.map((e) => e.reason);
    assert.ok(events.some((e) => e.reason === 'TrainingRestarted' && e.data.attempt === 2), reasons.join(', '));
    const resumed = events.find((e) => e.reason === 'Resumed');
    assert.ok(resumed && Number(resumed.data.fromEpoch) >= 1, `resumed from the checkpoint on the shared data directory: ${reasons.join(', ')}`);
  } finally {
    await db.end();
  }
});
