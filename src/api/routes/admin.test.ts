import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import swagger from '@fastify/swagger';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { makeTempDir, type TempDir } from '../../../test/fixtures/tmp.js';
import { ensureAdminClient, loadOrCreateKeys, TokenService, verifySecret, type AdminCredentials } from '../../auth/index.js';
import { openSqliteStore, type Store } from '../../store/index.js';
import { registerErrorHandling } from '../plugins/errors.js';
import { registerAdminRoutes } from './admin.js';
import { registerAuthRoutes } from './auth.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let tmp: TempDir;
let store: Store;
let app: FastifyInstance;
let admin: AdminCredentials;
let adminAuth: { authorization: string };
let now = T0;

const basic = (id: string, s: string) => `Basic ${Buffer.from(`${id}:${s}`).toString('base64')}`;

/** Gets a token the way a client does: through the token endpoint. */
async function tokenFor(clientId: string, clientSecret: string, scope?: string) {
  const res = await app.inject({
    method: 'POST',
    url: '/oauth2/token',
    headers: { authorization: basic(clientId, clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
    payload: `grant_type=client_credentials${scope ? `&scope=${encodeURIComponent(scope)}` : ''}`,
  });
  return res;
}

async function bearer(clientId: string, clientSecret: string, scope?: string): Promise<{ authorization: string }> {
  const res = await tokenFor(clientId, clientSecret, scope);
  assert.equal(res.statusCode, 200, res.body);
  return { authorization: `Bearer ${res.json().access_token as string}` };
}

before(async () => {
  tmp = await makeTempDir('modeld-admin-routes');
  store = openSqliteStore(':memory:');
  await store.migrate();
  const clock = { now: () => now };
  const tokens = new TokenService({
    keys: await loadOrCreateKeys(path.join(tmp.dir, 'keys')),
    store,
    auth: { tokenTtlSeconds: 3600, audience: 'modeld' },
    issuer: 'http://127.0.0.1:8080',
    clock,
  });
  const file = path.join(tmp.dir, 'admin-credentials.json');
  assert.equal((await ensureAdminClient(store, { adminCredentials: file }, clock)).created, true);
  admin = JSON.parse(await readFile(file, 'utf8')) as AdminCredentials;

  app = Fastify({ logger: false }).setValidatorCompiler(TypeBoxValidatorCompiler);
  await app.register(swagger, {
    openapi: { info: { title: 'modeld', version: 'test' }, components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } } },
  });
  registerErrorHandling(app);
  registerAuthRoutes(app, { tokens });
  registerAdminRoutes(app, { store, authenticator: tokens, clock, cluster: { instanceId: 'me', leader: () => 'me', heartbeatMs: 1000 } });
  await app.ready();
  adminAuth = await bearer(admin.clientId, admin.clientSecret);
});
after(async () => {
  await app.close();
  await store.close();
  await tmp.cleanup();
});

