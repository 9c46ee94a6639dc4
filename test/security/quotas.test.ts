import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Value } from 'typebox/value';
import { defaultConfig } from '../../src/config/index.js';
import { ErrorBodySchema } from '../../src/api/schemas.js';
import { SYSTEM_CUSTOMER_ID } from '../../src/catalog/system-deployments.js';
import { Scopes, isoAt, newModelRecord } from '../../src/domain/index.js';
import { runCaptured } from '../../src/cli/test-harness.js';
import { tinyConfig, writeTinyDataset } from '../fixtures/training-jobs-data.js';
import { seedDeployment, seedModel, snapshot, startApi, type ApiHarness, type Tenant } from '../integration/api-harness.js';

/**
 * Finding 4 of issue 10: one customer must not be able to take what all share. Each customer has
 * quotas (deployments, replicas, models, training jobs, uploads); over one the API answers 403
 * MODELD_ERR_QUOTA_EXCEEDED naming the quota and its value, and nothing is half-created. These
 * are the attacks as a customer holding a valid token would try them.
 */

const QUOTAS = { deployments: 3, replicas: 6, models: 4, trainingJobs: 1, uploadFiles: 3, uploadBytes: 1000 };

let h: ApiHarness;
let alice: Tenant;
let bob: Tenant;
let auth: string;
let bobAuth: string;

/** The API on a real socket too (uploads streamed, the typed client, the CLI). */
let origin = '';

before(async () => {
  h = await startApi({ config: { quotas: QUOTAS }, training: {} });
  alice = await h.tenant();
  bob = await h.tenant();
  auth = await alice.auth();
  bobAuth = await bob.auth();
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  origin = `http://127.0.0.1:${(h.app.server.address() as { port: number }).port}`;
});
after(() => h.close());

const base = (c: Tenant) => `/customers/${c.customerId}/ai`;

async function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT', url: string, payload?: unknown, authorization = auth) {
  const res = await h.app.inject({ method, url, headers: { authorization }, ...(payload !== undefined && { payload: payload as object }) });
  return { status: res.statusCode, body: res.body === '' ? undefined : (JSON.parse(res.body) as any) };
}

/** Asserts a 403 MODELD_ERR_QUOTA_EXCEEDED in the documented shape, naming `quota` with its limit. */
function assertQuota(res: { status: number; body: any }, quota: string, limit: number, used: number): void {
  assert.equal(res.status, 403, JSON.stringify(res.body));
  const body = res.body as any;
  assert.ok(Value.Check(ErrorBodySchema, body), JSON.stringify(body));
  assert.equal(body.code, 'MODELD_ERR_QUOTA_EXCEEDED');
  assert.match(body.message, new RegExp(`quota ${quota}: ${limit} per customer .*\\(${used} in use`));
  assert.equal(body.details?.quota, quota);
  assert.equal(body.details?.limit, limit);
  assert.equal(body.details?.used, used);
}

