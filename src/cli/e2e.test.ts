import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { makeModeldArtifact } from '../../test/fixtures/models.js';
import { decodeJwtPayload, type Deployment, type Model } from '../client/index.js';
import { runServer } from '../main.js';

/**
 * End to end: the real `bin/modeld.js` as a child process against the real server started with
 * runServer({port: 0, dataDir: tmp}) on 127.0.0.1, plus `modeld serve` itself started and
 * stopped by a signal.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'modeld.js');

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment of a child: this one without MODELD_* (the test names everything it means). */
function childEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MODELD_')));
}

function modeld(args: string[], options: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: options.cwd ?? root, env: { ...childEnv(), ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

let tmp: string;
let server: { url: string; close(): Promise<void> };
let credentialsFile: string;

before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'modeld-cli-e2e-'));
  server = await runServer({ port: 0, host: '127.0.0.1', dataDir: path.join(tmp, 'data'), logLevel: 'silent' });
  credentialsFile = path.join(tmp, 'data', 'admin-credentials.json');
});
after(async () => {
  await server?.close();
  await rm(tmp, { recursive: true, force: true });
});

function cli(args: string[]): Promise<ChildResult> {
  return modeld(['--url', server.url, '--credentials', credentialsFile, ...args]);
}

describe('modeld against a running server', () => {
  test('token prints a token of the admin customer', async () => {
    const res = await cli(['token']);
    assert.equal(res.code, 0, res.stderr);
    const creds = JSON.parse(await readFile(credentialsFile, 'utf8')) as { customerId: string };
    assert.equal(decodeJwtPayload(res.stdout.trim())?.customerId, creds.customerId);
  });

  test('models list shows the pre-trained model, as a table and as JSON', async () => {
    const json = await cli(['models', 'list', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const models = JSON.parse(json.stdout) as Model[];
    const pretrained = models.find((m) => m.category === 'pre-trained (shared)');
    assert.ok(pretrained, json.stdout);

    const table = await cli(['models', 'list']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+NAME\s+CATEGORY/);
    assert.match(table.stdout, new RegExp(`\\n${pretrained.id}\\s+${pretrained.name}\\s+pre-trained \\(shared\\)`));
  });

  test('deployments list is empty on a new server', async () => {
    const json = await cli(['--json', 'deployments', 'list']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout) as Deployment[], []);
    const table = await cli(['deployments', 'list']);
    assert.equal(table.stdout, 'ID  MODEL  REGION  STATE  READY  REPLICAS  DEPLOYED\n');
  });

  test('an unknown id is a one-line error with the server code, exit 1', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    const res = await cli(['deployments', 'get', id]);
    assert.equal(res.code, 1);
    assert.equal(res.stdout, '');
    assert.equal(res.stderr, `error: deployment ${id} not found (MODELD_ERR_DEPLOYMENT_NOT_FOUND)\n`);
  });

  test('a stopped server is reported with the URL tried and how to point the CLI elsewhere', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const res = await modeld(['--url', `http://127.0.0.1:${port}`, '--credentials', credentialsFile, 'models', 'list']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, new RegExp(`^error: no modeld server answers at http://127\\.0\\.0\\.1:${port} \\(--url\\); start one with .*--url URL or MODELD_URL`));
    // The process's environment reaches the CLI: MODELD_PORT, as the server reads it.
    const byEnv = await modeld(['--credentials', credentialsFile, 'models', 'list'], { env: { MODELD_PORT: String(port) } });
    assert.match(byEnv.stderr, new RegExp(`^error: no modeld server answers at http://127\\.0\\.0\\.1:${port} \\(MODELD_PORT\\);`));
    const reached = await modeld(['--credentials', credentialsFile, 'models', 'list', '--json'], { env: { MODELD_PORT: new URL(server.url).port } });
    assert.equal(reached.code, 0, reached.stderr);
  });
});

