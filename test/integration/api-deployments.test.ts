import { defaultConfig } from '../../src/config/index.js';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Value } from 'typebox/value';
import { DeploymentSchema, ErrorBodySchema, EventSchema } from '../../src/api/schemas.js';
import { ModelStates, Scopes } from '../../src/domain/index.js';
import { seedDeployment, seedModel, snapshot, startApi, type ApiHarness, type Tenant } from './api-harness.js';

/** D1-D3 and the deployment extensions through app.inject(), against a real SQLite store and real tokens. */

let h: ApiHarness;
let alice: Tenant;
let bob: Tenant;
let auth: string;

before(async () => {
  h = await startApi({ config: { regions: { local: { runtime: 'process' }, 'us-east': { runtime: 'kubernetes', namespace: 'ml', image: 'modeld:test', artifactBaseUrl: 'http://modeld.ml.svc:8080' } }, limits: { ...limits(), maxReplicas: 4 } } });
  alice = await h.tenant();
  bob = await h.tenant();
  auth = await alice.auth();
});
after(() => h.close());

function limits() {
  return { ...defaultConfig().limits, maxReplicas: 12, bodyLimitBytes: 4096, uploadLimitBytes: 1024 * 1024, maxBatchItems: 32, maxInputTokens: 512 };
}

const base = (customerId: string) => `/customers/${customerId}/ai/deployments`;

async function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, authorization = auth) {
  const res = await h.app.inject({ method, url, headers: { authorization }, ...(payload !== undefined && { payload: payload as object }) });
  return { status: res.statusCode, body: res.body === '' ? undefined : (JSON.parse(res.body) as any) };
}

/** Asserts a refused request: status, code, the field named in message and details, and that the store did not change. */
async function refused(
  req: () => Promise<{ status: number; body: any }>,
  expected: { status: number; code: string; field?: string; message?: RegExp },
): Promise<any> {
  const before = await snapshot(h.store, alice.customerId);
  const { status, body } = await req();
  assert.equal(status, expected.status, JSON.stringify(body));
  assert.ok(Value.Check(ErrorBodySchema, body), `error body shape: ${JSON.stringify(body)}`);
  assert.equal(body.code, expected.code);
  if (expected.field) {
    assert.equal(body.details?.field, expected.field);
    assert.ok(body.message.includes(expected.field), `message names ${expected.field}: ${body.message}`);
  }
  if (expected.message) assert.match(body.message, expected.message);
  assert.equal(await snapshot(h.store, alice.customerId), before, 'a refused request changed the store');
  return body;
}

