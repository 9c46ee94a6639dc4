import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, symlink, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Value } from 'typebox/value';
import { ErrorBodySchema } from '../../src/api/schemas.js';
import { defaultConfig } from '../../src/config/index.js';
import { Scopes } from '../../src/domain/index.js';
import { tinyConfig, writeTinyDataset } from '../fixtures/training-jobs-data.js';
import { snapshot, startApi, type ApiHarness, type Tenant } from './api-harness.js';

/**
 * M2 with training model types (what is refused at submission, nothing stored) and the uploads
 * routes, through app.inject() and a real socket, on a real store with the real training job layer.
 */

const UPLOAD_LIMIT = 4096;
let h: ApiHarness;
let alice: Tenant;
let bob: Tenant;
let auth: string;
let catalogUri: string;
let signalsUri: string;
let bobCatalogUri: string;
let outside: { catalogUri: string; signalsUri: string };

before(async () => {
  h = await startApi({ config: { limits: { ...defaultConfig().limits, maxReplicas: 12, bodyLimitBytes: 1024 * 1024, uploadLimitBytes: UPLOAD_LIMIT, maxBatchItems: 32, maxInputTokens: 512 } }, training: {} });
  alice = await h.tenant();
  bob = await h.tenant();
  auth = await alice.auth();
  // The tiny dataset is larger than the upload cap of this harness: put it in the customers' folders directly.
  const mine = await writeTinyDataset(path.join(h.tmp.dir, 'uploads', alice.customerId));
  catalogUri = mine.catalogUri;
  signalsUri = mine.signalsUri;
  bobCatalogUri = (await writeTinyDataset(path.join(h.tmp.dir, 'uploads', bob.customerId))).catalogUri;
  outside = await writeTinyDataset(path.join(h.tmp.dir, 'elsewhere'));
});
after(() => h.close());

const models = (customerId: string) => `/customers/${customerId}/ai/models`;
const uploads = (customerId: string) => `/customers/${customerId}/ai/uploads`;

async function call(method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown, authorization = auth) {
  const res = await h.app.inject({ method, url, headers: { authorization }, ...(payload !== undefined && { payload: payload as object }) });
  return { status: res.statusCode, body: res.body === '' ? undefined : (JSON.parse(res.body) as any) };
}

async function put(name: string, body: Buffer | string, headers: Record<string, string> = {}, customerId = alice.customerId, authorization = auth) {
  const res = await h.app.inject({ method: 'PUT', url: `${uploads(customerId)}/${name}`, headers: { authorization, ...headers }, payload: body });
  return { status: res.statusCode, body: res.body === '' ? undefined : (JSON.parse(res.body) as any) };
}

function train(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'tiny', modelType: 'ecommerce-rnn', region: 'local', trainingData: { catalog: catalogUri, signals: signalsUri }, config: tinyConfig(), ...over };
}

async function refused(payload: Record<string, unknown>, expected: { status: number; code: string; field: string; message?: RegExp }): Promise<any> {
  const before = await snapshot(h.store, alice.customerId);
  const jobsBefore = (await h.store.listTrainingJobs(['QUEUED', 'RUNNING', 'FAILED', 'SUCCEEDED', 'CANCELLED'])).length;
  const { status, body } = await call('POST', models(alice.customerId), payload);
  assert.equal(status, expected.status, JSON.stringify(body));
  assert.ok(Value.Check(ErrorBodySchema, body));
  assert.equal(body.code, expected.code, body.message);
  assert.equal(body.details?.field, expected.field, body.message);
  assert.ok(body.message.startsWith(`${expected.field}`), body.message);
  if (expected.message) assert.match(body.message, expected.message);
  assert.equal(await snapshot(h.store, alice.customerId), before, 'a refused request changed the store');
  assert.equal((await h.store.listTrainingJobs(['QUEUED', 'RUNNING', 'FAILED', 'SUCCEEDED', 'CANCELLED'])).length, jobsBefore, 'a refused request created a job');
  return body;
}

