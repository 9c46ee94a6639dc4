import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import swagger from '@fastify/swagger';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import { makeTempDir, type TempDir } from '../../../test/fixtures/tmp.js';
import { loadOrCreateKeys, newClient, TokenService } from '../../auth/index.js';
import { isoAt, type ClientRecord } from '../../domain/index.js';
import { openSqliteStore, type Store } from '../../store/index.js';
import { registerErrorHandling } from '../plugins/errors.js';
import { registerAuthRoutes } from './auth.js';

const ISSUER = 'https://modeld.example.test';
const T0 = Date.parse('2030-01-01T00:00:00Z');
const FORM = 'application/x-www-form-urlencoded';

let tmp: TempDir;
let store: Store;
let tokens: TokenService;
let app: FastifyInstance;
let client: ClientRecord;
let secret: string;

const basic = (id: string, s: string) => `Basic ${Buffer.from(`${id}:${s}`).toString('base64')}`;

before(async () => {
  tmp = await makeTempDir('modeld-auth-routes');
  store = openSqliteStore(':memory:');
  await store.migrate();
  const clock = { now: () => T0 };
  tokens = new TokenService({
    keys: await loadOrCreateKeys(path.join(tmp.dir, 'keys')),
    store,
    auth: { tokenTtlSeconds: 3600, audience: 'modeld' },
    issuer: ISSUER,
    clock,
  });
  const customer = { id: randomUUID(), name: 'acme', createdAt: isoAt(T0) };
  await store.createCustomer(customer);
  ({ client, clientSecret: secret } = await newClient(customer.id, ['machinelearning.model', 'machinelearning.predict'], clock));
  await store.createClient(client);

  app = Fastify({ logger: false }).setValidatorCompiler(TypeBoxValidatorCompiler);
  await app.register(swagger, {
    openapi: { info: { title: 'modeld', version: 'test' }, components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } } },
  });
  registerErrorHandling(app);
  registerAuthRoutes(app, { tokens });
  await app.ready();
});
after(async () => {
  await app.close();
  await store.close();
  await tmp.cleanup();
});

/** Asserts an RFC 6749 error answer and returns its description. */
function assertOAuthError(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, status: number, error: string): string {
  assert.equal(res.statusCode, status);
  assert.equal(res.headers['cache-control'], 'no-store');
  const body = res.json() as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), ['error', 'error_description']);
  assert.equal(body.error, error);
  assert.equal(typeof body.error_description, 'string');
  return body.error_description as string;
}