describe('deployments and replicas', () => {
  test('D2 past the deployments quota is refused and writes nothing; another customer is not affected', async () => {
    const c = await h.tenant();
    const a = await c.auth();
    const model = await seedModel(h.store, c.customerId);
    for (let i = 0; i < QUOTAS.deployments; i++) {
      assert.equal((await call('POST', `${base(c)}/deployments`, { modelId: model.id, region: 'local' }, a)).status, 200);
    }
    const before = await snapshot(h.store, c.customerId);
    const res = await call('POST', `${base(c)}/deployments`, { modelId: model.id, region: 'local' }, a);
    assertQuota(res, 'deployments', 3, 3);
    assert.match(res.body.message, /quota deployments: 3 per customer reached \(3 in use\)/);
    assert.equal(await snapshot(h.store, c.customerId), before, 'nothing half-created');
    // Bob has his own quota.
    const bobModel = await seedModel(h.store, bob.customerId);
    const bobRes = await call('POST', `${base(bob)}/deployments`, { modelId: bobModel.id, region: 'local' }, bobAuth);
    assert.equal(bobRes.status, 200);
    await call('DELETE', `${base(bob)}/deployments/${bobRes.body.id}`, undefined, bobAuth);
    await h.store.deleteDeployment(bobRes.body.id);
  });

  test('a deployment frees its quota once deleted: counted while its replicas drain, free once the record is removed', async () => {
    const c = await h.tenant();
    const a = await c.auth();
    const model = await seedModel(h.store, c.customerId);
    const ids: string[] = [];
    for (let i = 0; i < QUOTAS.deployments; i++) ids.push((await call('POST', `${base(c)}/deployments`, { modelId: model.id, region: 'local' }, a)).body.id);
    assert.equal((await call('DELETE', `${base(c)}/deployments/${ids[0]}`, undefined, a)).status, 200);
    assertQuota(await call('POST', `${base(c)}/deployments`, { modelId: model.id, region: 'local' }, a), 'deployments', 3, 3);
    // What the controller does when the replicas are gone.
    await h.store.deleteDeployment(ids[0]!);
    assert.equal((await call('POST', `${base(c)}/deployments`, { modelId: model.id, region: 'local' }, a)).status, 200);
  });

  test('the replicas quota bounds the sum of maxReplicas: D2 and a PATCH that raises it are refused, lowering is not', async () => {
    const c = await h.tenant();
    const a = await c.auth();
    const model = await seedModel(h.store, c.customerId);
    const first = await call('POST', `${base(c)}/deployments`, { modelId: model.id, region: 'local', maxReplicas: 4 }, a);
    assert.equal(first.status, 200);
    const res = await call('POST', `${base(c)}/deployments`, { modelId: model.id, region: 'local', maxReplicas: 3 }, a);
    assertQuota(res, 'replicas', 6, 4);
    assert.equal(res.body.details.requested, 3);
    assert.match(res.body.message, /this request needs 3/);
    const second = await call('POST', `${base(c)}/deployments`, { modelId: model.id, region: 'local', maxReplicas: 2 }, a);
    assert.equal(second.status, 200);
    const before = await h.store.getDeploymentById(first.body.id);
    assertQuota(await call('PATCH', `${base(c)}/deployments/${first.body.id}`, { maxReplicas: 5 }, a), 'replicas', 6, 6);
    assert.deepEqual(await h.store.getDeploymentById(first.body.id), before, 'a refused PATCH changes nothing (generation included)');
    assert.equal((await call('PATCH', `${base(c)}/deployments/${first.body.id}`, { maxReplicas: 2 }, a)).status, 200);
    assert.equal((await call('PATCH', `${base(c)}/deployments/${second.body.id}`, { maxReplicas: 4 }, a)).status, 200);
    assert.equal((await h.store.quotaUsage(c.customerId)).replicas, 6);
  });

  test('concurrent D2 requests never pass the quota together', async () => {
    const c = await h.tenant();
    const a = await c.auth();
    const model = await seedModel(h.store, c.customerId);
    const results = await Promise.all(
      Array.from({ length: 12 }, () => call('POST', `${base(c)}/deployments`, { modelId: model.id, region: 'local', maxReplicas: 1 }, a)),
    );
    assert.equal(results.filter((r) => r.status === 200).length, QUOTAS.deployments);
    for (const r of results.filter((x) => x.status !== 200)) assert.equal(r.body.code, 'MODELD_ERR_QUOTA_EXCEEDED');
    assert.equal((await h.store.listDeployments(c.customerId)).length, QUOTAS.deployments);
  });

  test('pre-trained system deployments count against no customer', async () => {
    const c = await h.tenant();
    const now = isoAt(Date.now());
    const system = newModelRecord({ id: randomUUID(), customerId: SYSTEM_CUSTOMER_ID, name: 'text-encoder', modelType: 'text-encoder', state: 'AVAILABLE', createdBy: 'system', at: now });
    await h.store.createModel(system);
    await seedDeployment(h.store, system, { maxReplicas: 12 });
    const report = await call('GET', `${base(c)}/quotas`, undefined, await c.auth());
    assert.deepEqual(report.body.deployments, { limit: 3, used: 0 });
    assert.deepEqual(report.body.replicas, { limit: 6, used: 0 });
  });
});

