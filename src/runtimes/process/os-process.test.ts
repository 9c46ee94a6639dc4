import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { runnerEndpoint } from '../../runner/index.js';
import { makeTempDir } from '../../../test/fixtures/tmp.js';
import { httpJson, isProcessOf, signalGroup, waitUntil } from './os-process.js';

test('isProcessOf: true only for a live process whose command line holds the replica dir', async (t) => {
  const tmp = await makeTempDir('modeld-osproc');
  t.after(() => tmp.cleanup());
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', tmp.dir], { detached: true, stdio: 'ignore' });
  await once(child, 'spawn');
  const pid = child.pid!;
  const exited = once(child, 'exit');
  t.after(() => signalGroup(pid, 'SIGKILL'));

  assert.equal(isProcessOf(pid, tmp.dir), true);
  assert.equal(isProcessOf(pid, `${tmp.dir}-other`), false, 'same pid, another replica dir: pid reuse must not match');
  assert.equal(isProcessOf(process.pid, tmp.dir), false, 'a live process that is not the runner');

  signalGroup(pid, 'SIGKILL');
  const [code, signal] = await exited;
  assert.equal(code, null);
  assert.equal(signal, 'SIGKILL');
  assert.equal(isProcessOf(pid, tmp.dir), false);
  signalGroup(pid, 'SIGKILL'); // a group that is gone is not an error
});

test('isProcessOf rejects impossible pids', () => {
  assert.equal(isProcessOf(0, '/x'), false);
  assert.equal(isProcessOf(1, '/x'), false);
  assert.equal(isProcessOf(-5, '/x'), false);
});

test('httpJson returns status and parsed body, and rejects on timeout and on refused connections', async (t) => {
  const hung: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    if (req.url === '/slow') {
      hung.push(res);
      return;
    }
    res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ phase: 'starting', method: req.method }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  t.after(() => {
    for (const res of hung) res.destroy();
    server.closeAllConnections();
    server.close();
  });

  assert.deepEqual(await httpJson('POST', `http://127.0.0.1:${port}`, '/x', 1000), { status: 503, body: { phase: 'starting', method: 'POST' } });
  await assert.rejects(httpJson('GET', `http://127.0.0.1:${port}`, '/slow', 100), /no answer within 100 ms/);

  const closed = http.createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  await assert.rejects(httpJson('GET', `http://127.0.0.1:${closedPort}`, '/health', 1000), /ECONNREFUSED/);
});

test('httpJson reaches a runner endpoint on a Unix domain socket, and rejects once the socket is gone', async (t) => {
  const tmp = await makeTempDir('modeld-osproc-uds');
  t.after(() => tmp.cleanup());
  const socketPath = path.join(tmp.dir, 'runner.sock');
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ route: req.url, method: req.method }));
  });
  server.listen(socketPath);
  await once(server, 'listening');
  const endpoint = runnerEndpoint({ socketPath, port: null })!;
  assert.match(endpoint, /^http\+unix:\/\//);

  assert.deepEqual(await httpJson('GET', endpoint, '/health', 1000), { status: 200, body: { route: '/health', method: 'GET' } });
  await new Promise((r) => server.close(r));
  await assert.rejects(httpJson('GET', endpoint, '/health', 1000), /ENOENT|ECONNREFUSED/);
});

test('waitUntil resolves true as soon as the condition holds, false at the deadline', async () => {
  let n = 0;
  assert.equal(await waitUntil(() => ++n >= 3, 1000, 1), true);
  assert.equal(n, 3);
  const t0 = Date.now();
  assert.equal(await waitUntil(() => false, 50, 10), false);
  assert.ok(Date.now() - t0 >= 50);
});
