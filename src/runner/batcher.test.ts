import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadEngine, readManifest, writeManifest, type EmbeddingEngine } from '../engines/index.js';
import { makeModeldArtifact } from '../../test/fixtures/models.js';
import { makeTempDir, type TempDir } from '../../test/fixtures/tmp.js';
import { Batcher } from './batcher.js';

/** The same texts embedded alone, one engine call each: the reference a batched result must equal. */
async function alone(engine: EmbeddingEngine, texts: string[], dataType?: 'query' | 'passage'): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const t of texts) out.push((await engine.embed([t], dataType ? { dataType } : {})).vectors);
  return out;
}

function assertRowsEqual(actual: Float32Array, expected: Float32Array[], dim: number, what: string): void {
  assert.equal(actual.length, expected.length * dim, `${what}: length`);
  for (let r = 0; r < expected.length; r++) {
    for (let j = 0; j < dim; j++) {
      const a = actual[r * dim + j]!;
      const e = expected[r]![j]!;
      assert.ok(Math.abs(a - e) <= 1e-5, `${what}: row ${r} component ${j}: ${a} vs ${e}`);
    }
  }
}

const words = ['red', 'running', 'shoes', 'blue', 'winter', 'coat', 'green', 'garden', 'chair', 'leather', 'bag', 'small', 'kitchen', 'table'];
const textOf = (i: number): string => `${words[i % words.length]} ${words[(i * 5 + 3) % words.length]} ${words[(i * 7 + 1) % words.length]} ${i}`;

