import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileTrainingConfig, loadTrainingData } from '../../src/training/index.js';
import {
  buildManSummaryDataset,
  buildSampleDataset,
  contentWords,
  parseDpkgStatus,
  parseManPage,
  splitSignalsByQuery,
  writeSampleDataset,
} from '../../bench/quality/dataset.js';
import { makeTempDir, type TempDir } from '../fixtures/tmp.js';

// The dataset is built from this machine's /var/lib/dpkg/status (and man pages when that is short):
// present on every Debian, CI included.
const ecommerce = compileTrainingConfig('ecommerce-rnn', { dataset_config: 'mlp_ecommerce', trainer_config: 'mlp_ecommerce' }).columns;
let tmp: TempDir;
before(async () => {
  tmp = await makeTempDir('modeld-sample-data');
});
after(async () => {
  await tmp.cleanup();
});

test('a small dataset loads with the default ecommerce columns and is the same for the same seed', async () => {
  const a = await writeSampleDataset(path.join(tmp.dir, 'a'), await buildSampleDataset({ items: 40, seed: 7 }));
  const b = await writeSampleDataset(path.join(tmp.dir, 'b'), await buildSampleDataset({ items: 40, seed: 7 }));
  const c = await writeSampleDataset(path.join(tmp.dir, 'c'), await buildSampleDataset({ items: 40, seed: 8 }));
  assert.equal(await readFile(a.catalog, 'utf8'), await readFile(b.catalog, 'utf8'));
  assert.equal(await readFile(a.signals, 'utf8'), await readFile(b.signals, 'utf8'));
  assert.notEqual(await readFile(a.signals, 'utf8'), await readFile(c.signals, 'utf8'));

  const data = await loadTrainingData(pathToFileURL(a.catalog).href, pathToFileURL(a.signals).href, ecommerce, { dataRoots: [tmp.dir], seed: 1 });
  const s = data.summary;
  assert.equal(s.indexSize, 40);
  assert.equal(s.catalogRows, 40);
  assert.equal(s.signalsWithoutItem + s.signalsEmpty + s.signalsNonPositiveWeight + s.duplicatePkidsDropped + s.emptyItemsDropped, 0);
  assert.ok(s.uniqueQueries >= 100, `${s.uniqueQueries} unique queries`);
  assert.ok(data.train.length > 0 && data.validation.length > 0);
  // Several queries per item on average, and weights that are not all the same (Zipf-like popularity).
  assert.ok(s.signalRows >= 2 * s.indexSize, `${s.signalRows} signals for ${s.indexSize} items`);
  const weights = new Set([...data.train, ...data.validation].map((p) => p.weight));
  assert.ok(weights.size > 3, `weights ${[...weights].join(',')}`);
  // Queries are not copies of the item's title (the index text with the default columns is the name).
  const text = new Map(data.index.map((i) => [i.pkid, i.text.toLowerCase()]));
  for (const p of [...data.train, ...data.validation]) assert.ok(!text.get(p.pkid)!.includes(p.query), `query ${JSON.stringify(p.query)} is in its title`);
});

test('too little text is a clear error', async () => {
  const status = path.join(tmp.dir, 'status');
  await writeFile(status, 'Package: tiny\nStatus: install ok installed\nDescription: a tiny package\n one line of long description only\n');
  await assert.rejects(buildSampleDataset({ items: 50, seed: 1, dpkgStatus: status, dpkgInfoDir: path.join(tmp.dir, 'no-info') }), /only 0 usable items found in .*status/);
});

test('dpkg stanzas: installed packages, short line as the name, long description without paragraph dots', () => {
  const items = parseDpkgStatus(
    [
      'Package: zed\nStatus: install ok installed\nDescription: last editor\n Zed edits text.\n .\n It has two paragraphs.',
      'Package: gone\nStatus: deinstall ok config-files\nDescription: removed\n Leftover configuration.',
      'Package: abc\nStatus: install ok installed\nArchitecture: amd64\nDescription: first tool\n Abc counts letters.',
      'Package: abc\nStatus: install ok installed\nArchitecture: i386\nDescription: first tool (i386)\n Other arch.',
    ].join('\n\n'),
  );
  assert.deepEqual(items, [
    { pkid: 'deb:abc', name: 'abc - first tool', description: 'Abc counts letters.', source: 'dpkg' },
    { pkid: 'deb:zed', name: 'zed - last editor', description: 'Zed edits text. It has two paragraphs.', source: 'dpkg' },
  ]);
});

