/**
 * Encoding cost of one full embedding response (32 inputs x 256 floats): JsonWriter against
 * JSON.stringify of the same floats widened to doubles (what fastify's serializer would do).
 * Run: `node --import tsx src/gateway/json-writer.bench.ts`. Prints CPU µs per response and bytes.
 */
import os from 'node:os';
import { encodeEmbeddingResult, type EmbeddingResult } from './responses.js';

const ROWS = 32;
const DIM = 256;
const ROUNDS = 7;
const ITERATIONS = 200;

function unitRows(seed: number): Float32Array[] {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  return Array.from({ length: ROWS }, () => {
    const v = Float32Array.from({ length: DIM }, rnd);
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  });
}

const rows = unitRows(42);
const result: EmbeddingResult = { predictions: rows.map((vector) => ({ tokensUsed: { inputTokens: 9 }, vector })) };

const candidates: Record<string, () => { length: number }> = {
  JsonWriter: () => encodeEmbeddingResult(result),
  'JSON.stringify': () => JSON.stringify({ predictions: result.predictions.map((p) => ({ tokensUsed: p.tokensUsed, vector: Array.from(p.vector) })) }),
};

/** Median over rounds of this thread's CPU time per call (steadier than wall time on a shared machine). */
function medianMicros(fn: () => unknown): number {
  const times: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < ITERATIONS; i++) fn();
    const used = process.cpuUsage(t0);
    times.push((used.user + used.system) / ITERATIONS);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, load ${os.loadavg()[0]!.toFixed(2)}`);
for (const fn of Object.values(candidates)) for (let i = 0; i < 100; i++) fn(); // warm up both
for (const [name, fn] of Object.entries(candidates)) {
  console.log(`${name.padEnd(15)} ${medianMicros(fn).toFixed(0).padStart(6)} CPU µs per ${ROWS}x${DIM} response, ${fn().length} bytes`);
}
