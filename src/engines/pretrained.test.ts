import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { makeBrokenArtifacts, makeModeldArtifact, makeTinyHfModel } from '../../test/fixtures/models.js';
import { ensureShippedPretrained, listPretrained, loadEngine, SHIPPED_USE_ID, verifyArtifact } from './index.js';

let tmp: string;
let models: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'modeld-pretrained-'));
  models = path.join(tmp, 'models');
  await ensureShippedPretrained(models);
  await makeTinyHfModel(path.join(models, 'tiny-minilm'), { tokenizer: 'wordpiece', dim: 16, output: 'sentence_embedding' });
  await makeModeldArtifact(path.join(models, 'tiny-modeld'));
  const broken = await makeBrokenArtifacts(path.join(tmp, 'broken'));
  await mkdir(path.join(models, 'broken-onnx', 'onnx'), { recursive: true });
  for (const f of ['tokenizer.json', 'config.json', 'onnx/model.onnx']) {
    await writeFile(path.join(models, 'broken-onnx', f), await readFile(path.join(broken.notOnnx, f)));
  }
  await mkdir(path.join(models, 'notes'));
  await writeFile(path.join(models, 'notes', 'README.txt'), 'not a model');
  await mkdir(path.join(models, 'bad name!'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('listPretrained offers the shipped USE, modeld artifacts and converted HF folders; skips the rest with a reason', async () => {
  const { models: found, skipped } = await listPretrained(models);
  assert.deepEqual(
    found.map((m) => [m.id, m.modelType, m.vectorSize]),
    [
      ['tiny-minilm', 'tiny-minilm', 16],
      ['tiny-modeld', 'tiny-modeld', 32],
      [SHIPPED_USE_ID, SHIPPED_USE_ID, 512],
    ],
  );
  const use = found.find((m) => m.id === SHIPPED_USE_ID)!;
  assert.equal(use.artifactDir, path.join(models, SHIPPED_USE_ID));
  assert.match(use.description, /Universal Sentence Encoder lite/);
  assert.deepEqual(
    skipped.map((s) => s.id),
    ['bad name!', 'broken-onnx', 'notes'],
  );
  assert.match(skipped.find((s) => s.id === 'broken-onnx')!.reason, /onnx\/model\.onnx is not an ONNX model/);
  assert.match(skipped.find((s) => s.id === 'notes')!.reason, /neither a modeld artifact/);
  assert.match(skipped.find((s) => s.id === 'bad name!')!.reason, /not a usable model id/);
});

test('an HF folder is converted in place into a loadable artifact, once', async () => {
  const dir = path.join(models, 'tiny-minilm');
  const manifest = await verifyArtifact(dir);
  assert.equal(manifest.onnx?.output, 'sentence_embedding');
  assert.equal(manifest.modelType, 'tiny-minilm');
  const written = (await stat(path.join(dir, 'manifest.json'))).mtimeMs;
  const engine = await loadEngine(dir);
  assert.equal((await engine.embed(['free software'])).vectors.length, 16);
  await engine.close();
  const again = await listPretrained(models);
  assert.equal((await stat(path.join(dir, 'manifest.json'))).mtimeMs, written, 'not converted twice');
  assert.equal(again.models.length, 3);
});

test('a failed conversion is remembered until the folder changes', async () => {
  const broken = path.join(models, 'broken-onnx');
  const marker = JSON.parse(await readFile(path.join(broken, '.modeld-import-error.json'), 'utf8')) as { reason: string };
  assert.match(marker.reason, /not an ONNX model/);
  // Replace the model with a good one: the next listing converts it.
  await makeTinyHfModel(broken, { tokenizer: 'wordpiece', dim: 8 });
  const { models: found } = await listPretrained(models);
  assert.equal(found.find((m) => m.id === 'broken-onnx')?.vectorSize, 8);
  await assert.rejects(stat(path.join(broken, '.modeld-import-error.json')), { code: 'ENOENT' });
});

test('a missing models directory lists nothing', async () => {
  assert.deepEqual(await listPretrained(path.join(tmp, 'nope')), { models: [], skipped: [] });
});
