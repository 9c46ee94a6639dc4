import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ModeldError } from '../errors/index.js';
import { compileTrainingConfig } from './config.js';
import { loadTrainingData, readRows, resolveDataUri, sampleQueries, validationSize, vocabularyTexts, type DataRow } from './data.js';
import { writeParquet } from './fixtures/write-parquet.js';

let dir: string;
let root: string;
let outside: string;
const url = (p: string): string => pathToFileURL(p).href;
const ecommerce = compileTrainingConfig('ecommerce-rnn', { dataset_config: 'mlp_ecommerce', trainer_config: 'mlp_ecommerce' }).columns;
const general = compileTrainingConfig('general-rnn', { dataset_config: 'mlp_general', trainer_config: 'mlp_general' }).columns;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'modeld-data-'));
  root = path.join(dir, 'root');
  outside = path.join(dir, 'outside');
  await mkdir(root);
  await mkdir(outside);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function rejectsWith(code: string, message: RegExp): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof ModeldError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.status, 400);
    assert.match(err.message, message);
    return true;
  };
}

async function rows(file: string, maxBytes?: number): Promise<Array<{ row: DataRow; line: number }>> {
  const src = await readRows(file, maxBytes === undefined ? {} : { maxBytes });
  const out = [];
  for await (const r of src.rows) out.push(r);
  return out;
}

/** 130 catalog items (p0..p129, p5 twice) and signals for 120 queries, with a duplicate pair and a pkid not in the catalog. */
function csvFixture(): { catalog: string; signals: string } {
  const catalog = ['pkid,name,description'];
  for (let i = 0; i < 130; i++) catalog.push(`p${i},"Item ${i}, red","desc ${i}"`);
  catalog.push('p5,"Duplicate",x');
  catalog.push(',"no pkid",x');
  const signals = ['query,pkid,aggr_count'];
  for (let q = 0; q < 120; q++) signals.push(`query ${q},p${q},${q + 1}`);
  signals.push('query 0,p0,4', 'query 0,p1,1', 'query 7,unknown,3', 'query 8,p8,0', ',p3,1');
  return { catalog: catalog.join('\r\n') + '\r\n', signals: signals.join('\n') };
}

test('resolveDataUri accepts file:// inside a data root and refuses everything else', async () => {
  const inside = path.join(root, 'c.csv');
  await writeFile(inside, 'pkid\n1\n');
  await writeFile(path.join(outside, 'secret.csv'), 'x\n');
  await symlink(path.join(outside, 'secret.csv'), path.join(root, 'link.csv'));
  assert.equal(await resolveDataUri(url(inside), [root]), inside);
  assert.equal(await resolveDataUri(`file://localhost${inside}`, [root]), inside);
  const forbidden = rejectsWith('MODELD_ERR_DATA_PATH_FORBIDDEN', /outside the directories training data may be read from/);
  await assert.rejects(resolveDataUri(url(path.join(outside, 'secret.csv')), [root], 'body.trainingData.catalog'), (e) => forbidden(e) && (e as ModeldError).message.startsWith('body.trainingData.catalog: '));
  await assert.rejects(resolveDataUri(`file://${root}/../outside/secret.csv`, [root]), forbidden);
  await assert.rejects(resolveDataUri(url(path.join(root, 'link.csv')), [root]), forbidden);
  await assert.rejects(resolveDataUri('file:///etc/passwd', [root]), forbidden);
  await assert.rejects(resolveDataUri(url(inside), []), rejectsWith('MODELD_ERR_DATA_PATH_FORBIDDEN', /no training data roots/));
  await assert.rejects(resolveDataUri('gs://bucket/c.parquet', [root]), rejectsWith('MODELD_ERR_VALIDATION', /scheme "gs" is not supported/));
  await assert.rejects(resolveDataUri(inside, [root]), rejectsWith('MODELD_ERR_VALIDATION', /bare path/));
  await assert.rejects(resolveDataUri('file:c.csv', [root]), rejectsWith('MODELD_ERR_VALIDATION', /absolute/));
  await assert.rejects(resolveDataUri(url(path.join(root, 'missing.csv')), [root]), rejectsWith('MODELD_ERR_VALIDATION', /does not exist/));
  await assert.rejects(resolveDataUri(url(root), [root]), rejectsWith('MODELD_ERR_VALIDATION', /not a file/));
});

