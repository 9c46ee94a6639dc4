import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import ort from 'onnxruntime-node';
import { makeBigruArtifact, makeModeldArtifact, makeTinyHfModel } from '../../test/fixtures/models.js';
import { sampleSentences } from '../../test/fixtures/text.js';
import { loadEngine, writeManifest, type ArtifactManifest, type EmbeddingEngine } from './index.js';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'modeld-onnx-engine-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

type OnnxOverrides = Partial<NonNullable<ArtifactManifest['onnx']>>;

/** Turns a tiny HF folder into a modeld artifact in place (manifest written here, no child process). */
async function hfAsArtifact(
  name: string,
  hf: Parameters<typeof makeTinyHfModel>[1],
  onnx: OnnxOverrides = {},
  extra: Partial<ArtifactManifest> = {},
): Promise<string> {
  const dir = await makeTinyHfModel(path.join(tmp, name), hf);
  const sentence = hf?.output === 'sentence_embedding';
  await writeManifest(
    dir,
    {
      name,
      modelType: 'imported',
      engine: 'onnx',
      vectorSize: hf?.dim ?? 32,
      tokenizer: { kind: 'hf-tokenizer-json', file: 'tokenizer.json', maxTokens: 64 },
      onnx: {
        file: 'onnx/model.onnx',
        inputs: { ids: 'input_ids', attentionMask: 'attention_mask', ...(hf?.withTokenTypeIds ? { tokenTypeIds: 'token_type_ids' } : {}) },
        output: sentence ? 'sentence_embedding' : 'last_hidden_state',
        outputKind: sentence ? 'sentence' : 'token',
        pooling: sentence ? 'none' : 'mean',
        idType: hf?.idType ?? 'int64',
        ...onnx,
      },
      normalize: true,
      ...extra,
    },
    ['tokenizer.json', 'onnx/model.onnx', 'config.json'],
  );
  return dir;
}

function rowNorms(v: Float32Array, dim: number): number[] {
  const out: number[] = [];
  for (let o = 0; o < v.length; o += dim) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += v[o + d]! * v[o + d]!;
    out.push(Math.sqrt(s));
  }
  return out;
}

function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `${what}: index ${i}: ${a[i]} vs ${b[i]}`);
}

const texts = ['The license is free.', 'Permission is hereby granted, free of charge, to any person', 'software', ''];

test('a modeld artifact loads and embeds: one unit row per text, token counts with [CLS]/[SEP]', async () => {
  const engine = await loadEngine(await makeModeldArtifact(path.join(tmp, 'modeld')));
  try {
    assert.equal(engine.vectorSize, 32);
    const r = await engine.embed(texts);
    assert.equal(r.vectors.length, texts.length * 32);
    for (const n of rowNorms(r.vectors, 32)) assert.ok(Math.abs(n - 1) < 1e-5, `norm ${n}`);
    assert.deepEqual(r.tokenCounts, engine.tokenize(texts).ids.map((x) => x.length));
    assert.equal(r.tokenCounts[3], 2);
    assert.deepEqual(engine.tokenize(['software']).tokens, [['[CLS]', 'software', '[SEP]']]);
    assert.deepEqual(await engine.embed([]), { vectors: new Float32Array(0), tokenCounts: [] });
  } finally {
    await engine.close();
  }
});

test('mean, cls and max pooling equal a hand computation over the raw onnxruntime output', async () => {
  const dir = await hfAsArtifact('pool', { tokenizer: 'wordpiece', dim: 16 });
  const session = await ort.InferenceSession.create(path.join(dir, 'onnx/model.onnx'));
  const batch = ['the license', 'permission is hereby granted to any person obtaining a copy'];
  for (const pooling of ['mean', 'cls', 'max'] as const) {
    const pdir = await hfAsArtifact(`pool-${pooling}`, { tokenizer: 'wordpiece', dim: 16 }, { pooling });
    const engine = await loadEngine(pdir);
    const { ids } = engine.tokenize(batch);
    const got = (await engine.embed(batch)).vectors;
    await engine.close();
    // Hand computation: each text alone (no padding at all), then pool and normalize in plain JS.
    for (let b = 0; b < batch.length; b++) {
      const row = ids[b]!;
      const feeds = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(row.map(BigInt)), [1, row.length]),
        attention_mask: new ort.Tensor('int64', BigInt64Array.from(row.map(() => 1n)), [1, row.length]),
      };
      const h = (await session.run(feeds)).last_hidden_state!.data as Float32Array;
      const v: number[] = [];
      for (let d = 0; d < 16; d++) {
        const col = row.map((_, t) => h[t * 16 + d]!);
        v.push(pooling === 'mean' ? col.reduce((s, x) => s + x, 0) / col.length : pooling === 'cls' ? col[0]! : Math.max(...col));
      }
      const norm = Math.hypot(...v);
      assertClose(got.subarray(b * 16, b * 16 + 16), v.map((x) => x / norm), 1e-5, `${pooling} row ${b}`);
    }
  }
  await session.release();
});

test('engine mean pooling of last_hidden_state equals the graph pooling of the sentence_embedding export', async () => {
  const tokenOut = await loadEngine(await hfAsArtifact('tok-out', { tokenizer: 'bpe', dim: 24 }));
  const sentOut = await loadEngine(await hfAsArtifact('sent-out', { tokenizer: 'bpe', dim: 24, output: 'sentence_embedding' }));
  const batch = sampleSentences(8, { seed: 4, minWords: 3, maxWords: 30 });
  const a = await tokenOut.embed(batch);
  const b = await sentOut.embed(batch);
  assertClose(a.vectors, b.vectors, 1e-5, 'token vs sentence output');
  assert.deepEqual(a.tokenCounts, b.tokenCounts);
  await tokenOut.close();
  await sentOut.close();
});

