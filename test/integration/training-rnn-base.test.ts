/**
 * Issue 13, point 6: Lucidworks' transformer-RNN trainer configs (`e5_small_v2_rnn`, ...). A
 * small random-weight BERT-like export (384 wide, as e5-small-v2 must be; a WordPiece vocabulary of
 * about 3,000) is installed as e5-small-v2 with the real install code. M2 through app.inject(),
 * the real job manager running real worker processes, the real engine, the real artifact import;
 * the trained artifact is loaded by the runner's engine.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PretrainedCache } from '../../src/catalog/index.js';
import { adminCredentials, token as scopedToken } from '../../bench/lib.js';
import { runServer, type RunningServer } from '../../src/main.js';
import { systemClock } from '../../src/domain/index.js';
import { installPretrained, loadEngine, readManifest } from '../../src/engines/index.js';
import { loadBaseModel, readTokenEmbeddings, type BaseModel } from '../../src/training/base-model.js';
import { makeBertExport } from '../fixtures/models.js';
import { tinyConfig, writeTinyDataset, type TinyDataset } from '../fixtures/training-jobs-data.js';
import { makeTempDir } from '../fixtures/tmp.js';
import { startApi, type ApiHarness, type Tenant } from './api-harness.js';

let h: ApiHarness;
let alice: Tenant;
let auth: string;
let data: TinyDataset;
let modelsDir: string;
let base: BaseModel;

before(async () => {
  h = await startApi({ training: {}, pretrained: (config) => new PretrainedCache(path.join(config.dataDir, 'models'), systemClock) });
  alice = await h.tenant();
  auth = await alice.auth();
  data = await writeTinyDataset(path.join(h.tmp.dir, 'uploads', alice.customerId));
  modelsDir = path.join(h.config.dataDir, 'models');
  const src = await makeBertExport(path.join(h.tmp.dir, 'exports', 'e5'), 384, 23, { embeddingName: 'embeddings.word_embeddings.weight' });
  await installPretrained(modelsDir, 'e5-small-v2', src);
  base = await loadBaseModel(modelsDir, 'e5-small-v2');
});
after(() => h.close());

const models = () => `/customers/${alice.customerId}/ai/models`;

async function call(method: 'GET' | 'POST', url: string, payload?: unknown) {
  const res = await h.app.inject({ method, url, headers: { authorization: auth }, ...(payload !== undefined && { payload: payload as object }) });
  return { status: res.statusCode, body: res.body === '' ? undefined : (JSON.parse(res.body) as any) };
}

function body(name: string, config: Record<string, unknown>) {
  return { name, modelType: 'ecommerce-rnn', region: 'local', trainingData: { catalog: data.catalogUri, signals: data.signalsUri }, config: tinyConfig(config) };
}

async function waitSettled(id: string): Promise<any> {
  for (;;) {
    const res = await call('GET', `${models()}/${id}`);
    if (res.status !== 200 || res.body.state !== 'TRAINING') return res.body;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Trains to AVAILABLE and returns the model and its artifact directory in the artifact store. */
async function train(name: string, config: Record<string, unknown>): Promise<{ model: any; dir: string }> {
  const created = await call('POST', models(), body(name, config));
  assert.equal(created.status, 200, JSON.stringify(created.body));
  assert.equal(created.body.state, 'TRAINING');
  const model = await waitSettled(created.body.id);
  assert.equal(model.state, 'AVAILABLE', model.errorMessage);
  const record = await h.store.getModel(alice.customerId, created.body.id);
  return { model, dir: path.join(h.config.dataDir, 'artifacts', record!.artifactId!) };
}

/** Row r of a [rows, dim] matrix. */
const row = (m: Float32Array, dim: number, r: number) => Array.from(m.subarray(r * dim, (r + 1) * dim));