test('CSV follows RFC 4180 quoting, CRLF and a BOM', async () => {
  const file = path.join(root, 'q.csv');
  await writeFile(file, '\ufeffpkid,text\r\n1,"a, ""quoted"" value"\r\n2,"two\r\nlines"\n\n3,55" TV\n4,""\n5,');
  const got = await rows(file);
  assert.deepEqual(got, [
    { row: { pkid: '1', text: 'a, "quoted" value' }, line: 2 },
    { row: { pkid: '2', text: 'two\r\nlines' }, line: 3 },
    { row: { pkid: '3', text: '55" TV' }, line: 6 },
    { row: { pkid: '4', text: '' }, line: 7 },
    { row: { pkid: '5', text: '' }, line: 8 },
  ]);
});

test('malformed CSV and JSON Lines fail naming the file and the line', async () => {
  const cases: Array<[string, string, RegExp]> = [
    ['fields.csv', 'a,b\n1,2\n1,2,3\n', /fields\.csv: line 3: 3 fields where the header has 2/],
    ['open.csv', 'a,b\n1,"never closed\n', /open\.csv: line 2: a quoted field is not closed/],
    ['after.csv', 'a,b\n1,"x"y\n', /after\.csv: line 2: unexpected "y" after a closing quote/],
    ['dup.csv', 'a,a\n1,2\n', /twice/],
    ['bad.jsonl', '{"a":1}\n{"a":\n', /bad\.jsonl: line 2: not valid JSON/],
    ['arr.jsonl', '{"a":1}\n\n[1]\n', /arr\.jsonl: line 3: each line must be a JSON object/],
    ['empty.csv', '', /empty\.csv: the file is empty/],
    ['data.txt', 'a,b\n', /unknown data format/],
  ];
  for (const [name, content, message] of cases) {
    const file = path.join(root, name);
    await writeFile(file, content);
    await assert.rejects(rows(file), rejectsWith('MODELD_ERR_TRAINING_CONFIG', message), name);
  }
});

test('a file over the size cap is refused before it is read', async () => {
  const file = path.join(root, 'big.jsonl');
  await writeFile(file, '{"a":1}\n'.repeat(100));
  await assert.rejects(rows(file, 100), rejectsWith('MODELD_ERR_TRAINING_CONFIG', /800 bytes is larger than the 100-byte limit/));
  assert.equal((await rows(file, 800)).length, 100);
});

test('a reader stopped early releases its file', async () => {
  const file = path.join(root, 'early.csv');
  await writeFile(file, 'a,b\n1,2\n3,4\n');
  const src = await readRows(file);
  const first = await src.rows.next();
  assert.deepEqual(first.value, { row: { a: '1', b: '2' }, line: 2 });
  await src.close();
  assert.equal((await src.rows.next()).done, true);
  await src.close();
});

test('Parquet rows are read through hyparquet, nulls and INT64 included', async () => {
  const file = path.join(root, 'c.parquet');
  await writeFile(file, writeParquet([
    { name: 'pkid', type: 'int64', values: [1n, 2n] },
    { name: 'name', type: 'string', values: ['Café', null] },
  ]));
  const src = await readRows(file);
  assert.deepEqual(src.columns, ['pkid', 'name']);
  const got = [];
  for await (const r of src.rows) got.push(r);
  assert.deepEqual(got, [{ row: { pkid: 1n, name: 'Café' }, line: 1 }, { row: { pkid: 2n, name: null }, line: 2 }]);
  const only = await readRows(file, { columns: ['name', 'absent'] });
  assert.deepEqual(only.columns, ['pkid', 'name'], 'the schema still lists every column');
  const picked = [];
  for await (const r of only.rows) picked.push(r.row);
  assert.deepEqual(picked, [{ name: 'Café' }, { name: null }]);
  const broken = path.join(root, 'broken.parquet');
  await writeFile(broken, 'PAR1 not really');
  await assert.rejects(rows(broken), rejectsWith('MODELD_ERR_TRAINING_CONFIG', /broken\.parquet: not a readable Parquet file/));
});