describe('Batcher over a real engine', () => {
  let tmp: TempDir;
  let engine: EmbeddingEngine;
  before(async () => {
    tmp = await makeTempDir('modeld-batcher');
    const dir = await makeModeldArtifact(path.join(tmp.dir, 'tiny'));
    // Same model with e5-style prefixes, so that a query and a passage of the same text embed differently.
    const manifest = await readManifest(dir);
    const { formatVersion: _v, files, ...draft } = manifest;
    await writeManifest(dir, { ...draft, prefixes: { query: 'query: ', passage: 'passage: ' } }, Object.keys(files));
    engine = await loadEngine(dir, { intraOpThreads: 1 });
  });
  after(async () => {
    await engine?.close();
    await tmp?.cleanup();
  });

  test('concurrent single-text requests are merged into few engine calls and each gets its own vector', async () => {
    const batcher = new Batcher(engine, { batchWaitMs: 5, maxBatchItems: 256 });
    const texts = Array.from({ length: 16 }, (_, i) => textOf(i));
    const results = await Promise.all(texts.map((t) => batcher.embed([t])));
    const expected = await alone(engine, texts);
    results.forEach((r, i) => assertRowsEqual(r.vectors, [expected[i]!], engine.vectorSize, `request ${i}`));
    results.forEach((r) => assert.equal(r.tokenCounts.length, 1));
    const stats = batcher.stats();
    assert.equal(stats.requests, 16);
    assert.equal(stats.texts, 16);
    assert.ok(stats.batches <= 2, `16 concurrent requests took ${stats.batches} engine calls`);
  });

  test('no engine call exceeds maxBatchItems; a large request is split and reassembled in order', async () => {
    const batcher = new Batcher(engine, { batchWaitMs: 5, maxBatchItems: 4 });
    const big = Array.from({ length: 10 }, (_, i) => textOf(i));
    const small1 = [textOf(20), textOf(21), textOf(22)];
    const small2 = [textOf(30)];
    const [rb, r1, r2] = await Promise.all([batcher.embed(big), batcher.embed(small1), batcher.embed(small2)]);
    assertRowsEqual(rb.vectors, await alone(engine, big), engine.vectorSize, 'big request');
    assertRowsEqual(r1.vectors, await alone(engine, small1), engine.vectorSize, 'small request 1');
    assertRowsEqual(r2.vectors, await alone(engine, small2), engine.vectorSize, 'small request 2');
    assert.deepEqual(rb.tokenCounts, (await engine.embed(big)).tokenCounts);
    const stats = batcher.stats();
    assert.equal(stats.largestBatch, 4);
    assert.equal(stats.batches, 4, '14 texts in calls of at most 4');
  });

  test('queries and passages never share an engine call', async () => {
    const batcher = new Batcher(engine, { batchWaitMs: 5, maxBatchItems: 256 });
    const q = [textOf(1), textOf(2)];
    const p = [textOf(1), textOf(3)];
    const [rq1, rp1, rq2, rp2] = await Promise.all([
      batcher.embed([q[0]!], 'query'),
      batcher.embed([p[0]!], 'passage'),
      batcher.embed([q[1]!], 'query'),
      batcher.embed([p[1]!], 'passage'),
    ]);
    const eq = await alone(engine, q, 'query');
    const ep = await alone(engine, p, 'passage');
    assertRowsEqual(rq1.vectors, [eq[0]!], engine.vectorSize, 'query 1');
    assertRowsEqual(rq2.vectors, [eq[1]!], engine.vectorSize, 'query 2');
    assertRowsEqual(rp1.vectors, [ep[0]!], engine.vectorSize, 'passage 1');
    assertRowsEqual(rp2.vectors, [ep[1]!], engine.vectorSize, 'passage 2');
    assert.notDeepEqual(rq1.vectors, rp1.vectors, 'the prefixes make the same text embed differently');
    assert.equal(batcher.stats().batches, 2);
  });

  test('an idle engine waits batchWaitMs for company, never longer; a full batch does not wait', async () => {
    const waiting = new Batcher(engine, { batchWaitMs: 300, maxBatchItems: 8 });
    let t0 = performance.now();
    await waiting.embed([textOf(1)]);
    const single = performance.now() - t0;
    assert.ok(single >= 295, `a lone request went out after ${single.toFixed(0)} ms, before batchWaitMs`);
    assert.ok(single < 300 + 1_500, `a lone request took ${single.toFixed(0)} ms`);

    const patient = new Batcher(engine, { batchWaitMs: 60_000, maxBatchItems: 8 });
    t0 = performance.now();
    await patient.embed(Array.from({ length: 8 }, (_, i) => textOf(i)));
    const full = performance.now() - t0;
    assert.ok(full < 5_000, `a full batch waited ${full.toFixed(0)} ms`);
  });

  test('told what is arriving: a lone request does not wait; a wait ends once every request on its way has joined', async () => {
    let onItsWay = 0;
    const batcher = new Batcher(engine, { batchWaitMs: 60_000, maxBatchItems: 8, arriving: () => onItsWay });
    let t0 = performance.now();
    await batcher.embed([textOf(1)]);
    const lone = performance.now() - t0;
    assert.ok(lone < 5_000, `a lone request with nothing arriving waited ${lone.toFixed(0)} ms`);

    // Let the engine go idle (a request reaching a busy engine joins the next call without a wait).
    await new Promise((resolve) => setTimeout(resolve, 10));
    onItsWay = 1;
    t0 = performance.now();
    const first = batcher.embed([textOf(2)]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    onItsWay = 0;
    const second = batcher.embed([textOf(3)]);
    const [a, b] = await Promise.all([first, second]);
    const waited = performance.now() - t0;
    assert.ok(waited < 5_000, `the batch waited ${waited.toFixed(0)} ms after its company arrived`);
    assert.equal(batcher.stats().batches, 2, 'the request waited for the one on its way and went out with it');
    const expected = await alone(engine, [textOf(2), textOf(3)]);
    assertRowsEqual(a.vectors, [expected[0]!], engine.vectorSize, 'first');
    assertRowsEqual(b.vectors, [expected[1]!], engine.vectorSize, 'second');
  });

  test('an engine failure rejects every request of the batch', async (t) => {
    const tmp2 = await makeTempDir('modeld-batcher-closed');
    t.after(() => tmp2.cleanup());
    const closed = await loadEngine(await makeModeldArtifact(path.join(tmp2.dir, 'tiny')), { intraOpThreads: 1 });
    await closed.close();
    const batcher = new Batcher(closed, { batchWaitMs: 5, maxBatchItems: 256 });
    const results = await Promise.allSettled([batcher.embed(['a']), batcher.embed(['b', 'c']), batcher.embed(['d'])]);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.match(String((r as PromiseRejectedResult).reason.message), /engine is closed/);
    }
    assert.equal(batcher.stats().batches, 1);
  });

  test('an empty request resolves without an engine call', async () => {
    const batcher = new Batcher(engine, { batchWaitMs: 5, maxBatchItems: 4 });
    const r = await batcher.embed([]);
    assert.equal(r.vectors.length, 0);
    assert.equal(batcher.stats().batches, 0);
  });
});
