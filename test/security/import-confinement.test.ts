/**
 * Issue 10, finding 1: an import reads only the customer's own uploads and the operator's import
 * roots. Every other place (another customer's uploads, the data directory, /etc, a path that does
 * not exist, a file, a symlink out of a root, `..` out of the own uploads) gets one identical
 * answer that tells nothing about the path, and nothing is stored.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { engineArtifacts } from '../../src/api/index.js';
import { dataPaths } from '../../src/config/index.js';
import { makeTinyHfModel } from '../fixtures/models.js';
import { makeTempDir, type TempDir } from '../fixtures/tmp.js';
import { snapshot, startApi, uploadFolder as uploadFolderOf, type ApiHarness, type Tenant } from '../integration/api-harness.js';

let outside: TempDir;
let model: string;

before(async () => {
  outside = await makeTempDir('modeld-outside-');
  model = await makeTinyHfModel(path.join(outside.dir, 'hf-model'), { dim: 16 });
});
after(() => outside.cleanup());

const HF_FILES = ['config.json', 'tokenizer.json', 'onnx/model.onnx'];
const uploadFolder = (h: ApiHarness, tenant: Tenant, folder: string, from: string): Promise<string> => uploadFolderOf(h, tenant, folder, from, HF_FILES);

async function importing(h: ApiHarness, tenant: Tenant, artifact: Record<string, string>) {
  const res = await h.app.inject({
    method: 'POST',
    url: `/customers/${tenant.customerId}/ai/models`,
    headers: { authorization: await tenant.auth() },
    payload: { name: 'probe', modelType: 'imported', artifact },
  });
  return { status: res.statusCode, body: res.json() as { message: string; code: string; details?: Record<string, unknown>; vectorSize?: number } };
}

describe('default config (no import roots): only the customer’s own uploads', () => {
  let h: ApiHarness;
  let alice: Tenant;
  let bob: Tenant;
  let bobsFolder: string;

  before(async () => {
    h = await startApi({ artifacts: (config, store) => engineArtifacts({ store, artifactsRoot: dataPaths(config).artifacts }) });
    alice = await h.tenant();
    bob = await h.tenant();
    bobsFolder = await uploadFolder(h, bob, 'bobs-encoder', model);
    await uploadFolder(h, alice, 'alices-encoder', model);
  });
  after(() => h.close());

  test('the customer’s own upload folder imports', async () => {
    const { status, body } = await importing(h, alice, { upload: 'alices-encoder' });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.vectorSize, 16);
  });

  test('every other place gets the same answer, whatever is there; nothing is stored', async () => {
    const data = h.config.dataDir;
    const aliceUploads = path.join(data, 'uploads', alice.customerId);
    const unreadable = path.join(outside.dir, 'unreadable');
    await mkdir(unreadable);
    await chmod(unreadable, 0o000);
    const places: Record<string, string>[] = [
      { uri: bobsFolder }, // another customer's model: answered 200 before the fix
      { uri: pathToFileURL(path.join(data, 'uploads', bob.customerId)).href },
      { uri: `${pathToFileURL(aliceUploads).href}/../${bob.customerId}/bobs-encoder` },
      { uri: pathToFileURL(model).href }, // a valid model outside every allowed place
      { uri: 'file:///etc' },
      { uri: pathToFileURL(data).href },
      { uri: pathToFileURL(dataPaths(h.config).artifacts).href },
      { uri: 'file:///definitely/not/there' },
      { uri: pathToFileURL(unreadable).href },
      { uri: pathToFileURL(path.join(aliceUploads, 'alices-encoder', 'config.json')).href }, // a file, not a folder
      { uri: pathToFileURL(path.join(aliceUploads, 'no-such-folder')).href },
    ];
    const before = await snapshot(h.store, alice.customerId);
    const artifactsBefore = await readdir(dataPaths(h.config).artifacts).catch(() => []);
    const answers = new Set<string>();
    for (const artifact of places) {
      const { status, body } = await importing(h, alice, artifact);
      assert.equal(status, 400, `${artifact.uri}: ${JSON.stringify(body)}`);
      assert.equal(body.code, 'MODELD_ERR_DATA_PATH_FORBIDDEN', artifact.uri);
      assert.deepEqual(body.details, { field: 'body.artifact.uri' });
      assert.ok(!body.message.includes(outside.dir) && !body.message.includes(data) && !body.message.includes('/etc'), body.message);
      answers.add(JSON.stringify({ status, body }));
    }
    assert.equal(answers.size, 1, `one answer for every place: ${[...answers].join('\n')}`);

    // By upload name: a folder alice does not have (bob's name) is the same refusal as any other.
    const byName = new Set<string>();
    for (const upload of ['bobs-encoder', 'no-such-folder', 'alices-encoder/config.json']) byName.add(JSON.stringify(await importing(h, alice, { upload })));
    assert.equal(byName.size, 1, [...byName].join('\n'));
    assert.match([...byName][0]!, /MODELD_ERR_DATA_PATH_FORBIDDEN/);

    assert.equal(await snapshot(h.store, alice.customerId), before);
    assert.deepEqual(await readdir(dataPaths(h.config).artifacts).catch(() => []), artifactsBefore);
    await chmod(unreadable, 0o700);
  });
});

describe('with import roots: inside a root imports; a symlink out of it, or into the data directory, does not', () => {
  let h: ApiHarness;
  let alice: Tenant;
  let bob: Tenant;
  let root: string;

  before(async () => {
    root = path.join(outside.dir, 'root');
    await makeTinyHfModel(path.join(root, 'shared-model'), { dim: 12 });
    h = await startApi({
      config: { importRoots: [root] },
      artifacts: (config, store) => engineArtifacts({ store, artifactsRoot: dataPaths(config).artifacts }),
    });
    alice = await h.tenant();
    bob = await h.tenant();
    await uploadFolder(h, bob, 'bobs-encoder', model);
    await symlink(model, path.join(root, 'link-out'));
    await symlink(path.join(h.config.dataDir, 'uploads', bob.customerId, 'bobs-encoder'), path.join(root, 'link-to-bob'));
  });
  after(() => h.close());

  test('a folder under a root imports', async () => {
    const { status, body } = await importing(h, alice, { uri: pathToFileURL(path.join(root, 'shared-model')).href });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.vectorSize, 12);
  });

  test('symlinks leaving the root and `..` out of it get the one refusal', async () => {
    const answers = new Set<string>();
    for (const uri of [
      pathToFileURL(path.join(root, 'link-out')).href,
      pathToFileURL(path.join(root, 'link-to-bob')).href,
      `${pathToFileURL(root).href}/../hf-model`,
      pathToFileURL(`${root}-sibling`).href,
    ]) {
      const { status, body } = await importing(h, alice, { uri });
      assert.equal(status, 400, `${uri}: ${JSON.stringify(body)}`);
      assert.equal(body.code, 'MODELD_ERR_DATA_PATH_FORBIDDEN');
      answers.add(JSON.stringify(body));
    }
    assert.equal(answers.size, 1, [...answers].join('\n'));
  });
});
