import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { runServer, type RunningServer } from '../../src/main.js';
import { makeTempDir, type TempDir } from '../fixtures/tmp.js';

/**
 * The Async Chunking API against real servers (runServer over one data directory) with the
 * shipped pre-trained model: the requests Fusion's LWAI Chunker stage sends, as the public docs
 * show them, every field of the answers, the limits, tenancy, and a restart mid-job.
 */
let server: RunningServer | undefined;
let tmp: TempDir | undefined;
after(async () => {
  await server?.close();
  await tmp?.cleanup();
});

const quiet = () => new Writable({ write: (_c, _e, cb) => cb() });
const MODEL = 'universal-sentence-encoder-lite';
const SPIDER = 'The itsy bitsy spider climbed up the waterspout.\nDown came the rain.\nAnd washed the spider out.\nOut came the sun.\nAnd dried up all the rain.\nAnd the itsy bitsy spider climbed up the spout again.';

test('async chunking: Fusion chunker-stage requests, answers, limits, tenancy, restart', { timeout: 600_000 }, async () => {
  tmp = await makeTempDir('modeld-chunking-');
  const flags = { port: 0, dataDir: tmp.dir, logLevel: 'silent' };
  server = await runServer(flags, { logDestination: quiet() });
  const creds = JSON.parse(await readFile(path.join(tmp.dir, 'admin-credentials.json'), 'utf8')) as { clientId: string; clientSecret: string };
  const token = async (url: string, scope: string) => {
    const r = await fetch(`${url}/oauth2/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${creds.clientId}:${creds.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&scope=${scope}`,
    });
    assert.equal(r.status, 200);
    return `Bearer ${((await r.json()) as { access_token: string }).access_token}`;
  };
  let auth = await token(server.url, 'machinelearning.predict');
  const call = async (method: string, route: string, body?: unknown, as = auth) => {
    const r = await fetch(`${server!.url}${route}`, {
      method,
      headers: { authorization: as, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return { status: r.status, body: (await r.json()) as any };
  };
  const until = async (id: string) => {
    for (;;) {
      const r = await call('GET', `/ai/async-chunking/${id}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      if (r.body.status !== 'SUBMITTED') return r.body;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  // The stage's request, as the docs show it (application in the host there, in the path here).
  const submitted = await call('POST', `/applications/app-1/ai/async-chunking/dynamic-newline/${MODEL}`, {
    batch: [{ text: SPIDER }],
    modelConfig: { vectorQuantizationMethod: 'max-scale' },
    useCaseConfig: { dataType: 'passage' },
    chunkerConfig: { maxChunkSize: 512 },
  });
  assert.equal(submitted.status, 200, JSON.stringify(submitted.body));
  assert.deepEqual(Object.keys(submitted.body).sort(), ['chunkingId', 'status']);
  assert.match(submitted.body.chunkingId, /^[0-9a-f-]{36}$/);
  assert.equal(submitted.body.status, 'SUBMITTED');

  const ready = await until(submitted.body.chunkingId);
  assert.deepEqual(Object.keys(ready).sort(), ['chunkedData', 'chunkingId', 'status']);
  assert.equal(ready.status, 'READY');
  assert.equal(ready.chunkingId, submitted.body.chunkingId);
  assert.equal(ready.chunkedData.length, 1);
  const item = ready.chunkedData[0];
  assert.deepEqual(Object.keys(item).sort(), ['chunks', 'spans', 'vectors']);
  assert.deepEqual(item.chunks, [SPIDER], 'the whole short text fits one dynamic-newline chunk, as in the docs example');
  assert.deepEqual(item.spans, [[0, SPIDER.length]]);
  assert.equal(item.vectors.length, 1);
  assert.deepEqual(Object.keys(item.vectors[0]).sort(), ['tokensUsed', 'vector']);
  assert.ok(item.vectors[0].tokensUsed.inputTokens > 0);
  assert.equal(item.vectors[0].vector.length, 512);
  assert.ok(item.vectors[0].vector.every((v: number) => Number.isInteger(v) && v >= -127 && v <= 127), 'max-scale vectors are integers in -127..127');

  const again = await call('GET', `/ai/async-chunking/${submitted.body.chunkingId}`);
  assert.equal(again.body.status, 'RETRIEVED');
  assert.deepEqual(again.body.chunkedData, ready.chunkedData);

  // Every chunker, with its documented keys, over two batch items; dimReductionSize applies per chunk.
  for (const [chunker, chunkerConfig] of [
    ['dynamic-sentence', { maxChunkSize: 10, overlapSize: 1 }],
    ['sentence', { chunkSize: 2, overlapSize: 1 }],
    ['regex-splitter', { regex: '\\n' }],
    ['semantic', { maxChunkSize: 512, overlapSize: 1, cosineThreshold: 0.567, approximate: true }],
    ['semantic', { maxChunkSize: 20, approximate: false }],
  ] as const) {
    const r = await call('POST', `/ai/async-chunking/${chunker}/${MODEL}`, {
      batch: [{ text: SPIDER }, { text: 'Short one. Another.' }],
      modelConfig: { dimReductionSize: 256 },
      chunkerConfig,
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const done = await until(r.body.chunkingId);
    assert.equal(done.status, 'READY', `${chunker}: ${JSON.stringify(done)}`);
    assert.equal(done.chunkedData.length, 2);
    const texts = [SPIDER, 'Short one. Another.'];
    done.chunkedData.forEach((d: any, i: number) => {
      assert.ok(d.chunks.length > 0);
      assert.equal(d.vectors.length, d.chunks.length);
      d.chunks.forEach((c: string, k: number) => assert.equal(texts[i]!.slice(d.spans[k][0], d.spans[k][1]), c));
      for (const v of d.vectors) assert.equal(v.vector.length, 256);
    });
    if (chunker === 'regex-splitter') assert.equal(done.chunkedData[0].chunks.length, 6);
  }

  // Bad requests: a 400 naming the field, before any job exists.
  const bad = await call('POST', `/ai/async-chunking/regex-splitter/${MODEL}`, { batch: [{ text: 'x' }], chunkerConfig: { regex: '(?<=a)b++' } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 'MODELD_ERR_VALIDATION');
  assert.match(bad.body.message, /^body\.chunkerConfig\.regex: the possessive quantifier/);
  const unknownChunker = await call('POST', `/ai/async-chunking/fixed/${MODEL}`, { batch: [{ text: 'x' }] });
  assert.equal(unknownChunker.status, 400);
  const wrongKey = await call('POST', `/ai/async-chunking/sentence/${MODEL}`, { batch: [{ text: 'x' }], chunkerConfig: { maxChunkSize: 5 } });
  assert.equal(wrongKey.status, 400);
  assert.match(wrongKey.body.message, /^body\.chunkerConfig\.maxChunkSize/);

  // Over the input limit (1 MiB of text): 413 naming body.batch.
  const big = await call('POST', `/ai/async-chunking/sentence/${MODEL}`, { batch: [{ text: 'word. '.repeat(180_000) }] });
  assert.equal(big.status, 413, JSON.stringify(big.body));
  assert.equal(big.body.code, 'MODELD_ERR_BODY_TOO_LARGE');
  assert.match(big.body.message, /^body\.batch/);

  // More chunks than the documented limit for the vector size: ERROR with the reason.
  const many = await call('POST', `/ai/async-chunking/regex-splitter/${MODEL}`, { batch: [{ text: 'a '.repeat(3_500) }], chunkerConfig: { regex: ' ' }, modelConfig: { dimReductionSize: 128 } });
  assert.equal(many.status, 200);
  const failed = await until(many.body.chunkingId);
  assert.equal(failed.status, 'ERROR');
  assert.match(failed.message, /3500 chunks, more than the 3000 allowed for 128-dimensional float vectors/);

  // Wrong scope: 403; unknown id: 404.
  const modelScope = await token(server.url, 'machinelearning.model');
  assert.equal((await call('GET', `/ai/async-chunking/${submitted.body.chunkingId}`, undefined, modelScope)).status, 403);
  assert.equal((await call('GET', '/ai/async-chunking/00000000-0000-4000-8000-000000000000')).status, 404);

  // Restart mid-job: the job submitted just before the stop ends READY or ERROR after the next start.
  const text = Array.from({ length: 60 }, (_, i) => `Sentence number ${i} talks about ${i % 2 ? 'cats' : 'markets'}.`).join(' ');
  const pending = await call('POST', `/ai/async-chunking/semantic/${MODEL}`, { batch: [{ text }], chunkerConfig: { maxChunkSize: 40 } });
  assert.equal(pending.status, 200);
  await server.close();
  server = await runServer(flags, { logDestination: quiet() });
  auth = await token(server.url, 'machinelearning.predict');
  const resumed = await until(pending.body.chunkingId);
  assert.ok(resumed.status === 'READY' || (resumed.status === 'ERROR' && resumed.message.length > 0), JSON.stringify(resumed).slice(0, 300));
  assert.equal(resumed.status, 'READY', `the resumed job completes: ${JSON.stringify(resumed).slice(0, 300)}`);
  assert.ok(resumed.chunkedData[0].chunks.length > 1);
});
