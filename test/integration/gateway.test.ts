/**
 * The prediction path end to end against real runner processes (ProcessRuntime, a real ONNX
 * artifact): HTTP routes -> gateway -> least-loaded replica -> binary frame -> shaped JSON.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { loadEngine, type EmbeddingEngine } from '../../src/engines/index.js';
import { DIM_REDUCTION_TOO_LARGE_MESSAGE, Gateway, type Lease } from '../../src/gateway/index.js';
import { DeploymentStates } from '../../src/domain/index.js';
import { PRETRAINED_NAME, startCluster, texts, type Cluster } from './gateway-cluster.js';

interface EmbeddingBody {
  predictions: Array<{ tokensUsed: { inputTokens: number }; vector: number[]; warning?: string }>;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tolerance, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

describe('gateway with real replicas', () => {
  let c: Cluster;
  let engine: EmbeddingEngine;
  let auth: string;

  before(async () => {
    c = await startCluster({ replicas: 2, gateway: { maxInflightPerReplica: 2, maxQueuePerDeployment: 3 }, readyWaitMs: 300 });
    engine = await loadEngine(c.artifactDir);
    auth = await c.auth();
  });
  after(async () => {
    await engine?.close();
    await c?.close();
  });

  const embed = (modelId: string, body: unknown, token = auth, prefix = '') =>
    c.app.inject({ method: 'POST', url: `${prefix}/ai/prediction/embedding/${modelId}`, headers: { authorization: token }, payload: body as object });

  it('answers one unit vector per input, in order, equal to the engine run in-process', async () => {
    const batch = texts(32);
    const res = await embed(c.deployment.id, { batch: batch.map((text) => ({ text })) });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const body = res.json<EmbeddingBody>();
    const expected = await engine.embed(batch);
    assert.equal(body.predictions.length, 32);
    body.predictions.forEach((p, i) => {
      assertClose(p.vector, expected.vectors.subarray(i * 32, (i + 1) * 32), 1e-5, `prediction ${i}`);
      assert.equal(p.tokensUsed.inputTokens, expected.tokenCounts[i]);
      assert.ok(Math.abs(norm(p.vector) - 1) < 1e-5);
      assert.equal(p.warning, undefined);
    });
    // The same under /applications/{APPLICATION_ID}/ai/..., and by pre-trained name.
    const byApp = await embed(c.deployment.id, { batch: [{ text: batch[3]! }] }, auth, '/applications/5b1f6c2e-9d1b-4c6e-8a43-0d1c2e3f4a5b');
    assertClose(byApp.json<EmbeddingBody>().predictions[0]!.vector, expected.vectors.subarray(3 * 32, 4 * 32), 1e-5, 'by application path');
    const byName = await embed(PRETRAINED_NAME, { batch: [{ text: batch[5]! }], useCaseConfig: { dataType: 'query' } });
    assert.equal(byName.statusCode, 200, byName.body);
    assertClose(byName.json<EmbeddingBody>().predictions[0]!.vector, expected.vectors.subarray(5 * 32, 6 * 32), 1e-5, 'by pre-trained name');
  });

  it('spreads concurrent requests over both replicas and writes lastUsedAt', async () => {
    const before = c.registry.get(c.deployment.id)!.endpoints.map((e) => e.served);
    // 7 = 2 replicas x 2 slots + 3 queue places: all admitted, none shed.
    const results = await Promise.all(Array.from({ length: 7 }, (_, i) => c.gateway.embed(c.customerId, c.deployment.id, { batch: [{ text: `request ${i}` }] })));
    assert.equal(results.length, 7);
    const served = c.registry.get(c.deployment.id)!.endpoints.map((e, i) => e.served - before[i]!);
    assert.equal(served.reduce((a, b) => a + b, 0), 7);
    assert.ok(served.every((n) => n > 0), `served per replica: ${served.join(', ')}`);
    const stored = await c.store.getDeployment(c.customerId, c.deployment.id);
    assert.ok(stored?.lastUsedAt, 'lastUsedAt written');
    const latency = await c.metrics.registry.getSingleMetric('modeld_inference_duration_seconds')!.get();
    const count = latency.values.find((v) => (v as { metricName?: string }).metricName === 'modeld_inference_duration_seconds_count' && v.labels.deployment === c.deployment.id && v.labels.operation === 'embedding');
    assert.ok(count && count.value >= 7, `latency observations: ${count?.value}`);
  });

  it('writes lastUsedAt at most once a second per deployment', async () => {
    let now = Date.parse('2031-01-01T00:00:00.000Z');
    const g = new Gateway({ config: c.config, store: c.store, registry: c.registry, resolvePretrained: async () => null, listPretrained: () => [], clock: { now: () => now } });
    const lastUsed = async () => (await c.store.getDeployment(c.customerId, c.deployment.id))!.lastUsedAt;
    // The SQLite store writes synchronously within the call, so a write, if any, is done when embed returns.
    try {
      await g.embed(c.customerId, c.deployment.id, { batch: [{ text: 'a' }] });
      assert.equal(await lastUsed(), '2031-01-01T00:00:00.000Z');
      now += 999;
      await g.embed(c.customerId, c.deployment.id, { batch: [{ text: 'b' }] });
      assert.equal(await lastUsed(), '2031-01-01T00:00:00.000Z');
      now += 1;
      await g.embed(c.customerId, c.deployment.id, { batch: [{ text: 'c' }] });
      assert.equal(await lastUsed(), '2031-01-01T00:00:01.000Z');
    } finally {
      await g.close();
    }
  });

  it('quantizes: min-max to integers 0..255, max-scale to -127..127', async () => {
    const batch = texts(4).map((text) => ({ text }));
    for (const [method, lo, hi] of [['min-max', 0, 255], ['max-scale', -127, 127]] as const) {
      const res = await embed(c.deployment.id, { batch, modelConfig: { vectorQuantizationMethod: method } });
      assert.equal(res.statusCode, 200, res.body);
      for (const p of res.json<EmbeddingBody>().predictions) {
        assert.equal(p.vector.length, 32);
        assert.ok(p.vector.every((x) => Number.isInteger(x) && x >= lo && x <= hi), `${method}: ${p.vector.join(',')}`);
        assert.ok(p.vector.includes(method === 'min-max' ? 255 : 127) || p.vector.includes(-127));
      }
    }
  });

  it('reduces dimensions (Matryoshka): truncates, re-normalizes, warns when the model was not trained for it', async () => {
    const batch = texts(3);
    const expected = await engine.embed(batch);
    const res = await embed(c.deployment.id, { batch: batch.map((text) => ({ text })), modelConfig: { dimReductionSize: 8 } });
    assert.equal(res.statusCode, 200, res.body);
    res.json<EmbeddingBody>().predictions.forEach((p, i) => {
      assert.equal(p.vector.length, 8);
      assert.ok(Math.abs(norm(p.vector) - 1) < 1e-5);
      const head = expected.vectors.subarray(i * 32, i * 32 + 8);
      const n = norm(head);
      assertClose(p.vector, Array.from(head, (x) => x / n), 1e-5, `truncated ${i}`);
      assert.match(p.warning ?? '', /not trained for Matryoshka dimensionality reduction to 8 dimensions/);
    });
    const full = await embed(c.deployment.id, { batch: [{ text: 'a' }], modelConfig: { dimReductionSize: 32 } });
    assert.equal(full.json<EmbeddingBody>().predictions[0]!.warning, undefined);
    const tooLarge = await embed(c.deployment.id, { batch: [{ text: 'a' }], modelConfig: { dimReductionSize: 33 } });
    assert.equal(tooLarge.statusCode, 400);
    assert.equal(tooLarge.json<{ message: string }>().message, DIM_REDUCTION_TOO_LARGE_MESSAGE);
    assert.equal(
      DIM_REDUCTION_TOO_LARGE_MESSAGE,
      "The Matryoshka dimensionality reduction size is greater than the model's vector size. Please provide a valid reduction size.",
    );
  });

  it('refuses bad bodies with 400 naming the field, before any replica sees them', async () => {
    const servedBefore = c.registry.get(c.deployment.id)!.endpoints.reduce((n, e) => n + e.served, 0);
    const cases: Array<[unknown, string]> = [
      [{ batch: [] }, 'body.batch'],
      [{ batch: texts(33).map((text) => ({ text })) }, 'body.batch'],
      [{ batch: [{ text: 42 }] }, 'body.batch.0.text'],
      [{ batch: [{ text: 'a' }], useCaseConfig: { dataType: 'document' } }, 'body.useCaseConfig.dataType'],
      [{ batch: [{ text: 'a' }], modelConfig: { vectorQuantizationMethod: 'binary' } }, 'body.modelConfig.vectorQuantizationMethod'],
      [{ batch: [{ text: 'a' }], modelConfig: { dimReductionSize: 0 } }, 'body.modelConfig.dimReductionSize'],
    ];
    for (const [body, field] of cases) {
      const res = await embed(c.deployment.id, body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body).slice(0, 80)} -> ${res.statusCode} ${res.body}`);
      const e = res.json<{ message: string; code: string }>();
      assert.equal(e.code, 'MODELD_ERR_VALIDATION');
      assert.ok(e.message.startsWith(`${field}: `), e.message);
    }
    const malformed = await c.app.inject({ method: 'POST', url: `/ai/prediction/embedding/${c.deployment.id}`, headers: { authorization: auth, 'content-type': 'application/json' }, payload: '{"batch": [' });
    assert.equal(malformed.statusCode, 400);
    assert.equal(c.registry.get(c.deployment.id)!.endpoints.reduce((n, e) => n + e.served, 0), servedBefore);
  });

  it('resolves MODEL_ID without leaking: unknown and foreign deployments are 404, unknown names 404, undeployed 503 with the state', async () => {
    const unknown = await embed('0b7c3f7e-1111-4222-8333-944455556666', { batch: [{ text: 'a' }] });
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json<{ code: string }>().code, 'MODELD_ERR_DEPLOYMENT_NOT_FOUND');
    const other = await c.otherCustomer();
    const foreign = await embed(other.deployment.id, { batch: [{ text: 'a' }] });
    assert.equal(foreign.statusCode, 404);
    assert.deepEqual(foreign.json(), { ...unknown.json<object>(), message: unknown.json<{ message: string }>().message.replace('0b7c3f7e-1111-4222-8333-944455556666', other.deployment.id), details: { modelId: other.deployment.id } });
    // ... while its owner gets past resolution (no replica published for it: 503, never 404).
    const own = await embed(other.deployment.id, { batch: [{ text: 'a' }] }, other.auth);
    assert.equal(own.statusCode, 503);
    const name = await embed('no-such-model', { batch: [{ text: 'a' }] });
    assert.equal(name.statusCode, 404);
    assert.equal(name.json<{ code: string }>().code, 'MODELD_ERR_MODEL_NOT_FOUND');
    const deploying = await c.seedDeployment(DeploymentStates.DEPLOYING);
    const res = await embed(deploying.id, { batch: [{ text: 'a' }] });
    assert.equal(res.statusCode, 503);
    assert.equal(res.json<{ code: string }>().code, 'MODELD_ERR_NO_READY_REPLICA');
    assert.match(res.json<{ message: string }>().message, /DEPLOYING/);
  });

  it('serves a published deployment without asking the store, yet another customer gets 404 and a deleted one stops', async () => {
    const extra = await c.seedDeployment(DeploymentStates.DEPLOYED);
    const endpoints = c.replicas.map((r) => ({ replicaId: r.replicaId, url: r.endpoint!, generation: r.generation }));
    c.registry.publish(extra.id, c.model, endpoints);
    for (let i = 0; i < 3; i++) assert.equal((await embed(extra.id, { batch: [{ text: `warm ${i}` }] })).statusCode, 200);
    const other = await c.otherCustomer();
    const foreign = await embed(extra.id, { batch: [{ text: 'a' }] }, other.auth);
    assert.equal(foreign.statusCode, 404);
    assert.equal(foreign.json<{ code: string }>().code, 'MODELD_ERR_DEPLOYMENT_NOT_FOUND');
    // Deleted the way the controller does it: the record goes, then the registry forgets it.
    await c.store.deleteDeployment(extra.id);
    c.registry.remove(extra.id);
    const gone = await embed(extra.id, { batch: [{ text: 'a' }] });
    assert.equal(gone.statusCode, 404);
    assert.equal(gone.json<{ code: string }>().code, 'MODELD_ERR_DEPLOYMENT_NOT_FOUND');
  });

  it('needs a machinelearning.predict token', async () => {
    const none = await c.app.inject({ method: 'POST', url: `/ai/prediction/embedding/${c.deployment.id}`, payload: { batch: [{ text: 'a' }] } });
    assert.equal(none.statusCode, 401);
    const wrongScope = await embed(c.deployment.id, { batch: [{ text: 'a' }] }, await c.auth(['machinelearning.model']));
    assert.equal(wrongScope.statusCode, 403);
  });

  it('classifies: labels ranked by cosine similarity, topK and similarityCutoff applied', async () => {
    const inputs = ['red running shoes', 'wireless headphones'];
    const labels = ['footwear shoes', 'audio headphones', 'garden hose', 'kitchen table'];
    const all = await engine.embed([...inputs, ...labels]);
    const score = (i: number, j: number) => {
      let s = 0;
      for (let d = 0; d < 32; d++) s += all.vectors[i * 32 + d]! * all.vectors[(inputs.length + j) * 32 + d]!;
      return s;
    };
    const res = await c.app.inject({
      method: 'POST',
      url: `/ai/prediction/classification/${c.deployment.id}`,
      headers: { authorization: auth },
      payload: { batch: inputs.map((text) => ({ text })), useCaseConfig: { labels, topK: 3 } },
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json<{ predictions: Array<{ tokensUsed: { inputTokens: number; labelsTokens: number }; labels: Record<string, number> }> }>();
    const labelsTokens = labels.reduce((n, _, j) => n + all.tokenCounts[inputs.length + j]!, 0);
    body.predictions.forEach((p, i) => {
      const ranked = labels.map((l, j) => [l, score(i, j)] as const).sort((a, b) => b[1] - a[1]).slice(0, 3);
      assert.deepEqual(Object.keys(p.labels), ranked.map(([l]) => l));
      for (const [l, s] of ranked) assert.ok(Math.abs(p.labels[l]! - s) < 1e-5);
      assert.deepEqual(p.tokensUsed, { inputTokens: all.tokenCounts[i], labelsTokens });
    });
    const cutoff = Math.max(...labels.map((_, j) => score(0, j))) - 1e-4;
    const cut = await c.app.inject({
      method: 'POST',
      url: `/ai/prediction/classification/${c.deployment.id}`,
      headers: { authorization: auth },
      payload: { batch: [{ text: inputs[0]! }], useCaseConfig: { labels, similarityCutoff: cutoff } },
    });
    assert.equal(Object.keys(cut.json<{ predictions: Array<{ labels: object }> }>().predictions[0]!.labels).length, 1);
  });

  it('tokenizes as the engine does', async () => {
    const batch = ['Red running shoes', 'a'];
    const res = await c.app.inject({ method: 'POST', url: `/ai/tokenization/${c.deployment.id}`, headers: { authorization: auth }, payload: { batch: batch.map((text) => ({ text })) } });
    assert.equal(res.statusCode, 200, res.body);
    const expected = engine.tokenize(batch).tokens;
    const n = expected.flat().length;
    // The documented four counts: an embedding model generates nothing.
    assert.deepEqual(res.json(), { generatedTokens: expected.map((tokens) => ({ tokens })), tokensUsed: { inputTokens: n, promptTokens: n, completionTokens: 0, totalTokens: n } });
  });

  it('lists use cases with pre-trained models and the customer’s deployments by id', async () => {
    const res = await c.app.inject({ method: 'GET', url: '/ai/usecase', headers: { authorization: auth } });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json<Array<{ useCase: string; models: Array<{ id: string; name: string; modelType: string; vectorSize: number }> }>>();
    const embedding = body.find((u) => u.useCase === 'embedding');
    assert.ok(embedding);
    assert.deepEqual(embedding.models[0], { id: PRETRAINED_NAME, name: PRETRAINED_NAME, modelType: PRETRAINED_NAME, vectorSize: 32 });
    assert.ok(embedding.models.some((m) => m.id === c.deployment.id && m.vectorSize === 32 && m.name === 'tiny-test-encoder'));
    assert.ok(body.every((u) => u.models.every((m) => m.id === PRETRAINED_NAME || m.id === c.deployment.id)), 'only this customer’s DEPLOYED deployments');
  });

  it('speaks the Open Inference Protocol v2', async () => {
    const batch = texts(3);
    const expected = await engine.embed(batch);
    const infer = await c.app.inject({
      method: 'POST',
      url: `/v2/models/${c.deployment.id}/infer`,
      headers: { authorization: auth },
      payload: { id: 'req-1', inputs: [{ name: 'text', shape: [3], datatype: 'BYTES', data: batch }] },
    });
    assert.equal(infer.statusCode, 200, infer.body);
    const out = infer.json<{ model_name: string; id: string; outputs: Array<{ name: string; shape: number[]; datatype: string; data: number[] }> }>();
    assert.equal(out.model_name, c.deployment.id);
    assert.equal(out.id, 'req-1');
    assert.deepEqual(out.outputs.map((o) => [o.name, o.shape, o.datatype]), [['vector', [3, 32], 'FP32']]);
    assertClose(out.outputs[0]!.data, expected.vectors, 1e-5, 'oip vectors');

    const meta = await c.app.inject({ method: 'GET', url: `/v2/models/${PRETRAINED_NAME}`, headers: { authorization: auth } });
    assert.equal(meta.statusCode, 200, meta.body);
    assert.deepEqual(meta.json<{ outputs: unknown }>().outputs, [{ name: 'vector', datatype: 'FP32', shape: [-1, 32] }]);
    assert.equal((await c.app.inject({ method: 'GET', url: `/v2/models/${c.deployment.id}/ready`, headers: { authorization: auth } })).statusCode, 200);
    const other = await c.otherCustomer();
    const notReady = await c.app.inject({ method: 'GET', url: `/v2/models/${other.deployment.id}/ready`, headers: { authorization: other.auth } });
    assert.equal(notReady.statusCode, 400, 'a model with no ready replica answers false, as a 4xx');
    assert.deepEqual(Object.keys(notReady.json()), ['error']);
    assert.equal((await c.app.inject({ method: 'GET', url: '/v2/health/live' })).statusCode, 200);
    assert.equal((await c.app.inject({ method: 'GET', url: '/v2/health/ready' })).statusCode, 200);

    const missing = await c.app.inject({ method: 'GET', url: '/v2/models/nothing-here', headers: { authorization: auth } });
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(Object.keys(missing.json()), ['error']);
    const bad = await c.app.inject({ method: 'POST', url: `/v2/models/${c.deployment.id}/infer`, headers: { authorization: auth }, payload: { inputs: [{ name: 'text', shape: [2], datatype: 'BYTES', data: ['a'] }] } });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json<{ error: string }>().error, /^body\.inputs\.0\.shape: /);
    const unauthenticated = await c.app.inject({ method: 'GET', url: `/v2/models/${c.deployment.id}` });
    assert.equal(unauthenticated.statusCode, 401);
    assert.deepEqual(Object.keys(unauthenticated.json()), ['error']);
  });

  it('sheds with 429 and Retry-After when every slot is taken and the queue is full, then serves the queue', async () => {
    // Take every replica slot (2 replicas x maxInflightPerReplica 2) the way a long call would.
    const held: Lease[] = await Promise.all([1, 2, 3, 4].map(() => c.gateway.balancer.acquire(c.deployment.id)));
    const queued = [1, 2, 3].map((i) => embed(c.deployment.id, { batch: [{ text: `queued ${i}` }] }));
    while (c.gateway.balancer.queuedOf(c.deployment.id) < 3) await new Promise((r) => setImmediate(r));
    const shed = await embed(c.deployment.id, { batch: [{ text: 'one too many' }] });
    assert.equal(shed.statusCode, 429, shed.body);
    assert.equal(shed.json<{ code: string }>().code, 'MODELD_ERR_OVERLOADED');
    const retryAfter = Number(shed.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After ${shed.headers['retry-after']}`);
    assert.equal(c.registry.loadOf(c.deployment.id)!.shed >= 1, true);
    for (const l of held) l.release();
    const done = await Promise.all(queued);
    assert.deepEqual(done.map((r) => r.statusCode), [200, 200, 200]);
    const metrics = await c.metrics.registry.getSingleMetricAsString('modeld_requests_shed_total');
    assert.match(metrics, new RegExp(`modeld_requests_shed_total\\{deployment="${c.deployment.id}"\\} [1-9]`));
  });

  it('drops a queued request whose client disconnects (real socket)', async () => {
    const address = await c.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = c.app.server.address() as AddressInfo;
    assert.ok(address);
    const held: Lease[] = await Promise.all([1, 2, 3, 4].map(() => c.gateway.balancer.acquire(c.deployment.id)));
    try {
      const body = JSON.stringify({ batch: [{ text: 'patient?' }] });
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: `/ai/prediction/embedding/${c.deployment.id}`,
        headers: { authorization: auth, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      req.on('error', () => {});
      req.end(body);
      while (c.gateway.balancer.queuedOf(c.deployment.id) < 1) await new Promise((r) => setTimeout(r, 5));
      assert.equal(c.registry.loadOf(c.deployment.id)!.queued, 1);
      req.destroy();
      // The server sees the socket close and the gateway removes the request from the queue.
      const deadline = Date.now() + 5_000;
      while (c.gateway.balancer.queuedOf(c.deployment.id) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.equal(c.gateway.balancer.queuedOf(c.deployment.id), 0);
      assert.equal(c.registry.loadOf(c.deployment.id)!.queued, 0);
      assert.equal(c.registry.loadOf(c.deployment.id)!.inflight, 4, 'the abandoned request never took a slot');
    } finally {
      for (const l of held) l.release();
    }
  });
});
