/**
 * Issue 13: a Fusion team points its LWAI Vectorize stage at modeld. The Lucidworks pre-trained
 * catalogue installed from Hugging Face export folders (random-weight BERT-interface exports the
 * test builds), served by a running server (runServer, real replicas), checked field by field
 * against the requests Fusion's stage sends, and vector by vector against transformers.js run
 * offline on the same folder with the model's own prefix and pooling (the reference oracle).
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { env, pipeline } from '@huggingface/transformers';
import { catalogueEntry, PRETRAINED_CATALOGUE } from '../../src/domain/index.js';
import { HfTokenizer, importArtifact, installPretrained, listPretrained, loadEngine, readManifest } from '../../src/engines/index.js';
import { adminCredentials, token as scopedToken } from '../../bench/lib.js';
import { runServer, type RunningServer } from '../../src/main.js';
import { makeBertExport, makeTinyHfModel } from '../fixtures/models.js';
import { makeTempDir } from '../fixtures/tmp.js';

type Tmp = Awaited<ReturnType<typeof makeTempDir>>;

/** The reference: transformers.js feature-extraction on the installed folder, offline. */
async function oracle(modelsDir: string, name: string, text: string, pooling: 'mean' | 'cls'): Promise<number[]> {
  env.allowRemoteModels = false;
  env.localModelPath = modelsDir + path.sep;
  const fe = await pipeline('feature-extraction', name, { dtype: 'fp32' });
  try {
    const out = await fe([text], { pooling, normalize: true });
    return Array.from(out.data as Float32Array);
  } finally {
    await fe.dispose();
  }
}

function assertClose(actual: readonly number[], expected: readonly number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i]! - expected[i]!) <= 1e-5, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

function norm(v: readonly number[]): number {
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0));
}

