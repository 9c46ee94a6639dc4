import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Model, Upload } from '../client/index.js';
import { runServer } from '../main.js';

/**
 * End to end: `modeld train` as a child process (bin/modeld.js) against the real server started
 * with runServer({port: 0, dataDir: tmp}) on 127.0.0.1: local CSV files uploaded, a tiny model
 * trained and followed to AVAILABLE, its metrics read, deployed and asked for vectors; and a
 * training that fails on a missing column.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'modeld.js');

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function childEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MODELD_')));
}

/** CLI processes still running; after() kills them so that a cancelled test leaves none behind. */
const running = new Set<ReturnType<typeof spawn>>();

function modeld(args: string[], timeoutMs = 120_000): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, '--url', server.url, '--credentials', credentialsFile, ...args], { cwd: tmp, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    child.on('exit', () => running.delete(child));
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * A deterministic ecommerce dataset: 200 items named from small word lists, 3 queries per item
 * (two or three words of its name), counts 1-5. Queries repeat across items, as real ones do.
 */
async function writeDataset(dir: string, options: { catalogHeader?: string } = {}): Promise<{ items: number; signals: number; uniqueQueries: number }> {
  const colors = ['red', 'blue', 'green', 'black', 'white', 'pink', 'grey', 'brown', 'yellow', 'navy'];
  const kinds = ['shoes', 'sandals', 'boots', 'jacket', 'shirt', 'dress', 'scarf', 'hat', 'socks', 'gloves', 'belt', 'bag', 'watch', 'lamp', 'mug', 'chair', 'desk', 'pillow', 'blanket', 'towel'];
  const traits = ['leather', 'cotton', 'wool', 'linen', 'silk', 'canvas', 'suede', 'denim', 'ceramic', 'wooden', 'vintage', 'classic', 'sport', 'travel', 'kids', 'winter', 'summer', 'outdoor', 'office', 'luxury'];
  let state = 12345;
  const rnd = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const catalog = [options.catalogHeader ?? 'pkid,name'];
  const signals = ['query,pkid,aggr_count'];
  const unique = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const words = [pick(traits), pick(colors), pick(kinds), pick(traits)];
    catalog.push(`p${i},"${words.join(' ')} item ${i}"`);
    for (let q = 0; q < 3; q++) {
      const size = 2 + Math.floor(rnd() * 2);
      const start = Math.floor(rnd() * (words.length - size + 1));
      const query = words.slice(start, start + size).join(' ');
      unique.add(query);
      signals.push(`${query},p${i},${1 + Math.floor(rnd() * 5)}`);
    }
  }
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'catalog.csv'), catalog.join('\n') + '\n');
  await writeFile(path.join(dir, 'signals.csv'), signals.join('\n') + '\n');
  return { items: 200, signals: signals.length - 1, uniqueQueries: unique.size };
}

const TINY = ['--set', 'trainer_config.encoder_config.rnn_units_list=[16]', '--set', 'trainer_config.num_epochs=2', '--set', 'trainer_config.trn_batch_size=16'];

let tmp: string;
let server: { url: string; close(): Promise<void> };
let credentialsFile: string;