test('validation size is 10 % of unique queries, at least 50, at most 5000', () => {
  assert.equal(validationSize(100), 50);
  assert.equal(validationSize(1000), 100);
  assert.equal(validationSize(10_000), 1000);
  assert.equal(validationSize(1_000_000), 5000);
  assert.deepEqual(sampleQueries(['a', 'b'], 5, 1), ['a', 'b']);
  assert.deepEqual(sampleQueries(['a', 'b', 'c', 'd'], 2, 1), sampleQueries(['a', 'b', 'c', 'd'], 2, 1));
});

test('loadTrainingData builds the index, merges pairs and splits deterministically', async () => {
  const { catalog, signals } = csvFixture();
  await writeFile(path.join(root, 'catalog.csv'), catalog);
  await writeFile(path.join(root, 'signals.csv'), signals);
  const columns = { ...ecommerce, desc: 'description' };
  const load = (seed: number, signalsFile = 'signals.csv') => loadTrainingData(url(path.join(root, 'catalog.csv')), url(path.join(root, signalsFile)), columns, { dataRoots: [root], seed });
  const d = await load(1);
  assert.equal(d.index.length, 130);
  assert.deepEqual(d.index[5], { pkid: 'p5', text: 'Item 5, red desc 5' });
  const s = d.summary;
  assert.equal(s.catalogRows, 132);
  assert.equal(s.duplicatePkidsDropped, 1);
  assert.equal(s.emptyItemsDropped, 1);
  assert.equal(s.signalRows, 125);
  assert.equal(s.signalsWithoutItem, 1);
  assert.equal(s.signalsEmpty, 1);
  assert.equal(s.signalsNonPositiveWeight, 1);
  assert.equal(s.uniqueQueries, 120);
  assert.equal(s.valQueries, 50);
  assert.equal(s.trnQueries, 70);
  const all = [...d.train, ...d.validation];
  assert.deepEqual(all.filter((p) => p.query === 'query 0').sort((a, b) => a.pkid.localeCompare(b.pkid)), [
    { query: 'query 0', pkid: 'p0', weight: 5 },
    { query: 'query 0', pkid: 'p1', weight: 1 },
  ]);
  assert.equal(new Set(d.validation.map((p) => p.query)).size, 50);
  const trainQueries = new Set(d.train.map((p) => p.query));
  assert.ok(d.validation.every((p) => !trainQueries.has(p.query)), 'a query is in one split only');
  assert.equal(s.uniqueTrainingPairs, d.train.length);

  // Same data and seed: same split, whatever the order of the signal rows; another seed: another split.
  const lines = signals.split('\n');
  await writeFile(path.join(root, 'signals-reversed.csv'), [lines[0], ...lines.slice(1).reverse()].join('\n'));
  const again = await load(1, 'signals-reversed.csv');
  const valQ = (x: typeof d) => [...new Set(x.validation.map((p) => p.query))].sort();
  assert.deepEqual(valQ(again), valQ(d));
  assert.notDeepEqual(valQ(await load(2)), valQ(d));
});

test('the same data from Parquet and JSON Lines gives the same index and pairs', async () => {
  const n = 110;
  await writeFile(path.join(root, 'cat.parquet'), writeParquet([
    { name: 'pkid', type: 'int64', values: Array.from({ length: n }, (_, i) => BigInt(i)) },
    { name: 'text', type: 'string', values: Array.from({ length: n }, (_, i) => (i === 3 ? null : `doc ${i}`)) },
  ]));
  await writeFile(path.join(root, 'sig.jsonl'), Array.from({ length: n }, (_, i) => JSON.stringify({ query: `q${i}`, pkid: i })).join('\n'));
  const d = await loadTrainingData(url(path.join(root, 'cat.parquet')), url(path.join(root, 'sig.jsonl')), general, { dataRoots: [root], seed: 9 });
  assert.equal(d.index.length, n - 1);
  assert.equal(d.index[0]!.pkid, '0');
  assert.equal(d.summary.signalsWithoutItem, 1, 'pkid 3 has no text, so no item');
  assert.equal(d.summary.uniqueQueries, n - 1);
  assert.ok([...d.train, ...d.validation].every((p) => p.weight === 1));
});

