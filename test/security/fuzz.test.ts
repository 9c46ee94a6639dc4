import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { runServer, type RunningServer } from '../../src/main.js';
import { makeModeldArtifact } from '../fixtures/models.js';
import { makeTempDir, type TempDir } from '../fixtures/tmp.js';

/**
 * Issue 10's bounded fuzz: a real server (runServer: SQLite, the process runtime, a real replica
 * of a tiny model and of the shipped pre-trained model) is sent generated requests on every route
 * its OpenAPI document lists, as a customer A holding valid tokens would send them: generated
 * JSON and broken JSON, mutated valid bodies, other content types, path parameters that are A's,
 * customer B's, or garbage (long, `%`-escapes, traversal), with and without a token.
 *
 * Every answer must be below 500, in the documented error shape with an `x-request-id` (the
 * token route's RFC 6749 shape, the Open Inference Protocol's `{error}` on /v2), and afterwards
 * the server must still serve the same vectors as before and B's objects must be unchanged.
 * Seeded (MODELD_FUZZ_SEED, printed) and bounded (MODELD_FUZZ_RUNS requests, default 1200).
 */

const SEED = Number(process.env.MODELD_FUZZ_SEED ?? 20261206);
const RUNS = Number(process.env.MODELD_FUZZ_RUNS ?? 1200);

interface Tenant {
  customerId: string;
  token: string;
  predictToken: string;
}

let tmp: TempDir;
let server: RunningServer;
let adminToken: string;
let a: Tenant;
let b: Tenant & { modelId: string; deploymentId: string; upload: string };
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

function send(method: string, urlPath: string, options: { headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Answer> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, agent, headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer to ${method} ${urlPath}`)));
    req.end(options.body);
  });
}

async function json(method: string, urlPath: string, token: string | null, body?: unknown): Promise<any> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await send(method, urlPath, { headers, ...(body !== undefined && { body: JSON.stringify(body) }) });
  assert.ok(res.status < 300, `${method} ${urlPath}: ${res.status} ${res.text}`);
  return JSON.parse(res.text);
}

async function tokenFor(clientId: string, secret: string, scope: string): Promise<string> {
  const res = await send('POST', '/oauth2/token', {
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: `grant_type=client_credentials&scope=${encodeURIComponent(scope)}`,
  });
  assert.equal(res.status, 200, res.text);
  return (JSON.parse(res.text) as { access_token: string }).access_token;
}

async function newTenant(): Promise<Tenant> {
  const customer = await json('POST', '/admin/customers', adminToken, {});
  const client = await json('POST', `/admin/customers/${customer.id}/clients`, adminToken, { scopes: ['machinelearning.model', 'machinelearning.predict'] });
  return {
    customerId: customer.id,
    token: await tokenFor(client.clientId, client.clientSecret, 'machinelearning.model machinelearning.predict'),
    predictToken: await tokenFor(client.clientId, client.clientSecret, 'machinelearning.predict'),
  };
}

async function embed(token: string, modelId: string, text: string): Promise<number[]> {
  const res = await json('POST', `/ai/prediction/embedding/${modelId}`, token, { batch: [{ text }] });
  return res.predictions[0].vector as number[];
}

/** B's objects as B sees them, without what moves by itself (usage times, replica counters). */
async function bView(): Promise<string> {
  const models = (await json('GET', `/customers/${b.customerId}/ai/models`, b.token)) as Record<string, unknown>[];
  const deployments = (await json('GET', `/customers/${b.customerId}/ai/deployments`, b.token)) as Record<string, unknown>[];
  const uploads = await json('GET', `/customers/${b.customerId}/ai/uploads`, b.token);
  const stable = (o: Record<string, unknown>) => {
    const { lastUsedAt: _u, status: _s, deployments: _d, ...rest } = o;
    return rest;
  };
  return JSON.stringify({ models: models.map(stable), deployments: deployments.map(stable), uploads });
}

before(async () => {
  tmp = await makeTempDir('modeld-fuzz-');
  const fixtures = path.join(tmp.dir, 'fixtures');
  await makeModeldArtifact(path.join(fixtures, 'tiny'));
  const configFile = path.join(tmp.dir, 'config.json');
  await writeFile(configFile, JSON.stringify({ importRoots: [fixtures] }));
  const quiet = new Writable({ write: (_c, _e, done) => done() });
  server = await runServer({ port: 0, host: '127.0.0.1', dataDir: path.join(tmp.dir, 'data'), logLevel: 'warn', configFile }, { logDestination: quiet });
  const creds = JSON.parse(await readFile(path.join(tmp.dir, 'data', 'admin-credentials.json'), 'utf8')) as { clientId: string; clientSecret: string };
  adminToken = await tokenFor(creds.clientId, creds.clientSecret, 'modeld.admin');
  a = await newTenant();
  const bt = await newTenant();
  const model = await json('POST', `/customers/${bt.customerId}/ai/models`, bt.token, { name: 'b-model', modelType: 'imported', artifact: { uri: `file://${path.join(fixtures, 'tiny')}` } });
  const deployment = await json('POST', `/customers/${bt.customerId}/ai/deployments`, bt.token, { modelId: model.id, region: 'local', config: { owner: 'b' } });
  const upload = await send('PUT', `/customers/${bt.customerId}/ai/uploads/catalog.csv`, { headers: { authorization: `Bearer ${bt.token}` }, body: 'pkid,name\n1,red shoes\n' });
  assert.equal(upload.status, 200, upload.text);
  b = { ...bt, modelId: model.id, deploymentId: deployment.id, upload: 'catalog.csv' };
  for (let i = 0; i < 200; i++) {
    const d = await json('GET', `/customers/${b.customerId}/ai/deployments/${b.deploymentId}`, b.token);
    if (d.state === 'DEPLOYED') break;
    assert.notEqual(d.state, 'DEPLOY_FAILED', JSON.stringify(d));
    await new Promise((r) => setTimeout(r, 100));
  }
});