before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'modeld-cli-e2e-train-'));
  server = await runServer({ port: 0, host: '127.0.0.1', dataDir: path.join(tmp, 'data'), logLevel: 'silent' });
  credentialsFile = path.join(tmp, 'data', 'admin-credentials.json');
});
after(async () => {
  for (const child of running) child.kill('SIGKILL');
  await server?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('modeld train against a running server', () => {
  test('uploads local CSV files, trains with --follow to AVAILABLE, shows metrics; the model deploys and embeds', async () => {
    const data = await writeDataset(path.join(tmp, 'in'));
    assert.ok(data.uniqueQueries >= 100, `the split needs >= 100 unique queries, got ${data.uniqueQueries}`);

    const res = await modeld(['train', '--name', 'tiny', '--catalog', 'in/catalog.csv', '--signals', 'in/signals.csv', ...TINY, '--follow', '--interval', '0.2'], 280_000);
    assert.equal(res.code, 0, res.stderr);
    // Uploads with a bar, then the phases, then epochs; the last line is the end state.
    assert.match(res.stderr, /uploading catalog-[0-9a-f]{12}\.csv {2}\[#{20}\] {2}100%/);
    assert.match(res.stderr, /uploading signals-[0-9a-f]{12}\.csv {2}\[#{20}\] {2}100%/);
    assert.match(res.stderr, /following it \(Ctrl-C stops following, not the training\)/);
    assert.match(res.stderr, /^TRAINING {2}/m);
    // Every epoch has its line, from the model's events, however fast it went by the polling.
    for (const epoch of [1, 2]) {
      assert.match(res.stderr, new RegExp(`^epoch ${epoch} of 2: [\\w@]+ [01]\\.\\d+ on the validation queries, loss \\d+\\.\\d{4}, best epoch [12]`, 'm'));
    }
    assert.match(res.stderr, /^AVAILABLE {2}32-d$/m);

    const id = /^model ([0-9a-f-]{36}) \(tiny\) AVAILABLE, ecommerce-rnn, 32-d vectors$/m.exec(res.stdout)?.[1];
    assert.ok(id, res.stdout);
    assert.match(res.stdout, /^best epoch [12] of 2; 200 catalog items; \d+ training and \d+ validation queries; \d+ training pairs; [\d.]+ s of training$/m);
    assert.match(res.stdout, /validation metrics of the best epoch:\nMETRIC {2}VAL@1 {3}VAL@3 {3}VAL@5 {3}VAL@10\n/);
    for (const metric of ['hit', 'map', 'mrr', 'ndcg', 'recall']) assert.match(res.stdout, new RegExp(`^${metric} +(0|1)\\.\\d{4}  `, 'm'));

    const got = await modeld(['models', 'get', id, '--metrics', '--json']);
    assert.equal(got.code, 0, got.stderr);
    const model = JSON.parse(got.stdout) as Model;
    assert.equal(model.state, 'AVAILABLE');
    assert.equal(model.vectorSize, 32);
    assert.equal(model.trainingMetrics?.summary.vector_size, 32);
    assert.equal(model.trainingMetrics?.summary.index_size, 200);
    assert.equal(model.trainingMetrics?.epoch_metrics.ndcg?.val['5'].length, 2);

    const table = await modeld(['models', 'get', id, '--metrics']);
    assert.match(table.stdout, /^METRIC {2}VAL@1 .* TRN@10$/m);

    const uploads = JSON.parse((await modeld(['uploads', 'list', '--json'])).stdout) as Upload[];
    assert.deepEqual(uploads.map((u) => u.name.replace(/-[0-9a-f]{12}\./, '-HASH.')).sort(), ['catalog-HASH.csv', 'signals-HASH.csv']);
    assert.deepEqual(model.trainingData, { catalog: uploads.find((u) => u.name.startsWith('catalog'))?.uri, signals: uploads.find((u) => u.name.startsWith('signals'))?.uri });

    const events = await modeld(['models', 'events', id]);
    assert.equal(events.code, 0, events.stderr);
    assert.match(events.stdout, /^TIME\s+TYPE\s+REASON\s+MESSAGE\n/);
    assert.ok(events.stdout.trimEnd().split('\n').length >= 3, events.stdout);

    const deployed = await modeld(['deploy', id, '--wait', '--timeout', '120']);
    assert.equal(deployed.code, 0, deployed.stderr);
    const deploymentId = /deployment ([0-9a-f-]{36}) DEPLOYED/.exec(deployed.stdout)?.[1];
    assert.ok(deploymentId, deployed.stdout);
    const embedded = await modeld(['embed', deploymentId, 'red leather shoes', 'wool scarf', '--data-type', 'query']);
    assert.equal(embedded.code, 0, embedded.stderr);
    const vectors = embedded.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { vector: number[] }).vector);
    assert.equal(vectors.length, 2);
    for (const v of vectors) {
      assert.equal(v.length, 32);
      assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-3, 'L2-normalized');
    }
    assert.notDeepEqual(vectors[0], vectors[1]);
    const deleted = await modeld(['deployments', 'delete', deploymentId, '--wait', '--timeout', '120']);
    assert.equal(deleted.code, 0, deleted.stderr);
  });

  test('a catalog without the title column fails the training: the column named on stderr, exit 1', async () => {
    await writeDataset(path.join(tmp, 'bad'), { catalogHeader: 'pkid,title' });
    const res = await modeld(['train', '--name', 'bad', '--catalog', 'bad/catalog.csv', '--signals', 'bad/signals.csv', ...TINY, '--follow', '--interval', '0.2'], 200_000);
    assert.equal(res.code, 1, res.stderr);
    assert.equal(res.stdout, '');
    assert.match(res.stderr, /^TRAINING_FAILED {2}catalog \S+\/catalog-[0-9a-f]{12}\.csv: no column "name" \(dataset_config\.index_title_col_name\)/m);
    assert.match(res.stderr, /^\(catalog-[0-9a-f]{12}\.csv is the upload of bad\/catalog\.csv\)$/m);
    assert.match(res.stderr, /error: training of model [0-9a-f-]{36} failed: .*no column "name".* \(MODELD_CLIENT_ERR_TRAINING_FAILED\)\n$/);
  });
});