describe('a custom model from import to predictions', () => {
  test('import, deploy --wait, embed, delete --wait', async () => {
    const dir = await makeModeldArtifact(path.join(tmp, 'artifacts', 'tiny'));
    const imported = await cli(['models', 'import', 'tiny', path.relative(root, dir), '--json']);
    assert.equal(imported.code, 0, imported.stderr);
    const model = JSON.parse(imported.stdout) as Model;
    assert.equal(model.state, 'AVAILABLE');
    // The folder's files went through the uploads API (the server imports only from uploads by default), then were removed.
    assert.match(imported.stderr, /uploading 3 files of .* to upload folder tiny/);
    assert.match(imported.stderr, /tiny\/model\.onnx/);
    const uploads = await cli(['uploads', 'list', '--json']);
    assert.ok(!(JSON.parse(uploads.stdout) as { name: string }[]).some((u) => u.name.startsWith('tiny/')), uploads.stdout);

    const deployed = await cli(['deploy', model.id, '--min', '1', '--max', '1', '--wait', '--timeout', '120']);
    assert.equal(deployed.code, 0, deployed.stderr);
    const id = /deployment ([0-9a-f-]{36}) DEPLOYED: 1\/1 replicas ready/.exec(deployed.stdout)?.[1];
    assert.ok(id, deployed.stdout);
    assert.match(deployed.stderr, /DEPLOYED  ready 1\/1 replicas  \[#+\]\n/);

    const embedded = await cli(['embed', id, 'red running shoes', 'blue sandals']);
    assert.equal(embedded.code, 0, embedded.stderr);
    const lines = embedded.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { text: string; vector: number[] });
    assert.deepEqual(lines.map((l) => l.text), ['red running shoes', 'blue sandals']);
    for (const l of lines) {
      assert.equal(l.vector.length, 32);
      assert.ok(Math.abs(Math.hypot(...l.vector) - 1) < 1e-3, 'vectors are L2-normalized');
    }

    const deleted = await cli(['deployments', 'delete', id, '--wait', '--timeout', '120']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout, `deployment ${id} deleted\n`);
    const list = await cli(['deployments', 'list', '--json']);
    assert.deepEqual(JSON.parse(list.stdout), []);
  });

  test('deploy --wait of a model whose stored artifact was corrupted exits 1 with the failure reason', async () => {
    // A distinct artifact (another max token count changes its content address), so that the
    // artifact store does not share it with the other test's model.
    const dir = await makeModeldArtifact(path.join(tmp, 'artifacts', 'doomed'));
    const manifestFile = path.join(dir, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as { tokenizer: Record<string, unknown> };
    await writeFile(manifestFile, JSON.stringify({ ...manifest, tokenizer: { ...manifest.tokenizer, maxTokens: 96 } }, null, 2));
    const artifactsRoot = path.join(tmp, 'data', 'artifacts');
    const before = new Set(await readdir(artifactsRoot).catch(() => [] as string[]));
    const imported = await cli(['models', 'import', 'doomed', dir, '--json']);
    assert.equal(imported.code, 0, imported.stderr);
    const model = JSON.parse(imported.stdout) as Model;
    const stored = (await readdir(artifactsRoot)).filter((f) => !before.has(f));
    assert.equal(stored.length, 1, `one new artifact folder, got ${stored.join(', ')}`);
    // Same size, other bytes: only the checksum can tell.
    const tokenizerFile = path.join(artifactsRoot, stored[0]!, 'tokenizer.json');
    const tokenizer = await readFile(tokenizerFile, 'utf8');
    await writeFile(tokenizerFile, tokenizer.replace('"', "'"));

    const res = await cli(['deploy', model.id, '--wait', '--timeout', '150']);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /^DEPLOY_FAILED  ready 0\/1 replicas  \[-+\]  ModelLoadFailed: .*tokenizer\.json: checksum mismatch/m);
    assert.match(res.stderr, /error: deployment [0-9a-f-]{36} failed: ModelLoadFailed: .*checksum mismatch.* \(MODELD_CLIENT_ERR_DEPLOY_FAILED\)\n$/);
    assert.equal(res.stdout, '');
    const id = /deployment ([0-9a-f-]{36}) created/.exec(res.stderr)?.[1];
    assert.ok(id);
    const cleanup = await cli(['deployments', 'delete', id, '--wait', '--timeout', '120']);
    assert.equal(cleanup.code, 0, cleanup.stderr);
  });
});

describe('modeld serve', () => {
  test('serves until SIGINT, then closes and exits 0', async () => {
    const dataDir = path.join(tmp, 'serve-data');
    // Not a terminal: JSON log lines, the one that says where the server listens among them.
    const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'info'], {
      cwd: root,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (s: string) => {
          stdout += s;
          const m = /"url":"([^"]+)".*"msg":"modeld listening on /.exec(stdout);
          if (m) resolve(m[1]!);
        });
        child.on('close', (code, signal) => reject(new Error(`serve exited (${code ?? signal}) before serving: ${stderr}${stdout}`)));
      });
      const res = await modeld(['--url', url, '--credentials', path.join(dataDir, 'admin-credentials.json'), 'deployments', 'list', '--json']);
      assert.equal(res.code, 0, res.stderr);
      const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      child.kill('SIGINT');
      assert.equal(await closed, 0, stderr);
      assert.match(stderr, /SIGINT: stopping modeld/);
      assert.match(stderr, /modeld stopped/);
      // Piped, stdout holds JSON log lines only, the request lines among them.
      const lines = stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { msg?: string });
      assert.ok(lines.some((l) => l.msg === 'request completed'));
    } finally {
      clearTimeout(killer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  // script(1) (util-linux) gives the server a pseudo-terminal as stdout, as a shell window does.
  const hasScript = spawnSync('script', ['--version']).status === 0;
  test('on a terminal: the start-up summary and text lines, no JSON; Ctrl-C stops it', { skip: !hasScript && 'script(1) is not installed' }, async () => {
    const dataDir = path.join(tmp, 'serve-tty-data');
    // `exec`: script(1) runs the command through $SHELL -c (/bin/sh, dash, when SHELL is unset, as
    // in CI). dash does not replace itself with the command: it would get the Ctrl-C too, die of it,
    // and script would report that (130) instead of modeld's own exit status.
    const command = `exec ${[process.execPath, bin, 'serve', '--port', '0', '--data-dir', dataDir].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ')}`;
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: root, env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    try {
      const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (s: string) => {
          screen += s;
          if (screen.includes('Ctrl-C stops it.')) resolve();
        });
        void closed.then((code) => reject(new Error(`serve exited (${code}) before its summary: ${screen}`)));
      });
      child.stdin.write('\x03'); // Ctrl-C, typed on the terminal
      assert.equal(await closed, 0, screen);
      const lines = screen.replaceAll('\r\n', '\n').split('\n');
      assert.ok(lines.some((l) => /^modeld serving on http:\/\/127\.0\.0\.1:\d+$/.test(l)), screen);
      assert.ok(lines.includes(`  credentials  ${path.join(dataDir, 'admin-credentials.json')} (the admin client: modeld CLI, walkthrough)`), screen);
      assert.ok(lines.some((l) => /^\d\d:\d\d:\d\d {2}controller {2}controller started/.test(l)), screen);
      assert.ok(!lines.some((l) => l.startsWith('{')), `no JSON line on a terminal:\n${screen}`);
      assert.ok(screen.includes('SIGINT: stopping modeld'), screen);
    } finally {
      clearTimeout(killer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
