import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSqliteStore } from '../store/index.js';
import { ChunkingService } from './service.js';

test("tenancy and expiry: another customer's chunkingId is 404 like an unknown one; an expired job is 404", async () => {
  const store = openSqliteStore(':memory:');
  await store.migrate();
  let now = Date.UTC(2026, 0, 1);
  const service = new ChunkingService({
    config: { chunking: { resultTtlMs: 60_000, maxInputBytes: 1024 * 1024, concurrency: 1, regexTimeoutMs: 1000 }, limits: { maxBatchItems: 32, maxTextChars: 32_768 } as never },
    store,
    clock: { now: () => now },
    // The gateway is not under test here: a vector of each text's length.
    embed: async (_c, _m, body) => ({ predictions: (body as { batch: Array<{ text: string }> }).batch.map((b) => ({ tokensUsed: { inputTokens: 1 }, vector: new Float32Array([b.text.length, 1]) })) }),
  });
  await service.start();
  try {
    const { chunkingId } = await service.submit('customer-a', 'sentence', 'm', { batch: [{ text: 'One. Two.' }], chunkerConfig: { chunkSize: 1 } });
    await service.idle();
    const mine = await service.get('customer-a', chunkingId);
    assert.equal(mine.status, 'READY');
    assert.deepEqual(mine.chunkedData![0]!.chunks, ['One.', 'Two.']);
    for (const [who, id] of [['customer-b', chunkingId], ['customer-a', '00000000-0000-4000-8000-000000000000']] as const) {
      await assert.rejects(service.get(who, id), (err: Error & { code?: string; status?: number }) => err.code === 'MODELD_ERR_NOT_FOUND' && err.status === 404);
    }
    now += 60_000;
    await assert.rejects(service.get('customer-a', chunkingId), (err: Error & { code?: string }) => err.code === 'MODELD_ERR_NOT_FOUND');
  } finally {
    await service.stop();
    await store.close();
  }
});
