import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AddressInfo } from 'node:net';
import { newClient } from '../../src/auth/index.js';
import { defaultConfig } from '../../src/config/index.js';
import { Scopes, systemClock } from '../../src/domain/index.js';
import { EndpointRegistry, Gateway } from '../../src/gateway/index.js';
import { seedModel, snapshot, startApi, type ApiHarness, type Tenant } from './api-harness.js';

/** What buildApp adds around the routes: ids, logs, body handling, OpenAPI, metrics, health. */

let h: ApiHarness;
let alice: Tenant;
let auth: string;

before(async () => {
  h = await startApi({ config: { limits: { ...defaultConfig().limits, maxReplicas: 12, bodyLimitBytes: 2048, uploadLimitBytes: 4096, maxBatchItems: 32, maxInputTokens: 512 } } });
  alice = await h.tenant();
  auth = await alice.auth();
});
after(() => h.close());

const deployments = () => `/customers/${alice.customerId}/ai/deployments`;

describe('request ids and logs', () => {
  test('a sane x-request-id is kept and echoed; an insane one is replaced by a UUID', async () => {
    const kept = await h.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'trace-42.abc' } });
    assert.equal(kept.headers['x-request-id'], 'trace-42.abc');
    for (const bad of ['has space', 'x'.repeat(200), 'a\u00e9b', '']) {
      const res = await h.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': bad } });
      assert.match(String(res.headers['x-request-id']), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, JSON.stringify(bad));
    }
    const none = await h.app.inject({ method: 'GET', url: '/healthz' });
    const other = await h.app.inject({ method: 'GET', url: '/healthz' });
    assert.notEqual(none.headers['x-request-id'], other.headers['x-request-id']);
  });

  test('error answers carry the request id too', async () => {
    const res = await h.app.inject({ method: 'GET', url: deployments(), headers: { 'x-request-id': 'err-1' } });
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['x-request-id'], 'err-1');
  });

  test('every log line of a request carries its id; no line holds the token or the Authorization header', async () => {
    const first = h.logs.length;
    const model = await seedModel(h.store, alice.customerId);
    await h.app.inject({ method: 'POST', url: deployments(), headers: { authorization: auth, 'x-request-id': 'log-check-1' }, payload: { modelId: model.id, region: 'local' } });
    await h.app.inject({ method: 'POST', url: deployments(), headers: { authorization: auth, 'x-request-id': 'log-check-2' }, payload: { modelId: model.id, region: 'nowhere' } });
    const lines = h.logs.slice(first);
    assert.ok(lines.length >= 4, 'request logs were written');
    for (const line of lines) assert.ok(line.reqId === 'log-check-1' || line.reqId === 'log-check-2', JSON.stringify(line));
    assert.ok(lines.some((l) => l.reqId === 'log-check-2' && l.code === 'MODELD_ERR_UNKNOWN_REGION'), 'the refusal is logged with its code');
    const text = JSON.stringify(lines);
    assert.ok(!text.includes(auth.slice('Bearer '.length)), 'token logged');
    assert.doesNotMatch(text, /authorization/i);
  });
});

