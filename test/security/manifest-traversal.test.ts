/**
 * Issue 10, finding 2: every path an artifact names (the `files` keys of manifest.json, the
 * tokenizer and graph files, a Hugging Face folder's files and external data) stays inside the
 * artifact folder after symlinks are resolved, and is checked before any file is opened. A
 * refusal says nothing about the file outside: not whether it exists, not its size or hash.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { engineArtifacts } from '../../src/api/index.js';
import { dataPaths } from '../../src/config/index.js';
import { readManifest, verifyArtifact } from '../../src/engines/index.js';
import { makeModeldArtifact, makeTinyHfModel } from '../fixtures/models.js';
import { makeTempDir, type TempDir } from '../fixtures/tmp.js';
import { startApi, type ApiHarness, type Tenant } from '../integration/api-harness.js';

const SECRET = '{"clientSecret":"s3cr3t-value-that-must-stay-inside"}\n';
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

let h: ApiHarness;
let alice: Tenant;
let root: TempDir;
let good: string;

before(async () => {
  root = await makeTempDir('modeld-traversal-root-');
  h = await startApi({
    config: { importRoots: [root.dir] },
    artifacts: (config, store) => engineArtifacts({ store, artifactsRoot: dataPaths(config).artifacts }),
  });
  alice = await h.tenant();
  // A secret the server can read, beside the data directory's own files.
  await writeFile(path.join(h.config.dataDir, 'admin-credentials.json'), SECRET);
  good = await makeModeldArtifact(path.join(root.dir, 'good'));
});
after(async () => {
  await h.close();
  await root.cleanup();
});

/** Uploads the good artifact's files plus a manifest edited by `edit` into alice's upload folder `folder`. */
async function uploadArtifact(folder: string, edit: (m: Record<string, any>) => void): Promise<void> {
  const manifest = JSON.parse(await readFile(path.join(good, 'manifest.json'), 'utf8')) as Record<string, any>;
  edit(manifest);
  const files: Record<string, Buffer | string> = {
    'manifest.json': JSON.stringify(manifest),
    'model.onnx': await readFile(path.join(good, 'model.onnx')),
    'tokenizer.json': await readFile(path.join(good, 'tokenizer.json')),
  };
  for (const [rel, payload] of Object.entries(files)) {
    const res = await h.app.inject({
      method: 'PUT',
      url: `/customers/${alice.customerId}/ai/uploads/${folder}/${rel}`,
      headers: { authorization: await alice.auth(), 'content-type': 'application/octet-stream' },
      payload,
    });
    assert.equal(res.statusCode, 200, res.body);
  }
}

async function importing(artifact: Record<string, string>) {
  const res = await h.app.inject({
    method: 'POST',
    url: `/customers/${alice.customerId}/ai/models`,
    headers: { authorization: await alice.auth() },
    payload: { name: 'traversal', modelType: 'imported', artifact },
  });
  return { status: res.statusCode, body: res.json() as { message: string; code: string; details?: Record<string, unknown> } };
}

function assertTellsNothing(body: { message: string; details?: Record<string, unknown> }): void {
  const text = JSON.stringify(body);
  assert.ok(!text.includes(String(SECRET.length)), `no size of the outside file: ${text}`);
  assert.ok(!text.includes(sha(SECRET).slice(0, 8)), `no hash of the outside file: ${text}`);
  assert.ok(!/checksum mismatch|cannot be read|ENOENT|EACCES/.test(text), `no word on what is there: ${text}`);
  assert.ok(!text.includes(h.config.dataDir), `no host path: ${text}`);
}