describe('transformer-RNN trainers on an installed base model', () => {
  test('M2 refuses a trainer whose base is not installed, naming the model, the command and the field, and writes nothing', async () => {
    for (const [config, field, value, model] of [
      [{ trainer_config: 'gte_small_rnn' }, 'body.config.trainer_config', 'gte_small_rnn', 'gte-small'],
      [{ trainer_config: 'snowflake_arctic_embed_m_v1_5_rnn' }, 'body.config.trainer_config', 'snowflake_arctic_embed_m_v1_5_rnn', 'snowflake-arctic-embed-m-v1.5'],
      [{ 'trainer_config/text_processor_config': 'bge-small' }, 'body.config.trainer_config/text_processor_config', 'bge_small', 'bge-small'],
    ] as const) {
      const res = await call('POST', models(), body('not-installed', config));
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.code, 'MODELD_ERR_TRAINING_CONFIG');
      assert.ok(res.body.message.startsWith(`${field}: ${value} starts from the pre-trained model ${model}'s tokenizer and token embeddings, and ${model} is not installed`), res.body.message);
      assert.ok(res.body.message.includes(`\`modeld models install ${model} <folder>\``), res.body.message);
    }
    assert.deepEqual(await h.store.listModels(alice.customerId), [], 'nothing was stored');
    assert.equal(await h.store.getTrainingJobByModel('none'), null);
  });

  test('e5_small_v2_rnn with frozen embeddings trains to AVAILABLE: the artifact carries the base tokenizer, its embedding matrix is the base one, it serves with the base tokenization', async () => {
    const { model, dir } = await train('frozen', { trainer_config: 'e5_small_v2_rnn', 'trainer_config.encoder_config.emb_trainable': false });
    assert.equal(model.vectorSize, 32);
    assert.equal(model.config.trainer_config, 'e5_small_v2_rnn');
    assert.equal(model.config['trainer_config/text_processor_config'], 'e5_small_v2');
    assert.equal(model.config['trainer_config.encoder_config.emb_trainable'], false);

    // The tokenizer: the base's files, byte for byte.
    assert.equal(await readFile(path.join(dir, 'tokenizer.json'), 'utf8'), base.tokenizerJson);
    assert.equal(await readFile(path.join(dir, 'tokenizer_config.json'), 'utf8'), base.tokenizerConfig);

    // The embedding: [vocab, 384], every row the base's (frozen: never updated).
    const trained = await readTokenEmbeddings(path.join(dir, 'model.onnx'), { vocabSize: base.embeddings.rows });
    assert.equal(trained.initializer, 'embedding');
    assert.deepEqual([trained.rows, trained.dim], [base.embeddings.rows, 384]);
    assert.ok(trained.values.every((v, i) => v === base.embeddings.values[i]), 'the exported embedding matrix is the base model’s');

    // Served by the runner's engine: the base's tokenization (special tokens, WordPiece pieces,
    // truncation at the artifact's maxTokens), normalized vectors of the trained size.
    const manifest = await readManifest(dir);
    assert.ok('tokenizer_config.json' in manifest.files);
    const engine = await loadEngine(dir);
    try {
      const reference = base.tokenizer(manifest.tokenizer.maxTokens);
      const texts = ['red cotton shirt', 'Blue LEATHER jacket 17', 'unaffordable woolly scarves', 'a very long query about black linen dresses and pink denim socks with a leather belt'];
      const served = engine.tokenize(texts);
      const { vectors, tokenCounts } = await engine.embed(texts);
      texts.forEach((t, i) => {
        const want = reference.encode(t);
        assert.deepEqual(served.ids[i], want.ids, t);
        assert.deepEqual(served.tokens[i], want.tokens, t);
        assert.equal(tokenCounts[i], want.ids.length, t);
        const v = Array.from(vectors.subarray(i * 32, (i + 1) * 32));
        assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5, `${t}: L2-normalized`);
      });
      assert.equal(served.tokens[0]![0], '[CLS]');
      assert.equal(served.tokens[0]!.at(-1), '[SEP]');
      assert.ok(served.tokens[2]!.some((p) => p.startsWith('##')), 'WordPiece pieces of the base vocabulary');
      assert.equal(served.ids[3]!.length, manifest.tokenizer.maxTokens, 'long texts are cut at the artifact’s maxTokens, [SEP] kept');
      assert.equal(served.tokens[3]!.at(-1), '[SEP]');
    } finally {
      await engine.close();
    }
  });

  test('with trainable embeddings (the ecommerce default) training starts from the base rows: the rows of unused ids stay the base’s, used ones moved', async () => {
    const { model, dir } = await train('tuned', { trainer_config: 'e5_small_v2_rnn' });
    assert.equal(model.config['trainer_config.encoder_config.emb_trainable'], true);
    const trained = await readTokenEmbeddings(path.join(dir, 'model.onnx'), { vocabSize: base.embeddings.rows });
    const dim = trained.dim;
    const t = base.tokenizer(512);
    const used = new Set<number>();
    const catalog = await readFile(data.catalogFile, 'utf8');
    const signals = await readFile(data.signalsFile, 'utf8');
    for (const line of [...catalog.split('\n').slice(1), ...signals.split('\n').slice(1)]) for (const id of t.encode(line).ids) used.add(id);
    const shirt = t.encode('shirt').ids[1]!;
    assert.ok(used.has(shirt));
    assert.notDeepEqual(row(trained.values, dim, shirt), row(base.embeddings.values, dim, shirt), 'a word of the data was fine-tuned');
    let unused = 0;
    for (let r = 1; r < trained.rows; r++) {
      if (used.has(r)) continue;
      unused++;
      assert.deepEqual(row(trained.values, dim, r), row(base.embeddings.values, dim, r), `row ${r} (never in the data) is the base’s`);
    }
    assert.ok(unused > 1000, `${unused} unused rows checked`);
  });
});

