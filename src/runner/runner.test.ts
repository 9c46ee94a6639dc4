import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, lstatSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadEngine } from '../engines/index.js';
import { makeBigruArtifact, makeBrokenArtifacts, makeModeldArtifact } from '../../test/fixtures/models.js';
import { makeTempDir, type TempDir } from '../../test/fixtures/tmp.js';
import { callRunner, embedVia, eventually, healthOf, jsonOf, startSplitRequest } from '../../test/contract/runtime.contract.js';
import { runnerEndpoint } from './protocol.js';
import { DEFAULT_RUNNER_SETTINGS, RunnerExitCodes, readStatusFile, type RunnerSpec } from './replica-dir.js';
import { Runner } from './runner.js';

describe('Runner lifecycle (in process, real engine)', () => {
  let tmp: TempDir;
  let tiny: string;
  let bigru: string;
  let badChecksum: string;
  const runners: Runner[] = [];
  let n = 0;

  before(async () => {
    tmp = await makeTempDir('modeld-runner');
    tiny = await makeModeldArtifact(path.join(tmp.dir, 'tiny'));
    bigru = await makeBigruArtifact(path.join(tmp.dir, 'bigru'));
    badChecksum = (await makeBrokenArtifacts(path.join(tmp.dir, 'broken'))).badChecksum;
  });
  after(async () => {
    for (const r of runners) r.drain('test cleanup');
    await Promise.all(runners.map((r) => r.done));
    await tmp?.cleanup();
  });

  async function runner(artifactDir: string, settings: Partial<RunnerSpec> = {}): Promise<{ runner: Runner; dir: string }> {
    const dir = path.join(tmp.dir, `replica-${++n}`);
    await mkdir(dir);
    const spec: RunnerSpec = {
      replicaId: `r${n}`,
      deploymentId: 'd1',
      customerId: 'c1',
      generation: 1,
      modelId: 'm1',
      artifactDir,
      config: { n },
      intraOpThreads: 1,
      ...DEFAULT_RUNNER_SETTINGS,
      createdAt: new Date().toISOString(),
      ...settings,
    };
    const r = new Runner({ replicaDir: dir, spec, loadEngine });
    runners.push(r);
    return { runner: r, dir };
  }

  test('answers 503 starting while the model loads, then 200 ready; status.json follows', async () => {
    const { runner: r, dir } = await runner(bigru);
    const started = r.start();
    const endpoint = await eventually('the runner to listen', async () => (r.port === null ? undefined : `http://127.0.0.1:${r.port}`));
    const early = await healthOf(endpoint);
    if (early.health.phase === 'starting') {
      assert.equal(early.status, 503);
      const refused = await callRunner(endpoint, 'POST', '/embed', { texts: ['too early'] });
      assert.equal(refused.status, 503);
      assert.equal(jsonOf(refused).code, 'not_ready');
    }
    await started;
    const ready = await healthOf(endpoint);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.health, { replicaId: 'r1', deploymentId: 'd1', generation: 1, phase: 'ready', vectorSize: 256, inflight: 0, error: null });
    const status = readStatusFile(dir)!;
    assert.equal(status.phase, 'ready');
    assert.equal(status.port, r.port);
    assert.equal(status.pid, process.pid);
    assert.equal((await embedVia(endpoint, ['red shoes'])).dim, 256);
  });

  test('serves on spec.socketPath: a stale socket file is replaced, status.json names the socket, the file goes with the runner', async () => {
    const socketPath = path.join(tmp.dir, 'runner.sock');
    // A socket file left by a process killed with -9: the file stays, nothing listens on it.
    const killed = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(killed.stdout!, 'data');
    killed.kill('SIGKILL');
    await once(killed, 'exit');
    assert.equal(lstatSync(socketPath).isSocket(), true);
    const { runner: r, dir } = await runner(tiny, { socketPath });
    await r.start();
    assert.equal(r.port, null);
    assert.equal(r.endpoint, runnerEndpoint({ socketPath, port: null }));
    const status = readStatusFile(dir)!;
    assert.equal(status.socketPath, socketPath);
    assert.equal(status.port, null);
    assert.equal((await healthOf(r.endpoint!)).health.phase, 'ready');
    assert.equal((await embedVia(r.endpoint!, ['over a unix socket'])).count, 1);
    r.drain('test drain');
    await r.done;
    assert.equal(existsSync(socketPath), false, 'the socket file is removed when the runner stops');
  });

  test('a drain during the load stops the runner without ever being ready', async () => {
    const { runner: r, dir } = await runner(bigru);
    const started = r.start();
    await eventually('the runner to listen', async () => (r.port === null ? undefined : true));
    r.drain('test drain');
    await started;
    const outcome = await r.done;
    assert.deepEqual(outcome, { exitCode: RunnerExitCodes.stopped, phase: 'stopped', reason: 'test drain', error: null });
    const status = readStatusFile(dir)!;
    assert.equal(status.phase, 'stopped');
    assert.equal(status.readyAt, null);
    assert.equal(status.exitCode, 0);
  });

  test('a load failure ends with exit code 3 and the reason in status.json', async () => {
    const { runner: r, dir } = await runner(badChecksum);
    await r.start();
    const outcome = await r.done;
    assert.equal(outcome.exitCode, RunnerExitCodes.loadFailed);
    assert.equal(outcome.phase, 'failed');
    assert.match(outcome.error ?? '', /^model load failed: .*tokenizer\.json: checksum mismatch/);
    const status = readStatusFile(dir)!;
    assert.equal(status.phase, 'failed');
    assert.equal(status.error, outcome.error);
    assert.equal(status.exitCode, 3);
  });

  test('stopNow abandons work in flight and says so in status.json', async () => {
    const { runner: r, dir } = await runner(tiny);
    await r.start();
    const endpoint = `http://127.0.0.1:${r.port}`;
    const held = startSplitRequest(endpoint, '/embed', { texts: ['never finished'] });
    await eventually('the request to be admitted', async () => ((await healthOf(endpoint)).health.inflight === 1 ? true : undefined));
    r.drain('SIGTERM');
    assert.equal(r.stopNow('SIGTERM while draining'), RunnerExitCodes.stopped);
    const status = readStatusFile(dir)!;
    assert.equal(status.phase, 'stopped');
    assert.equal(status.stopReason, 'SIGTERM while draining (1 requests abandoned)');
    await assert.rejects(held.response, /socket hang up|ECONNRESET/);
    assert.equal((await r.done).reason, 'SIGTERM while draining (1 requests abandoned)');
  });

  test('a client that disconnects in the middle of its body is no longer counted in flight, so a drain completes', async () => {
    const { runner: r } = await runner(tiny);
    await r.start();
    const endpoint = `http://127.0.0.1:${r.port}`;
    const socket = net.connect(r.port!, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('POST /embed HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"texts": [');
    await eventually('the request to be admitted', async () => ((await healthOf(endpoint)).health.inflight === 1 ? true : undefined));
    socket.destroy();
    await eventually('the request to be released', async () => ((await healthOf(endpoint)).health.inflight === 0 ? true : undefined), 5_000);
    r.drain('test');
    assert.equal((await r.done).exitCode, RunnerExitCodes.stopped);
  });

  test('a request already on its way over a keep-alive connection when a drain ends gets an answer, not a reset', async () => {
    // The gateway stops choosing a replica before the drain, but a request it sent just before
    // can still sit unread in the replica's socket when the drain finds no work in flight.
    const { runner: r } = await runner(tiny);
    await r.start();
    const socket = net.connect(r.port!, '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    const reset = new Promise<string>((resolve) => {
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      socket.on('close', () => resolve('closed'));
    });
    const body = JSON.stringify({ texts: ['red shoes'] });
    const request = `POST /embed HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    socket.write(request);
    await eventually('the first answer', async () => (received.includes('\r\n\r\n') && received.startsWith('HTTP/1.1 200') ? true : undefined));
    received = '';
    socket.write(request);
    r.drain('test drain');
    assert.equal((await r.done).exitCode, RunnerExitCodes.stopped);
    const end = await reset;
    assert.notEqual(end, 'ECONNRESET');
    assert.match(received, /^HTTP\/1\.1 503 /);
    assert.match(received, /"code":"draining"/);
  });

  test('/info carries the ids, the deployment config and the batching counters', async () => {
    const { runner: r } = await runner(tiny, { maxBatchItems: 8, batchWaitMs: 3 });
    await r.start();
    const endpoint = `http://127.0.0.1:${r.port}`;
    await Promise.all(Array.from({ length: 6 }, (_, i) => embedVia(endpoint, [`text ${i}`])));
    const info = jsonOf(await callRunner(endpoint, 'GET', '/info'));
    assert.equal(info.replicaId, `r${n}`);
    assert.deepEqual(info.config, { n });
    assert.equal(info.maxBatchItems, 8);
    const batching = info.batching as { requests: number; batches: number; largestBatch: number };
    assert.equal(batching.requests, 6);
    assert.ok(batching.batches >= 1 && batching.batches <= 6);
    assert.ok(batching.largestBatch <= 8);
  });
});