test('useful errors: missing columns, no overlapping pkids, too few queries, a weight that is not a number', async () => {
  const cat = path.join(root, 'e-cat.csv');
  await writeFile(cat, 'id,name\n1,a\n');
  await writeFile(path.join(root, 'e-sig.csv'), 'query,pkid\nx,1\n');
  await assert.rejects(
    loadTrainingData(url(cat), url(path.join(root, 'e-sig.csv')), ecommerce, { dataRoots: [root], seed: 1 }),
    rejectsWith('MODELD_ERR_TRAINING_CONFIG', /catalog .*e-cat\.csv: no column "pkid" \(dataset_config\.pkid_col_name\); its columns are "id", "name"/),
  );
  const cat2 = path.join(root, 'e-cat2.jsonl');
  await writeFile(cat2, '{"pkid":"1","name":"a"}\n{"pkid":"2","name":"b"}\n');
  await writeFile(path.join(root, 'e-sig2.jsonl'), '{"q":"x","pkid":"1"}\n');
  await assert.rejects(
    loadTrainingData(url(cat2), url(path.join(root, 'e-sig2.jsonl')), ecommerce, { dataRoots: [root], seed: 1 }),
    rejectsWith('MODELD_ERR_TRAINING_CONFIG', /signals .*e-sig2\.jsonl: no column "query"/),
  );
  await writeFile(path.join(root, 'e-sig3.csv'), 'query,pkid,aggr_count\nx,9,1\ny,8,2\n');
  await assert.rejects(
    loadTrainingData(url(cat2), url(path.join(root, 'e-sig3.csv')), ecommerce, { dataRoots: [root], seed: 1 }),
    rejectsWith('MODELD_ERR_TRAINING_CONFIG', /no signal's pkid \(column "pkid"\) is in the catalog .*signal pkids such as "9", "8"; catalog pkids such as "1", "2"/),
  );
  await writeFile(path.join(root, 'e-sig4.csv'), 'query,pkid,aggr_count\nx,1,1\ny,2,2\n');
  await assert.rejects(
    loadTrainingData(url(cat2), url(path.join(root, 'e-sig4.csv')), ecommerce, { dataRoots: [root], seed: 1 }),
    rejectsWith('MODELD_ERR_TRAINING_CONFIG', /2 unique queries match the catalog; training needs at least 100/),
  );
  await writeFile(path.join(root, 'e-sig5.csv'), 'query,pkid,aggr_count\nx,1,1\ny,2,lots\n');
  await assert.rejects(
    loadTrainingData(url(cat2), url(path.join(root, 'e-sig5.csv')), ecommerce, { dataRoots: [root], seed: 1 }),
    rejectsWith('MODELD_ERR_TRAINING_CONFIG', /line 3: column "aggr_count" \(dataset_config\.weight_col_name\) must be a number, got "lots"/),
  );
  await writeFile(path.join(root, 'e-empty.jsonl'), '\n\n');
  await assert.rejects(
    loadTrainingData(url(path.join(root, 'e-empty.jsonl')), url(path.join(root, 'e-sig5.csv')), ecommerce, { dataRoots: [root], seed: 1 }),
    rejectsWith('MODELD_ERR_TRAINING_CONFIG', /catalog .*e-empty\.jsonl: no rows/),
  );
  await assert.rejects(
    loadTrainingData(url(path.join(outside, 'x.csv')), url(path.join(root, 'e-sig5.csv')), ecommerce, { dataRoots: [root], seed: 1 }),
    rejectsWith('MODELD_ERR_DATA_PATH_FORBIDDEN', /^body\.trainingData\.catalog: /),
  );
});

test('the vocabulary learns from index texts, bodies and training queries, not validation queries', () => {
  const texts = [
    ...vocabularyTexts({
      index: [{ pkid: '1', text: 'red shoe', body: 'long body' }, { pkid: '2', text: 'blue hat', body: '' }],
      train: [{ query: 'q a', pkid: '1', weight: 1 }, { query: 'q a', pkid: '2', weight: 1 }, { query: 'q b', pkid: '2', weight: 1 }],
    }),
  ];
  assert.deepEqual(texts, ['red shoe', 'long body', 'blue hat', 'q a', 'q b']);
});