test('padding does not change a vector: alone or in a batch with a longer text, same result', async () => {
  const engine = await loadEngine(await hfAsArtifact('pad', { tokenizer: 'unigram' }));
  const alone = await engine.embed(['free software']);
  const padded = await engine.embed(['free software', sampleSentences(1, { seed: 9, minWords: 20, maxWords: 30 })[0]!]);
  assertClose(alone.vectors, padded.vectors.subarray(0, 32), 1e-5, 'padded row');
  await engine.close();
});

test('int32 id inputs and token_type_ids are fed when the graph takes them', async () => {
  const i64 = await loadEngine(await hfAsArtifact('ids64', { tokenizer: 'wordlevel' }));
  const i32 = await loadEngine(await hfAsArtifact('ids32', { tokenizer: 'wordlevel', idType: 'int32' }));
  const tt = await loadEngine(await hfAsArtifact('tt', { tokenizer: 'wordlevel', withTokenTypeIds: true }));
  const batch = ['the license', 'copyright holders and contributors'];
  const a = await i64.embed(batch);
  assertClose((await i32.embed(batch)).vectors, a.vectors, 1e-6, 'int32 vs int64');
  const c = await tt.embed(batch);
  assert.equal(c.vectors.length, 64);
  assert.ok(Math.abs(c.vectors[0]! - a.vectors[0]!) > 1e-7, 'token type embedding is added');
  for (const e of [i64, i32, tt]) await e.close();
});

test('texts are truncated at maxTokens and tokenCounts says so', async () => {
  const engine = await loadEngine(await hfAsArtifact('trunc', { tokenizer: 'wordpiece' }));
  const long = sampleSentences(6, { seed: 2, minWords: 30, maxWords: 60 }).join(' ');
  const r = await engine.embed([long, 'software']);
  assert.deepEqual(r.tokenCounts, [64, 3]);
  const t = engine.tokenize([long]).tokens[0]!;
  assert.equal(t.length, 64);
  assert.equal(t.at(-1), '[SEP]');
  await engine.close();
});

test('prefixes are applied per dataType', async () => {
  const engine = await loadEngine(await hfAsArtifact('prefix', { tokenizer: 'wordpiece' }, {}, { prefixes: { query: 'query: ', passage: 'passage: ' } }));
  const q = await engine.embed(['free software'], { dataType: 'query' });
  assert.deepEqual(q.vectors, (await engine.embed(['query: free software'])).vectors);
  assert.deepEqual((await engine.embed(['free software'], { dataType: 'passage' })).vectors, (await engine.embed(['passage: free software'])).vectors);
  assert.notDeepEqual(q.vectors, (await engine.embed(['free software'])).vectors);
  await engine.close();
});

test('concurrent embed calls each get their own texts back', async () => {
  const engine = await loadEngine(await hfAsArtifact('conc', { tokenizer: 'wordpiece' }));
  const sents = sampleSentences(12, { seed: 21 });
  const singly: Float32Array[] = [];
  for (const s of sents) singly.push((await engine.embed([s])).vectors);
  const together = await Promise.all(sents.map((s) => engine.embed([s])));
  together.forEach((r, i) => assert.deepEqual(r.vectors, singly[i]));
  await engine.close();
  await assert.rejects(engine.embed(['x']), /closed/);
});

test('a manifest that does not match the graph is refused, naming what is wrong', async () => {
  const wrongSize = await loadEngine(await hfAsArtifact('wrong-size', { tokenizer: 'wordpiece' }, {}, { vectorSize: 48 }));
  await assert.rejects(wrongSize.embed(['x']), { code: 'MODELD_ERR_ARTIFACT_INVALID', message: /has 32 dimensions but manifest\.json says vectorSize 48/ });
  await wrongSize.close();
  await assert.rejects(loadEngine(await hfAsArtifact('wrong-input', { tokenizer: 'wordpiece' }, { inputs: { ids: 'ids', attentionMask: 'attention_mask' } })), {
    code: 'MODELD_ERR_ARTIFACT_INVALID',
    message: /graph has no input 'ids'/,
  });
  await assert.rejects(loadEngine(await hfAsArtifact('unfed', { tokenizer: 'wordpiece' }, { inputs: { ids: 'input_ids' } })), {
    message: /graph input 'attention_mask' is not fed/,
  });
  await assert.rejects(loadEngine(await hfAsArtifact('wrong-output', { tokenizer: 'wordpiece' }, { output: 'pooled' })), { message: /graph has no output 'pooled'/ });
});

test('the bigru benchmark artifact: 256-d unit vectors, one token per word, distinct texts give distinct vectors', async () => {
  let engine: EmbeddingEngine | undefined;
  try {
    engine = await loadEngine(await makeBigruArtifact(path.join(tmp, 'bigru')));
    assert.equal(engine.vectorSize, 256);
    const r = await engine.embed(['free software license', 'the quick brown fox']);
    assert.deepEqual(r.tokenCounts, [3, 4]);
    for (const n of rowNorms(r.vectors, 256)) assert.ok(Math.abs(n - 1) < 1e-5);
    assert.ok(Math.abs(r.vectors[0]! - r.vectors[256]!) > 0 || Math.abs(r.vectors[1]! - r.vectors[257]!) > 0);
    // The returned vectors are the caller's: later calls do not write into them.
    const kept = r.vectors.slice();
    for (let i = 0; i < 5; i++) await engine.embed([`another text ${i}`, 'and one more']);
    assert.deepEqual(r.vectors, kept);
  } finally {
    await engine?.close();
  }
});
