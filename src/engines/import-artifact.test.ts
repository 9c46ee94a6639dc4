import assert from 'node:assert/strict';
import { readdir, rename, stat, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { processesWith } from '../../test/fixtures/processes.js';
import { after, before, test } from 'node:test';
import { makeBrokenArtifacts, makeModeldArtifact, makeTinyHfModel, type BrokenArtifacts } from '../../test/fixtures/models.js';
import { checkArtifactIsolated, importArtifact, loadEngine, operatorDetailOf, readManifest, verifyArtifact } from './index.js';
import { CHECK_MAIN } from './check-isolated.js';

let tmp: string;
let root: string;
let broken: BrokenArtifacts;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'modeld-import-'));
  root = path.join(tmp, 'artifacts');
  broken = await makeBrokenArtifacts(path.join(tmp, 'broken'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const meta = { name: 'my model', modelType: 'imported' };

async function visibleEntries(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
}

test('a Hugging Face folder (last_hidden_state, onnx/model.onnx) imports as a mean-pooled modeld artifact', async () => {
  const hf = await makeTinyHfModel(path.join(tmp, 'hf-token'), { tokenizer: 'wordpiece', dim: 24 });
  const imported = await importArtifact(hf, root, meta);
  const a = { ...imported, manifest: await readManifest(imported.dir) };
  assert.equal(a.vectorSize, 24);
  assert.equal(a.dir, path.join(root, a.artifactId));
  assert.match(a.artifactId, /^[0-9a-f]{64}$/);
  assert.equal(a.manifest.vectorSize, 24);
  assert.equal(a.manifest.name, 'my model');
  assert.equal(a.manifest.tokenizer.maxTokens, 128, 'from config.json max_position_embeddings');
  assert.deepEqual(a.manifest.onnx, {
    file: 'onnx/model.onnx',
    inputs: { ids: 'input_ids', attentionMask: 'attention_mask' },
    output: 'last_hidden_state',
    outputKind: 'token',
    pooling: 'mean',
    idType: 'int64',
  });
  assert.deepEqual(await verifyArtifact(a.dir), a.manifest);
  assert.ok(!(await readdir(root)).some((n) => n.startsWith('.import-')), 'temp folder removed');
  const engine = await loadEngine(a.dir);
  assert.equal((await engine.embed(['hello'])).vectors.length, 24);
  await engine.close();
});

test('sentence_embedding is preferred; token_type_ids and model_max_length are picked up; model.onnx at the top works', async () => {
  const hf = await makeTinyHfModel(path.join(tmp, 'hf-sentence'), { tokenizer: 'unigram', output: 'sentence_embedding', withTokenTypeIds: true, modelMaxLength: 1e30 });
  await rename(path.join(hf, 'onnx', 'model.onnx'), path.join(hf, 'model.onnx'));
  const imported = await importArtifact(hf, root, meta);
  const a = { ...imported, manifest: await readManifest(imported.dir) };
  assert.equal(a.manifest.onnx?.file, 'model.onnx');
  assert.equal(a.manifest.onnx?.output, 'sentence_embedding');
  assert.equal(a.manifest.onnx?.outputKind, 'sentence');
  assert.equal(a.manifest.onnx?.pooling, 'none');
  assert.equal(a.manifest.onnx?.inputs.tokenTypeIds, 'token_type_ids');
  assert.equal(a.manifest.tokenizer.maxTokens, 512, 'model_max_length capped at 512');
  assert.ok('tokenizer_config.json' in a.manifest.files);
});

test('a modeld artifact imports under the given name; importing the same content again is idempotent', async () => {
  const src = await makeModeldArtifact(path.join(tmp, 'modeld-src'));
  const firstImport = await importArtifact(src, root, { name: 'first', modelType: 'imported' });
  const first = { ...firstImport, manifest: await readManifest(firstImport.dir) };
  assert.equal(first.manifest.name, 'first');
  assert.equal(first.vectorSize, 32);
  const before = await visibleEntries(root);
  const second = await importArtifact(src, root, { name: 'second', modelType: 'imported' });
  assert.equal(second.artifactId, first.artifactId);
  assert.equal((await readManifest(second.dir)).name, 'first', 'the stored artifact is kept as first imported');
  assert.deepEqual(await visibleEntries(root), before);
  assert.deepEqual(Object.keys(first.manifest.files).sort(), (await visibleEntries(first.dir)).filter((f) => f !== 'manifest.json'));
});

test('every broken folder gives MODELD_ERR_ARTIFACT_INVALID with a message naming the problem', async () => {
  const cases: Array<[string, RegExp]> = [
    [broken.notOnnx, /^onnx\/model\.onnx is not an ONNX model: /],
    [broken.missingTokenizer, /^artifact\.uri: no tokenizer\.json in the folder$/],
    [broken.failsAtLoad, /onnxruntime cannot load the model .*ModeldNoSuchOp/],
    [broken.badChecksum, /^tokenizer\.json: checksum mismatch/],
    [broken.imageInput, /graph input 'pixel_values' is not a text input/],
    [path.join(tmp, 'does-not-exist'), /^artifact\.uri: not a directory$/],
  ];
  for (const [dir, message] of cases) {
    await assert.rejects(importArtifact(dir, root, meta), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MODELD_ERR_ARTIFACT_INVALID', err.message);
      assert.match(err.message, message);
      assert.ok(!err.message.includes('.import-'), `message speaks of the user's folder, not the temp copy: ${err.message}`);
      assert.ok(!err.message.includes(tmp), `no host path in the message: ${err.message}`);
      return true;
    });
  }
  assert.ok(!(await readdir(root)).some((n) => n.startsWith('.import-')), 'no temp folder left behind');
});

test('checkArtifactIsolated reports the vector size; a load failure gives the reason to the user, the stderr to the operator', async () => {
  assert.deepEqual(await checkArtifactIsolated(await makeModeldArtifact(path.join(tmp, 'check-ok'))), { vectorSize: 32 });
  await assert.rejects(checkArtifactIsolated(broken.badChecksum), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'MODELD_ERR_ARTIFACT_INVALID');
    assert.match(err.message, /^tokenizer\.json: checksum mismatch/);
    assert.ok(!err.message.includes(tmp), err.message);
    const detail = operatorDetailOf(err);
    assert.equal(detail?.exitCode, 1);
    assert.match(String(detail?.stderrTail), new RegExp(`${broken.badChecksum}/tokenizer\\.json: checksum mismatch`), 'the operator sees the full path');
    return true;
  });
});