after(async () => {
  agent.destroy();
  await server?.close();
  await tmp?.cleanup();
});

/** The routes the server documents, as [method, template with {PARAM}s]. */
async function documentedRoutes(): Promise<Array<[string, string]>> {
  const doc = JSON.parse((await send('GET', '/openapi.json')).text) as { paths: Record<string, Record<string, unknown>> };
  const out: Array<[string, string]> = [];
  for (const [p, ops] of Object.entries(doc.paths)) {
    for (const method of Object.keys(ops)) if (['get', 'post', 'put', 'patch', 'delete'].includes(method)) out.push([method.toUpperCase(), p]);
  }
  return out;
}

describe('tenancy: customer A aims every documented route at customer B’s objects (issue 10)', () => {
  test('each answer is a 4xx, none carries B’s data, and B’s objects are unchanged', async () => {
    const routes = await documentedRoutes();
    const before = await bView();
    const bUploads = path.join(tmp.dir, 'data', 'uploads', b.customerId);
    const bodies: Array<[RegExp, unknown]> = [
      [/\/ai\/deployments$/, { modelId: b.modelId, region: 'local' }],
      [/\/ai\/deployments\/\{[^}]+\}$/, { minReplicas: 2, maxReplicas: 2, config: { hijacked: true } }],
      [/\/ai\/models$/, { name: 'steal', modelType: 'imported', artifact: { uri: `file://${bUploads}` } }],
      [/\/infer$/, { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['x'] }] }],
      [/classification/, { batch: [{ text: 'x' }], useCaseConfig: { labels: ['a'] } }],
      [/\/ai\//, { batch: [{ text: 'x' }] }],
    ];
    const bSecrets = [b.modelId, b.deploymentId, b.customerId, 'b-model', '"owner":"b"'];
    const problems: string[] = [];
    let tried = 0;
    for (const [method, template] of routes) {
      const params: string[] = [...(template.match(/\{[^}]+\}/g) ?? [])];
      if (params.length === 0 || template.startsWith('/admin') || template.startsWith('/oauth2')) continue;
      // Every param that names an object takes each of B's ids in turn; CUSTOMER_ID is B's once and A's otherwise.
      const objectParams = params.filter((p) => p !== '{CUSTOMER_ID}' && p !== '{APPLICATION_ID}');
      const variants: Array<Record<string, string>> = [];
      if (params.includes('{CUSTOMER_ID}')) variants.push(Object.fromEntries(params.map((p) => [p, p === '{CUSTOMER_ID}' ? b.customerId : b.deploymentId])));
      for (const id of [b.modelId, b.deploymentId, b.upload]) {
        if (objectParams.length > 0) variants.push(Object.fromEntries(params.map((p) => [p, p === '{CUSTOMER_ID}' || p === '{APPLICATION_ID}' ? a.customerId : id])));
      }
      if (params.includes('{APPLICATION_ID}')) variants.push(Object.fromEntries(params.map((p) => [p, p === '{APPLICATION_ID}' ? b.customerId : 'universal-sentence-encoder-lite'])));
      for (const values of variants) {
        const urlPath = template.replace(/\{[^}]+\}/g, (p) => values[p]!);
        const body = bodies.find(([re]) => re.test(template))?.[1] ?? {};
        const headers: Record<string, string> = { authorization: `Bearer ${a.token}` };
        const withBody = method !== 'GET' && method !== 'DELETE';
        if (withBody) headers['content-type'] = method === 'PUT' ? 'text/csv' : 'application/json';
        const res = await send(method, urlPath, withBody ? { headers, body: method === 'PUT' ? 'pkid,name\n9,stolen\n' : JSON.stringify(body) } : { headers });
        tried++;
        const sent = urlPath + JSON.stringify(body);
        const leaked = bSecrets.filter((x) => res.text.includes(x) && !sent.includes(x));
        if (leaked.length > 0) problems.push(`${method} ${urlPath} -> ${res.status} carries B's ${leaked.join(', ')}`);
        // An upload FILENAME is a name in the caller's own folder, not a reference to B's file:
        // A may create or delete its own file of that name (B's stays unchanged, checked below).
        const aimsAtB = Object.entries(values).some(
          ([p, v]) => p !== '{APPLICATION_ID}' && ((p !== '{FILENAME}' && p !== '{*}') || values['{CUSTOMER_ID}'] === b.customerId) && v !== a.customerId && v !== 'universal-sentence-encoder-lite',
        );
        if (aimsAtB && (res.status < 400 || res.status >= 500)) problems.push(`${method} ${urlPath} -> ${res.status} ${res.text.slice(0, 160)}`);
      }
    }
    assert.ok(tried >= 40, `requests tried: ${tried}`);
    assert.deepEqual(problems, []);
    assert.equal(await bView(), before, 'B’s models, deployments and uploads are unchanged');
  });
});