describe('D2 create', () => {
  test('defaults min=max=1 and config {}, answers DEPLOYING with the documented fields', async () => {
    const model = await seedModel(h.store, alice.customerId);
    const { status, body } = await call('POST', base(alice.customerId), { modelId: model.id, region: 'local' });
    assert.equal(status, 200);
    assert.ok(Value.Check(DeploymentSchema, body), JSON.stringify([...Value.Errors(DeploymentSchema, body)]));
    assert.equal(body.state, 'DEPLOYING');
    assert.equal(body.modelId, model.id);
    assert.equal(body.region, 'local');
    assert.equal(body.minReplicas, 1);
    assert.equal(body.maxReplicas, 1);
    assert.deepEqual(body.config, {});
    assert.equal(body.createdBy, alice.clientId);
    assert.match(body.id, /^[0-9a-f-]{36}$/);
    assert.ok(!Number.isNaN(Date.parse(body.deployedAt)));
    assert.deepEqual(body.status, { replicas: 0, readyReplicas: 0, desiredReplicas: 1, conditions: [], failure: null });
    assert.equal(body.lastUsedAt, null);

    const stored = await h.store.getDeployment(alice.customerId, body.id);
    assert.equal(stored?.state, 'DEPLOYING');
    assert.equal(stored?.generation, 1);
    assert.deepEqual((await call('GET', `${base(alice.customerId)}/${body.id}`)).body, body);
  });

  test('config is stored and echoed verbatim, replicas as given', async () => {
    const model = await seedModel(h.store, alice.customerId);
    const config = { parameter_1: 'a', nested: { list: [1, 'two', null], flag: true }, 'key with spaces': 0.5 };
    const { status, body } = await call('POST', base(alice.customerId), { modelId: model.id, region: 'us-east', minReplicas: 2, maxReplicas: 4, config });
    assert.equal(status, 200);
    assert.deepEqual(body.config, config);
    assert.equal(body.minReplicas, 2);
    assert.equal(body.maxReplicas, 4);
    assert.deepEqual((await h.store.getDeployment(alice.customerId, body.id))?.config, config);
  });

  test('refusals name the field and write nothing', async (t) => {
    const model = await seedModel(h.store, alice.customerId);
    const training = await seedModel(h.store, alice.customerId, { state: ModelStates.TRAINING, vectorSize: null });
    const bobsModel = await seedModel(h.store, bob.customerId);
    const post = (payload: unknown) => () => call('POST', base(alice.customerId), payload);

    await t.test('model missing', () => refused(post({ modelId: randomUUID(), region: 'local' }), { status: 404, code: 'MODELD_ERR_MODEL_NOT_FOUND', field: 'body.modelId' }));
    await t.test('another customer’s model is not found', () =>
      refused(post({ modelId: bobsModel.id, region: 'local' }), { status: 404, code: 'MODELD_ERR_MODEL_NOT_FOUND', field: 'body.modelId' }));
    await t.test('model not AVAILABLE names its state', () =>
      refused(post({ modelId: training.id, region: 'local' }), { status: 400, code: 'MODELD_ERR_MODEL_NOT_AVAILABLE', field: 'body.modelId', message: /TRAINING/ }));
    await t.test('unknown region lists the known ones', async () => {
      const body = await refused(post({ modelId: model.id, region: 'mars' }), { status: 400, code: 'MODELD_ERR_UNKNOWN_REGION', field: 'body.region' });
      assert.deepEqual(body.details.knownRegions, ['local', 'us-east']);
      assert.match(body.message, /local, us-east/);
    });
    await t.test('minReplicas 0', () => refused(post({ modelId: model.id, region: 'local', minReplicas: 0 }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.minReplicas' }));
    await t.test('min > max', () =>
      refused(post({ modelId: model.id, region: 'local', minReplicas: 3, maxReplicas: 2 }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.minReplicas' }));
    await t.test('min > default max', () => refused(post({ modelId: model.id, region: 'local', minReplicas: 2 }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.minReplicas' }));
    await t.test('max above the configured limit names the limit', async () => {
      const body = await refused(post({ modelId: model.id, region: 'local', maxReplicas: 5 }), { status: 400, code: 'MODELD_ERR_REPLICA_LIMIT', field: 'body.maxReplicas' });
      assert.equal(body.details.limit, 4);
      assert.match(body.message, /limit of 4/);
    });
    await t.test('string where an integer belongs (no coercion)', () =>
      refused(post({ modelId: model.id, region: 'local', minReplicas: '1' }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.minReplicas' }));
    await t.test('fractional replicas', () =>
      refused(post({ modelId: model.id, region: 'local', maxReplicas: 1.5 }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.maxReplicas' }));
    await t.test('config must be an object, not an array', () =>
      refused(post({ modelId: model.id, region: 'local', config: [1, 2] }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.config' }));
    await t.test('config must be an object, not a string', () =>
      refused(post({ modelId: model.id, region: 'local', config: 'x=1' }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.config' }));
    await t.test('modelId missing', () => refused(post({ region: 'local' }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.modelId' }));
    await t.test('modelId of the wrong type', () => refused(post({ modelId: 42, region: 'local' }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.modelId' }));
    await t.test('unknown fields are named, all of them', async () => {
      const body = await refused(post({ modelId: model.id, region: 'local', replicas: 2, modelID: 'x' }), { status: 400, code: 'MODELD_ERR_VALIDATION' });
      assert.deepEqual(body.details.fields, ['body.replicas', 'body.modelID']);
      assert.match(body.message, /replicas/);
      assert.match(body.message, /modelID/);
    });
    await t.test('body that is not an object', () => refused(post([{ modelId: model.id }]), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body' }));
    await t.test('no body at all', () => refused(post(undefined), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body' }));
  });

  test('refusals are independent of what else the body holds (each field judged alone)', async () => {
    const model = await seedModel(h.store, alice.customerId);
    // The same bad region is refused the same way whatever valid fields surround it.
    for (const extra of [{}, { minReplicas: 1 }, { maxReplicas: 2, config: { a: 1 } }]) {
      await refused(() => call('POST', base(alice.customerId), { modelId: model.id, region: 'nowhere', ...extra }), {
        status: 400,
        code: 'MODELD_ERR_UNKNOWN_REGION',
        field: 'body.region',
      });
    }
  });
});

describe('D1 list, get, D3 delete', () => {
  test('lists only the customer’s deployments; removed ones disappear', async () => {
    const carol = await h.tenant();
    const model = await seedModel(h.store, carol.customerId);
    const d1 = await seedDeployment(h.store, model);
    const d2 = await seedDeployment(h.store, model);
    await seedDeployment(h.store, await seedModel(h.store, bob.customerId));
    const carolAuth = await carol.auth();
    const listed = await call('GET', base(carol.customerId), undefined, carolAuth);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.map((d: { id: string }) => d.id), [d1.id, d2.id]);
    for (const d of listed.body) assert.ok(Value.Check(DeploymentSchema, d));

    await h.store.deleteDeployment(d1.id);
    assert.deepEqual((await call('GET', base(carol.customerId), undefined, carolAuth)).body.map((d: { id: string }) => d.id), [d2.id]);
  });

  test('DELETE answers DELETING, works while DEPLOYING, is idempotent, and the record keeps showing until removed', async () => {
    const model = await seedModel(h.store, alice.customerId);
    const created = await call('POST', base(alice.customerId), { modelId: model.id, region: 'local' });
    assert.equal(created.body.state, 'DEPLOYING');
    const url = `${base(alice.customerId)}/${created.body.id}`;
    const first = await call('DELETE', url);
    assert.equal(first.status, 200);
    assert.equal(first.body.state, 'DELETING');
    assert.ok(Value.Check(DeploymentSchema, first.body));
    const second = await call('DELETE', url);
    assert.equal(second.status, 200);
    assert.equal(second.body.state, 'DELETING');
    assert.equal((await call('GET', url)).body.state, 'DELETING');
    assert.ok((await call('GET', base(alice.customerId))).body.some((d: { id: string }) => d.id === created.body.id));
    // One DeletionRequested event, however many DELETEs.
    const events = (await call('GET', `${url}/events`)).body as { reason: string }[];
    assert.deepEqual(events.map((e) => e.reason), ['Created', 'DeletionRequested']);

    await h.store.deleteDeployment(created.body.id);
    assert.equal((await call('DELETE', url)).status, 404);
  });

  test('unknown and other customers’ ids are 404 on every route, with nothing leaked', async () => {
    const bobsDeployment = await seedDeployment(h.store, await seedModel(h.store, bob.customerId));
    for (const id of [bobsDeployment.id, randomUUID(), 'not-a-uuid']) {
      const url = `${base(alice.customerId)}/${id}`;
      for (const [method, payload] of [['GET'], ['DELETE'], ['PATCH', { maxReplicas: 1 }]] as const) {
        const res = await call(method, url, payload);
        assert.equal(res.status, 404, `${method} ${id}`);
        assert.equal(res.body.code, 'MODELD_ERR_DEPLOYMENT_NOT_FOUND');
        assert.doesNotMatch(JSON.stringify(res.body), new RegExp(bob.customerId));
      }
      assert.equal((await call('GET', `${url}/events`)).status, 404);
    }
    const untouched = await h.store.getDeploymentById(bobsDeployment.id);
    assert.equal(untouched?.state, 'DEPLOYING');
    assert.equal(untouched?.deletionRequestedAt, null);
  });
});

describe('PATCH', () => {
  test('changes the spec and bumps the generation', async () => {
    const model = await seedModel(h.store, alice.customerId);
    const other = await seedModel(h.store, alice.customerId);
    const created = await call('POST', base(alice.customerId), { modelId: model.id, region: 'local', maxReplicas: 2 });
    const url = `${base(alice.customerId)}/${created.body.id}`;

    const scaled = await call('PATCH', url, { minReplicas: 2, maxReplicas: 3, config: { k: 'v' } });
    assert.equal(scaled.status, 200);
    assert.equal(scaled.body.minReplicas, 2);
    assert.equal(scaled.body.maxReplicas, 3);
    assert.deepEqual(scaled.body.config, { k: 'v' });
    assert.equal((await h.store.getDeploymentById(created.body.id))?.generation, 2);

    const swapped = await call('PATCH', url, { modelId: other.id });
    assert.equal(swapped.body.modelId, other.id);
    assert.equal(swapped.body.minReplicas, 2, 'fields not named are kept');
    assert.deepEqual(swapped.body.config, { k: 'v' });
    assert.equal((await h.store.getDeploymentById(created.body.id))?.generation, 3);
    assert.ok(swapped.body.updatedAt >= created.body.updatedAt);

    const events = (await call('GET', `${url}/events`)).body as { reason: string }[];
    assert.deepEqual(events.map((e) => e.reason), ['Created', 'SpecChanged', 'SpecChanged']);
  });

  test('autoscaling extension: set at creation, changed and cleared by PATCH, refused when not a positive number', async (t) => {
    const model = await seedModel(h.store, alice.customerId);
    const created = await call('POST', base(alice.customerId), { modelId: model.id, region: 'local', maxReplicas: 3, autoscaling: { targetConcurrencyPerReplica: 2 } });
    assert.equal(created.status, 200);
    assert.ok(Value.Check(DeploymentSchema, created.body));
    assert.deepEqual(created.body.autoscaling, { targetConcurrencyPerReplica: 2 });
    const url = `${base(alice.customerId)}/${created.body.id}`;
    const changed = await call('PATCH', url, { autoscaling: { targetConcurrencyPerReplica: 6 } });
    assert.deepEqual(changed.body.autoscaling, { targetConcurrencyPerReplica: 6 });
    assert.deepEqual((await h.store.getDeploymentById(created.body.id))?.autoscaling, { targetConcurrencyPerReplica: 6 });
    const cleared = await call('PATCH', url, { autoscaling: null });
    assert.equal(cleared.status, 200);
    assert.equal('autoscaling' in cleared.body, false, 'back to the server default: not shown');
    await t.test('zero', () =>
      refused(() => call('PATCH', url, { autoscaling: { targetConcurrencyPerReplica: 0 } }), { status: 400, code: 'MODELD_ERR_VALIDATION', message: /autoscaling/ }));
    await t.test('a string', () =>
      refused(() => call('POST', base(alice.customerId), { modelId: model.id, region: 'local', autoscaling: { targetConcurrencyPerReplica: 'many' } }), {
        status: 400,
        code: 'MODELD_ERR_VALIDATION',
        message: /autoscaling/,
      }));
    await t.test('an unknown key', () =>
      refused(() => call('PATCH', url, { autoscaling: { target: 3 } }), { status: 400, code: 'MODELD_ERR_VALIDATION', message: /autoscaling/ }));
  });

  test('refusals: order against the current spec, limit, model, unknown or empty body, deleting -> 409', async (t) => {
    const model = await seedModel(h.store, alice.customerId);
    const failed = await seedModel(h.store, alice.customerId, { state: ModelStates.TRAINING_FAILED, errorMessage: 'boom' });
    const created = await call('POST', base(alice.customerId), { modelId: model.id, region: 'local', minReplicas: 2, maxReplicas: 3 });
    const url = `${base(alice.customerId)}/${created.body.id}`;
    const patch = (payload: unknown) => () => call('PATCH', url, payload);

    await t.test('lowering max under the current min names maxReplicas', () =>
      refused(patch({ maxReplicas: 1 }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.maxReplicas' }));
    await t.test('raising min over the current max names minReplicas', () =>
      refused(patch({ minReplicas: 4 }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.minReplicas' }));
    await t.test('above the limit', () => refused(patch({ maxReplicas: 99 }), { status: 400, code: 'MODELD_ERR_REPLICA_LIMIT', field: 'body.maxReplicas' }));
    await t.test('a model that failed training', () =>
      refused(patch({ modelId: failed.id }), { status: 400, code: 'MODELD_ERR_MODEL_NOT_AVAILABLE', field: 'body.modelId', message: /TRAINING_FAILED/ }));
    await t.test('a model that does not exist', () => refused(patch({ modelId: randomUUID() }), { status: 404, code: 'MODELD_ERR_MODEL_NOT_FOUND', field: 'body.modelId' }));
    await t.test('region cannot be changed', () => refused(patch({ region: 'us-east' }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.region' }));
    await t.test('empty body', () => refused(patch({}), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body' }));
    await t.test('config of the wrong type', () => refused(patch({ config: null }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.config' }));

    assert.equal((await call('DELETE', url)).status, 200);
    await t.test('while deleting', () => refused(patch({ maxReplicas: 2 }), { status: 409, code: 'MODELD_ERR_CONFLICT', message: /being deleted/ }));
  });
});

describe('events', () => {
  test('pages with afterId and limit; validates the query', async () => {
    const model = await seedModel(h.store, alice.customerId);
    const created = await call('POST', base(alice.customerId), { modelId: model.id, region: 'local', maxReplicas: 4 });
    const url = `${base(alice.customerId)}/${created.body.id}`;
    for (const n of [2, 3, 4]) assert.equal((await call('PATCH', url, { maxReplicas: n })).status, 200);

    const all = (await call('GET', `${url}/events`)).body as { id: number; reason: string }[];
    assert.equal(all.length, 4);
    for (const e of all) assert.ok(Value.Check(EventSchema, e), JSON.stringify(e));
    const page1 = (await call('GET', `${url}/events?limit=2`)).body as { id: number }[];
    assert.deepEqual(page1.map((e) => e.id), all.slice(0, 2).map((e) => e.id));
    const page2 = (await call('GET', `${url}/events?afterId=${page1[1]!.id}&limit=2`)).body as { id: number }[];
    assert.deepEqual(page2.map((e) => e.id), all.slice(2, 4).map((e) => e.id));

    for (const q of ['limit=0', 'limit=abc', 'limit=100000', 'afterId=-1']) {
      const res = await call('GET', `${url}/events?${q}`);
      assert.equal(res.status, 400, q);
      assert.match(res.body.details.field, /^querystring\.(limit|afterId)$/);
    }
  });
});

describe('authorization', () => {
  test('no token 401, wrong scope 403, another customer’s path 403; nothing written', async () => {
    const model = await seedModel(h.store, alice.customerId);
    const body = { modelId: model.id, region: 'local' };
    const url = base(alice.customerId);
    const noToken = await h.app.inject({ method: 'POST', url, payload: body });
    assert.equal(noToken.statusCode, 401);
    assert.equal(noToken.json().code, 'MODELD_ERR_UNAUTHENTICATED');

    await refused(() => call('POST', url, body, `Bearer ${'x'.repeat(20)}`), { status: 401, code: 'MODELD_ERR_UNAUTHENTICATED' });
    await refused(async () => call('POST', url, body, await alice.auth([Scopes.PREDICT])), { status: 403, code: 'MODELD_ERR_FORBIDDEN_SCOPE' });
    await refused(async () => call('POST', url, body, await bob.auth()), { status: 403, code: 'MODELD_ERR_FORBIDDEN_CUSTOMER' });
    assert.equal((await call('GET', url, undefined, await bob.auth())).status, 403);
    assert.equal((await call('GET', url, undefined, await alice.auth([Scopes.PREDICT]))).status, 403);
  });

  test('the token is checked before the body is read', async () => {
    const res = await h.app.inject({ method: 'POST', url: base(alice.customerId), headers: { 'content-type': 'application/json' }, payload: '{broken' });
    assert.equal(res.statusCode, 401);
  });
});
