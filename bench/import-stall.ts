/**
 * bench/import-stall: how long an import blocks the server's event loop (every customer's
 * requests wait that long), for a Hugging Face folder whose tokenizer.json is large (a WordLevel
 * vocabulary of --vocab entries). Runs engines' importArtifact in this process, as the API does,
 * and samples the event loop delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution) while it
 * runs; prints the max and p99 delay, the import's wall time and the file sizes.
 *
 * Usage: node --import tsx bench/import-stall.ts [--vocab 400000] [--runs 3]
 * Run from another checkout's root to compare versions (the script imports ../src relative to itself).
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { importArtifact } from '../src/engines/index.js';
import { makeTinyHfModel, tinyEncoderOnnx, tokenizerJson } from '../test/fixtures/models.js';
import { fmt, machineLine } from './lib.js';

const { values } = parseArgs({ options: { vocab: { type: 'string', default: '400000' }, runs: { type: 'string', default: '3' } } });
const vocab = Number(values.vocab);
const runs = Number(values.runs);

const tmp = await mkdtemp(path.join(os.tmpdir(), 'modeld-bench-import-'));
try {
  const dir = await makeTinyHfModel(path.join(tmp, 'model'), { dim: 8 });
  await writeFile(path.join(dir, 'tokenizer.json'), tokenizerJson('wordlevel', vocab));
  await writeFile(path.join(dir, 'onnx', 'model.onnx'), tinyEncoderOnnx({ vocabSize: vocab, dim: 8, output: 'last_hidden_state', withTokenTypeIds: false, seed: 5 }));
  const tokBytes = (await stat(path.join(dir, 'tokenizer.json'))).size;
  const onnxBytes = (await stat(path.join(dir, 'onnx', 'model.onnx'))).size;
  console.log(machineLine());
  console.log(`tokenizer.json ${fmt(tokBytes / 2 ** 20, 1)} MiB (${fmt(vocab)} entries), model.onnx ${fmt(onnxBytes / 2 ** 20, 1)} MiB`);
  for (let i = 0; i < runs; i++) {
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    const started = performance.now();
    let outcome = 'ok';
    try {
      await importArtifact(dir, path.join(tmp, `artifacts-${i}`), { name: 'bench', modelType: 'imported' });
    } catch (err) {
      outcome = `refused: ${(err as Error).message.slice(0, 80)}`;
    }
    const wallMs = performance.now() - started;
    histogram.disable();
    console.log(
      `run ${i + 1}: import ${fmt(wallMs)} ms (${outcome}); event loop delay max ${fmt(histogram.max / 1e6, 1)} ms, p99 ${fmt(histogram.percentile(99) / 1e6, 1)} ms`,
    );
  }
} finally {
  await rm(tmp, { recursive: true, force: true });
}
