import assert from 'node:assert/strict';
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { redactQuery, runServer, type RunningServer } from '../../src/main.js';
import { makeTempDir } from '../fixtures/tmp.js';

describe('runServer (the composition root)', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let server: RunningServer;
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });

  before(async () => {
    tmp = await makeTempDir('modeld-server-');
    server = await runServer({ port: 0, dataDir: tmp.dir, logLevel: 'info' }, { logDestination: sink });
  });
  after(async () => {
    await server?.close();
    await tmp?.cleanup();
  });

  it('writes the admin credentials once, mode 0600, and they get a token', async () => {
    const file = path.join(tmp.dir, 'admin-credentials.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const creds = JSON.parse(await readFile(file, 'utf8')) as { clientId: string; clientSecret: string; customerId: string };
    assert.ok(lines.some((l) => l.includes(file)), 'the path is logged');
    assert.ok(!lines.some((l) => l.includes(creds.clientSecret)), 'the secret is not');
    const r = await fetch(`${server.url}/oauth2/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${creds.clientId}:${creds.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=machinelearning.model',
    });
    assert.equal(r.status, 200);
    const { access_token: token } = (await r.json()) as { access_token: string };
    const models = await fetch(`${server.url}/customers/${creds.customerId}/ai/models`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(models.status, 200);
    const list = (await models.json()) as Array<{ id: string; category: string; vectorSize: number }>;
    assert.deepEqual(
      list.map((m) => [m.id, m.category, m.vectorSize]),
      [['universal-sentence-encoder-lite', 'pre-trained (shared)', 512]],
    );
  });

  it('is ready, and never logs a secret sent in a query string', async () => {
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
    const r = await fetch(`${server.url}/oauth2/token?grant_type=client_credentials&client_id=a&client_secret=LEAKME123`, { method: 'POST' });
    assert.equal(r.status, 400);
    await r.arrayBuffer();
    assert.ok(lines.some((l) => l.includes('client_secret=[redacted]')), 'the request line is logged, redacted');
    assert.ok(!lines.some((l) => l.includes('LEAKME123')));
  });

  it('creates everything under the data directory for its own user only (files 0600, directories 0700), replicas and sockets included', async () => {
    const creds = JSON.parse(await readFile(path.join(tmp.dir, 'admin-credentials.json'), 'utf8')) as { clientId: string; clientSecret: string };
    const r = await fetch(`${server.url}/oauth2/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${creds.clientId}:${creds.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=machinelearning.predict',
    });
    const { access_token: token } = (await r.json()) as { access_token: string };
    // The pre-trained model's replica starts on the first call: a replica directory, its log and its socket.
    const embedded = await fetch(`${server.url}/ai/prediction/embedding/universal-sentence-encoder-lite`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ batch: [{ text: 'private files' }] }),
    });
    assert.equal(embedded.status, 200, await embedded.text());
    const open: string[] = [];
    let sockets = 0;
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        const st = await lstat(file);
        if (st.isSocket()) sockets++;
        if (!st.isSymbolicLink() && (st.mode & 0o077) !== 0) open.push(`${path.relative(tmp.dir, file)} ${(st.mode & 0o777).toString(8)}`);
        if (entry.isDirectory()) await walk(file);
      }
    };
    assert.equal(((await stat(tmp.dir)).mode & 0o777).toString(8), '700');
    await walk(tmp.dir);
    assert.ok(sockets >= 1, 'the replica socket was walked');
    assert.deepEqual(open, [], 'nothing readable or writable by group or others');
  });

  it('redactQuery replaces secret-bearing parameters only', () => {
    assert.equal(redactQuery('/a?x=1&client_secret=s3&token=t&y=2'), '/a?x=1&client_secret=[redacted]&token=[redacted]&y=2');
    assert.equal(redactQuery('/ai/prediction/embedding/abc'), '/ai/prediction/embedding/abc');
  });

  it('a taken port: a second server refuses to start, saying what to do, and leaves the first alone', async () => {
    const port = Number(new URL(server.url).port);
    const other = await makeTempDir('modeld-server-taken-');
    try {
      await assert.rejects(runServer({ port, host: '127.0.0.1', dataDir: other.dir, logLevel: 'silent' }, { logDestination: sink }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'MODELD_ERR_UNAVAILABLE');
        assert.equal(err.message, `cannot listen on 127.0.0.1:${port}: EADDRINUSE (the port is taken, perhaps by another modeld: stop it, or choose another port with --port or MODELD_PORT)`);
        return true;
      });
    } finally {
      await other.cleanup();
    }
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  });
});
