import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Value } from 'typebox/value';
import { DeploymentSchema, ErrorBodySchema, ModelSchema } from '../../src/api/schemas.js';
import { ModelStates, Scopes } from '../../src/domain/index.js';
import { seedDeployment, seedModel, snapshot, startApi, type ApiHarness, type Tenant } from './api-harness.js';

/** M1, M3, M4, DELETE and the refusals of M2, through app.inject() on a real store with real tokens. */

let h: ApiHarness;
let alice: Tenant;
let bob: Tenant;
let auth: string;
let importRoot: string;

before(async () => {
  h = await startApi();
  alice = await h.tenant();
  bob = await h.tenant();
  auth = await alice.auth();
  importRoot = path.join(h.tmp.dir, 'imports');
  await mkdir(path.join(importRoot, 'folder'), { recursive: true });
  await writeFile(path.join(importRoot, 'file.txt'), 'not a folder');
});
after(() => h.close());

const base = (customerId: string) => `/customers/${customerId}/ai/models`;

async function call(method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown, authorization = auth) {
  const res = await h.app.inject({ method, url, headers: { authorization }, ...(payload !== undefined && { payload: payload as object }) });
  return { status: res.statusCode, body: res.body === '' ? undefined : (JSON.parse(res.body) as any) };
}

async function refused(req: () => Promise<{ status: number; body: any }>, expected: { status: number; code: string; field?: string; message?: RegExp }): Promise<any> {
  const before = await snapshot(h.store, alice.customerId);
  const { status, body } = await req();
  assert.equal(status, expected.status, JSON.stringify(body));
  assert.ok(Value.Check(ErrorBodySchema, body));
  assert.equal(body.code, expected.code);
  if (expected.field) {
    assert.equal(body.details?.field, expected.field);
    assert.ok(body.message.includes(expected.field), body.message);
  }
  if (expected.message) assert.match(body.message, expected.message);
  assert.equal(await snapshot(h.store, alice.customerId), before, 'a refused request changed the store');
  return body;
}

describe('M1 list and M3 get', () => {
  test('custom models render the fields that apply and only those', async () => {
    const carol = await h.tenant();
    const carolAuth = await carol.auth();
    const imported = await seedModel(h.store, carol.customerId, { name: 'imp', description: 'from disk', vectorSize: 384 });
    const training = await seedModel(h.store, carol.customerId, {
      name: 'tr',
      modelType: 'ecommerce-rnn',
      state: ModelStates.TRAINING,
      vectorSize: null,
      region: 'local',
      trainingData: { catalog: 'file:///data/catalog.parquet', signals: 'file:///data/signals.parquet' },
      config: { dataset_config: 'mlp_ecommerce', trainer_config: 'mlp_ecommerce', unknown_key: [1] },
      trainingStarted: '2026-01-02T03:04:05.000Z',
    });
    const failed = await seedModel(h.store, carol.customerId, {
      name: 'bad',
      modelType: 'general-rnn',
      state: ModelStates.TRAINING_FAILED,
      errorMessage: 'column text is missing',
      vectorSize: null,
      trainingStarted: '2026-01-02T03:04:05.000Z',
      trainingCompleted: '2026-01-02T03:05:05.000Z',
      trainingMetrics: { summary: { best_epoch: 1 } },
    });
    const deployment = await seedDeployment(h.store, imported);

    const list = await call('GET', base(carol.customerId), undefined, carolAuth);
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.map((m: { id: string }) => m.id), [imported.id, training.id, failed.id]);
    for (const m of list.body) assert.ok(Value.Check(ModelSchema, m), JSON.stringify([...Value.Errors(ModelSchema, m)]));

    assert.deepEqual(list.body[0], {
      id: imported.id,
      name: 'imp',
      category: 'CUSTOM',
      modelType: 'imported',
      description: 'from disk',
      vectorSize: 384,
      state: 'AVAILABLE',
      createdBy: 'seed',
      deployments: [{ id: deployment.id, region: 'local', state: 'DEPLOYING', deployedAt: deployment.deployedAt }],
    });
    assert.deepEqual(list.body[1], {
      id: training.id,
      name: 'tr',
      category: 'CUSTOM',
      modelType: 'ecommerce-rnn',
      region: 'local',
      trainingData: training.trainingData,
      config: training.config,
      state: 'TRAINING',
      trainingStarted: '2026-01-02T03:04:05.000Z',
      createdBy: 'seed',
    });
    assert.equal(list.body[2].errorMessage, 'column text is missing');
    assert.equal(list.body[2].trainingMetrics, undefined, 'metrics only on request');

    const withMetrics = await call('GET', `${base(carol.customerId)}/${failed.id}?metrics=true`, undefined, carolAuth);
    assert.deepEqual(withMetrics.body.trainingMetrics, { summary: { best_epoch: 1 } });
    assert.equal(withMetrics.body.trainingCompleted, '2026-01-02T03:05:05.000Z');
    const without = await call('GET', `${base(carol.customerId)}/${failed.id}?metrics=false`, undefined, carolAuth);
    assert.equal(without.body.trainingMetrics, undefined);
    assert.equal((await call('GET', `${base(carol.customerId)}/${failed.id}?metrics=maybe`, undefined, carolAuth)).status, 400);

    const one = await call('GET', `${base(carol.customerId)}/${imported.id}`, undefined, carolAuth);
    assert.deepEqual(one.body, list.body[0]);
  });

  test('an empty customer lists nothing of anyone else', async () => {
    const dave = await h.tenant();
    await seedModel(h.store, alice.customerId);
    const res = await call('GET', base(dave.customerId), undefined, await dave.auth());
    assert.deepEqual(res.body, []);
  });

  test('unknown and other customers’ models are 404 on M3, M4 and DELETE', async () => {
    const bobs = await seedModel(h.store, bob.customerId);
    await seedDeployment(h.store, bobs);
    for (const id of [bobs.id, randomUUID(), 'no-such-model']) {
      for (const [method, suffix] of [['GET', ''], ['GET', '/deployments'], ['DELETE', '']] as const) {
        const res = await call(method, `${base(alice.customerId)}/${id}${suffix}`);
        assert.equal(res.status, 404, `${method} ${id}${suffix}`);
        assert.equal(res.body.code, 'MODELD_ERR_MODEL_NOT_FOUND');
        assert.doesNotMatch(JSON.stringify(res.body), new RegExp(bob.customerId));
      }
    }
    assert.ok(await h.store.getModel(bob.customerId, bobs.id), 'still there');
  });
});

