import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Value } from 'typebox/value';
import { engineArtifacts, pretrainedCatalog } from '../../src/api/index.js';
import { ModelSchema } from '../../src/api/schemas.js';
import { dataPaths } from '../../src/config/index.js';
import { readManifest } from '../../src/engines/index.js';
import { makeBrokenArtifacts, makeModeldArtifact, makeTinyHfModel, type BrokenArtifacts } from '../fixtures/models.js';
import { makeTempDir, type TempDir } from '../fixtures/tmp.js';
import { seedDeployment, snapshot, startApi, type ApiHarness, type Tenant } from './api-harness.js';

/**
 * M2 as import, for real: engines' importArtifact copies the folder into the artifact store and
 * runs it once in a child process; the pre-trained catalog lists a real models directory.
 */

let h: ApiHarness;
let alice: Tenant;
let auth: string;
let sources: string;
let broken: BrokenArtifacts;

let importRoot: TempDir;

before(async () => {
  // The operator's import root, shared by all customers (outside the data directory).
  importRoot = await makeTempDir('modeld-import-root-');
  h = await startApi({
    config: { importRoots: [importRoot.dir] },
    artifacts: (config, store) => engineArtifacts({ store, artifactsRoot: dataPaths(config).artifacts }),
    pretrained: (config) => pretrainedCatalog(dataPaths(config).models),
  });
  alice = await h.tenant();
  auth = await alice.auth();
  sources = path.join(importRoot.dir, 'sources');
  await makeTinyHfModel(path.join(sources, 'hf-24'), { dim: 24 });
  await makeModeldArtifact(path.join(sources, 'modeld-32'));
  broken = await makeBrokenArtifacts(path.join(sources, 'broken'));
  // A pre-trained model installed in the models directory (a modeld artifact folder, named by its id).
  await makeModeldArtifact(path.join(dataPaths(h.config).models, 'tiny-encoder'));
});
after(async () => {
  await h.close();
  await importRoot.cleanup();
});

const models = () => `/customers/${alice.customerId}/ai/models`;
const artifactsRoot = () => dataPaths(h.config).artifacts;

async function importDir(dir: string, name = path.basename(dir)) {
  const res = await h.app.inject({
    method: 'POST',
    url: models(),
    headers: { authorization: auth },
    payload: { name, modelType: 'imported', description: `from ${name}`, artifact: { uri: pathToFileURL(dir).href } },
  });
  return { status: res.statusCode, body: res.json() };
}

async function artifactFolders(): Promise<string[]> {
  return (await readdir(artifactsRoot()).catch(() => [] as string[])).sort();
}