describe('fuzz: generated requests on every documented route (issue 10)', () => {
  test(`${RUNS} requests (seed ${SEED}): no 5xx, the documented error shape, same vectors after, B's objects unchanged`, async () => {
    const routes = await documentedRoutes();
    assert.ok(routes.length >= 25, `the OpenAPI document lists the routes (${routes.length})`);
    const useBefore = await embed(a.predictToken, 'universal-sentence-encoder-lite', 'red running shoes');
    const bBefore = await embed(b.predictToken, b.deploymentId, 'blue denim jacket');
    const bViewBefore = await bView();

    const ids = [a.customerId, b.customerId, b.modelId, b.deploymentId, b.upload, 'universal-sentence-encoder-lite', '00000000-0000-0000-0000-000000000000'];
    const param = fc.oneof(
      { weight: 4, arbitrary: fc.constant('A') },
      { weight: 3, arbitrary: fc.constantFrom(...ids) },
      { weight: 1, arbitrary: fc.uuid() },
      { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map(encodeURIComponent) },
      { weight: 1, arbitrary: fc.constantFrom('..', '%2e%2e', '%2F..%2F..%2Fetc', '%00', '%zz', '%', 'a%2Fb', '__proto__', 'constructor', 'x'.repeat(201), '.hidden', 'CON') },
    );
    const text = fc.oneof(fc.string({ maxLength: 60 }), fc.constant('x'.repeat(40_000)), fc.string({ unit: 'grapheme', maxLength: 20 }));
    const uri = fc.constantFrom(
      'file:///etc',
      'file:///etc/passwd',
      `file://${path.join(tmp.dir, 'data', 'uploads', '')}`,
      `file://${path.join(tmp.dir, 'data')}`,
      'http://127.0.0.1:1/x',
      'file://../x',
      'file:///%2e%2e/',
    );
    const known = fc.record(
      {
        modelId: fc.oneof(fc.constantFrom(b.modelId, 'universal-sentence-encoder-lite'), fc.uuid(), fc.string()),
        region: fc.oneof(fc.constant('local'), fc.string()),
        minReplicas: fc.oneof(fc.integer({ min: -3, max: 40 }), fc.constant('2')),
        maxReplicas: fc.oneof(fc.integer({ min: -3, max: 40 }), fc.constant(1e9)),
        config: fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.constant({ pad: 'y'.repeat(70_000) })),
        batch: fc.oneof(fc.array(fc.record({ text }), { maxLength: 40 }), fc.jsonValue({ maxDepth: 2 })),
        useCaseConfig: fc.record({ dataType: fc.constantFrom('query', 'passage', 'x'), labels: fc.array(text, { maxLength: 5 }), topK: fc.integer({ min: -1, max: 5 }) }, { requiredKeys: [] }),
        modelConfig: fc.record({ dimReductionSize: fc.integer({ min: -2, max: 4096 }), vectorQuantizationMethod: fc.constantFrom('min-max', 'max-scale', 'int4') }, { requiredKeys: [] }),
        name: fc.oneof(fc.string(), fc.constant('n'.repeat(300))),
        modelType: fc.constantFrom('imported', 'ecommerce-rnn', 'general-rnn', 'other'),
        artifact: fc.record({ uri }),
        trainingData: fc.record({ catalog: fc.oneof(uri, fc.constant(`file://${path.join(tmp.dir, 'data', 'uploads', b.customerId, b.upload)}`)), signals: uri }),
        scopes: fc.array(fc.constantFrom('machinelearning.model', 'machinelearning.predict', 'modeld.admin', 'x'), { maxLength: 3 }),
        inputs: fc.array(fc.record({ name: fc.constantFrom('text', 'x'), shape: fc.array(fc.integer({ min: -1, max: 3 }), { maxLength: 3 }), datatype: fc.constantFrom('BYTES', 'FP32'), data: fc.array(text, { maxLength: 3 }) })),
        __proto__: fc.constant({ polluted: true }),
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      { weight: 4, arbitrary: known.map((o) => JSON.stringify(o)) },
      { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.stringify(v)) },
      { weight: 1, arbitrary: fc.string({ maxLength: 80 }) },
      { weight: 1, arbitrary: fc.constantFrom('', '{', '{"batch":[{"text":', '[]', 'null', '{"__proto__":{"x":1}}', '{"a":'.repeat(5000) + '1' + '}'.repeat(5000), '\u0000', 'grant_type=client_credentials&scope=machinelearning.model') },
    );
    const request = fc.record({
      route: fc.constantFrom(...routes),
      params: fc.array(param, { minLength: 4, maxLength: 4 }),
      body,
      contentType: fc.constantFrom('application/json', 'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', null),
      auth: fc.constantFrom('model', 'model', 'model', 'predict', 'none', 'garbage'),
      query: fc.constantFrom('', '', '?metrics=true', '?afterId=-1&limit=100000', '?limit=abc', '?a=%zz'),
    });

    const failures: string[] = [];
    let count = 0;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        count++;
        const [method, template] = r.route;
        let i = 0;
        const urlPath =
          template.replace(/\{[^}]+\}/g, (name) => {
            const v = r.params[i++ % r.params.length]!;
            if (v !== 'A') return v;
            // 'A': the caller's own customer id; A owns no other object, so other parameters aim at B's deployment.
            return name === '{CUSTOMER_ID}' ? a.customerId : b.deploymentId;
          }) + r.query;
        const headers: Record<string, string> = {};
        if (r.auth === 'model') headers.authorization = `Bearer ${a.token}`;
        if (r.auth === 'predict') headers.authorization = `Bearer ${a.predictToken}`;
        if (r.auth === 'garbage') headers.authorization = 'Bearer eyJhbGciOiJub25lIn0.eyJjdXN0b21lcklkIjoieCJ9.';
        const withBody = method !== 'GET' && method !== 'DELETE';
        if (withBody && r.contentType !== null) headers['content-type'] = r.contentType;
        let res: Answer;
        try {
          res = await send(method, urlPath, withBody ? { headers, body: r.body } : { headers });
        } catch (err) {
          failures.push(`${method} ${urlPath}: no answer (${(err as Error).message})`);
          return false;
        }
        const where = `${method} ${urlPath} [${r.auth}, ${r.contentType}] body ${r.body.slice(0, 120)} -> ${res.status} ${res.text.slice(0, 200)}`;
        if (res.status >= 500) failures.push(`5xx: ${where}`);
        if (!res.headers['x-request-id']) failures.push(`no x-request-id: ${where}`);
        if (res.status >= 400) {
          let parsed: Record<string, unknown> | null = null;
          try {
            parsed = JSON.parse(res.text) as Record<string, unknown>;
          } catch {
            failures.push(`error body is not JSON: ${where}`);
          }
          if (parsed) {
            const oauth = /\/oauth2\//.test(urlPath) && typeof parsed.error === 'string' && typeof parsed.error_description === 'string';
            const oip = urlPath.startsWith('/v2/') && typeof parsed.error === 'string';
            const modeld = typeof parsed.message === 'string' && typeof parsed.code === 'string' && /^MODELD_ERR_[A-Z_]+$/.test(parsed.code);
            if (!oauth && !oip && !modeld) failures.push(`error shape: ${where}`);
          }
        }
        return failures.length === 0;
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    ).catch((err: unknown) => {
      failures.push(`property failed (seed ${SEED}): ${(err as Error).message.split('\n').slice(0, 6).join(' | ')}`);
    });
    assert.deepEqual(failures, [], `after ${count} requests`);

    assert.equal((await send('GET', '/readyz')).status, 200, 'still ready');
    assert.deepEqual(await embed(a.predictToken, 'universal-sentence-encoder-lite', 'red running shoes'), useBefore, 'the shared pre-trained model answers as before');
    assert.deepEqual(await embed(b.predictToken, b.deploymentId, 'blue denim jacket'), bBefore, 'B’s deployment answers as before');
    assert.equal(await bView(), bViewBefore, 'B’s models, deployments and uploads are unchanged');
  });
});