describe('bodies', () => {
  test('413 above the body limit, 415 for other content types, 400 for malformed JSON; nothing stored', async () => {
    const model = await seedModel(h.store, alice.customerId);
    const before = await snapshot(h.store, alice.customerId);
    const big = await h.app.inject({
      method: 'POST',
      url: deployments(),
      headers: { authorization: auth },
      payload: { modelId: model.id, region: 'local', config: { pad: 'x'.repeat(4096) } },
    });
    assert.equal(big.statusCode, 413);
    assert.equal(big.json().code, 'MODELD_ERR_BODY_TOO_LARGE');

    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x']) {
      const res = await h.app.inject({ method: 'POST', url: deployments(), headers: { authorization: auth, 'content-type': type }, payload: 'modelId=x' });
      assert.equal(res.statusCode, 415, type);
      assert.equal(res.json().code, 'MODELD_ERR_UNSUPPORTED_MEDIA_TYPE');
    }
    const patch = await h.app.inject({ method: 'PATCH', url: `${deployments()}/x`, headers: { authorization: auth, 'content-type': 'text/plain' }, payload: 'x' });
    assert.equal(patch.statusCode, 415);

    for (const text of ['{"modelId": ', '{modelId: 1}', '[1,]', '{"__proto__": {"admin": true}}']) {
      const res = await h.app.inject({ method: 'POST', url: deployments(), headers: { authorization: auth, 'content-type': 'application/json' }, payload: text });
      assert.equal(res.statusCode, 400, text);
      assert.equal(res.json().code, 'MODELD_ERR_MALFORMED_JSON', text);
      assert.match(res.json().message, /^body: malformed JSON \(.+\)$/);
    }
    const charset = await h.app.inject({
      method: 'POST',
      url: deployments(),
      headers: { authorization: auth, 'content-type': 'application/json; charset=utf-8' },
      payload: JSON.stringify({ modelId: model.id, region: 'nowhere' }),
    });
    assert.equal(charset.json().code, 'MODELD_ERR_UNKNOWN_REGION', 'a charset parameter is fine');
    assert.equal(await snapshot(h.store, alice.customerId), before);
  });

  test('DELETE with Content-Type application/json and no body is fine', async () => {
    const model = await seedModel(h.store, alice.customerId);
    const created = await h.app.inject({ method: 'POST', url: deployments(), headers: { authorization: auth }, payload: { modelId: model.id, region: 'local' } });
    const res = await h.app.inject({ method: 'DELETE', url: `${deployments()}/${created.json().id}`, headers: { authorization: auth, 'content-type': 'application/json' } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().state, 'DELETING');
  });

  test('GET ignores a body, whatever its type (the Lucidworks examples send {})', async () => {
    for (const [type, payload] of [['application/json', '{}'], ['application/json', '{broken'], ['text/plain', 'junk']] as const) {
      const res = await h.app.inject({ method: 'GET', url: `/customers/${alice.customerId}/ai/models`, headers: { authorization: auth, 'content-type': type }, payload });
      assert.equal(res.statusCode, 200, `${type} ${payload}`);
    }
  });

  test('unknown routes answer 404 in the common error shape', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/customers/x/ai/nothing' });
    assert.equal(res.statusCode, 404);
    assert.deepEqual(Object.keys(res.json()).sort(), ['code', 'message']);
    assert.equal(res.json().code, 'MODELD_ERR_NOT_FOUND');
  });
});

describe('OpenAPI', () => {
  test('the document lists the routes with their schemas and the bearer scheme', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json();
    assert.match(doc.openapi, /^3\./);
    assert.deepEqual(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    for (const p of [
      '/customers/{CUSTOMER_ID}/ai/models',
      '/customers/{CUSTOMER_ID}/ai/models/{MODEL_ID}',
      '/customers/{CUSTOMER_ID}/ai/models/{MODEL_ID}/deployments',
      '/customers/{CUSTOMER_ID}/ai/deployments',
      '/customers/{CUSTOMER_ID}/ai/deployments/{DEPLOYMENT_ID}',
      '/customers/{CUSTOMER_ID}/ai/deployments/{DEPLOYMENT_ID}/events',
      '/healthz',
      '/readyz',
      '/metrics',
    ]) {
      assert.ok(doc.paths[p], `missing ${p}`);
    }
    const d2 = doc.paths['/customers/{CUSTOMER_ID}/ai/deployments'].post;
    assert.deepEqual(d2.security, [{ bearerAuth: [] }]);
    const body = d2.requestBody.content['application/json'].schema;
    assert.deepEqual(Object.keys(body.properties).sort(), ['autoscaling', 'config', 'maxReplicas', 'minReplicas', 'modelId', 'region'], 'the spec operation plus the autoscaling extension');
    assert.deepEqual(body.required.sort(), ['modelId', 'region']);
    assert.equal(body.properties.minReplicas.default, 1);
    assert.equal(body.properties.maxReplicas.default, 1);
    assert.equal(body.properties.minReplicas.minimum, 1);
    assert.equal(body.additionalProperties, false);
    const ok = d2.responses['200'].content['application/json'].schema;
    for (const f of ['id', 'modelId', 'region', 'config', 'minReplicas', 'maxReplicas', 'state', 'deployedAt', 'createdBy', 'status']) {
      assert.ok(ok.properties[f], `D2 response documents ${f}`);
    }
    assert.ok(d2.responses['400'].content['application/json'].schema.properties.code);
    const m2 = doc.paths['/customers/{CUSTOMER_ID}/ai/models'].post;
    assert.ok(m2.requestBody.content['application/json'].schema.properties.artifact);
    assert.equal(doc.paths['/customers/{CUSTOMER_ID}/ai/models/{MODEL_ID}'].get.parameters.find((p: { name: string }) => p.name === 'metrics')?.in, 'query');
    assert.equal(doc.paths['/openapi.json'], undefined, 'the document does not list itself');
  });

  test('the UI is served at /docs', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /text\/html/);
  });
});

