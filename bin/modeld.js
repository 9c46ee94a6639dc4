#!/usr/bin/env node
// Entry point of the `modeld` command: loads the TypeScript sources through tsx, so that a
// fresh `npm ci` is all the set-up there is (no build step).
import { register } from 'tsx/esm/api';

if (process.argv.slice(2).includes('serve')) {
  // typebox is about 700 small ES modules of plain JavaScript. Imported before tsx's hooks are
  // registered, Node's own loader reads them, instead of one round trip each to tsx's hook
  // thread (about 0.5 s of wall time and 1 s of CPU at every server start on 2 cores). The
  // sources' later imports of 'typebox' resolve to the same URLs and reuse these instances.
  await Promise.all([import('typebox'), import('typebox/value'), import('typebox/compile')]);
}
register();
await import('../src/cli/main.ts');