describe('models and training jobs', () => {
  test('M2 import past the models quota is refused before anything is copied', async () => {
    const c = await h.tenant();
    for (let i = 0; i < QUOTAS.models; i++) await seedModel(h.store, c.customerId);
    const before = await snapshot(h.store, c.customerId);
    // The harness's artifact port fails any import: a 403 (not a 500) shows nothing was imported.
    const res = await call('POST', `${base(c)}/models`, { name: 'one too many', modelType: 'imported', artifact: { uri: 'file:///tmp/whatever' } }, await c.auth());
    assertQuota(res, 'models', 4, 4);
    assert.equal(await snapshot(h.store, c.customerId), before);
  });

  test('M2 training past the training jobs quota leaves no model and no job; past the models quota too', async () => {
    const c = await h.tenant();
    const a = await c.auth();
    const data = await writeTinyDataset(path.join(h.tmp.dir, 'uploads', c.customerId));
    const body = { name: 'tiny', modelType: 'ecommerce-rnn', region: 'local', trainingData: { catalog: data.catalogUri, signals: data.signalsUri }, config: tinyConfig() };
    // A job already queued (the manager was started before it, so it stays queued).
    const queued = newModelRecord({ id: randomUUID(), customerId: c.customerId, name: 'waiting', modelType: 'ecommerce-rnn', state: 'TRAINING', createdBy: 'seed', at: isoAt(Date.now()) });
    const now = isoAt(Date.now());
    await h.store.createModelWithJob(queued, { id: randomUUID(), modelId: queued.id, customerId: c.customerId, state: 'QUEUED', progress: null, checkpoint: null, attempts: 0, error: null, createdAt: now, updatedAt: now });
    const jobsBefore = (await h.store.listTrainingJobs(['QUEUED', 'RUNNING', 'FAILED', 'SUCCEEDED', 'CANCELLED'])).length;
    const before = await snapshot(h.store, c.customerId);
    assertQuota(await call('POST', `${base(c)}/models`, body, a), 'trainingJobs', 1, 1);
    assert.equal(await snapshot(h.store, c.customerId), before);
    assert.equal((await h.store.listTrainingJobs(['QUEUED', 'RUNNING', 'FAILED', 'SUCCEEDED', 'CANCELLED'])).length, jobsBefore);
    for (let i = 0; i < QUOTAS.models - 1; i++) await seedModel(h.store, c.customerId);
    await h.store.updateTrainingJob((await h.store.getTrainingJobByModel(queued.id))!.id, { state: 'CANCELLED' }, now);
    assertQuota(await call('POST', `${base(c)}/models`, body, a), 'models', 4, 4);
    assert.equal((await h.store.listModels(c.customerId)).length, 4);
  });
});

