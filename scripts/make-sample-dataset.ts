/**
 * Writes a sample retrieval dataset built from real text on this machine (Debian package
 * descriptions, then man pages) in the ecommerce layout of modeld's default `mlp_ecommerce`
 * config: DIR/catalog.csv (pkid,name,description) and DIR/signals.csv (query,pkid,aggr_count).
 * The recipe is in bench/quality/dataset.ts and docs/training.md (Quality benchmark); the same
 * machine and seed give the same files.
 *
 * Usage: node --import tsx scripts/make-sample-dataset.ts --out DIR [--items N] [--seed S]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_ITEMS, DEFAULT_SEED, buildSampleDataset, writeSampleDataset } from '../bench/quality/dataset.js';

const usage = 'usage: node --import tsx scripts/make-sample-dataset.ts --out DIR [--items N (default 3000)] [--seed S (default 42)]';
let values: { out?: string; items?: string; seed?: string };
try {
  ({ values } = parseArgs({ options: { out: { type: 'string' }, items: { type: 'string' }, seed: { type: 'string' } } }));
} catch (err) {
  console.error(`${(err as Error).message}\n${usage}`);
  process.exit(2);
}
const int = (v: string | undefined, dflt: number, name: string): number => {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v)) {
    console.error(`--${name} must be a non-negative integer, got ${JSON.stringify(v)}\n${usage}`);
    process.exit(2);
  }
  return Number(v);
};
if (values.out === undefined) {
  console.error(usage);
  process.exit(2);
}
const items = int(values.items, DEFAULT_ITEMS, 'items');
const seed = int(values.seed, DEFAULT_SEED, 'seed');
try {
  const data = await buildSampleDataset({ items, seed });
  const files = await writeSampleDataset(path.resolve(values.out), data);
  const s = data.stats;
  console.log(`${s.items} items (${s.dpkgItems} Debian packages, ${s.manItems} man pages), ${s.signals} signals, ${s.uniqueQueries} unique queries, seed ${s.seed}`);
  console.log(`wrote ${files.catalog}\nwrote ${files.signals}`);
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
