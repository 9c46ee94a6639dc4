#!/usr/bin/env node
// Builds the web console (web/) into web/dist: one bundled, minified script (Preact, Chart.js and
// the typed client inside: no CDN, works offline), its stylesheet and index.html. `npm run build`;
// `npm start` runs it first. Exits non-zero on a build error. Takes well under a second.
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const web = path.join(root, 'web');
const dist = path.join(web, 'dist');

/** Builds the console into `outDir` (default web/dist) and returns that folder. */
export async function buildConsole(outDir = dist) {
  const tmp = `${outDir}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await build({
    entryPoints: [path.join(web, 'src', 'main.tsx')],
    bundle: true,
    minify: true,
    sourcemap: true,
    format: 'esm',
    target: ['chrome110', 'firefox110', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outfile: path.join(tmp, 'app.js'),
    logLevel: 'warning',
    legalComments: 'linked',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  await copyFile(path.join(web, 'index.html'), path.join(tmp, 'index.html'));
  await copyFile(path.join(web, 'src', 'styles.css'), path.join(tmp, 'app.css'));
  await copyFile(path.join(web, 'favicon.svg'), path.join(tmp, 'favicon.svg'));
  // Swapped in whole, so a server never serves half a build. Two builds at once (two test files
  // finding the console missing): the later rename finds the folder again and keeps the other
  // build, which is the same.
  await rm(outDir, { recursive: true, force: true });
  try {
    await rename(tmp, outDir);
  } catch (err) {
    if (err?.code !== 'ENOTEMPTY' && err?.code !== 'EEXIST') throw err;
    await rm(tmp, { recursive: true, force: true });
  }
  return outDir;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  buildConsole().then(
    (dir) => console.log(`console built into ${path.relative(process.cwd(), dir) || dir} in ${Date.now() - started} ms`),
    (err) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