describe('uploads', () => {
  /** PUT through a real socket: a Buffer is sent with Content-Length, chunks chunked (no length announced). */
  const put = async (c: Tenant, name: string, body: Buffer | Buffer[], authorization: string) => {
    const chunks = Array.isArray(body) ? [...body] : null;
    const res = await fetch(`${origin}${base(c)}/uploads/${name}`, {
      method: 'PUT',
      headers: { authorization, 'content-type': 'application/octet-stream' },
      body: chunks
        ? new ReadableStream<Uint8Array>({
            async pull(controller) {
              // One chunk per turn of the event loop, so that parallel uploads interleave.
              await new Promise((r) => setImmediate(r));
              const next = chunks.shift();
              if (next) controller.enqueue(next);
              else controller.close();
            },
          })
        : body,
      duplex: 'half',
    } as RequestInit);
    return { status: res.status, body: (await res.json()) as any };
  };
  const folder = (c: Tenant) => path.join(h.tmp.dir, 'uploads', c.customerId);

  test('the file count quota: a new file past it is refused, replacing one is not', async () => {
    const c = await h.tenant();
    const a = await c.auth();
    for (const name of ['a.csv', 'b.csv', 'c.csv']) assert.equal((await put(c, name, Buffer.from('x,y\n'), a)).status, 200);
    assertQuota(await put(c, 'd.csv', Buffer.from('x,y\n'), a), 'uploadFiles', 3, 3);
    assert.equal((await put(c, 'a.csv', Buffer.from('x,y\n1,2\n'), a)).status, 200);
    assert.deepEqual((await readdir(folder(c))).filter((n) => !n.startsWith('.')).sort(), ['a.csv', 'b.csv', 'c.csv']);
  });

  test('the bytes quota: refused from Content-Length before reading, and while streaming a body of unknown length; no file left behind', async () => {
    const c = await h.tenant();
    const a = await c.auth();
    assert.equal((await put(c, 'big.bin', Buffer.alloc(600, 1), a)).status, 200);
    assertQuota(await put(c, 'more.bin', Buffer.alloc(500, 2), a), 'uploadBytes', 1000, 600);
    // Chunked, no Content-Length: refused once the bytes pass the quota.
    const streamed = await put(c, 'streamed.bin', [Buffer.alloc(300, 3), Buffer.alloc(300, 3)], a);
    assertQuota(streamed, 'uploadBytes', 1000, 600);
    assert.deepEqual((await readdir(folder(c))).filter((n) => !n.includes('big.bin')), [], 'no temp or metadata file left');
    // Replacing the big file with a smaller one fits.
    assert.equal((await put(c, 'big.bin', Buffer.alloc(900, 4), a)).status, 200);
  });

  test('concurrent uploads never pass the bytes quota together', async () => {
    const c = await h.tenant();
    const a = await c.auth();
    const results = await Promise.all(['p.bin', 'q.bin', 'r.bin'].map((name) => put(c, name, [Buffer.alloc(200, 1), Buffer.alloc(200, 1)], a)));
    assert.equal(results.filter((r) => r.status === 200).length, 2);
    for (const r of results.filter((x) => x.status !== 200)) assert.equal(r.body.code, 'MODELD_ERR_QUOTA_EXCEEDED');
    const usage = (await call('GET', `${base(c)}/quotas`, undefined, a)).body;
    assert.deepEqual(usage.uploadBytes, { limit: 1000, used: 800 });
  });

  test('files in nested folders of the upload folder count too', async () => {
    const c = await h.tenant();
    const a = await c.auth();
    await mkdir(path.join(folder(c), 'my-model', 'onnx'), { recursive: true });
    await writeFile(path.join(folder(c), 'my-model', 'config.json'), Buffer.alloc(100));
    await writeFile(path.join(folder(c), 'my-model', 'onnx', 'model.onnx'), Buffer.alloc(800));
    const usage = (await call('GET', `${base(c)}/quotas`, undefined, a)).body;
    assert.deepEqual(usage.uploadFiles, { limit: 3, used: 2 });
    assert.deepEqual(usage.uploadBytes, { limit: 1000, used: 900 });
    assertQuota(await put(c, 'one.bin', Buffer.alloc(200), a), 'uploadBytes', 1000, 900);
  });
});