describe('a transformer-RNN model through a running server (runServer: its job manager, controller, replicas, gateway)', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let server: RunningServer;
  let customerId: string;
  let modelScope: string;
  let predict: string;
  let reference: BaseModel;

  before(async () => {
    tmp = await makeTempDir('modeld-rnn-base-server-');
    const modelsDir = path.join(tmp.dir, 'models');
    await installPretrained(modelsDir, 'e5-small-v2', await makeBertExport(path.join(tmp.dir, 'exports', 'e5'), 384, 29));
    reference = await loadBaseModel(modelsDir, 'e5-small-v2');
    server = await runServer({ port: 0, dataDir: tmp.dir, logLevel: 'warn' });
    const creds = await adminCredentials(tmp.dir);
    customerId = creds.customerId;
    const token = async (scope: string) => `Bearer ${await scopedToken(server.url, creds, scope)}`;
    modelScope = await token('machinelearning.model');
    predict = await token('machinelearning.predict');
  });
  after(async () => {
    await server?.close();
    await tmp?.cleanup();
  });

  const request = async (method: string, url: string, auth: string, payload?: unknown) => {
    const r = await fetch(`${server.url}${url}`, { method, headers: { authorization: auth, 'content-type': 'application/json' }, ...(payload !== undefined && { body: JSON.stringify(payload) }) });
    return { status: r.status, body: (await r.json()) as any };
  };
  const until = async <T>(read: () => Promise<T>, done: (v: T) => boolean): Promise<T> => {
    for (;;) {
      const v = await read();
      if (done(v)) return v;
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  test('trains e5_small_v2_rnn, deploys it, and its predictions and tokenization count the base tokenizer’s tokens', async () => {
    const ds = await writeTinyDataset(path.join(tmp.dir, 'uploads', customerId));
    const base = `/customers/${customerId}/ai`;
    const created = await request('POST', `${base}/models`, modelScope, {
      name: 'e5-rnn',
      modelType: 'ecommerce-rnn',
      region: 'local',
      trainingData: { catalog: ds.catalogUri, signals: ds.signalsUri },
      config: tinyConfig({ trainer_config: 'e5_small_v2_rnn' }),
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const model = await until(
      () => request('GET', `${base}/models/${created.body.id}`, modelScope),
      (r) => r.body.state !== 'TRAINING',
    );
    assert.equal(model.body.state, 'AVAILABLE', model.body.errorMessage);
    const dep = await request('POST', `${base}/deployments`, modelScope, { modelId: created.body.id, region: 'local' });
    assert.equal(dep.status, 200, JSON.stringify(dep.body));
    const deployed = await until(
      () => request('GET', `${base}/deployments/${dep.body.id}`, modelScope),
      (r) => r.body.state !== 'DEPLOYING',
    );
    assert.equal(deployed.body.state, 'DEPLOYED', JSON.stringify(deployed.body.status));

    // The served model truncates at its artifact's maxTokens (the item length training chose),
    // with the base tokenizer's own truncation: the one artifact in the store tells it.
    const artifacts = await readdir(path.join(tmp.dir, 'artifacts'));
    const stored = artifacts.filter((a) => !a.startsWith('.'));
    assert.equal(stored.length, 1, stored.join(', '));
    const maxTokens = (await readManifest(path.join(tmp.dir, 'artifacts', stored[0]!))).tokenizer.maxTokens;
    const texts = ['red cotton shirt', 'Blue LEATHER jacket 17', 'unaffordable woolly scarves', 'a long query about black linen dresses and pink denim socks'];
    const tok = reference.tokenizer(maxTokens);
    assert.ok(tok.encode(texts[3]!).ids.length === maxTokens && reference.tokenizer(512).encode(texts[3]!).ids.length > maxTokens, 'one text is cut');
    const emb = await request('POST', `/ai/prediction/embedding/${dep.body.id}`, predict, { batch: texts.map((text) => ({ text })) });
    assert.equal(emb.status, 200, JSON.stringify(emb.body));
    emb.body.predictions.forEach((p: any, i: number) => {
      assert.equal(p.tokensUsed.inputTokens, tok.encode(texts[i]!).ids.length, texts[i]);
      assert.equal(p.vector.length, 32);
      assert.ok(Math.abs(Math.hypot(...p.vector) - 1) < 1e-4);
    });
    const tokenization = await request('POST', `/ai/tokenization/${dep.body.id}`, predict, { batch: texts.map((text) => ({ text })) });
    assert.equal(tokenization.status, 200, JSON.stringify(tokenization.body));
    assert.deepEqual(
      tokenization.body.generatedTokens.map((g: any) => g.tokens),
      texts.map((t) => tok.encode(t).tokens),
    );
  });
});
