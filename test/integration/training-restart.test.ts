import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runServer, type RunningServer } from '../../src/main.js';
import { tinyConfig, writeTinyDataset } from '../fixtures/training-jobs-data.js';
import { makeTempDir, type TempDir } from '../fixtures/tmp.js';
import { alive } from '../fixtures/processes.js';

/**
 * A server stopped (close()) or killed (-9) in the middle of a training job, and a new server
 * started on the same data directory: the job is picked up again, the worker resumes from the
 * last finished epoch's checkpoint, and the model ends AVAILABLE. Real servers (runServer, and
 * `modeld serve` as a child process for kill -9), real HTTP, real workers.
 */

let tmp: TempDir | undefined;
let server: RunningServer | undefined;
const quiet = () =>
  new Writable({
    write(_chunk, _enc, done) {
      done();
    },
  });

after(async () => {
  await server?.close();
  await tmp?.cleanup();
});

test('a server stopped mid-training: the next server on the same dataDir resumes the job from its checkpoint and finishes it AVAILABLE', async () => {
  tmp = await makeTempDir('modeld-restart-');
  const flags = { port: 0, dataDir: tmp.dir, logLevel: 'info' };
  server = await runServer(flags, { logDestination: quiet() });
  const creds = JSON.parse(await readFile(path.join(tmp.dir, 'admin-credentials.json'), 'utf8')) as { clientId: string; clientSecret: string; customerId: string };
  const data = await writeTinyDataset(path.join(tmp.dir, 'uploads', creds.customerId));

  const token = async (url: string) => {
    const r = await fetch(`${url}/oauth2/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${creds.clientId}:${creds.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=machinelearning.model',
    });
    assert.equal(r.status, 200);
    return `Bearer ${((await r.json()) as { access_token: string }).access_token}`;
  };
  const api = async (url: string, auth: string, method: string, route: string, body?: unknown) => {
    const r = await fetch(`${url}/customers/${creds.customerId}/ai${route}`, {
      method,
      headers: { authorization: auth, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: r.status, body: (await r.json()) as any };
  };
  const until = async (url: string, auth: string, id: string, done: (m: any) => boolean) => {
    for (;;) {
      const m = await api(url, auth, 'GET', `/models/${id}`);
      assert.equal(m.status, 200, JSON.stringify(m.body));
      if (done(m.body)) return m.body;
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  let auth = await token(server.url);
  const created = await api(server.url, auth, 'POST', '/models', {
    name: 'survivor',
    modelType: 'ecommerce-rnn',
    region: 'local',
    trainingData: { catalog: data.catalogUri, signals: data.signalsUri },
    config: tinyConfig({ 'trainer_config.num_epochs': 12, 'trainer_config.monitor_patience': 12 }),
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const id = created.body.id as string;

  // Stop the server once an epoch is finished (its checkpoint is on disk), long before the 12th.
  const midway = await until(server.url, auth, id, (m) => (m.trainingProgress?.bestEpoch ?? 0) >= 1 || m.state !== 'TRAINING');
  assert.equal(midway.state, 'TRAINING');
  await server.close();
  server = undefined;

  server = await runServer(flags, { logDestination: quiet() });
  auth = await token(server.url);
  const done = await until(server.url, auth, id, (m) => m.state !== 'TRAINING');
  assert.equal(done.state, 'AVAILABLE', done.errorMessage);
  assert.equal(done.vectorSize, 32);

  const events = (await api(server.url, auth, 'GET', `/models/${id}/events?limit=1000`)).body as any[];
  const reasons = events.map((e) => e.reason);
  const restarted = events.find((e) => e.reason === 'TrainingRestarted');
  assert.ok(restarted, reasons.join(', '));
  assert.equal(restarted.data.attempt, 2);
  const resumed = events.find((e) => e.reason === 'Resumed');
  assert.ok(resumed, `the worker resumed from a checkpoint: ${reasons.join(', ')}`);
  assert.ok(resumed.data.fromEpoch >= 1);
  // No finished epoch was trained again: after Resumed, epochs continue from fromEpoch + 1 up to 12.
  const after = events.slice(events.indexOf(resumed)).filter((e) => e.reason === 'EpochCompleted').map((e) => e.data.epoch);
  assert.equal(after[0], resumed.data.fromEpoch + 1);
  assert.equal(after.at(-1), 12);
  assert.equal(reasons.at(-1), 'TrainingCompleted');
  const metrics = (await api(server.url, auth, 'GET', `/models/${id}?metrics=true`)).body.trainingMetrics;
  assert.equal(metrics.epoch_metrics.ndcg.val['5'].length, 12, 'the metrics cover every epoch, before and after the restart');
});

const BIN = fileURLToPath(new URL('../../bin/modeld.js', import.meta.url));


test('kill -9 of the server mid-training: its worker stops by itself, the next server resumes the job and finishes it AVAILABLE', async () => {
  const dir = await makeTempDir('modeld-kill9-');
  let child: ReturnType<typeof spawn> | undefined;
  let second: RunningServer | undefined;
  try {
    child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dir.dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      child!.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /"url":"(http:\/\/[^"]+)"/.exec(out);
        if (m) resolve(m[1]!);
      });
      child!.once('exit', (code) => reject(new Error(`the server exited (${code}) before listening: ${out}`)));
    });
    const creds = JSON.parse(await readFile(path.join(dir.dir, 'admin-credentials.json'), 'utf8')) as { clientId: string; clientSecret: string; customerId: string };
    const data = await writeTinyDataset(path.join(dir.dir, 'uploads', creds.customerId));
    const token = async (base: string) => {
      const r = await fetch(`${base}/oauth2/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${creds.clientId}:${creds.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&scope=machinelearning.model',
      });
      return `Bearer ${((await r.json()) as { access_token: string }).access_token}`;
    };
    const get = async (base: string, auth: string, route: string) =>
      (await (await fetch(`${base}/customers/${creds.customerId}/ai${route}`, { headers: { authorization: auth } })).json()) as any;
    let auth = await token(url);
    const created = await fetch(`${url}/customers/${creds.customerId}/ai/models`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'killed',
        modelType: 'general-rnn',
        region: 'local',
        trainingData: { catalog: data.catalogUri, signals: data.signalsUri },
        config: tinyConfig({
          dataset_config: 'mlp_ecommerce',
          trainer_config: 'mlp_general',
          'trainer_config.num_epochs': 12,
          'trainer_config.monitor_patience': 12,
        }),
      }),
    });
    assert.equal(created.status, 200);
    const id = ((await created.json()) as { id: string }).id;
    for (;;) {
      const m = await get(url, auth, `/models/${id}`);
      if ((m.trainingProgress?.bestEpoch ?? 0) >= 1 || m.state !== 'TRAINING') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const jobDir = path.join(dir.dir, 'training');
    const [jobId] = await readdir(jobDir);
    const pidFile = path.join(jobDir, jobId!, 'worker.pid');
    const workerPid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(Number.isInteger(workerPid) && workerPid > 1, `worker.pid holds a pid: ${workerPid}`);
    assert.ok(alive(workerPid));

    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    // The worker notices its server is gone (IPC disconnect) and stops after its current step.
    while (alive(workerPid)) await new Promise((r) => setTimeout(r, 50));
    assert.ok(existsSync(path.join(jobDir, jobId!, 'checkpoint')), 'the checkpoint survives');

    second = await runServer({ port: 0, dataDir: dir.dir, logLevel: 'info' }, { logDestination: quiet() });
    auth = await token(second.url);
    let done: any;
    for (;;) {
      done = await get(second.url, auth, `/models/${id}`);
      if (done.state !== 'TRAINING') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(done.state, 'AVAILABLE', done.errorMessage);
    const events = (await get(second.url, auth, `/models/${id}/events?limit=1000`)) as any[];
    assert.ok(events.some((e) => e.reason === 'TrainingRestarted' && e.data.attempt === 2));
    assert.ok(events.some((e) => e.reason === 'Resumed'));
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await second?.close();
    await dir.cleanup();
  }
});
