import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { makeModeldArtifact } from '../../test/fixtures/models.js';
import { artifactIdOf, readManifest, verifyArtifact, writeManifest } from './index.js';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'modeld-manifest-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function editManifest(dir: string, edit: (m: Record<string, unknown>) => void): Promise<void> {
  const file = path.join(dir, 'manifest.json');
  const m = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  edit(m);
  await writeFile(file, JSON.stringify(m));
}

test('a manifest with free-form training details, prefixes and matryoshkaDims reads back', async () => {
  const dir = await makeModeldArtifact(path.join(tmp, 'extras'));
  await editManifest(dir, (m) => {
    m.training = { config: { epochs: 3, nested: { any: ['thing'] } }, metrics: { recallAt10: 0.5 }, note: 'kept' };
    m.prefixes = { query: 'query: ' };
    m.matryoshkaDims = [8, 16];
  });
  const m = await readManifest(dir);
  assert.deepEqual(m.matryoshkaDims, [8, 16]);
  assert.equal(m.prefixes?.query, 'query: ');
  assert.deepEqual(m.training?.metrics, { recallAt10: 0.5 });
});

test('a written artifact verifies; its manifest lists every file with sha256 and size', async () => {
  const dir = await makeModeldArtifact(path.join(tmp, 'ok'));
  const m = await verifyArtifact(dir);
  assert.deepEqual(Object.keys(m.files), ['model.onnx', 'tokenizer.json']);
  const tok = await readFile(path.join(dir, 'tokenizer.json'));
  assert.equal(m.files['tokenizer.json']!.bytes, tok.length);
  assert.match(m.files['tokenizer.json']!.sha256, /^[0-9a-f]{64}$/);
});

test('schema errors name the field', async () => {
  const cases: Array<[(m: Record<string, unknown>) => void, RegExp]> = [
    [(m) => (m.vectorSize = 'big'), /field vectorSize/],
    [(m) => (m.engine = 'pytorch'), /field engine/],
    [(m) => ((m.onnx as Record<string, unknown>).pooling = 'median'), /field onnx\.pooling/],
    [(m) => delete m.tokenizer, /field tokenizer: required/],
    [(m) => (m.engine = 'pytorch'), /field engine: must be one of "onnx", "tfjs-use"/],
    [(m) => (m.surprise = 1), /surprise/],
    [(m) => ((m.tokenizer as Record<string, unknown>).file = 'vocab.txt'), /field tokenizer\.file: "vocab\.txt" is not listed in files/],
    [(m) => ((m.onnx as Record<string, unknown>).outputKind = 'sentence'), /field onnx\.pooling: a sentence output takes pooling "none"/],
    [(m) => ((m.tokenizer as Record<string, unknown>).file = '../etc/passwd'), /field tokenizer\.file/],
    [(m) => (m.vectorSize = 0), /field vectorSize: must be an integer in \[1, 65536\]/],
    [(m) => (m.vectorSize = 2.5), /field vectorSize: must be integer/],
    [(m) => (m.formatVersion = 2), /field formatVersion: must be 1/],
    [(m) => (m.name = ''), /field name:/],
    [(m) => (m.normalize = 'yes'), /field normalize: must be boolean/],
    [(m) => ((m.onnx as Record<string, unknown>).inputs = { mask: 'x' }), /field onnx\.inputs\.ids: required/],
    [(m) => ((m.onnx as Record<string, unknown>).extra = true), /field onnx: .*extra/],
    [(m) => (m.matryoshkaDims = [64, 0]), /field matryoshkaDims\.1:/],
    [(m) => (m.prefixes = { query: 3 }), /field prefixes\.query: must be string/],
    [(m) => (m.training = { config: {} }), /field training\.metrics: required/],
    [(m) => ((m.files as Record<string, Record<string, unknown>>)['model.onnx']!.sha256 = 'ABC'), /field files\.model\.onnx\.sha256/],
    [(m) => ((m.files as Record<string, Record<string, unknown>>)['model.onnx']!.bytes = -1), /field files\.model\.onnx\.bytes/],
    [(m) => (m.files = []), /field files: must be object/],
  ];
  for (const [i, [edit, message]] of cases.entries()) {
    const dir = await makeModeldArtifact(path.join(tmp, `schema-${i}`));
    await editManifest(dir, edit);
    await assert.rejects(readManifest(dir), { code: 'MODELD_ERR_ARTIFACT_INVALID', message }, `case ${i}`);
  }
});

test('a missing manifest, bad JSON, a missing file or a changed file is refused naming it', async () => {
  await assert.rejects(readManifest(path.join(tmp, 'nowhere')), { code: 'MODELD_ERR_ARTIFACT_INVALID', message: /nowhere\/manifest\.json: cannot read \(ENOENT\)/ });
  const bad = await makeModeldArtifact(path.join(tmp, 'bad-json'));
  await writeFile(path.join(bad, 'manifest.json'), '{"formatVersion": 1,');
  await assert.rejects(readManifest(bad), { message: /manifest\.json: not valid JSON/ });
  const missing = await makeModeldArtifact(path.join(tmp, 'missing'));
  await unlink(path.join(missing, 'model.onnx'));
  await assert.rejects(verifyArtifact(missing), { message: /model\.onnx: listed in manifest\.json but missing, or not a regular file inside the model folder/ });
  const changed = await makeModeldArtifact(path.join(tmp, 'changed'));
  const bytes = await readFile(path.join(changed, 'model.onnx'));
  bytes[bytes.length - 1] ^= 1;
  await writeFile(path.join(changed, 'model.onnx'), bytes);
  await assert.rejects(verifyArtifact(changed), { code: 'MODELD_ERR_ARTIFACT_INVALID', message: /model\.onnx: checksum mismatch/ });
});

test('artifactIdOf depends on the files and serving fields, not on name, modelType or createdAt', async () => {
  const a = await verifyArtifact(await makeModeldArtifact(path.join(tmp, 'id-a')));
  const b = await verifyArtifact(await makeModeldArtifact(path.join(tmp, 'id-b')));
  assert.equal(artifactIdOf(a), artifactIdOf(b));
  assert.match(artifactIdOf(a), /^[0-9a-f]{64}$/);
  assert.equal(artifactIdOf({ ...a, name: 'other', modelType: 'x', createdAt: '2030-01-01T00:00:00Z' }), artifactIdOf(a));
  assert.notEqual(artifactIdOf({ ...a, onnx: { ...a.onnx!, pooling: 'cls' } }), artifactIdOf(a));
  const dir = path.join(tmp, 'id-c');
  await makeModeldArtifact(dir);
  await writeFile(path.join(dir, 'tokenizer.json'), (await readFile(path.join(dir, 'tokenizer.json'), 'utf8')).replace('[MASK]', '[MOSK]'));
  const c = await writeManifest(dir, { ...a, createdAt: a.createdAt }, Object.keys(a.files));
  assert.notEqual(artifactIdOf(c), artifactIdOf(a));
});