describe('M4 and DELETE', () => {
  test('M4 lists the model’s deployments; DELETE is 409 while any exists, then removes the model', async () => {
    const model = await seedModel(h.store, alice.customerId);
    const other = await seedModel(h.store, alice.customerId);
    const d1 = await seedDeployment(h.store, model);
    const d2 = await seedDeployment(h.store, model, { deletionRequestedAt: new Date().toISOString(), state: 'DELETING' });
    await seedDeployment(h.store, other);

    const listed = await call('GET', `${base(alice.customerId)}/${model.id}/deployments`);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.map((d: { id: string }) => d.id), [d1.id, d2.id]);
    for (const d of listed.body) assert.ok(Value.Check(DeploymentSchema, d));

    const conflict = await refused(() => call('DELETE', `${base(alice.customerId)}/${model.id}`), { status: 409, code: 'MODELD_ERR_MODEL_HAS_DEPLOYMENTS' });
    assert.deepEqual(conflict.details.deploymentIds, [d1.id, d2.id]);

    await h.store.deleteDeployment(d1.id);
    assert.equal((await call('DELETE', `${base(alice.customerId)}/${model.id}`)).status, 409, 'a deployment being deleted still counts');
    await h.store.deleteDeployment(d2.id);
    assert.deepEqual((await call('GET', `${base(alice.customerId)}/${model.id}/deployments`)).body, []);

    const deleted = await call('DELETE', `${base(alice.customerId)}/${model.id}`);
    assert.equal(deleted.status, 200);
    assert.equal(deleted.body.id, model.id);
    assert.equal(deleted.body.state, 'DELETING');
    assert.equal(await h.store.getModel(alice.customerId, model.id), null);
    assert.equal((await call('GET', `${base(alice.customerId)}/${model.id}`)).status, 404);
    assert.equal((await call('DELETE', `${base(alice.customerId)}/${model.id}`)).status, 404);
  });
});

