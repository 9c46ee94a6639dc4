/**
 * Child process entry of checkArtifactIsolated / probeVectorSizeIsolated / prepareImportIsolated:
 *   check-main.ts <artifactDir>                       load (with checksums) and run one inference
 *   check-main.ts <dir> --probe <manifest.json file>  open <dir> with that manifest, report the output size
 *   check-main.ts <sourceDir> --import <destDir> <job JSON {meta, limits}>
 *                                                     check and copy an untrusted folder (prepareImport)
 * Prints `{"vectorSize": N[, "artifactId": "..."]}` on stdout and exits 0; on failure prints
 * `{"error": "<reason>"}` on stdout, a reason that names files relative to the folders it was
 * given and no other host path, the full error on stderr (for the operator log), and exits 1. A
 * crash of the native runtime ends it by signal, which the parent reports.
 */
import { readFile } from 'node:fs/promises';
import { redactHostPaths } from '../domain/index.js';
import { checkManifest } from './manifest.js';
import { loadEngine, openEngine } from './load-engine.js';
import { embedCheck, prepareImport, type ModelImportMeta } from './import-artifact.js';
import type { EmbeddingEngine } from './types.js';

async function main(argv: string[]): Promise<number> {
  const [dir, flag, arg, job] = argv;
  if (!dir || (flag !== undefined && !((flag === '--probe' && arg) || (flag === '--import' && arg && job)))) {
    process.stderr.write('usage: check-main.ts <artifactDir> [--probe <manifest.json> | --import <destDir> <job JSON>]\n');
    return 2;
  }
  if (flag === '--import') {
    const { meta, limits } = JSON.parse(job!) as { meta: ModelImportMeta; limits: Record<string, number> };
    const result = await prepareImport(dir, arg!, meta, limits);
    process.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  }
  let engine: EmbeddingEngine;
  if (flag === '--probe') {
    const manifest = checkManifest(JSON.parse(await readFile(arg!, 'utf8')), arg!);
    engine = await openEngine(dir, manifest, { adoptOutputSize: true });
  } else {
    engine = await loadEngine(dir);
  }
  const size = await embedCheck(engine);
  process.stdout.write(JSON.stringify({ vectorSize: size }) + '\n');
  return 0;
}

/** The reason a user sees: paths inside the given folders made relative, any other absolute path cut to its last name. */
function userReason(err: unknown, argv: string[]): string {
  let message = (err as Error)?.message ?? String(err);
  const folders = [argv[0], argv[1] === '--import' ? argv[2] : undefined].filter((d): d is string => typeof d === 'string' && d.startsWith('/'));
  for (const folder of folders) message = message.replaceAll(`${folder}/`, '').replaceAll(folder, 'the folder');
  return redactHostPaths(message);
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    process.stdout.write(JSON.stringify({ error: userReason(err, argv) }) + '\n');
    process.exit(1);
  },
);