async function createCustomer(name?: string): Promise<{ id: string; name: string | null; createdAt: string }> {
  const res = await app.inject({ method: 'POST', url: '/admin/customers', headers: adminAuth, payload: name === undefined ? {} : { name } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

async function createClient(customerId: string, scopes: string[]) {
  const res = await app.inject({ method: 'POST', url: `/admin/customers/${customerId}/clients`, headers: adminAuth, payload: { scopes } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as { clientId: string; clientSecret: string; customerId: string; scopes: string[]; createdAt: string };
}

describe('guard', () => {
  test('no token: 401; a token without modeld.admin: 403, before the body is even looked at', async () => {
    const none = await app.inject({ method: 'GET', url: '/admin/customers' });
    assert.equal(none.statusCode, 401);
    assert.equal(none.json().code, 'MODELD_ERR_UNAUTHENTICATED');

    const narrowed = await bearer(admin.clientId, admin.clientSecret, 'machinelearning.model machinelearning.predict');
    for (const req of [
      { method: 'GET' as const, url: '/admin/customers' },
      { method: 'POST' as const, url: '/admin/customers', payload: { bogus: true } },
      { method: 'DELETE' as const, url: `/admin/customers/${admin.customerId}/clients/${admin.clientId}` },
    ]) {
      const res = await app.inject({ ...req, headers: narrowed });
      assert.equal(res.statusCode, 403, `${req.method} ${req.url}`);
      assert.equal(res.json().code, 'MODELD_ERR_FORBIDDEN_SCOPE');
    }
    assert.equal((await store.getClient(admin.clientId))?.disabledAt, null);
  });
});

describe('customers', () => {
  test('create with or without a name (or without a body), then list and get', async () => {
    const named = await createCustomer('acme');
    assert.match(named.id, UUID);
    assert.equal(named.name, 'acme');
    assert.equal(named.createdAt, new Date(now).toISOString());
    const unnamed = await createCustomer();
    assert.equal(unnamed.name, null);
    const bodyless = await app.inject({ method: 'POST', url: '/admin/customers', headers: adminAuth });
    assert.equal(bodyless.statusCode, 200, bodyless.body);

    const list = await app.inject({ method: 'GET', url: '/admin/customers', headers: adminAuth });
    assert.equal(list.statusCode, 200);
    const ids = (list.json() as Array<{ id: string }>).map((c) => c.id);
    for (const id of [admin.customerId, named.id, unnamed.id, bodyless.json().id]) assert.ok(ids.includes(id));

    const one = await app.inject({ method: 'GET', url: `/admin/customers/${named.id}`, headers: adminAuth });
    assert.deepEqual(one.json(), named);
  });

  test('bad bodies name the field; unknown customers are 404', async () => {
    const extra = await app.inject({ method: 'POST', url: '/admin/customers', headers: adminAuth, payload: { name: 'x', plan: 'gold' } });
    assert.equal(extra.statusCode, 400);
    assert.match(extra.json().message, /body\.plan/);
    const form = await app.inject({
      method: 'POST',
      url: '/admin/customers',
      headers: { ...adminAuth, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'name=acme',
    });
    assert.equal(form.statusCode, 415);
    assert.equal(form.json().code, 'MODELD_ERR_UNSUPPORTED_MEDIA_TYPE');
    const empty = await app.inject({ method: 'POST', url: '/admin/customers', headers: adminAuth, payload: { name: '' } });
    assert.equal(empty.statusCode, 400);
    assert.match(empty.json().message, /body\.name/);
    for (const url of [`/admin/customers/${randomUUID()}`, `/admin/customers/${randomUUID()}/clients`, '/admin/customers/not-a-uuid/clients']) {
      const res = await app.inject({ method: 'GET', url, headers: adminAuth });
      assert.equal(res.statusCode, 404, url);
      assert.equal(res.json().code, 'MODELD_ERR_CUSTOMER_NOT_FOUND');
    }
    const post = await app.inject({ method: 'POST', url: `/admin/customers/${randomUUID()}/clients`, headers: adminAuth, payload: { scopes: ['machinelearning.predict'] } });
    assert.equal(post.statusCode, 404);
  });
});

describe('clients', () => {
  test('the secret is shown once, stored only as a hash, and works at the token endpoint', async () => {
    const customer = await createCustomer('secretive');
    const created = await createClient(customer.id, ['machinelearning.predict', 'machinelearning.predict']);
    assert.match(created.clientId, UUID);
    assert.equal(created.customerId, customer.id);
    assert.deepEqual(created.scopes, ['machinelearning.predict']);
    assert.match(created.clientSecret, /^[A-Za-z0-9_-]{43}$/);

    const stored = await store.getClient(created.clientId);
    assert.ok(stored);
    assert.ok(!stored.secretHash.includes(created.clientSecret), 'the store holds no secret');
    assert.match(stored.secretHash, /^scrypt\$/);
    assert.equal(await verifySecret(created.clientSecret, stored.secretHash), true);

    const list = await app.inject({ method: 'GET', url: `/admin/customers/${customer.id}/clients`, headers: adminAuth });
    assert.equal(list.statusCode, 200);
    assert.deepEqual(list.json(), [
      { clientId: created.clientId, customerId: customer.id, scopes: ['machinelearning.predict'], createdAt: created.createdAt, disabledAt: null },
    ]);
    assert.ok(!list.body.includes(created.clientSecret) && !list.body.includes(stored.secretHash));

    const token = await tokenFor(created.clientId, created.clientSecret);
    assert.equal(token.statusCode, 200);
    assert.equal(token.json().scope, 'machinelearning.predict');
  });

  test('scopes: known ones only, at least one; the 400 names body.scopes[i]', async () => {
    const customer = await createCustomer('scoped');
    const unknown = await app.inject({
      method: 'POST',
      url: `/admin/customers/${customer.id}/clients`,
      headers: adminAuth,
      payload: { scopes: ['machinelearning.model', 'machinelearning.train'] },
    });
    assert.equal(unknown.statusCode, 400);
    assert.equal(unknown.json().code, 'MODELD_ERR_VALIDATION');
    assert.equal(unknown.json().details.field, 'body.scopes[1]');
    assert.match(unknown.json().message, /machinelearning\.train/);
    for (const payload of [{ scopes: [] }, {}, { scopes: 'machinelearning.model' }, { scopes: ['machinelearning.model'], secret: 'mine' }]) {
      const res = await app.inject({ method: 'POST', url: `/admin/customers/${customer.id}/clients`, headers: adminAuth, payload });
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.match(res.json().message, /^body/);
    }
    assert.deepEqual(await store.listClients(customer.id), []);
  });

  test('DELETE disables: the client can no longer get tokens and its existing tokens stop working', async () => {
    const customer = await createCustomer('leaving');
    const created = await createClient(customer.id, ['modeld.admin']);
    const itsToken = await bearer(created.clientId, created.clientSecret);
    assert.equal((await app.inject({ method: 'GET', url: '/admin/customers', headers: itsToken })).statusCode, 200);

    now += 60_000;
    const del = await app.inject({ method: 'DELETE', url: `/admin/customers/${customer.id}/clients/${created.clientId}`, headers: adminAuth });
    assert.equal(del.statusCode, 200, del.body);
    assert.equal(del.json().disabledAt, new Date(now).toISOString());

    const afterDelete = await app.inject({ method: 'GET', url: '/admin/customers', headers: itsToken });
    assert.equal(afterDelete.statusCode, 401);
    assert.match(afterDelete.json().message, /disabled/);
    const newToken = await tokenFor(created.clientId, created.clientSecret);
    assert.equal(newToken.statusCode, 401);
    assert.equal(newToken.json().error, 'invalid_client');

    now += 60_000;
    const again = await app.inject({ method: 'DELETE', url: `/admin/customers/${customer.id}/clients/${created.clientId}`, headers: adminAuth });
    assert.equal(again.statusCode, 200);
    assert.equal(again.json().disabledAt, del.json().disabledAt, 'idempotent: the first time stays');
  });

  test('DELETE refuses the client\'s tokens on the very next request, with no time passing (auth.clientCacheTtlMs)', async () => {
    const customer = await createCustomer('cached');
    const created = await createClient(customer.id, ['modeld.admin']);
    const itsToken = await bearer(created.clientId, created.clientSecret);
    // Twice: the second request is answered from the remembered client state.
    assert.equal((await app.inject({ method: 'GET', url: '/admin/customers', headers: itsToken })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/admin/customers', headers: itsToken })).statusCode, 200);
    const del = await app.inject({ method: 'DELETE', url: `/admin/customers/${customer.id}/clients/${created.clientId}`, headers: adminAuth });
    assert.equal(del.statusCode, 200, del.body);
    const next = await app.inject({ method: 'GET', url: '/admin/customers', headers: itsToken });
    assert.equal(next.statusCode, 401, next.body);
    assert.match(next.json().message, /disabled/);
  });

  test("DELETE of an unknown client, or of another customer's, is 404 and changes nothing", async () => {
    const a = await createCustomer('a');
    const b = await createCustomer('b');
    const ofB = await createClient(b.id, ['machinelearning.predict']);
    for (const url of [`/admin/customers/${a.id}/clients/${ofB.clientId}`, `/admin/customers/${a.id}/clients/${randomUUID()}`, `/admin/customers/${randomUUID()}/clients/${ofB.clientId}`]) {
      const res = await app.inject({ method: 'DELETE', url, headers: adminAuth });
      assert.equal(res.statusCode, 404, url);
    }
    assert.equal((await store.getClient(ofB.clientId))?.disabledAt, null);
  });

  test('the OpenAPI document shows the admin bodies', () => {
    const spec = app.swagger() as { paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { required?: string[] } }> } }>> };
    const body = spec.paths['/admin/customers/{id}/clients']?.post?.requestBody?.content['application/json']?.schema;
    assert.deepEqual(body?.required, ['scopes']);
    assert.ok(spec.paths['/admin/customers/{id}/clients/{clientId}']?.delete);
  });
});

describe('GET /admin/cluster', () => {
  test('lists the instances with who leads and who is live; only with the admin scope', async () => {
    await store.putInstance({ id: 'me', url: 'http://10.0.0.1:8080', startedAt: new Date(T0 - 60_000).toISOString(), seenAt: new Date(now).toISOString(), load: { d1: { inflight: 2 }, d2: { inflight: 3 } } });
    await store.putInstance({ id: 'gone', url: 'http://10.0.0.2:8080', startedAt: new Date(T0 - 50_000).toISOString(), seenAt: new Date(now - 3001).toISOString(), load: {} });
    const res = await app.inject({ method: 'GET', url: '/admin/cluster', headers: adminAuth });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), {
      self: 'me',
      leader: 'me',
      instances: [
        { id: 'me', url: 'http://10.0.0.1:8080', startedAt: new Date(T0 - 60_000).toISOString(), seenAt: new Date(now).toISOString(), live: true, leader: true, inflight: 5 },
        { id: 'gone', url: 'http://10.0.0.2:8080', startedAt: new Date(T0 - 50_000).toISOString(), seenAt: new Date(now - 3001).toISOString(), live: false, leader: false, inflight: 0 },
      ],
    });
    const created = await app.inject({ method: 'POST', url: `/admin/customers/${(await createCustomer('c')).id}/clients`, headers: adminAuth, payload: { scopes: ['machinelearning.model'] } });
    const other = created.json() as { clientId: string; clientSecret: string };
    const refused = await app.inject({ method: 'GET', url: '/admin/cluster', headers: await bearer(other.clientId, other.clientSecret) });
    assert.equal(refused.statusCode, 403, refused.body);
    assert.equal((await app.inject({ method: 'GET', url: '/admin/cluster' })).statusCode, 401);
  });
});
