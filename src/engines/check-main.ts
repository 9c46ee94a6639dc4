/**
 * Child process entry of checkArtifactIsolated / probeVectorSizeIsolated:
 *   check-main.ts <artifactDir>                       load (with checksums) and run one inference
 *   check-main.ts <dir> --probe <manifest.json file>  open <dir> with that manifest, report the output size
 * Prints `{"vectorSize": N}` on stdout and exits 0; on failure prints the reason on stderr and
 * exits 1. A crash of the native runtime ends it by signal, which the parent reports.
 */
import { readFile } from 'node:fs/promises';
import { checkManifest } from './manifest.js';
import { loadEngine, openEngine } from './load-engine.js';
import type { EmbeddingEngine } from './types.js';

async function main(argv: string[]): Promise<number> {
  const [dir, flag, manifestFile] = argv;
  if (!dir || (flag !== undefined && (flag !== '--probe' || !manifestFile))) {
    process.stderr.write('usage: check-main.ts <artifactDir> [--probe <manifest.json>]\n');
    return 2;
  }
  let engine: EmbeddingEngine;
  if (flag === '--probe') {
    const manifest = checkManifest(JSON.parse(await readFile(manifestFile!, 'utf8')), manifestFile!);
    engine = await openEngine(dir, manifest, { adoptOutputSize: true });
  } else {
    engine = await loadEngine(dir);
  }
  const texts = ['modeld checks that this model embeds text.', 'A second, different sentence.'];
  const { vectors } = await engine.embed(texts);
  const size = engine.vectorSize;
  if (vectors.length !== texts.length * size) throw new Error(`the model returned ${vectors.length} numbers for ${texts.length} texts of ${size} dimensions`);
  for (let i = 0; i < vectors.length; i++) if (!Number.isFinite(vectors[i]!)) throw new Error(`the model output has a non-finite value (${vectors[i]}) at ${i}`);
  await engine.close();
  process.stdout.write(JSON.stringify({ vectorSize: size }) + '\n');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${(err as Error)?.message ?? String(err)}\n`);
    process.exit(1);
  },
);