describe('M2 with a training model type: refused at submission, nothing stored', () => {
  const CONFIG = 'MODELD_ERR_TRAINING_CONFIG';
  test('rnn_units_list with a value not allowed', () =>
    refused(train({ config: tinyConfig({ 'trainer_config.encoder_config.rnn_units_list': [100] }) }), {
      status: 400,
      code: CONFIG,
      field: 'body.config.trainer_config.encoder_config.rnn_units_list[0]',
      message: /16, 32, 64, 128, 256, 512, got 100/,
    }));
  test('rnn_names_list and rnn_units_list of different lengths', () =>
    refused(
      train({ config: tinyConfig({ 'trainer_config.encoder_config.rnn_names_list': ['gru', 'lstm'], 'trainer_config.encoder_config.rnn_units_list': [16] }) }),
      { status: 400, code: CONFIG, field: 'body.config.trainer_config.encoder_config.rnn_units_list' },
    ));
  test('num_epochs 0 and 65', async () => {
    for (const n of [0, 65]) {
      await refused(train({ config: tinyConfig({ 'trainer_config.num_epochs': n }) }), {
        status: 400,
        code: CONFIG,
        field: 'body.config.trainer_config.num_epochs',
        message: new RegExp(`from 1 to 64, got ${n}`),
      });
    }
  });
  test('unknown dataset_config', () =>
    refused(train({ config: tinyConfig({ dataset_config: 'mlp_unknown' }) }), { status: 400, code: CONFIG, field: 'body.config.dataset_config', message: /mlp_unknown/ }));
  test('config missing', () => refused(train({ config: undefined }), { status: 400, code: CONFIG, field: 'body.config' }));
  test('a data file outside the data roots', async () => {
    await refused(train({ trainingData: { catalog: outside.catalogUri, signals: signalsUri } }), {
      status: 400,
      code: 'MODELD_ERR_DATA_PATH_FORBIDDEN',
      field: 'body.trainingData.catalog',
      message: /outside the directories training data may be read from/,
    });
    await refused(train({ trainingData: { catalog: catalogUri, signals: 'file:///etc/passwd' } }), {
      status: 400,
      code: 'MODELD_ERR_DATA_PATH_FORBIDDEN',
      field: 'body.trainingData.signals',
    });
  });
  test("another customer's upload is forbidden (403), by the path as written and by the real path", async () => {
    await refused(train({ trainingData: { catalog: bobCatalogUri, signals: signalsUri } }), {
      status: 403,
      code: 'MODELD_ERR_DATA_PATH_FORBIDDEN',
      field: 'body.trainingData.catalog',
      message: /another customer's uploads/,
    });
    // A file of bob's that does not exist: refused the same way, so alice learns nothing about bob's folder.
    const ghost = pathToFileURL(path.join(h.tmp.dir, 'uploads', bob.customerId, 'nothing-here.csv')).href;
    await refused(train({ trainingData: { catalog: catalogUri, signals: ghost } }), { status: 403, code: 'MODELD_ERR_DATA_PATH_FORBIDDEN', field: 'body.trainingData.signals' });
    // A symlink in alice's folder pointing at bob's file: inside the data roots, but its real path is bob's.
    const link = path.join(h.tmp.dir, 'uploads', alice.customerId, 'borrowed.csv');
    await symlink(fileURLToPath(bobCatalogUri), link);
    await refused(train({ trainingData: { catalog: pathToFileURL(link).href, signals: signalsUri } }), {
      status: 403,
      code: 'MODELD_ERR_DATA_PATH_FORBIDDEN',
      field: 'body.trainingData.catalog',
    });
  });
  test('a missing file, a directory, another scheme', async () => {
    const missing = pathToFileURL(path.join(h.tmp.dir, 'uploads', alice.customerId, 'missing.csv')).href;
    await refused(train({ trainingData: { catalog: catalogUri, signals: missing } }), {
      status: 400,
      code: 'MODELD_ERR_VALIDATION',
      field: 'body.trainingData.signals',
      message: /does not exist/,
    });
    const dir = pathToFileURL(path.join(h.tmp.dir, 'uploads', alice.customerId)).href;
    await refused(train({ trainingData: { catalog: dir, signals: signalsUri } }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.trainingData.catalog', message: /not a file/ });
    await refused(train({ trainingData: { catalog: 'gs://bucket/catalog.parquet', signals: signalsUri } }), {
      status: 400,
      code: 'MODELD_ERR_VALIDATION',
      field: 'body.trainingData.catalog',
      message: /scheme "gs"/,
    });
  });
  test('an empty file and a file of no known format, at submission', async () => {
    const dir = path.join(h.tmp.dir, 'uploads', alice.customerId);
    await writeFile(path.join(dir, 'empty.csv'), '');
    await writeFile(path.join(dir, 'catalog.xlsx'), 'PK\u0003\u0004 not a format modeld reads');
    await refused(train({ trainingData: { catalog: catalogUri, signals: pathToFileURL(path.join(dir, 'empty.csv')).href } }), {
      status: 400,
      code: 'MODELD_ERR_TRAINING_CONFIG',
      field: 'body.trainingData.signals',
      message: /empty\.csv: the file is empty/,
    });
    await refused(train({ trainingData: { catalog: pathToFileURL(path.join(dir, 'catalog.xlsx')).href, signals: signalsUri } }), {
      status: 400,
      code: 'MODELD_ERR_TRAINING_CONFIG',
      field: 'body.trainingData.catalog',
      message: /unknown data format/,
    });
  });
  test('trainingData missing or incomplete, region missing or unknown, an artifact given', async () => {
    await refused(train({ trainingData: undefined }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.trainingData' });
    await refused(train({ trainingData: { catalog: catalogUri } }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.trainingData.signals' });
    await refused(train({ trainingData: { catalog: catalogUri, signals: signalsUri, extra: 'x' } }), {
      status: 400,
      code: 'MODELD_ERR_VALIDATION',
      field: 'body.trainingData.extra',
    });
    await refused(train({ region: undefined }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.region', message: /known regions: local/ });
    await refused(train({ region: 'mars' }), { status: 400, code: 'MODELD_ERR_UNKNOWN_REGION', field: 'body.region' });
    await refused(train({ artifact: { uri: catalogUri } }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.artifact' });
    await refused(train({ trainingDataCredentials: { key: 'secret' } }), { status: 400, code: 'MODELD_ERR_VALIDATION', field: 'body.trainingDataCredentials' });
  });
});

describe('uploads', () => {
  const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

  test('PUT stores the raw body of any content type, answers its uri, size and sha256; PUT again replaces; GET lists; DELETE removes', async () => {
    const csv = 'pkid,name\np1,red shirt\n';
    const first = await put('catalog-v1.csv', csv, { 'content-type': 'text/csv' });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const file = path.join(h.tmp.dir, 'uploads', alice.customerId, 'catalog-v1.csv');
    assert.deepEqual(Object.keys(first.body).sort(), ['bytes', 'name', 'sha256', 'uploadedAt', 'uri']);
    assert.equal(first.body.name, 'catalog-v1.csv');
    assert.equal(first.body.uri, pathToFileURL(file).href);
    assert.equal(first.body.bytes, Buffer.byteLength(csv));
    assert.equal(first.body.sha256, sha(csv));
    assert.ok(!Number.isNaN(Date.parse(first.body.uploadedAt)));
    assert.equal(await readFile(file, 'utf8'), csv);

    // JSON, octet-stream and no content type at all are stored as bytes too (never parsed).
    const json = '{"query":"red shirt","pkid":"p1"}\n';
    for (const [name, headers] of [
      ['s.jsonl', { 'content-type': 'application/json' }],
      ['s.bin', { 'content-type': 'application/octet-stream' }],
      ['s.raw', {}],
    ] as const) {
      const r = await put(name, json, headers);
      assert.equal(r.status, 200, `${name}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.sha256, sha(json));
    }

    const bigger = Buffer.alloc(3000, 'x');
    const second = await put('catalog-v1.csv', bigger, { 'content-type': 'text/csv' });
    assert.equal(second.status, 200);
    assert.equal(second.body.bytes, 3000);
    assert.equal(second.body.sha256, sha(bigger));
    assert.deepEqual(await readFile(file), bigger);

    const list = await call('GET', uploads(alice.customerId));
    assert.equal(list.status, 200);
    const mine = list.body.find((u: { name: string }) => u.name === 'catalog-v1.csv');
    assert.deepEqual(mine, second.body);
    assert.ok(list.body.every((u: { name: string }) => !u.name.startsWith('.')), 'no temp or metadata files listed');

    const gone = await call('DELETE', `${uploads(alice.customerId)}/catalog-v1.csv`);
    assert.equal(gone.status, 200);
    assert.equal(gone.body.name, 'catalog-v1.csv');
    assert.ok(!(await call('GET', uploads(alice.customerId))).body.some((u: { name: string }) => u.name === 'catalog-v1.csv'));
    const again = await call('DELETE', `${uploads(alice.customerId)}/catalog-v1.csv`);
    assert.equal(again.status, 404);
    assert.equal(again.body.code, 'MODELD_ERR_NOT_FOUND');
  });

  test('an uploaded file is usable as training data (M2 answers 200 TRAINING)', async () => {
    const data = await writeTinyDataset(path.join(h.tmp.dir, 'staging'), { items: 20, queries: 100 });
    const catalog = await readFile(data.catalogFile);
    assert.ok(catalog.length <= UPLOAD_LIMIT, 'the small catalog fits the cap of this harness');
    const up = await put('small-catalog.csv', catalog, { 'content-type': 'text/csv' });
    assert.equal(up.status, 200);
    const res = await call('POST', models(alice.customerId), train({ name: 'from-upload', trainingData: { catalog: up.body.uri, signals: signalsUri } }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.state, 'TRAINING');
    assert.equal(res.body.modelType, 'ecommerce-rnn');
    assert.deepEqual(res.body.trainingData, { catalog: up.body.uri, signals: signalsUri });
    assert.equal(res.body.config['trainer_config.num_epochs'], 2);
    assert.equal(res.body.config['dataset_config.index_title_col_name'], 'name', 'config is the compiled flat form');
    assert.ok(res.body.trainingProgress, 'trainingProgress shown while TRAINING');
    const job = await h.store.getTrainingJobByModel(res.body.id);
    assert.ok(job && ['QUEUED', 'RUNNING', 'FAILED', 'SUCCEEDED'].includes(job.state));
    // Stop it: this test is about submission; the jobs tests train.
    assert.equal((await call('DELETE', `${models(alice.customerId)}/${res.body.id}`)).status, 200);
  });

  test('names: refused with 400 naming params.FILENAME, nothing written', async () => {
    // '/' separates the names of a file inside an upload folder (my-encoder/onnx/model.onnx); each name is checked.
    for (const name of ['.hidden', '-dash', 'a'.repeat(129), 'sp%20ace', 'a%2F..%2Fb', 'a/.hidden', 'a//b', 'a/', '..x', 'semi;colon', `${'a/'.repeat(8)}a`]) {
      const r = await put(name, 'x', { 'content-type': 'text/plain' });
      assert.equal(r.status, 400, `${name}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.details?.field, 'params.FILENAME', name);
      assert.match(r.body.message, /^params\.FILENAME: /);
    }
    const files = await readdir(path.join(h.tmp.dir, 'uploads', alice.customerId));
    assert.ok(!files.some((f) => f.includes('hidden') || f.includes('dash') || f.includes('colon')), files.join(', '));
  });

  test('over the cap: 413 naming the limit (announced length and streamed without one), nothing kept, the old file intact', async () => {
    const ok = await put('capped.csv', 'old content\n');
    assert.equal(ok.status, 200);
    const announced = await put('capped.csv', Buffer.alloc(UPLOAD_LIMIT + 1, 'y'), { 'content-type': 'text/csv' });
    assert.equal(announced.status, 413, JSON.stringify(announced.body));
    assert.equal(announced.body.code, 'MODELD_ERR_BODY_TOO_LARGE');
    assert.match(announced.body.message, new RegExp(`${UPLOAD_LIMIT} bytes \\(limits\\.uploadLimitBytes\\)`));

    // Through a real socket, chunked (no content-length): the stream is cut at the cap.
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const address = h.app.server.address() as { port: number };
    const chunks = [Buffer.alloc(3000, 'a'), Buffer.alloc(3000, 'b')];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const res = await fetch(`http://127.0.0.1:${address.port}${uploads(alice.customerId)}/capped.csv`, {
      method: 'PUT',
      headers: { authorization: auth, 'content-type': 'text/csv' },
      body,
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 413);
    const err = (await res.json()) as { code: string; message: string };
    assert.equal(err.code, 'MODELD_ERR_BODY_TOO_LARGE');
    assert.match(err.message, /limits\.uploadLimitBytes/);
    assert.equal(await readFile(path.join(h.tmp.dir, 'uploads', alice.customerId, 'capped.csv'), 'utf8'), 'old content\n');
    const files = await readdir(path.join(h.tmp.dir, 'uploads', alice.customerId));
    assert.ok(!files.some((f) => f.endsWith('.part')), `no temp file left: ${files.join(', ')}`);
  });

  test("scope and customer: predict-only token 403, another customer's folder 403, no token 401; lists are per customer", async () => {
    const predictOnly = await alice.auth([Scopes.PREDICT]);
    assert.equal((await put('x.csv', 'x', {}, alice.customerId, predictOnly)).status, 403);
    const foreign = await put('x.csv', 'x', {}, bob.customerId);
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.code, 'MODELD_ERR_FORBIDDEN_CUSTOMER');
    assert.equal((await call('GET', uploads(bob.customerId))).status, 403);
    assert.equal((await call('DELETE', `${uploads(bob.customerId)}/catalog.csv`)).status, 403);
    const anonymous = await h.app.inject({ method: 'PUT', url: `${uploads(alice.customerId)}/x.csv`, payload: 'x' });
    assert.equal(anonymous.statusCode, 401);
    const bobs = await call('GET', uploads(bob.customerId), undefined, await bob.auth());
    assert.deepEqual(
      bobs.body.map((u: { name: string }) => u.name),
      ['catalog.csv', 'signals.csv'],
    );
    await mkdir(path.join(h.tmp.dir, 'uploads', 'stray'), { recursive: true });
    await writeFile(path.join(h.tmp.dir, 'uploads', 'stray', 'f.csv'), 'x');
    assert.ok(!(await call('GET', uploads(alice.customerId))).body.some((u: { name: string }) => u.name === 'f.csv'));
  });
});
