import type { EmbeddingEngine } from './types.js';

/**
 * Embeds `texts` in batches of `batchSize` (cycling through them) for about `seconds` after one
 * warm-up batch and returns the items embedded per second. Measures the engine alone:
 * tokenization, inference, pooling and normalization, no I/O.
 */
export async function measureEngineThroughput(engine: EmbeddingEngine, texts: string[], batchSize: number, seconds: number): Promise<number> {
  const batches = makeBatches(texts, batchSize);
  await engine.embed(batches[0]!);
  let items = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  for (let i = 0; performance.now() < end; i++) {
    const b = batches[i % batches.length]!;
    await engine.embed(b);
    items += b.length;
  }
  return items / ((performance.now() - start) / 1000);
}

/** Same loop with tokenization only (`engine.tokenize`): the share of the cost that is not the model. */
export function measureTokenizeThroughput(engine: EmbeddingEngine, texts: string[], batchSize: number, seconds: number): number {
  const batches = makeBatches(texts, batchSize);
  engine.tokenize(batches[0]!);
  let items = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  for (let i = 0; performance.now() < end; i++) {
    const b = batches[i % batches.length]!;
    engine.tokenize(b);
    items += b.length;
  }
  return items / ((performance.now() - start) / 1000);
}

function makeBatches(texts: string[], batchSize: number): string[][] {
  if (texts.length === 0 || batchSize < 1) throw new RangeError('measureEngineThroughput: need texts and batchSize >= 1');
  const out: string[][] = [];
  for (let i = 0; i < texts.length; i += batchSize) {
    const b = texts.slice(i, i + batchSize);
    while (b.length < batchSize) b.push(texts[b.length % texts.length]!);
    out.push(b);
  }
  return out;
}