describe('the catalogue (engines)', () => {
  let tmp: Tmp;
  before(async () => {
    tmp = await makeTempDir('modeld-catalogue-');
  });
  after(() => tmp.cleanup());

  it('lists every documented name with its size, pooling, prefixes and Matryoshka sizes', () => {
    const names = PRETRAINED_CATALOGUE.map((e) => e.name);
    for (const n of ['all-minilm-l6-v2', 'e5-small-v2', 'e5-base-v2', 'e5-large-v2', 'multilingual-e5-small', 'multilingual-e5-base', 'multilingual-e5-large', 'gte-small', 'gte-base', 'gte-large', 'bge-small', 'bge-large', 'snowflake-arctic-embed-xs', 'snowflake-arctic-embed-s', 'snowflake-arctic-embed-m-v1.5', 'snowflake-arctic-embed-l-v2.0', 'text-encoder']) {
      assert.ok(names.includes(n), n);
    }
    assert.equal(catalogueEntry('all-minilm-l6-v2')?.vectorSize, 384);
    assert.deepEqual(catalogueEntry('e5-base-v2')?.prefixes, { query: 'query: ', passage: 'passage: ' });
    assert.equal(catalogueEntry('bge-small')?.pooling, 'cls');
    assert.deepEqual(catalogueEntry('gte-small')?.prefixes, {});
    assert.deepEqual(catalogueEntry('snowflake-arctic-embed-m-v1.5')?.matryoshkaDims, [256]);
    assert.equal(catalogueEntry('no-such-model'), null);
  });

  it('installs a fitting export with the entry’s pooling, prefixes and Matryoshka sizes, copying only the model files', async () => {
    const src = await makeBertExport(path.join(tmp.dir, 'exports', 'arctic'), 768);
    const modelsDir = path.join(tmp.dir, 'models-a');
    const m = await installPretrained(modelsDir, 'snowflake-arctic-embed-m-v1.5', src);
    assert.equal(m.vectorSize, 768);
    assert.equal(m.onnx?.pooling, 'cls');
    assert.deepEqual(m.prefixes, { query: 'Represent this sentence for searching relevant passages: ' });
    assert.deepEqual(m.matryoshkaDims, [256]);
    assert.deepEqual(await readManifest(path.join(modelsDir, 'snowflake-arctic-embed-m-v1.5')), m);
    const listing = await listPretrained(modelsDir);
    assert.deepEqual(listing.models.map((x) => [x.id, x.vectorSize]), [['snowflake-arctic-embed-m-v1.5', 768]]);
    await assert.rejects(installPretrained(modelsDir, 'snowflake-arctic-embed-m-v1.5', src), { code: 'MODELD_ERR_CONFLICT', message: /already installed.*--replace/ });
    await installPretrained(modelsDir, 'snowflake-arctic-embed-m-v1.5', src, { replace: true });
  });

  it('converts a catalogue folder dropped into the models directory by hand the same way, and skips one that does not fit, saying why', async () => {
    const modelsDir = path.join(tmp.dir, 'models-hand');
    await makeBertExport(path.join(modelsDir, 'bge-small'), 384);
    await makeBertExport(path.join(modelsDir, 'gte-large'), 384);
    const listing = await listPretrained(modelsDir);
    assert.deepEqual(listing.models.map((m) => [m.id, m.vectorSize]), [['bge-small', 384]]);
    const m = await readManifest(path.join(modelsDir, 'bge-small'));
    assert.equal(m.onnx?.pooling, 'cls');
    assert.deepEqual(m.prefixes, { query: 'Represent this sentence for searching relevant passages: ' });
    assert.equal(listing.skipped.length, 1);
    assert.equal(listing.skipped[0]!.id, 'gte-large');
    assert.match(listing.skipped[0]!.reason, /config.json hidden_size is 384, gte-large has 1024/);
  });

  it('refuses a folder that does not fit the entry, and a name not in the catalogue, leaving nothing behind', async () => {
    const small = await makeBertExport(path.join(tmp.dir, 'exports', 'small'), 384);
    const modelsDir = path.join(tmp.dir, 'models-b');
    await assert.rejects(installPretrained(modelsDir, 'e5-base-v2', small), { code: 'MODELD_ERR_ARTIFACT_INVALID', message: /not an export of intfloat\/e5-base-v2: config.json hidden_size is 384, e5-base-v2 has 768/ });
    await assert.rejects(installPretrained(modelsDir, 'multilingual-e5-small', small), { message: /tokenizer.json is a WordPiece tokenizer, multilingual-e5-small \(xlm-roberta\) uses Unigram/ });
    const noConfig = await makeTinyHfModel(path.join(tmp.dir, 'exports', 'tiny'), { dim: 384 });
    await assert.rejects(installPretrained(modelsDir, 'gte-small', path.join(noConfig, 'missing')), { code: 'MODELD_ERR_ARTIFACT_INVALID', message: /is not a directory/ });
    await assert.rejects(installPretrained(modelsDir, 'my-model', small), { code: 'MODELD_ERR_VALIDATION', message: /not in the pre-trained catalogue \(all-minilm-l6-v2, e5-small-v2/ });
    assert.deepEqual((await listPretrained(modelsDir)).models, []);
    const leftovers = await import('node:fs/promises').then((fs) => fs.readdir(modelsDir));
    assert.deepEqual(leftovers, []);
  });
});

describe('an imported model declares its prefixes and pooling in the import request', () => {
  let tmp: Tmp;
  before(async () => {
    tmp = await makeTempDir('modeld-import-prefix-');
  });
  after(() => tmp.cleanup());

  it('embeds with the declared prefix per dataType and the declared pooling, equal to the reference', async () => {
    const src = await makeBertExport(path.join(tmp.dir, 'exports', 'mine'), 64, 31);
    const root = path.join(tmp.dir, 'artifacts');
    const prefixes = { query: 'search_query: ', passage: 'search_document: ' };
    const imported = await importArtifact(src, root, { name: 'mine', modelType: 'imported', prefixes, pooling: 'cls' });
    const manifest = await readManifest(imported.dir);
    assert.deepEqual(manifest.prefixes, prefixes);
    assert.equal(manifest.onnx?.pooling, 'cls');
    const engine = await loadEngine(imported.dir);
    try {
      for (const dataType of ['query', 'passage'] as const) {
        const got = await engine.embed(['red shoes'], { dataType });
        assertClose(Array.from(got.vectors), await oracle(root, imported.artifactId, prefixes[dataType] + 'red shoes', 'cls'), `imported ${dataType}`);
      }
    } finally {
      await engine.close();
    }
    // Without a declaration: mean pooling, no prefix (what the folder alone says).
    const plain = await importArtifact(src, root, { name: 'plain', modelType: 'imported' });
    const plainManifest = await readManifest(plain.dir);
    assert.equal(plainManifest.prefixes, undefined);
    assert.equal(plainManifest.onnx?.pooling, 'mean');
    assert.notEqual(plain.artifactId, imported.artifactId, 'prefixes and pooling are part of the content address');
  });

  it('refuses a pooling for a graph that pools itself', async () => {
    const src = await makeTinyHfModel(path.join(tmp.dir, 'exports', 'sentence'), { output: 'sentence_embedding' });
    await assert.rejects(importArtifact(src, path.join(tmp.dir, 'artifacts2'), { name: 's', modelType: 'imported', pooling: 'cls' }), {
      code: 'MODELD_ERR_ARTIFACT_INVALID',
      message: /artifact.pooling is given, but the model pools inside its graph/,
    });
  });
});

describe('Fusion LWAI Vectorize against a running modeld', () => {
  let tmp: Tmp;
  let server: RunningServer;
  let modelsDir: string;
  let predict: string;
  let modelScope: string;
  let customerId: string;

  before(async () => {
    tmp = await makeTempDir('modeld-lwai-');
    modelsDir = path.join(tmp.dir, 'models');
    await installPretrained(modelsDir, 'e5-small-v2', await makeBertExport(path.join(tmp.dir, 'exports', 'e5'), 384, 21));
    await installPretrained(modelsDir, 'bge-small', await makeBertExport(path.join(tmp.dir, 'exports', 'bge'), 384, 22));
    await installPretrained(modelsDir, 'snowflake-arctic-embed-m-v1.5', await makeBertExport(path.join(tmp.dir, 'exports', 'arctic'), 768, 23));
    server = await runServer({ port: 0, dataDir: tmp.dir, logLevel: 'warn' });
    const creds = await adminCredentials(tmp.dir);
    customerId = creds.customerId;
    const token = async (scope: string) => `Bearer ${await scopedToken(server.url, creds, scope)}`;
    predict = await token('machinelearning.predict');
    modelScope = await token('machinelearning.model');
  });
  after(async () => {
    await server?.close();
    await tmp?.cleanup();
  });

  const post = async (url: string, body: unknown) => {
    const r = await fetch(`${server.url}${url}`, { method: 'POST', headers: { authorization: predict, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as any };
  };

  it('lists installed catalogue names in M1 and M3 as AVAILABLE pre-trained models, and in GET /ai/usecase with integer sizes', async () => {
    const r = await fetch(`${server.url}/customers/${customerId}/ai/models`, { headers: { authorization: modelScope } });
    const list = (await r.json()) as any[];
    const e5 = list.find((m) => m.id === 'e5-small-v2');
    assert.deepEqual(e5, {
      id: 'e5-small-v2',
      name: 'e5-small-v2',
      category: 'pre-trained (shared)',
      modelType: 'e5-small-v2',
      vectorSize: 384,
      state: 'AVAILABLE',
      description: 'intfloat/e5-small-v2: 384-d text embeddings, mean pooling, query prefix "query: ", passage prefix "passage: "; Lucidworks pre-trained catalogue, installed from a Hugging Face export',
    });
    assert.ok(list.every((m) => m.category !== 'pre-trained (shared)' || m.state === 'AVAILABLE'));
    const one = await fetch(`${server.url}/customers/${customerId}/ai/models/snowflake-arctic-embed-m-v1.5`, { headers: { authorization: modelScope } });
    assert.equal(((await one.json()) as any).state, 'AVAILABLE');
    const missing = await fetch(`${server.url}/customers/${customerId}/ai/models/gte-small`, { headers: { authorization: modelScope } });
    assert.equal(missing.status, 404);
    assert.match(((await missing.json()) as any).message, /gte-small is known but not installed.*modeld models install gte-small <folder>/);

    const uc = await fetch(`${server.url}/ai/usecase`, { headers: { authorization: predict } });
    const cases = (await uc.json()) as Array<{ useCase: string; models: Array<{ id: string; vectorSize: number }> }>;
    assert.deepEqual(cases.map((c) => c.useCase), ['embedding', 'classification']);
    for (const c of cases) {
      assert.ok(c.models.every((m) => Number.isInteger(m.vectorSize)), JSON.stringify(c.models));
      assert.deepEqual(c.models.filter((m) => m.id !== 'universal-sentence-encoder-lite').map((m) => [m.id, m.vectorSize]), [['bge-small', 384], ['e5-small-v2', 384], ['snowflake-arctic-embed-m-v1.5', 768]]);
    }
  });

  it('answers the Vectorize stage’s requests with the reference vectors of the model, its prefix per dataType (query by default)', async () => {
    const text = 'hello world';
    // The LWAI Vectorize stage's request (public docs): batch of {text}, useCaseConfig.dataType, optional modelConfig.
    for (const [name, dataType, prefix, pooling] of [
      ['e5-small-v2', 'query', 'query: ', 'mean'],
      ['e5-small-v2', 'passage', 'passage: ', 'mean'],
      ['e5-small-v2', undefined, 'query: ', 'mean'],
      ['bge-small', 'query', 'Represent this sentence for searching relevant passages: ', 'cls'],
      ['bge-small', 'passage', '', 'cls'],
    ] as const) {
      const body = dataType ? { batch: [{ text }], useCaseConfig: { dataType } } : { batch: [{ text }] };
      const r = await post(`/ai/prediction/embedding/${name}`, body);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(Object.keys(r.body), ['predictions']);
      assert.equal(r.body.predictions.length, 1);
      const p = r.body.predictions[0];
      assert.deepEqual(Object.keys(p).sort(), ['tokensUsed', 'vector']);
      const tok = await HfTokenizer.fromFile(path.join(modelsDir, name, 'tokenizer.json'), 512);
      assert.deepEqual(p.tokensUsed, { inputTokens: tok.encode(prefix + text).ids.length });
      assert.ok(Math.abs(norm(p.vector) - 1) < 1e-5);
      assertClose(p.vector, await oracle(modelsDir, name, prefix + text, pooling), `${name} ${dataType ?? '(default)'}`);
    }
  });

  it('truncates a Matryoshka model to a trained size without a warning, warns on other models and sizes, quantizes as documented', async () => {
    const full = (await post('/ai/prediction/embedding/snowflake-arctic-embed-m-v1.5', { batch: [{ text: 'query text' }] })).body.predictions[0].vector as number[];
    assert.equal(full.length, 768);
    const r = await post('/ai/prediction/embedding/snowflake-arctic-embed-m-v1.5', { batch: [{ text: 'query text' }], useCaseConfig: { dataType: 'query' }, modelConfig: { dimReductionSize: 256 } });
    assert.equal(r.status, 200);
    const p = r.body.predictions[0];
    assert.equal(p.warning, undefined);
    const head = full.slice(0, 256);
    const n = norm(head);
    assertClose(p.vector, head.map((x) => x / n), 'truncated');
    const other = await post('/ai/prediction/embedding/snowflake-arctic-embed-m-v1.5', { batch: [{ text: 'query text' }], modelConfig: { dimReductionSize: 100 } });
    assert.match(other.body.predictions[0].warning, /not trained for Matryoshka dimensionality reduction to 100 dimensions \(trained sizes: 256\)/);
    const e5 = await post('/ai/prediction/embedding/e5-small-v2', { batch: [{ text: 'a' }, { text: 'b' }], modelConfig: { dimReductionSize: 256, vectorQuantizationMethod: 'max-scale' } });
    assert.equal(e5.status, 200);
    for (const q of e5.body.predictions) {
      assert.match(q.warning, /not trained for Matryoshka/);
      assert.equal(q.vector.length, 256);
      assert.ok(q.vector.every((x: number) => Number.isInteger(x) && x >= -127 && x <= 127));
      assert.equal(Math.max(...q.vector.map(Math.abs)), 127);
    }
  });

  it('shows the prefix in tokenization with the four token counts, and answers 404s that say why', async () => {
    const r = await post('/ai/tokenization/e5-small-v2', { batch: [{ text: 'hello world' }] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const tok = await HfTokenizer.fromFile(path.join(modelsDir, 'e5-small-v2', 'tokenizer.json'), 512);
    const expected = tok.encode('query: hello world').tokens;
    assert.deepEqual(r.body.generatedTokens, [{ tokens: expected }]);
    assert.deepEqual(r.body.tokensUsed, { inputTokens: expected.length, promptTokens: expected.length, completionTokens: 0, totalTokens: expected.length });
    const passage = await post('/ai/tokenization/e5-small-v2', { batch: [{ text: 'hello world' }], useCaseConfig: { dataType: 'passage' } });
    assert.deepEqual(passage.body.generatedTokens[0].tokens, tok.encode('passage: hello world').tokens);

    const notInstalled = await post('/ai/prediction/embedding/gte-small', { batch: [{ text: 'x' }] });
    assert.equal(notInstalled.status, 404);
    assert.equal(notInstalled.body.code, 'MODELD_ERR_MODEL_NOT_FOUND');
    assert.match(notInstalled.body.message, /gte-small is known but not installed on this server.*thenlper\/gte-small.*modeld models install gte-small <folder>/);
    const unknown = await post('/ai/prediction/embedding/made-up', { batch: [{ text: 'x' }] });
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.message, /no model named made-up/);
    for (const useCase of ['rag', 'passthrough', 'summarization']) {
      const g = await post(`/ai/prediction/${useCase}/llama-3-8b-instruct`, { batch: [{ text: 'x' }] });
      assert.equal(g.status, 404);
      assert.equal(g.body.code, 'MODELD_ERR_USE_CASE_NOT_OFFERED');
      assert.match(g.body.message, new RegExp(`use case ${useCase} is not offered by this server`));
    }
    assert.ok((await stat(path.join(modelsDir, 'e5-small-v2', 'manifest.json'))).isFile());
  });
});