describe('POST token', () => {
  test('HTTP Basic + query string: 200 with a Bearer token for all the client scopes, not cacheable', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/oauth2/aus12345/v1/token?grant_type=client_credentials',
      headers: { authorization: basic(client.id, secret) },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    const body = res.json() as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'scope', 'token_type']);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 3600);
    assert.equal(body.scope, 'machinelearning.model machinelearning.predict');
    const principal = await tokens.authenticate(`Bearer ${body.access_token as string}`);
    assert.equal(principal.clientId, client.id);
    assert.deepEqual(principal.scopes, ['machinelearning.model', 'machinelearning.predict']);
  });

  test('form body: parameters and client_id/client_secret, on both token paths', async () => {
    for (const url of ['/oauth2/token', '/oauth2/default/v1/token']) {
      const res = await app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': FORM },
        payload: new URLSearchParams({ grant_type: 'client_credentials', scope: 'machinelearning.predict', client_id: client.id, client_secret: secret }).toString(),
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().scope, 'machinelearning.predict');
      assert.deepEqual(decodeJwt(res.json().access_token).scp, ['machinelearning.predict']);
    }
  });

  test('an empty form body or no body at all is fine when the query carries the parameters', async () => {
    for (const headers of [{ 'content-type': FORM }, {}]) {
      const res = await app.inject({
        method: 'POST',
        url: '/oauth2/token?grant_type=client_credentials&scope=machinelearning.model',
        headers: { ...headers, authorization: basic(client.id, secret) },
        payload: '',
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().scope, 'machinelearning.model');
    }
  });

  test('a wrong secret, an unknown client or no credentials: 401 invalid_client with a Basic challenge', async () => {
    const attempts = [
      { authorization: basic(client.id, `${secret}x`) },
      { authorization: basic(randomUUID(), secret) },
      {},
    ];
    for (const headers of attempts) {
      const res = await app.inject({ method: 'POST', url: '/oauth2/token?grant_type=client_credentials', headers });
      assertOAuthError(res, 401, 'invalid_client');
      assert.equal(res.headers['www-authenticate'], 'Basic realm="modeld"');
    }
  });

  test('a wrong secret sent in the form body (client_secret_post) is 401 invalid_client without a Basic challenge', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/oauth2/token',
      headers: { 'content-type': FORM },
      payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.id, client_secret: `${secret}x` }).toString(),
    });
    assertOAuthError(res, 401, 'invalid_client');
    assert.equal(res.headers['www-authenticate'], undefined);
  });

  test('grant types: unknown is unsupported_grant_type, missing is invalid_request', async () => {
    const auth = { authorization: basic(client.id, secret) };
    const unknown = await app.inject({ method: 'POST', url: '/oauth2/token', headers: { ...auth, 'content-type': FORM }, payload: 'grant_type=password' });
    assert.match(assertOAuthError(unknown, 400, 'unsupported_grant_type'), /password/);
    const missing = await app.inject({ method: 'POST', url: '/oauth2/token', headers: { ...auth, 'content-type': FORM }, payload: 'scope=machinelearning.model' });
    assert.match(assertOAuthError(missing, 400, 'invalid_request'), /grant_type/);
  });

  test('scopes must be a subset of the client scopes', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/oauth2/token?grant_type=client_credentials&scope=machinelearning.predict%20modeld.admin',
      headers: { authorization: basic(client.id, secret) },
    });
    assert.match(assertOAuthError(res, 400, 'invalid_scope'), /modeld\.admin/);
  });

  test('malformed requests stay in the RFC 6749 shape', async () => {
    const auth = { authorization: basic(client.id, secret) };
    const secretInUrl = await app.inject({ method: 'POST', url: `/oauth2/token?grant_type=client_credentials&client_id=${client.id}&client_secret=${secret}` });
    assert.match(assertOAuthError(secretInUrl, 400, 'invalid_request'), /URL/);
    const repeated = await app.inject({ method: 'POST', url: '/oauth2/token', headers: { ...auth, 'content-type': FORM }, payload: 'grant_type=client_credentials&grant_type=client_credentials' });
    assertOAuthError(repeated, 400, 'invalid_request');
    const xml = await app.inject({ method: 'POST', url: '/oauth2/token?grant_type=client_credentials', headers: { ...auth, 'content-type': 'application/xml' }, payload: '<x/>' });
    assertOAuthError(xml, 415, 'invalid_request');
  });

  test('through a real socket on 127.0.0.1', async () => {
    const server = Fastify({ logger: false }).setValidatorCompiler(TypeBoxValidatorCompiler);
    registerErrorHandling(server);
    registerAuthRoutes(server, { tokens });
    await server.listen({ host: '127.0.0.1', port: 0 });
    try {
      const port = (server.server.address() as AddressInfo).port;
      const res = await fetch(`http://127.0.0.1:${port}/oauth2/token`, {
        method: 'POST',
        headers: { authorization: basic(client.id, secret), 'content-type': FORM },
        body: 'grant_type=client_credentials&scope=machinelearning.predict',
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { access_token: string };
      assert.equal((await tokens.authenticate(`Bearer ${body.access_token}`)).clientId, client.id);
    } finally {
      await server.close();
    }
  });
});

describe('keys and discovery', () => {
  test('both JWKS routes serve the public keys that verify issued tokens', async () => {
    const a = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    const b = await app.inject({ method: 'GET', url: '/oauth2/aus12345/v1/keys' });
    assert.equal(a.statusCode, 200);
    assert.deepEqual(a.json(), b.json());
    assert.deepEqual(a.json(), tokens.jwks());
    const [key] = a.json().keys as Array<Record<string, string>>;
    assert.deepEqual(Object.keys(key!).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use']);
  });

  test('the openid-configuration names issuer, token endpoint and jwks_uri', async () => {
    const res = await app.inject({ method: 'GET', url: '/.well-known/openid-configuration' });
    assert.equal(res.statusCode, 200);
    const doc = res.json();
    assert.equal(doc.issuer, ISSUER);
    assert.equal(doc.token_endpoint, `${ISSUER}/oauth2/token`);
    assert.equal(doc.jwks_uri, `${ISSUER}/.well-known/jwks.json`);
    assert.deepEqual(doc.grant_types_supported, ['client_credentials']);
  });

  test('the OpenAPI document shows the form body of the token endpoint', () => {
    const spec = app.swagger() as { paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown> } }> } }>> };
    const content = spec.paths['/oauth2/token']?.post?.requestBody?.content;
    assert.ok(content?.[FORM], JSON.stringify(spec.paths['/oauth2/token']));
    assert.deepEqual(Object.keys(content[FORM].schema.properties).sort(), ['client_id', 'client_secret', 'grant_type', 'scope']);
    assert.ok(spec.paths['/.well-known/jwks.json']);
  });
});
