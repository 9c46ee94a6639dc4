import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeJwtPayload, type Deployment } from '../client/index.js';
import { startTestServer, type TestServer } from '../client/test-server.js';
import { runCaptured, type RunOptions } from './test-harness.js';

/**
 * The CLI in-process against a real HTTP server on 127.0.0.1 that scripts deployment progress
 * (see client/test-server.ts). The end-to-end test against the real modeld server lives in
 * e2e.test.ts.
 */

let server: TestServer;
let tmp: string;

before(async () => {
  server = await startTestServer();
  tmp = await mkdtemp(path.join(tmpdir(), 'modeld-cli-'));
});
after(async () => {
  await server.close();
  await rm(tmp, { recursive: true, force: true });
});

function run(args: string[], options: RunOptions = {}) {
  return runCaptured(['--url', server.url, '--client-id', server.clientId, '--client-secret', server.clientSecret, ...args], options);
}

/** A port nothing listens on (bound once by the OS, then released). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('auth and output basics', () => {
  test('token prints a token of the customer; --json prints the whole answer', async () => {
    const plain = await run(['token']);
    assert.equal(plain.code, 0, plain.stderr);
    const token = plain.stdout.trim();
    assert.equal(decodeJwtPayload(token)?.customerId, server.customerId);

    const json = await run(['token', '--scope', 'machinelearning.predict', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const body = JSON.parse(json.stdout) as { access_token: string; scope: string; expires_in: number };
    assert.equal(body.scope, 'machinelearning.predict');
    assert.equal(server.issued.at(-1)?.scope, 'machinelearning.predict');
  });

  test('credentials come from ./data/admin-credentials.json by default, or --credentials', async () => {
    const dir = path.join(tmp, 'creds-cwd');
    await mkdir(path.join(dir, 'data'), { recursive: true });
    const creds = { clientId: server.clientId, clientSecret: server.clientSecret, customerId: server.customerId };
    await writeFile(path.join(dir, 'data', 'admin-credentials.json'), JSON.stringify(creds));
    const byDefault = await runCaptured(['--url', server.url, 'models', 'list', '--json'], { cwd: dir });
    assert.equal(byDefault.code, 0, byDefault.stderr);
    assert.equal((JSON.parse(byDefault.stdout) as Array<{ id: string }>)[0]?.id, 'text-encoder');

    await writeFile(path.join(tmp, 'other.json'), JSON.stringify(creds));
    const explicit = await runCaptured(['--url', server.url, '--credentials', 'other.json', 'token'], { cwd: tmp });
    assert.equal(explicit.code, 0, explicit.stderr);
  });

  test('no credentials at all is an error that says what to pass', async () => {
    const res = await runCaptured(['--url', server.url, 'models', 'list'], { cwd: tmp });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /^error: no credentials: .*admin-credentials\.json does not exist; pass --client-id and --client-secret.* \(MODELD_CLI_ERR_NO_CREDENTIALS\)\n$/);
    assert.equal(res.stdout, '');
  });

  test('server errors print `error: <message> (<code>)` and exit 1', async () => {
    const res = await run(['models', 'get', 'nope']);
    assert.equal(res.code, 1);
    assert.equal(res.stderr, 'error: model nope not found (MODELD_ERR_MODEL_NOT_FOUND)\n');
    const bad = await runCaptured(['--url', server.url, '--client-id', server.clientId, '--client-secret', 'wrong', 'token']);
    assert.equal(bad.stderr, 'error: client authentication failed (invalid_client)\n');
  });

  test('a refused connection names the URL, what chose it, and --url / MODELD_URL', async () => {
    const port = await freePort();
    const res = await runCaptured(['--url', `http://127.0.0.1:${port}`, '--client-id', 'a', '--client-secret', 'b', 'deployments', 'list']);
    assert.equal(res.code, 1);
    assert.match(
      res.stderr,
      new RegExp(`^error: no modeld server answers at http://127\\.0\\.0\\.1:${port} \\(--url\\); start one with \`modeld serve\`, or point the CLI at the one that runs with --url URL or MODELD_URL .*\\(MODELD_CLIENT_ERR_CONNECTION_REFUSED\\)\\n$`),
    );
    const fromPort = await runCaptured(['--client-id', 'a', '--client-secret', 'b', 'deployments', 'list'], { env: { MODELD_PORT: String(port) } });
    assert.equal(fromPort.code, 1);
    assert.match(fromPort.stderr, new RegExp(`^error: no modeld server answers at http://127\\.0\\.0\\.1:${port} \\(MODELD_PORT\\);.*--url URL or MODELD_URL`));
  });

  test('the server is found through the variables `modeld serve` reads: MODELD_URL, else MODELD_HOST and MODELD_PORT', async () => {
    const { port } = new URL(server.url);
    const creds = { MODELD_CLIENT_ID: server.clientId, MODELD_CLIENT_SECRET: server.clientSecret };
    const byPort = await runCaptured(['token'], { env: { ...creds, MODELD_PORT: port } });
    assert.equal(byPort.code, 0, byPort.stderr);
    // A server listening on every interface is reached on loopback.
    const byHostAndPort = await runCaptured(['token'], { env: { ...creds, MODELD_HOST: '0.0.0.0', MODELD_PORT: port } });
    assert.equal(byHostAndPort.code, 0, byHostAndPort.stderr);
    // MODELD_URL wins over MODELD_HOST/MODELD_PORT, and --url over MODELD_URL.
    const closed = await freePort();
    const byUrl = await runCaptured(['token'], { env: { ...creds, MODELD_URL: server.url, MODELD_PORT: String(closed) } });
    assert.equal(byUrl.code, 0, byUrl.stderr);
    const flagWins = await runCaptured(['--url', server.url, 'token'], { env: { ...creds, MODELD_URL: `http://127.0.0.1:${closed}` } });
    assert.equal(flagWins.code, 0, flagWins.stderr);
    const badPort = await runCaptured(['token'], { env: { ...creds, MODELD_PORT: 'eighty' } });
    assert.equal(badPort.code, 1);
    assert.equal(badPort.stderr, 'error: MODELD_PORT "eighty": must be a port number (1-65535) (MODELD_CLI_ERR_USAGE)\n');
    const badUrl = await runCaptured(['token'], { env: { ...creds, MODELD_URL: 'localhost:8080' } });
    assert.equal(badUrl.code, 1);
    assert.match(badUrl.stderr, /^error: MODELD_URL "localhost:8080": must be an http:\/\/ or https:\/\/ URL \(MODELD_CLI_ERR_USAGE\)\n$/);
  });

  test('the credentials file follows MODELD_CREDENTIALS, else MODELD_DATA_DIR, as the server writes it', async () => {
    const creds = { clientId: server.clientId, clientSecret: server.clientSecret, customerId: server.customerId };
    const dataDir = path.join(tmp, 'elsewhere-data');
    await mkdir(dataDir, { recursive: true });
    await writeFile(path.join(dataDir, 'admin-credentials.json'), JSON.stringify(creds));
    const byDataDir = await runCaptured(['--url', server.url, 'token'], { cwd: tmp, env: { MODELD_DATA_DIR: dataDir } });
    assert.equal(byDataDir.code, 0, byDataDir.stderr);
    await writeFile(path.join(tmp, 'named.json'), JSON.stringify(creds));
    const named = await runCaptured(['--url', server.url, 'token'], { cwd: '/', env: { MODELD_CREDENTIALS: path.join(tmp, 'named.json') } });
    assert.equal(named.code, 0, named.stderr);
    const missing = await runCaptured(['--url', server.url, 'token'], { cwd: tmp, env: { MODELD_DATA_DIR: path.join(tmp, 'no-such-dir') } });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: no credentials: .*no-such-dir\/admin-credentials\.json does not exist;.*MODELD_CREDENTIALS/);
  });

  test('bad option values are refused before any request', async () => {
    const before = server.issued.length;
    const res = await run(['deploy', 'custom-model-1', '--config', '[1]']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /option '--config <json>' argument '\[1\]' is invalid\. must be a JSON object/);
    const min = await run(['deploy', 'custom-model-1', '--min', '0']);
    assert.equal(min.code, 1);
    assert.match(min.stderr, /must be an integer >= 1/);
    assert.equal(server.issued.length, before);
  });

  test('models list is a table; --json is the array', async () => {
    const table = await run(['models', 'list']);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID\s+NAME\s+CATEGORY\s+TYPE\s+STATE\s+DIM\s+DEPLOYMENTS$/);
    assert.match(lines[1]!, /^text-encoder\s+text-encoder\s+pre-trained \(shared\)\s+text-encoder\s+AVAILABLE\s+4\s+0$/);
  });
});

describe('deploy --wait', () => {
  test('draws one line per change off a terminal, and prints the result on stdout', async () => {
    server.nextDeploymentSteps = [
      { state: 'DEPLOYING', ready: 0, desired: 2 },
      { state: 'DEPLOYING', ready: 1, desired: 2 },
      { state: 'DEPLOYING', ready: 1, desired: 2 },
      { state: 'DEPLOYED', ready: 2, desired: 2 },
    ];
    const res = await run(['deploy', 'custom-model-1', '--min', '2', '--max', '3', '--wait']);
    assert.equal(res.code, 0, res.stderr);
    const progress = res.stderr.split('\n').filter((l) => /^DEPLOY/.test(l));
    assert.deepEqual(progress, [
      'DEPLOYING  ready 0/2 replicas  [--------------------]',
      'DEPLOYING  ready 1/2 replicas  [##########----------]',
      'DEPLOYED  ready 2/2 replicas  [####################]',
    ]);
    assert.match(res.stdout, /^deployment [0-9a-f-]{36} DEPLOYED: 2\/2 replicas ready\n$/);
  });

  test('redraws a single line on a terminal', async () => {
    server.nextDeploymentSteps = [
      { state: 'DEPLOYING', ready: 0, desired: 1 },
      { state: 'DEPLOYED', ready: 1, desired: 1 },
    ];
    const res = await run(['deploy', 'custom-model-1', '--wait', '--json'], { stderrTTY: true });
    assert.equal(res.code, 0, res.stderr);
    const redraws = res.stderr.split('\r\x1b[2K').slice(1);
    assert.equal(redraws.length, 2);
    assert.match(redraws[0]!, /^DEPLOYING  ready 0\/1 replicas  \[-+\]  \ds$/);
    assert.match(redraws[1]!, /^DEPLOYED  ready 1\/1 replicas  \[#+\]  \ds\n$/);
    assert.equal((JSON.parse(res.stdout) as Deployment).state, 'DEPLOYED');
  });

  test('DEPLOY_FAILED exits 1 with the reason and message', async () => {
    server.nextDeploymentSteps = [
      { state: 'DEPLOYING', ready: 0, desired: 1 },
      { state: 'DEPLOY_FAILED', ready: 0, desired: 1, failure: { reason: 'ModelLoadFailed', message: 'model.onnx: checksum mismatch' } },
    ];
    const res = await run(['deploy', 'custom-model-1', '--wait']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /DEPLOY_FAILED  ready 0\/1 replicas  \[-+\]  ModelLoadFailed: model\.onnx: checksum mismatch\n/);
    assert.match(res.stderr, /error: deployment [0-9a-f-]{36} failed: ModelLoadFailed: model\.onnx: checksum mismatch \(MODELD_CLIENT_ERR_DEPLOY_FAILED\)\n$/);
    assert.equal(res.stdout, '');
  });

  test('Ctrl-C stops waiting, exits 130 and leaves the deployment in place', async () => {
    server.nextDeploymentSteps = [{ state: 'DEPLOYING', ready: 0, desired: 1 }];
    const started = Date.now();
    const res = await run(['deploy', 'custom-model-1', '--wait'], {
      onStderr: (text, stop) => {
        if (text.includes('DEPLOYING  ready 0/1')) stop();
      },
    });
    assert.equal(res.code, 130);
    const id = /deployment ([0-9a-f-]{36}) created/.exec(res.stderr)?.[1];
    assert.ok(id, res.stderr);
    assert.match(res.stderr, new RegExp(`stopped waiting; deployment ${id} is DEPLOYING`));
    assert.ok(Date.now() - started < 5000);
    const get = await run(['deployments', 'get', id]);
    assert.equal(get.code, 0, get.stderr);
    assert.equal((JSON.parse(get.stdout) as Deployment).state, 'DEPLOYING');
  });
});

describe('deployments', () => {
  test('list, scale, events, delete --wait', async () => {
    const created = await run(['deploy', 'custom-model-1', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const id = (JSON.parse(created.stdout) as Deployment).id;

    const list = await run(['deployments', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID\s+MODEL\s+REGION\s+STATE\s+READY\s+REPLICAS\s+DEPLOYED\n/);
    assert.match(list.stdout, new RegExp(`${id}\\s+custom-model-1\\s+local\\s+DEPLOYED\\s+1/1\\s+1\\.\\.1\\s+\\d{4}-`));

    const scaled = await run(['deployments', 'scale', id, '--max', '3']);
    assert.equal(scaled.code, 0, scaled.stderr);
    assert.match(scaled.stdout, new RegExp(`deployment ${id} now 1\\.\\.3 replicas`));
    const noRange = await run(['deployments', 'scale', id]);
    assert.equal(noRange.code, 1);
    assert.match(noRange.stderr, /give --min, --max or both \(MODELD_CLI_ERR_USAGE\)/);

    const events = await run(['deployments', 'events', id]);
    assert.equal(events.code, 0, events.stderr);
    const rows = events.stdout.trimEnd().split('\n');
    assert.match(rows[0]!, /^TIME\s+TYPE\s+REASON\s+MESSAGE$/);
    assert.match(rows[1]!, /Normal\s+Created\s+deploy model custom-model-1/);
    assert.match(rows[2]!, /Normal\s+SpecChanged\s+spec changed: maxReplicas/);
    const after = await run(['deployments', 'events', id, '--json', '--after', String(1e9)]);
    assert.deepEqual(JSON.parse(after.stdout), []);

    const deleted = await run(['deployments', 'delete', id, '--wait']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stderr, /DELETING  1 replica left\nDELETING  0 replicas left\n/);
    assert.equal(deleted.stdout, `deployment ${id} deleted\n`);
    const gone = await run(['deployments', 'get', id]);
    assert.equal(gone.stderr, `error: deployment ${id} not found (MODELD_ERR_DEPLOYMENT_NOT_FOUND)\n`);
  });

  test('events --follow prints new events as they happen and ends on Ctrl-C', async () => {
    const created = await run(['deploy', 'custom-model-1', '--json']);
    const id = (JSON.parse(created.stdout) as Deployment).id;
    let added = false;
    const res = await run(['deployments', 'events', id, '--follow', '--json'], {
      onStdout: (text, stop) => {
        if (!added && text.includes('"Created"')) {
          added = true;
          server.addEvent(id, 'ReplicaReady', 'replica 1 ready');
        }
        if (text.includes('"ReplicaReady"')) stop();
      },
    });
    assert.equal(res.code, 0, res.stderr);
    const reasons = res.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { reason: string }).reason);
    assert.deepEqual(reasons, ['Created', 'ReplicaReady']);
  });
});

describe('embed and admin', () => {
  test('embed prints JSON lines when piped, a summary per text on a terminal', async () => {
    const piped = await run(['embed', 'text-encoder', 'hello world', 'hi', '--dim', '2']);
    assert.equal(piped.code, 0, piped.stderr);
    const objects = piped.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { text: string; vector: number[]; tokensUsed: { inputTokens: number } });
    assert.deepEqual(objects.map((o) => o.text), ['hello world', 'hi']);
    assert.ok(objects.every((o) => o.vector.length === 2));

    const tty = await run(['embed', 'text-encoder', 'hello world'], { stdoutTTY: true });
    assert.match(tty.stdout, /^"hello world"  2 tokens  4-d  \[-?\d\.\d{4}, -?\d\.\d{4}, -?\d\.\d{4}, -?\d\.\d{4}\]\n$/);

    const tooLarge = await run(['embed', 'text-encoder', 'x', '--dim', '9']);
    assert.equal(tooLarge.code, 1);
    assert.match(tooLarge.stderr, /greater than the model's vector size.*\(MODELD_ERR_DIM_REDUCTION_TOO_LARGE\)/);
  });

  test('more than 32 texts go in several requests, answers in order', async () => {
    const texts = Array.from({ length: 40 }, (_, i) => `text number ${i}`);
    const res = await run(['embed', 'text-encoder', ...texts]);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(
      res.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { text: string }).text),
      texts,
    );
  });

  test('admin creates customers and clients', async () => {
    const customer = await run(['admin', 'customers', 'create', 'acme', '--json']);
    assert.equal(customer.code, 0, customer.stderr);
    const c = JSON.parse(customer.stdout) as { id: string; name: string };
    assert.equal(c.name, 'acme');
    const client = await run(['admin', 'clients', 'create', c.id, '--scopes', 'machinelearning.model,machinelearning.predict']);
    assert.equal(client.code, 0, client.stderr);
    assert.match(client.stdout, /client secret:  generated-secret\n/);
    assert.match(client.stdout, /scopes:         machinelearning\.model, machinelearning\.predict\n/);
    assert.match(client.stderr, /store the secret now/);
  });
});