describe('reading and setting quotas', () => {
  test('a customer reads its limits and usage', async () => {
    const c = await h.tenant();
    const a = await c.auth();
    const model = await seedModel(h.store, c.customerId);
    await call('POST', `${base(c)}/deployments`, { modelId: model.id, region: 'local', maxReplicas: 2 }, a);
    const res = await call('GET', `${base(c)}/quotas`, undefined, a);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      deployments: { limit: 3, used: 1 },
      replicas: { limit: 6, used: 2 },
      models: { limit: 4, used: 1 },
      trainingJobs: { limit: 1, used: 0 },
      uploadFiles: { limit: 3, used: 0 },
      uploadBytes: { limit: 1000, used: 0 },
    });
    assert.equal((await call('GET', `${base(c)}/quotas`, undefined, bobAuth)).status, 403, "another customer's quotas are not readable");
  });

  test('an operator overrides one customer’s quotas; the override applies to the next request and can be removed', async () => {
    const c = await h.tenant();
    const a = await c.auth();
    const admin = await (await h.tenant()).auth([Scopes.ADMIN]);
    const url = `/admin/customers/${c.customerId}/quotas`;
    const model = await seedModel(h.store, c.customerId);
    const set = await call('PUT', url, { deployments: 1, uploadBytes: 10_000_000_000 }, admin);
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.deepEqual(set.body.overrides, { deployments: 1, uploadBytes: 10_000_000_000 });
    assert.deepEqual(set.body.quotas.deployments, { limit: 1, used: 0 });
    assert.equal(set.body.quotas.replicas.limit, 6, 'not overridden: the config default');
    assert.equal((await call('POST', `${base(c)}/deployments`, { modelId: model.id, region: 'local' }, a)).status, 200);
    assertQuota(await call('POST', `${base(c)}/deployments`, { modelId: model.id, region: 'local' }, a), 'deployments', 1, 1);
    assert.deepEqual((await call('GET', url, undefined, admin)).body.overrides, { deployments: 1, uploadBytes: 10_000_000_000 });
    const cleared = await call('PUT', url, {}, admin);
    assert.deepEqual(cleared.body.overrides, {});
    assert.equal((await call('POST', `${base(c)}/deployments`, { modelId: model.id, region: 'local' }, a)).status, 200);
    // Refused: not an admin, a bad value, an unknown customer.
    assert.equal((await call('PUT', url, { deployments: 100 }, a)).body.code, 'MODELD_ERR_FORBIDDEN_SCOPE');
    const bad = await call('PUT', url, { deployments: -1 }, admin);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.details.field, 'body.deployments');
    assert.equal((await call('PUT', url, { nope: 1 }, admin)).status, 400);
    assert.equal((await call('GET', `/admin/customers/${randomUUID()}/quotas`, undefined, admin)).body.code, 'MODELD_ERR_CUSTOMER_NOT_FOUND');
  });

  test('the defaults are documented ones', () => {
    assert.deepEqual(defaultConfig().quotas, { deployments: 10, replicas: 24, models: 50, trainingJobs: 4, uploadFiles: 200, uploadBytes: 4 * 1024 ** 3 });
  });
});

describe('the typed client and the CLI', () => {
  test('modeld quotas shows the usage; modeld admin quotas set / show change and read the overrides', async () => {
    const c = await h.tenant();
    const admin = await (await h.tenant()).auth([Scopes.ADMIN]);
    // Real API clients (hashed secrets) to get tokens the way the CLI does.
    const created = async (scopes: string[]) => {
      const res = await call('POST', `/admin/customers/${c.customerId}/clients`, { scopes }, admin);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return ['--url', origin, '--client-id', res.body.clientId as string, '--client-secret', res.body.clientSecret as string];
    };
    const user = await created([Scopes.MODEL]);
    const operator = await created([Scopes.MODEL, Scopes.ADMIN]);
    await seedModel(h.store, c.customerId);

    const shown = await runCaptured([...user, 'quotas']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^QUOTA\s+USED\s+LIMIT\n/);
    assert.match(shown.stdout, /\nmodels\s+1\s+4\n/);
    assert.match(shown.stdout, /\nuploadBytes\s+0 B\s+1\.00 KB\n/);

    const set = await runCaptured([...operator, '--json', 'admin', 'quotas', 'set', c.customerId, '--models', '1', '--training-jobs', '0']);
    assert.equal(set.code, 0, set.stderr);
    assert.deepEqual(JSON.parse(set.stdout).overrides, { models: 1, trainingJobs: 0 });
    const json = JSON.parse((await runCaptured([...user, '--json', 'quotas'])).stdout);
    assert.deepEqual(json.models, { limit: 1, used: 1 });
    const table = await runCaptured([...operator, 'admin', 'quotas', 'show', c.customerId]);
    assert.match(table.stdout, /\nmodels\s+1\s+1\s+override\n/);
    assert.match(table.stdout, /\ndeployments\s+0\s+3\s+default\n/);

    // Over quota, the CLI prints the server's message and code.
    const over = await runCaptured([...user, 'deploy', (await h.store.listModels(c.customerId))[0]!.id, '--region', 'local', '--max', '7']);
    assert.equal(over.code, 1);
    assert.match(over.stderr, /quota replicas: 6 per customer would be exceeded \(0 in use; this request needs 7\).*MODELD_ERR_QUOTA_EXCEEDED/);
  });
});