test('man pages: NAME and DESCRIPTION with groff and mdoc markup stripped; .so redirects skipped', () => {
  assert.deepEqual(
    parseManPage('.TH LS 1\n.SH NAME\nls \\- list directory contents\n.SH SYNOPSIS\n.B ls\n.SH DESCRIPTION\n.PP\nList information about the \\fBFILEs\\fR (the current directory).\n.SH OPTIONS\nignored'),
    { name: 'ls - list directory contents', description: 'List information about the FILEs (the current directory).' },
  );
  assert.deepEqual(parseManPage('.Dd x\n.Sh NAME\n.Nm cat\n.Nd concatenate files\n.Sh DESCRIPTION\nThe\n.Nm\nutility reads\n.Ar file\nsequentially.'), {
    name: 'cat - concatenate files',
    description: 'The utility reads file sequentially.',
  });
  assert.equal(parseManPage('.so man1/other.1'), null);
});

test('content words drop stopwords, packaging words, numbers and URLs', () => {
  assert.deepEqual(contentWords('This package provides the GNU C compiler 12.2 (see https://gcc.gnu.org/) for x86-64.'), ['gnu', 'compiler', 'x86-64']);
});

test('the query split is disjoint, covers every signal and depends on the seed', async () => {
  const { signals } = await buildSampleDataset({ items: 40, seed: 3 });
  const one = splitSignalsByQuery(signals, 0.2, 5);
  const trainQueries = new Set(one.train.map((s) => s.query));
  assert.equal(one.train.length + one.test.length, signals.length);
  assert.ok(one.test.length > 0);
  for (const s of one.test) assert.ok(!trainQueries.has(s.query));
  assert.deepEqual(splitSignalsByQuery(signals, 0.2, 5), one);
  assert.notDeepEqual(splitSignalsByQuery(signals, 0.2, 6).test, one.test);
});

test('man-page summaries: packages queried by the summaries of the man pages they ship', async () => {
  // A fixture tree: 32 installed packages, 4 pages each, plus pages that must be skipped.
  const root = path.join(tmp.dir, 'man-root');
  const info = path.join(tmp.dir, 'man-info');
  await mkdir(path.join(root, 'usr/share/man/man1'), { recursive: true });
  await mkdir(info, { recursive: true });
  const page = (name: string, summary: string) => gzipSync(`.TH ${name} 1\n.SH NAME\n${name} \\- ${summary}\n.SH DESCRIPTION\nIt does ${summary}.\n`);
  const stanzas: string[] = [];
  for (let p = 0; p < 32; p++) {
    const pkg = `tool${p}`;
    stanzas.push(`Package: ${pkg}\nStatus: install ok installed\nDescription: the ${pkg} suite\n Long words about ${pkg}.`);
    const files: string[] = [];
    for (let k = 0; k < 4; k++) {
      const file = `/usr/share/man/man1/${pkg}-cmd${k}.1.gz`;
      await writeFile(path.join(root, file), page(`${pkg}-cmd${k}`, `Rotate widget number ${k} of family ${p}.`));
      files.push(file);
    }
    // Skipped: a summary inside the package's name, a repeated summary, a .so redirect, a symlink.
    const extra = [
      [`/usr/share/man/man1/${pkg}-self.1.gz`, page(`${pkg}-self`, `the ${pkg} suite`)],
      [`/usr/share/man/man1/${pkg}-again.1.gz`, page(`${pkg}-again`, `rotate widget number 0 of family ${p}`)],
      [`/usr/share/man/man1/${pkg}-so.1.gz`, gzipSync(`.so man1/${pkg}-cmd0.1\n`)],
    ] as const;
    for (const [file, bytes] of extra) {
      await writeFile(path.join(root, file), bytes);
      files.push(file);
    }
    await symlink(path.join(root, files[0]!), path.join(root, `/usr/share/man/man1/${pkg}-link.1.gz`));
    files.push(`/usr/share/man/man1/${pkg}-link.1.gz`);
    await writeFile(path.join(info, `${pkg}.list`), `/usr/bin/${pkg}\n${files.join('\n')}\n`);
  }
  const status = path.join(tmp.dir, 'man-status');
  await writeFile(status, stanzas.join('\n\n') + '\n');
  const sources = { dpkgStatus: status, dpkgInfoDir: info, fsRoot: root };
  const data = await buildManSummaryDataset({ seed: 3, ...sources });
  assert.equal(data.catalog.length, 32);
  assert.equal(data.signals.length, 128);
  const q = data.signals.find((r) => r.query === 'rotate widget number 2 of family 7');
  assert.equal(q?.pkid, 'deb:tool7');
  assert.ok(data.signals.every((r) => !r.query.includes('suite')), 'a summary inside the name is dropped');
  assert.ok(data.signals.every((r) => r.aggr_count >= 1));
  assert.deepEqual(await buildManSummaryDataset({ seed: 3, ...sources }), data);
  await assert.rejects(buildManSummaryDataset({ seed: 3, ...sources, dpkgInfoDir: path.join(tmp.dir, 'none') }), /0 packages with man pages/);
});
