import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Pool } from 'undici';
import { Scopes } from '../../src/domain/index.js';
import { PRETRAINED_NAME, startCluster, texts, type Cluster } from './gateway-cluster.js';

interface Case {
  name: string;
  /** Path and query. */
  url: string;
  headers: Record<string, string>;
  body: string;
  /** Whether the fast path answers it over HTTP (false: fastify does). */
  fast: boolean;
  status: number;
}

interface Answer {
  status: number;
  body: string;
  contentType: string | undefined;
  requestId: string | undefined;
  retryAfter: string | undefined;
}

/**
 * The embedding route's fast path (src/api/fast-embedding.ts) against fastify's route: the same
 * requests, over real HTTP (the fast path takes what it can) and through app.inject (always
 * fastify), must get the same status, body and headers. Real replicas of the tiny test encoder.
 */
describe('embedding fast path answers as the fastify route does', () => {
  let c: Cluster;
  let pool: Pool;
  let auth: string;

  before(async () => {
    c = await startCluster({ replicas: 1 });
    auth = await c.auth();
    await c.app.listen({ host: '127.0.0.1', port: 0 });
    pool = new Pool(`http://127.0.0.1:${(c.app.server.address() as AddressInfo).port}`, { connections: 2 });
  });
  after(async () => {
    await pool?.close();
    await c?.close();
  });

  async function overHttp(k: Case): Promise<Answer> {
    const res = await pool.request({ method: 'POST', path: k.url, headers: k.headers, body: k.body });
    const body = await res.body.text();
    const h = res.headers;
    return { status: res.statusCode, body, contentType: h['content-type'] as string | undefined, requestId: h['x-request-id'] as string | undefined, retryAfter: h['retry-after'] as string | undefined };
  }

  async function injected(k: Case): Promise<Answer> {
    const res = await c.app.inject({ method: 'POST', url: k.url, headers: k.headers, payload: k.body });
    const h = res.headers;
    return { status: res.statusCode, body: res.body, contentType: h['content-type'] as string | undefined, requestId: h['x-request-id'] as string | undefined, retryAfter: h['retry-after'] as string | undefined };
  }

  it('every case: same status, body, content type and request id both ways; the fast path took exactly the cases it should', async () => {
    const other = await c.otherCustomer();
    const modelScopeOnly = await c.auth([Scopes.MODEL]);
    const json = (id: string, a = auth) => ({ authorization: a, 'content-type': 'application/json', 'x-request-id': id });
    const route = `/ai/prediction/embedding/${c.deployment.id}`;
    const batch = (n: number, extra: Record<string, unknown> = {}) => JSON.stringify({ batch: texts(n).map((text) => ({ text })), ...extra });
    const cases: Case[] = [
      { name: 'two texts', url: route, headers: json('r1'), body: batch(2), fast: true, status: 200 },
      { name: 'application in the path', url: `/applications/app-1/ai/prediction/embedding/${c.deployment.id}`, headers: json('r2'), body: batch(1), fast: true, status: 200 },
      {
        name: 'dataType, Matryoshka and quantization',
        url: route,
        headers: { ...json('r3'), 'content-type': 'application/json; charset=utf-8' },
        body: batch(3, { useCaseConfig: { dataType: 'query' }, modelConfig: { dimReductionSize: 16, vectorQuantizationMethod: 'max-scale' } }),
        fast: true,
        status: 200,
      },
      { name: 'a pre-trained model by name', url: `/ai/prediction/embedding/${PRETRAINED_NAME}`, headers: json('r4'), body: batch(1), fast: true, status: 200 },
      { name: 'malformed JSON', url: route, headers: json('r5'), body: '{"batch": [', fast: true, status: 400 },
      { name: 'a __proto__ key', url: route, headers: json('r6'), body: '{"__proto__": {"polluted": true}, "batch": [{"text": "a"}]}', fast: true, status: 400 },
      { name: 'no batch', url: route, headers: json('r7'), body: '{}', fast: true, status: 400 },
      { name: 'an unknown top-level field (ignored by the route)', url: route, headers: json('r8'), body: batch(1, { bogus: 1 }), fast: true, status: 200 },
      { name: 'an unknown dataType', url: route, headers: json('r8b'), body: batch(1, { useCaseConfig: { dataType: 'document' } }), fast: true, status: 400 },
      { name: 'a dimReductionSize that is not a number', url: route, headers: json('r8c'), body: batch(1, { modelConfig: { dimReductionSize: 'big' } }), fast: true, status: 400 },
      { name: 'a JSON array', url: route, headers: json('r9'), body: '[1, 2]', fast: true, status: 400 },
      { name: 'a text that is not a string', url: route, headers: json('r10'), body: '{"batch": [{"text": 7}]}', fast: true, status: 400 },
      { name: 'too many inputs', url: route, headers: json('r11'), body: batch(c.config.limits.maxBatchItems + 1), fast: true, status: 400 },
      { name: 'dimReductionSize over the vector size', url: route, headers: json('r12'), body: batch(1, { modelConfig: { dimReductionSize: 64 } }), fast: true, status: 400 },
      { name: 'an unknown deployment', url: `/ai/prediction/embedding/${randomUUID()}`, headers: json('r13'), body: batch(1), fast: true, status: 404 },
      { name: "another customer's deployment", url: `/ai/prediction/embedding/${other.deployment.id}`, headers: json('r14'), body: batch(1), fast: true, status: 404 },
      { name: 'an unknown model name', url: '/ai/prediction/embedding/no-such-model', headers: json('r15'), body: batch(1), fast: true, status: 404 },
      { name: 'a token without the predict scope', url: route, headers: json('r16', modelScopeOnly), body: batch(1), fast: true, status: 403 },
      { name: 'a token that is not one', url: route, headers: json('r17', 'Bearer not-a-jwt'), body: batch(1), fast: true, status: 401 },
      { name: 'no Authorization header', url: route, headers: { 'content-type': 'application/json', 'x-request-id': 'r18' }, body: batch(1), fast: false, status: 401 },
      { name: 'text/plain', url: route, headers: { ...json('r19'), 'content-type': 'text/plain' }, body: batch(1), fast: false, status: 415 },
      { name: 'an empty body', url: route, headers: json('r20'), body: '', fast: false, status: 400 },
      { name: 'a query string', url: `${route}?trace=1`, headers: json('r21'), body: batch(1), fast: false, status: 200 },
      { name: 'a body over the limit', url: route, headers: json('r22'), body: JSON.stringify({ batch: [{ text: 'x'.repeat(c.config.limits.bodyLimitBytes) }] }), fast: false, status: 413 },
      { name: 'a trailing slash', url: `${route}/`, headers: json('r23'), body: batch(1), fast: false, status: 404 },
    ];
    const fast = c.app.fastEmbedding!;
    assert.ok(fast, 'the fast path is on by default');
    for (const k of cases) {
      const before = fast.served;
      const viaHttp = await overHttp(k);
      assert.equal(fast.served - before, k.fast ? 1 : 0, `${k.name}: taken by the fast path: ${k.fast}`);
      const viaFastify = await injected(k);
      assert.equal(fast.served - before, k.fast ? 1 : 0, `${k.name}: app.inject never reaches the fast path`);
      assert.equal(viaHttp.status, k.status, `${k.name}: ${viaHttp.body}`);
      assert.deepEqual(viaHttp, viaFastify, k.name);
    }
  });

  it('counts its requests in the HTTP metrics under the route, as fastify does', async () => {
    const metric = async () => {
      const text = await c.metrics.registry.getSingleMetricAsString('http_requests_total');
      const line = text.split('\n').find((l) => l.includes('route="/ai/prediction/embedding/:MODEL_ID"') && l.includes('status="200"') && l.includes('method="POST"'));
      return line === undefined ? 0 : Number(line.split(' ').at(-1));
    };
    const before = await metric();
    const fast = c.app.fastEmbedding!.served;
    const res = await pool.request({ method: 'POST', path: `/ai/prediction/embedding/${c.deployment.id}`, headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ batch: [{ text: 'counted' }] }) });
    await res.body.text();
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/, 'a fresh request id when none is given');
    assert.equal(c.app.fastEmbedding!.served, fast + 1);
    assert.equal(await metric(), before + 1);
  });
});