describe('operability', () => {
  test('/metrics counts requests by route pattern, never by raw URL', async () => {
    const url = `${deployments()}/3f1c2f6e-0000-4000-8000-000000000000`;
    await h.app.inject({ method: 'GET', url, headers: { authorization: auth } });
    await h.app.inject({ method: 'GET', url, headers: { authorization: auth } });
    h.metrics.setReadyReplicas('dep-1', 2);
    const res = await h.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: await alice.auth(['modeld.ops']) } });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    const text = res.body;
    assert.match(text, /http_requests_total\{method="GET",route="\/customers\/:CUSTOMER_ID\/ai\/deployments\/:DEPLOYMENT_ID",status="404"\} 2/);
    assert.match(text, /http_request_duration_seconds_count\{method="GET",route="\/customers\/:CUSTOMER_ID\/ai\/deployments\/:DEPLOYMENT_ID"\} 2/);
    assert.ok(!text.includes(alice.customerId), 'no raw URL in labels');
    assert.match(text, /modeld_deployment_ready_replicas\{deployment="dep-1"\} 2/);
    h.metrics.forgetDeployment('dep-1');
    assert.doesNotMatch((await h.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: await alice.auth(['modeld.ops']) } })).body, /deployment="dep-1"/);
  });

  test('/healthz and /readyz answer without a token', async () => {
    assert.deepEqual((await h.app.inject({ method: 'GET', url: '/healthz' })).json(), { status: 'ok' });
    assert.deepEqual((await h.app.inject({ method: 'GET', url: '/readyz' })).json(), { status: 'ok' });
  });

  test('/readyz is 503 when the store does not answer', async () => {
    const other = await startApi();
    try {
      await other.store.close();
      const res = await other.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(res.statusCode, 503);
      assert.equal(res.json().code, 'MODELD_ERR_UNAVAILABLE');
      assert.equal((await other.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    } finally {
      await other.close();
    }
  });
});