describe('import', () => {
  test('a Hugging Face folder becomes an AVAILABLE model with the graph’s vector size', async () => {
    const { status, body } = await importDir(path.join(sources, 'hf-24'));
    assert.equal(status, 200, JSON.stringify(body));
    assert.ok(Value.Check(ModelSchema, body));
    assert.equal(body.state, 'AVAILABLE');
    assert.equal(body.vectorSize, 24);
    assert.equal(body.category, 'CUSTOM');
    assert.equal(body.modelType, 'imported');
    assert.equal(body.description, 'from hf-24');
    assert.equal(body.createdBy, alice.clientId);

    const stored = await h.store.getModel(alice.customerId, body.id);
    assert.equal(stored?.vectorSize, 24);
    assert.ok(stored?.artifactId);
    const manifest = await readManifest(path.join(artifactsRoot(), stored.artifactId));
    assert.equal(manifest.vectorSize, 24);
    const got = await h.app.inject({ method: 'GET', url: `${models()}/${body.id}`, headers: { authorization: auth } });
    assert.deepEqual(got.json(), body);
  });

  test('a modeld artifact keeps its manifest’s vector size', async () => {
    const { status, body } = await importDir(path.join(sources, 'modeld-32'));
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.state, 'AVAILABLE');
    assert.equal(body.vectorSize, 32);
  });

  test('each broken artifact is a 400 naming the problem; nothing stored, nothing left in the artifact store', async (t) => {
    const cases: [keyof BrokenArtifacts, RegExp][] = [
      ['notOnnx', /model\.onnx is not an ONNX model/],
      ['missingTokenizer', /no tokenizer\.json/],
      ['failsAtLoad', /cannot load the model/],
      ['badChecksum', /tokenizer\.json: checksum mismatch/],
    ];
    for (const [which, problem] of cases) {
      await t.test(which, async () => {
        const before = await snapshot(h.store, alice.customerId);
        const foldersBefore = await artifactFolders();
        const { status, body } = await importDir(broken[which], which);
        assert.equal(status, 400, JSON.stringify(body));
        assert.equal(body.code, 'MODELD_ERR_ARTIFACT_INVALID');
        assert.equal(body.details.field, 'body.artifact.uri');
        assert.match(body.message, /^body\.artifact\.uri: /);
        assert.match(body.message, problem);
        t.diagnostic(`${which}: ${body.message}`);
        assert.ok(!body.message.includes(artifactsRoot()), `the message speaks of the user's folder, not ours: ${body.message}`);
        assert.ok(!body.message.includes(importRoot.dir), `no host path in the message: ${body.message}`);
        assert.equal(body.details.stderrTail, undefined, 'the child stderr is for the operator log only');
        assert.equal(await snapshot(h.store, alice.customerId), before);
        assert.deepEqual(await artifactFolders(), foldersBefore);
      });
    }
  });

  test('a model uploaded file by file into an upload folder imports by folder name and by its folderUri', async () => {
    const local = await makeTinyHfModel(path.join(sources, 'to-upload'), { dim: 20 });
    let folderUri = '';
    for (const rel of ['config.json', 'tokenizer.json', 'onnx/model.onnx']) {
      const put = await h.app.inject({
        method: 'PUT',
        url: `/customers/${alice.customerId}/ai/uploads/my-encoder/${rel}`,
        headers: { authorization: auth, 'content-type': 'application/octet-stream' },
        payload: await readFile(path.join(local, rel)),
      });
      assert.equal(put.statusCode, 200, put.body);
      assert.equal(put.json().name, `my-encoder/${rel}`);
      folderUri = put.json().folderUri;
    }
    assert.match(folderUri, /\/my-encoder$/);
    const byName = await h.app.inject({
      method: 'POST',
      url: models(),
      headers: { authorization: auth },
      payload: { name: 'uploaded', modelType: 'imported', artifact: { upload: 'my-encoder' } },
    });
    assert.equal(byName.statusCode, 200, byName.body);
    assert.equal(byName.json().vectorSize, 20);
    const byUri = await h.app.inject({
      method: 'POST',
      url: models(),
      headers: { authorization: auth },
      payload: { name: 'uploaded-too', modelType: 'imported', artifact: { uri: folderUri } },
    });
    assert.equal(byUri.statusCode, 200, byUri.body);
    const events = await h.store.listEvents('model', byName.json().id);
    assert.ok(!JSON.stringify(events).includes(h.tmp.dir), `no host path in the model's events: ${JSON.stringify(events)}`);
    const list = await h.app.inject({ method: 'GET', url: `/customers/${alice.customerId}/ai/uploads`, headers: { authorization: auth } });
    assert.deepEqual(
      (list.json() as { name: string }[]).map((u) => u.name).filter((n) => n.startsWith('my-encoder/')),
      ['my-encoder/config.json', 'my-encoder/onnx/model.onnx', 'my-encoder/tokenizer.json'],
    );
    const del = await h.app.inject({ method: 'DELETE', url: `/customers/${alice.customerId}/ai/uploads/my-encoder`, headers: { authorization: auth } });
    assert.equal(del.statusCode, 200, del.body);
    assert.equal(del.json().files, 3);
    const again = await h.app.inject({ method: 'GET', url: `/customers/${alice.customerId}/ai/uploads`, headers: { authorization: auth } });
    assert.ok(!(again.json() as { name: string }[]).some((u) => u.name.startsWith('my-encoder/')));
  });

  test('an upload path through a file, or a file upload over a folder, is a 409; nothing changes', async () => {
    const put = (name: string) =>
      h.app.inject({
        method: 'PUT',
        url: `/customers/${alice.customerId}/ai/uploads/${name}`,
        headers: { authorization: auth, 'content-type': 'text/plain' },
        payload: 'x',
      });
    assert.equal((await put('plain.txt')).statusCode, 200);
    assert.equal((await put('folder/inner.txt')).statusCode, 200);
    const through = await put('plain.txt/inner.txt');
    assert.equal(through.statusCode, 409, through.body);
    assert.equal(through.json().code, 'MODELD_ERR_CONFLICT');
    const over = await put('folder');
    assert.equal(over.statusCode, 409, over.body);
    const names = ((await h.app.inject({ method: 'GET', url: `/customers/${alice.customerId}/ai/uploads`, headers: { authorization: auth } })).json() as { name: string }[]).map((u) => u.name);
    assert.ok(names.includes('plain.txt') && names.includes('folder/inner.txt'), names.join(', '));
  });

  test('the same files imported twice share one artifact, removed with the last model that uses it', async () => {
    const source = await makeTinyHfModel(path.join(sources, 'hf-16'), { dim: 16 });
    const first = await importDir(source, 'one');
    const second = await importDir(source, 'two');
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    const a = await h.store.getModel(alice.customerId, first.body.id);
    const b = await h.store.getModel(alice.customerId, second.body.id);
    assert.equal(a?.artifactId, b?.artifactId);
    const dir = path.join(artifactsRoot(), a!.artifactId!);

    const deployment = await seedDeployment(h.store, a!);
    const del = (id: string) => h.app.inject({ method: 'DELETE', url: `${models()}/${id}`, headers: { authorization: auth } });
    assert.equal((await del(a!.id)).statusCode, 409);
    await h.store.deleteDeployment(deployment.id);
    assert.equal((await del(a!.id)).statusCode, 200);
    assert.ok((await artifactFolders()).includes(path.basename(dir)), 'still used by the other model');
    assert.equal((await del(b!.id)).statusCode, 200);
    assert.ok(!(await artifactFolders()).includes(path.basename(dir)), 'released with the last model');
  });
});