test('a model that never finishes is killed at the timeout; the caller lives on', async () => {
  const started = Date.now();
  await assert.rejects(importArtifact(broken.hangs, path.join(tmp, 'artifacts-hang'), meta, { timeoutMs: 4000 }), {
    code: 'MODELD_ERR_ARTIFACT_INVALID',
    message: /did not finish within 4000 ms/,
  });
  assert.ok(Date.now() - started < 30_000);
});

/** Pids of live check processes whose arguments mention `needle`. */
const checkChildren = (needle: string): Promise<number[]> => processesWith(CHECK_MAIN, needle);

test('a model whose process crashes (SIGSEGV) becomes an invalid-artifact error, not a crash of the caller', async () => {
  const artifactsRoot = path.join(tmp, 'artifacts-crash');
  const pending = importArtifact(broken.hangs, artifactsRoot, meta, { timeoutMs: 60_000 });
  // The child exists only while the import runs; poll for it (there is no event to await from outside).
  let pids: number[] = [];
  for (let i = 0; i < 400 && pids.length === 0; i++) {
    pids = await checkChildren(artifactsRoot);
    if (pids.length === 0) await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(pids.length, 1, 'found the check child');
  process.kill(pids[0]!, 'SIGSEGV');
  await assert.rejects(pending, { code: 'MODELD_ERR_ARTIFACT_INVALID', message: /crashed the inference process \(signal SIGSEGV\)/ });
  assert.deepEqual(await checkChildren(artifactsRoot), []);
  assert.ok(await stat(artifactsRoot), 'caller still here');
});

test('a tokenizer.json that is not JSON is refused naming the file', async () => {
  const hf = await makeTinyHfModel(path.join(tmp, 'bad-tok'));
  await writeFile(path.join(hf, 'tokenizer.json'), '{ not json');
  await assert.rejects(importArtifact(hf, root, meta), { code: 'MODELD_ERR_ARTIFACT_INVALID', message: /^tokenizer\.json: not valid JSON/ });
});
