/**
 * `/metrics` names every customer's deployments (issue 10, finding 8). By default it is not
 * public on the main port: a token with scope modeld.ops (or modeld.admin) is needed. An operator
 * may open it again (metrics.access `public`) or serve it without a token on a separate address
 * (metrics.listen), which then serves nothing else.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Metrics, startMetricsServer, type MetricsServer } from '../../src/api/index.js';
import { runServer } from '../../src/main.js';
import { makeTempDir } from '../fixtures/tmp.js';
import { startApi, type ApiHarness, type Tenant } from '../integration/api-harness.js';

describe('/metrics on the main port', () => {
  let h: ApiHarness;
  let alice: Tenant;
  before(async () => {
    h = await startApi();
    alice = await h.tenant();
    h.metrics.setReadyReplicas('dep-of-bob', 1);
  });
  after(() => h.close());

  const scrape = async (authorization?: string) => {
    const res = await h.app.inject({ method: 'GET', url: '/metrics', headers: authorization ? { authorization } : {} });
    return { status: res.statusCode, body: res.body, requestId: res.headers['x-request-id'] };
  };

  test('without a token: 401 in the documented shape, no deployment id in the answer', async () => {
    const res = await scrape();
    assert.equal(res.status, 401);
    assert.equal(JSON.parse(res.body).code, 'MODELD_ERR_UNAUTHENTICATED');
    assert.ok(res.requestId);
    assert.doesNotMatch(res.body, /dep-of-bob/);
  });

  test("a customer's token without the ops scope: 403 naming modeld.ops", async () => {
    const res = await scrape(await alice.auth(['machinelearning.model', 'machinelearning.predict']));
    assert.equal(res.status, 403);
    const body = JSON.parse(res.body);
    assert.equal(body.code, 'MODELD_ERR_FORBIDDEN_SCOPE');
    assert.match(body.message, /modeld\.ops/);
    assert.doesNotMatch(res.body, /dep-of-bob/);
  });

  test('modeld.ops or modeld.admin: 200, the Prometheus text', async () => {
    for (const scope of ['modeld.ops', 'modeld.admin']) {
      const res = await scrape(await alice.auth([scope]));
      assert.equal(res.status, 200, scope);
      assert.match(res.body, /modeld_deployment_ready_replicas\{deployment="dep-of-bob"\} 1/);
    }
  });

  test('/healthz and /readyz stay open', async () => {
    assert.equal((await h.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    assert.equal((await h.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
  });
});

test('metrics.access public: the operator opted back to an open /metrics', async () => {
  const h = await startApi({ config: { metrics: { access: 'public' } } });
  try {
    const res = await h.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /http_requests_total/);
  } finally {
    await h.close();
  }
});

describe('metrics.listen: a separate address for the scraper', () => {
  let server: MetricsServer;
  const metrics = new Metrics({ processMetrics: false });
  before(async () => {
    metrics.setReadyReplicas('dep-1', 2);
    server = await startMetricsServer(metrics, { host: '127.0.0.1', port: 0 });
  });
  after(() => server.close());

  test('GET /metrics answers without a token, over a real socket', async () => {
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(await res.text(), /modeld_deployment_ready_replicas\{deployment="dep-1"\} 2/);
  });

  test('nothing else is served there: 404 {message, code}', async () => {
    for (const [method, url] of [['GET', '/customers/x/ai/deployments'], ['POST', '/metrics'], ['GET', '/oauth2/token']] as const) {
      const res = await fetch(`${server.url}${url}`, { method });
      assert.equal(res.status, 404, `${method} ${url}`);
      const body = (await res.json()) as { code: string; message: string };
      assert.equal(body.code, 'MODELD_ERR_NOT_FOUND');
    }
  });

  test('an address already taken is a clear error', async () => {
    const port = Number(new URL(server.url).port);
    await assert.rejects(startMetricsServer(metrics, { host: '127.0.0.1', port }), /cannot listen on 127\.0\.0\.1:\d+ \(metrics\.listen\): EADDRINUSE/);
  });
});

test('runServer with metrics.listen: /metrics without a token there, behind a token on the API port, both closed by close()', async () => {
  const tmp = await makeTempDir('modeld-metrics-listen-');
  const configFile = path.join(tmp.dir, 'config.json');
  await writeFile(configFile, JSON.stringify({ metrics: { listen: { host: '127.0.0.1', port: 0 } } }));
  const sink = new Writable({ write: (_c, _e, done) => done() });
  const server = await runServer({ port: 0, dataDir: path.join(tmp.dir, 'data'), logLevel: 'warn', configFile }, { logDestination: sink });
  try {
    assert.ok(server.metricsUrl, 'the separate listener is reported');
    assert.notEqual(server.metricsUrl, server.url);
    const open = await fetch(`${server.metricsUrl}/metrics`);
    assert.equal(open.status, 200);
    assert.match(await open.text(), /http_requests_total/);
    const guarded = await fetch(`${server.url}/metrics`);
    assert.equal(guarded.status, 401);
    await guarded.arrayBuffer();
  } finally {
    await server.close();
    await tmp.cleanup();
  }
  await assert.rejects(fetch(`${server.metricsUrl}/metrics`), 'the listener is closed with the server');
});