describe('pre-trained catalog', () => {
  test('M1 lists pre-trained models first, then custom ones; M3 and M4 know them; they cannot be deleted', async () => {
    const list = await h.app.inject({ method: 'GET', url: models(), headers: { authorization: auth } });
    assert.equal(list.statusCode, 200);
    const body = list.json() as Array<Record<string, unknown>>;
    const firstCustom = body.findIndex((m) => m.category === 'CUSTOM');
    assert.ok(firstCustom > 0, 'pre-trained first, then custom');
    assert.ok(body.slice(0, firstCustom).every((m) => m.category === 'pre-trained (shared)'));
    assert.ok(body.slice(firstCustom).every((m) => m.category === 'CUSTOM'));
    const tiny = body.find((m) => m.id === 'tiny-encoder');
    assert.deepEqual(
      { id: tiny?.id, modelType: tiny?.modelType, vectorSize: tiny?.vectorSize, category: tiny?.category, state: tiny?.state },
      // Installed pre-trained models are AVAILABLE, as Lucidworks lists them (issue 13).
      { id: 'tiny-encoder', modelType: 'tiny-encoder', vectorSize: 32, category: 'pre-trained (shared)', state: 'AVAILABLE' },
    );
    for (const m of body) assert.ok(Value.Check(ModelSchema, m), JSON.stringify(m));

    const one = await h.app.inject({ method: 'GET', url: `${models()}/tiny-encoder`, headers: { authorization: auth } });
    assert.deepEqual(one.json(), tiny);
    const deployments = await h.app.inject({ method: 'GET', url: `${models()}/tiny-encoder/deployments`, headers: { authorization: auth } });
    assert.deepEqual(deployments.json(), []);
    const del = await h.app.inject({ method: 'DELETE', url: `${models()}/tiny-encoder`, headers: { authorization: auth } });
    assert.equal(del.statusCode, 409);
    assert.equal(del.json().code, 'MODELD_ERR_CONFLICT');
  });
});
