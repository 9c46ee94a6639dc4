import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ensureShippedPretrained, loadEngine, SHIPPED_USE_ID, verifyArtifact, type EmbeddingEngine } from './index.js';

let tmp: string;
let engine: EmbeddingEngine;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'modeld-use-'));
  await ensureShippedPretrained(tmp);
  engine = await loadEngine(path.join(tmp, SHIPPED_USE_ID));
});
after(async () => {
  await engine?.close();
  await rm(tmp, { recursive: true, force: true });
});

function cos(v: Float32Array, a: number, b: number, dim: number): number {
  let s = 0;
  for (let i = 0; i < dim; i++) s += v[a * dim + i]! * v[b * dim + i]!;
  return s;
}

test('the shipped USE lite is a verified tfjs-use artifact of 512 dimensions', async () => {
  const m = await verifyArtifact(path.join(tmp, SHIPPED_USE_ID));
  assert.equal(m.engine, 'tfjs-use');
  assert.equal(m.vectorSize, 512);
  assert.equal(m.modelType, SHIPPED_USE_ID);
  assert.ok(Object.keys(m.files).includes('model.json') && Object.keys(m.files).some((f) => f.startsWith('group1-shard')));
  assert.equal(engine.vectorSize, 512);
});

test('USE gives 512-d unit vectors; similar sentences score higher than unrelated ones', async () => {
  const texts = [
    'How do I reset my password?',
    'I forgot my password and need to change it.',
    'The weather will be sunny tomorrow.',
    'A cat is sleeping on the sofa.',
    'A kitten naps on the couch.',
    '',
  ];
  const { vectors, tokenCounts } = await engine.embed(texts);
  assert.equal(vectors.length, texts.length * 512);
  for (let r = 0; r < texts.length - 1; r++) assert.ok(Math.abs(cos(vectors, r, r, 512) - 1) < 1e-4, `row ${r} is unit`);
  assert.ok(cos(vectors, 0, 1, 512) > cos(vectors, 0, 2, 512) + 0.2, 'password pair beats weather');
  assert.ok(cos(vectors, 3, 4, 512) > cos(vectors, 3, 2, 512) + 0.2, 'cat pair beats weather');
  assert.ok(cos(vectors, 3, 4, 512) > cos(vectors, 3, 0, 512) + 0.2, 'cat pair beats password');
  assert.ok(tokenCounts[0]! >= 6 && tokenCounts[5] === 0);
  for (const x of vectors) assert.ok(Number.isFinite(x));
});

test('USE vectors do not depend on the batch a text is in', async () => {
  const alone = await engine.embed(['A cat is sleeping on the sofa.']);
  const inBatch = await engine.embed(['Something else entirely, and longer than the other one.', 'A cat is sleeping on the sofa.']);
  for (let i = 0; i < 512; i++) assert.ok(Math.abs(alone.vectors[i]! - inBatch.vectors[512 + i]!) < 1e-4);
});

test('USE tokenize exposes the sentencepiece tokens and their ids', () => {
  const { tokens, ids } = engine.tokenize(['the password']);
  assert.deepEqual(tokens[0], ['\u2581the', '\u2581password']);
  assert.equal(ids[0]!.length, 2);
});

test('ensureShippedPretrained is idempotent and repairs a damaged install', async () => {
  const dir = path.join(tmp, SHIPPED_USE_ID);
  const before = (await verifyArtifact(dir)).createdAt;
  await ensureShippedPretrained(tmp);
  assert.equal((await verifyArtifact(dir)).createdAt, before, 'left alone');
  await rm(path.join(dir, 'vocab.json'));
  await ensureShippedPretrained(tmp);
  await verifyArtifact(dir);
});