describe('manifest.json files keys', () => {
  test('keys that leave the folder are refused with a 400 before any file is opened, the same whether the target exists or not', async () => {
    const keys = [
      '../../admin-credentials.json',
      '../../no-such-file.json',
      '/etc/passwd',
      '/etc/no-such-file',
      'sub/../../x.json',
      './tokenizer.json',
      'a//b',
      'a\\..\\..\\b',
    ];
    const artifactsBefore = await readdir(dataPaths(h.config).artifacts).catch(() => []);
    const shapes = new Set<string>();
    for (const [i, key] of keys.entries()) {
      await uploadArtifact(`bad-${i}`, (m) => {
        m.files[key] = { sha256: sha(SECRET), bytes: SECRET.length };
      });
      const { status, body } = await importing({ upload: `bad-${i}` });
      assert.equal(status, 400, `${key}: ${JSON.stringify(body)}`);
      assert.equal(body.code, 'MODELD_ERR_ARTIFACT_INVALID', key);
      assert.match(body.message, /^body\.artifact\.upload: manifest\.json: field files\[.*\]: must be a normalized relative path inside the artifact/, key);
      assertTellsNothing(body);
      shapes.add(body.message.replace(/files\[.*\]/, 'files[KEY]'));
    }
    assert.equal(shapes.size, 1, [...shapes].join('\n'));
    assert.deepEqual(await readdir(dataPaths(h.config).artifacts).catch(() => []), artifactsBefore, 'nothing copied');
  });

  test('tokenizer.file and onnx.file leaving the folder are refused the same way', async () => {
    await uploadArtifact('bad-tokfile', (m) => {
      m.tokenizer.file = '../../admin-credentials.json';
    });
    const { status, body } = await importing({ upload: 'bad-tokfile' });
    assert.equal(status, 400);
    assert.match(body.message, /field tokenizer\.file: must be a normalized relative path/);
    assertTellsNothing(body);
  });

  test('readManifest and verifyArtifact refuse such a manifest on their own (the runner uses them too)', async () => {
    const dir = await makeModeldArtifact(path.join(root.dir, 'unit'));
    const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
    manifest.files['../../../etc/passwd'] = { sha256: sha('x'), bytes: 1 };
    await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    await assert.rejects(readManifest(dir), { code: 'MODELD_ERR_ARTIFACT_INVALID', message: /field files\["\.\.\/\.\.\/\.\.\/etc\/passwd"\]/ });
    await assert.rejects(verifyArtifact(dir), { code: 'MODELD_ERR_ARTIFACT_INVALID' });
  });
});

describe('symlinks inside an artifact folder (an import root)', () => {
  test('a listed file that is a symlink out of the folder is refused like a missing one, even with the right checksum', async () => {
    const answers = new Set<string>();
    for (const [name, target] of [
      ['link-secret', path.join(h.config.dataDir, 'admin-credentials.json')],
      ['link-nothing', path.join(h.config.dataDir, 'no-such-file.json')],
    ] as const) {
      const dir = await makeModeldArtifact(path.join(root.dir, name));
      await symlink(target, path.join(dir, 'secret.json'));
      const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
      manifest.files['secret.json'] = { sha256: sha(SECRET), bytes: SECRET.length };
      await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
      const { status, body } = await importing({ uri: pathToFileURL(dir).href });
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(body.code, 'MODELD_ERR_ARTIFACT_INVALID');
      assertTellsNothing(body);
      answers.add(body.message);
    }
    assert.equal(answers.size, 1, [...answers].join('\n'));
    assert.match([...answers][0]!, /secret\.json: .*missing, or not a regular file inside the model folder/);
  });

  test('a Hugging Face folder whose tokenizer.json is a symlink out of the folder is refused', async () => {
    const dir = await makeTinyHfModel(path.join(root.dir, 'hf-link'));
    const outsideTok = path.join(h.config.dataDir, 'outside-tokenizer.json');
    await writeFile(outsideTok, await readFile(path.join(dir, 'tokenizer.json')));
    const { rm } = await import('node:fs/promises');
    await rm(path.join(dir, 'tokenizer.json'));
    await symlink(outsideTok, path.join(dir, 'tokenizer.json'));
    const { status, body } = await importing({ uri: pathToFileURL(dir).href });
    assert.equal(status, 400, JSON.stringify(body));
    assert.match(body.message, /tokenizer\.json: missing, or not a regular file inside the model folder/);
    assertTellsNothing(body);
  });
});