describe('M2 refusals (nothing stored)', () => {
  test('each problem is a 400 naming the field', async (t) => {
    const post = (payload: unknown) => () => call('POST', base(alice.customerId), payload);
    const folder = pathToFileURL(path.join(importRoot, 'folder')).href;

    await t.test('an unknown model type is refused, and the answer lists the accepted ones', async () => {
      const body = await refused(
        post({ name: 'm', modelType: 'something-else', region: 'local', trainingData: { catalog: 'file:///c', signals: 'file:///s' }, config: { dataset_config: 'mlp_ecommerce' } }),
        { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.modelType', message: /one of ecommerce-rnn, general-rnn, imported/ },
      );
      assert.deepEqual(body.details.accepted, ['ecommerce-rnn', 'general-rnn', 'imported']);
    });
    await t.test('a training model type on an app built without the training job layer is a 503', async () => {
      for (const modelType of ['ecommerce-rnn', 'general-rnn']) {
        await refused(
          post({ name: 'm', modelType, region: 'local', trainingData: { catalog: 'file:///c', signals: 'file:///s' }, config: { dataset_config: 'mlp_ecommerce' } }),
          { status: 503, code: 'MODELD_ERR_UNAVAILABLE', field: 'body.modelType', message: /training .* is not enabled/ },
        );
      }
    });
    await t.test('artifact missing', () => refused(post({ name: 'm', modelType: 'imported' }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.artifact' }));
    await t.test('training fields with an import', () =>
      refused(post({ name: 'm', modelType: 'imported', artifact: { uri: folder }, trainingData: { catalog: 'x', signals: 'y' } }), {
        status: 400,
        code: 'MODELD_ERR_VALIDATION',
        field: 'body.trainingData',
      }));
    await t.test('name missing', () => refused(post({ modelType: 'imported', artifact: { uri: folder } }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.name' }));
    await t.test('name empty', () => refused(post({ name: '', modelType: 'imported', artifact: { uri: folder } }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.name' }));
    await t.test('name of the wrong type', () => refused(post({ name: 7, modelType: 'imported', artifact: { uri: folder } }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.name' }));
    await t.test('unknown field', () =>
      refused(post({ name: 'm', modelType: 'imported', artifact: { uri: folder }, vectorSize: 3 }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.vectorSize' }));
    await t.test('unknown field inside artifact', () =>
      refused(post({ name: 'm', modelType: 'imported', artifact: { uri: folder, format: 'onnx' } }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.artifact.format' }));
    await t.test('unknown region', () =>
      refused(post({ name: 'm', modelType: 'imported', region: 'mars', artifact: { uri: folder } }), { status: 400, code: 'MODELD_ERR_UNKNOWN_REGION', field: 'body.region' }));
    await t.test('URI scheme', () =>
      refused(post({ name: 'm', modelType: 'imported', artifact: { uri: 'gs://bucket/model' } }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.artifact.uri', message: /scheme "gs"/ }));
    await t.test('relative path', () =>
      refused(post({ name: 'm', modelType: 'imported', artifact: { uri: 'file:models/x' } }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.artifact.uri', message: /absolute/ }));
    // Where the path leads (missing, a file, outside every allowed place) gets one answer: see test/security/import-confinement.test.ts.
    await t.test('missing directory', () =>
      refused(post({ name: 'm', modelType: 'imported', artifact: { uri: `${folder}-gone` } }), { status: 400, code: 'MODELD_ERR_DATA_PATH_FORBIDDEN', field: 'body.artifact.uri', message: /not a folder you can import from/ }));
    await t.test('a file, not a directory', () =>
      refused(post({ name: 'm', modelType: 'imported', artifact: { uri: pathToFileURL(path.join(importRoot, 'file.txt')).href } }), {
        status: 400,
        code: 'MODELD_ERR_DATA_PATH_FORBIDDEN',
        field: 'body.artifact.uri',
        message: /not a folder you can import from/,
      }));
  });

  test('outside config.importRoots is forbidden', async () => {
    const restricted = await startApi({ config: { importRoots: [path.join(h.tmp.dir, 'imports', 'folder')] } });
    try {
      const t = await restricted.tenant();
      const res = await restricted.app.inject({
        method: 'POST',
        url: base(t.customerId),
        headers: { authorization: await t.auth() },
        payload: { name: 'm', modelType: 'imported', artifact: { uri: pathToFileURL(importRoot).href } },
      });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'MODELD_ERR_DATA_PATH_FORBIDDEN');
      assert.match(res.json().message, /^body\.artifact\.uri: not a folder you can import from/);
      assert.ok(!res.json().message.includes(importRoot), 'the refusal does not repeat the path');
      assert.deepEqual(await restricted.store.listModels(t.customerId), []);
    } finally {
      await restricted.close();
    }
  });

  test('scopes: predict-only token 403, another customer’s path 403, no token 401', async () => {
    const body = { name: 'm', modelType: 'imported', artifact: { uri: 'file:///x' } };
    await refused(async () => call('POST', base(alice.customerId), body, await alice.auth([Scopes.PREDICT])), { status: 403, code: 'MODELD_ERR_FORBIDDEN_SCOPE' });
    await refused(async () => call('POST', base(alice.customerId), body, await bob.auth()), { status: 403, code: 'MODELD_ERR_FORBIDDEN_CUSTOMER' });
    await refused(() => call('GET', base(alice.customerId), undefined, ''), { status: 401, code: 'MODELD_ERR_UNAUTHENTICATED' });
    assert.equal((await call('GET', `${base(alice.customerId)}/x`, undefined, await alice.auth([Scopes.PREDICT]))).status, 403);
  });
});