describe('auth wiring', () => {
  test('a token from the token endpoint opens the models API; the form parser does not reach JSON routes', async () => {
    const { client, clientSecret } = await newClient(alice.customerId, ['machinelearning.model'], systemClock);
    await h.store.createClient(client);
    const basic = `Basic ${Buffer.from(`${client.id}:${clientSecret}`).toString('base64')}`;
    const issued = await h.app.inject({
      method: 'POST',
      url: '/oauth2/default/v1/token',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'grant_type=client_credentials&scope=machinelearning.model',
    });
    assert.equal(issued.statusCode, 200, issued.body);
    const token = issued.json().access_token as string;
    const models = await h.app.inject({ method: 'GET', url: `/customers/${alice.customerId}/ai/models`, headers: { authorization: `Bearer ${token}` } });
    assert.equal(models.statusCode, 200);

    const form = await h.app.inject({
      method: 'POST',
      url: deployments(),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'modelId=x&region=local',
    });
    assert.equal(form.statusCode, 415);
    const doc = (await h.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.ok(doc.paths['/oauth2/token']?.post, 'token route documented');
  });
});

describe('prediction wiring', () => {
  test('with a gateway, the Prediction and OIP routes are served and documented', async () => {
    const withGateway = await startApi({
      gateway: (config, store) => new Gateway({ config, store, registry: new EndpointRegistry(), resolvePretrained: async () => null, listPretrained: () => [] }),
    });
    try {
      const t = await withGateway.tenant();
      const predict = await t.auth([Scopes.PREDICT]);
      const usecases = await withGateway.app.inject({ method: 'GET', url: '/ai/usecase', headers: { authorization: predict } });
      assert.equal(usecases.statusCode, 200, usecases.body);
      assert.ok(Array.isArray(usecases.json()));
      const unknown = await withGateway.app.inject({
        method: 'POST',
        url: '/ai/prediction/embedding/no-such-model',
        headers: { authorization: predict },
        payload: { batch: [{ text: 'hello' }] },
      });
      assert.equal(unknown.statusCode, 404, unknown.body);
      const live = await withGateway.app.inject({ method: 'GET', url: '/v2/health/live' });
      assert.equal(live.statusCode, 200);
      const paths = Object.keys((await withGateway.app.inject({ method: 'GET', url: '/openapi.json' })).json().paths);
      assert.ok(paths.includes('/ai/prediction/embedding/{MODEL_ID}'), paths.join(' '));
      assert.ok(paths.some((p) => p.startsWith('/v2/models/')));
    } finally {
      await withGateway.close();
    }
    const without = await h.app.inject({ method: 'GET', url: '/ai/usecase', headers: { authorization: await alice.auth([Scopes.PREDICT]) } });
    assert.equal(without.statusCode, 404, 'no gateway, no prediction routes');
  });
});

describe('through a real socket', () => {
  test('create, read and delete a deployment over HTTP on 127.0.0.1', async () => {
    const server = await startApi();
    try {
      const t = await server.tenant();
      const bearer = await t.auth();
      const model = await seedModel(server.store, t.customerId);
      await server.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = server.app.server.address() as AddressInfo;
      const url = `http://127.0.0.1:${port}/customers/${t.customerId}/ai/deployments`;

      const created = await fetch(url, {
        method: 'POST',
        headers: { authorization: bearer, 'content-type': 'application/json', 'x-request-id': 'socket-1' },
        body: JSON.stringify({ modelId: model.id, region: 'local', config: { a: 1 } }),
      });
      assert.equal(created.status, 200);
      assert.equal(created.headers.get('x-request-id'), 'socket-1');
      const d = (await created.json()) as { id: string; state: string; config: unknown };
      assert.equal(d.state, 'DEPLOYING');
      assert.deepEqual(d.config, { a: 1 });

      const listed = (await (await fetch(url, { headers: { authorization: bearer } })).json()) as { id: string }[];
      assert.deepEqual(listed.map((x) => x.id), [d.id]);

      const tooBig = await fetch(url, {
        method: 'POST',
        headers: { authorization: bearer, 'content-type': 'application/json' },
        body: JSON.stringify({ modelId: model.id, region: 'local', config: { pad: 'x'.repeat(server.config.limits.bodyLimitBytes) } }),
      });
      assert.equal(tooBig.status, 413);
      assert.equal(((await tooBig.json()) as { code: string }).code, 'MODELD_ERR_BODY_TOO_LARGE');

      const deleted = await fetch(`${url}/${d.id}`, { method: 'DELETE', headers: { authorization: bearer } });
      assert.equal(((await deleted.json()) as { state: string }).state, 'DELETING');
    } finally {
      await server.close();
    }
  });
});
