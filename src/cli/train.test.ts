import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Model, Upload } from '../client/index.js';
import { startTestServer, type TestServer, type TrainingStep } from '../client/test-server.js';
import { runCaptured, type RunOptions } from './test-harness.js';

/**
 * `upload`, `uploads`, `train`, `models follow|get --metrics|events` in-process against the
 * scripted HTTP server of client/test-server.ts on 127.0.0.1 (the real server: e2e-train.test.ts).
 */

let server: TestServer;
let tmp: string;
let catalog: string;
let signals: string;
const catalogText = 'pkid,name\n1,red shoes\n2,blue sandals\n';
const signalsText = 'query,pkid,aggr_count\nshoes,1,3\nsandals,2,1\n';

before(async () => {
  server = await startTestServer();
  tmp = await mkdtemp(path.join(tmpdir(), 'modeld-cli-train-'));
  catalog = path.join(tmp, 'catalog.csv');
  signals = path.join(tmp, 'signals.csv');
  await writeFile(catalog, catalogText);
  await writeFile(signals, signalsText);
});
after(async () => {
  await server.close();
  await rm(tmp, { recursive: true, force: true });
});

function run(args: string[], options: RunOptions = {}) {
  return runCaptured(['--url', server.url, '--client-id', server.clientId, '--client-secret', server.clientSecret, ...args], { cwd: tmp, ...options });
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const FAST = ['--interval', '0.01'];

/** A training walk: start, data, two epochs of steps, export, done. */
const walk: TrainingStep[] = [
  { state: 'TRAINING' },
  { state: 'TRAINING', progress: { phase: 'loading-data' } },
  { state: 'TRAINING', progress: { phase: 'learning-vocabulary' } },
  { state: 'TRAINING', progress: { phase: 'training', epoch: 1, numEpochs: 2, step: 0, steps: 4, etaSeconds: 20 } },
  { state: 'TRAINING', progress: { phase: 'training', epoch: 1, numEpochs: 2, step: 2, steps: 4, loss: 1.5, pairsPerSecond: 900, etaSeconds: 15 } },
  {
    state: 'TRAINING',
    progress: { phase: 'training', epoch: 2, numEpochs: 2, step: 1, steps: 4, loss: 0.9, pairsPerSecond: 950, etaSeconds: 6, monitor: { key: 'ndcg@5', value: 0.31 }, bestEpoch: 1 },
  },
  { state: 'TRAINING', progress: { phase: 'exporting' } },
  { state: 'AVAILABLE' },
];

describe('upload', () => {
  test('streams the file with a progress bar on stderr and prints the uri on stdout', async () => {
    const res = await run(['upload', 'catalog.csv']);
    assert.equal(res.code, 0, res.stderr);
    const stored = server.uploads.get('catalog.csv');
    assert.equal(stored?.content.toString('utf8'), catalogText);
    assert.equal(res.stdout, `${stored.uri}\n`);
    const lines = res.stderr.trimEnd().split('\n');
    assert.equal(lines[0], `uploading catalog.csv  [--------------------]  0%  0 B / ${catalogText.length} B`);
    assert.ok(lines.includes(`uploading catalog.csv  [####################]  100%  ${catalogText.length} B / ${catalogText.length} B`), res.stderr);
    assert.equal(lines.at(-1), `uploaded catalog.csv: ${catalogText.length} B, sha256 ${sha(catalogText)}`);

    const tty = await run(['upload', signals, '--name', 'my-signals.csv', '--json'], { stderrTTY: true });
    assert.equal(tty.code, 0, tty.stderr);
    assert.equal((JSON.parse(tty.stdout) as Upload).name, 'my-signals.csv');
    assert.match(tty.stderr, /^\r\x1b\[2Kuploading my-signals\.csv {2}\[-+\]  0%/);
    assert.match(tty.stderr, /\r\x1b\[2Kuploading my-signals\.csv {2}\[#+\]  100%[^\r]*\n$/);
  });

  test('a missing file or a name the server refuses is a usage error, nothing sent', async () => {
    const before = server.uploadRequests.length;
    const missing = await run(['upload', 'nope.csv']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, `error: ${path.join(tmp, 'nope.csv')}: no such file (MODELD_CLI_ERR_USAGE)\n`);
    const badName = await run(['upload', catalog, '--name', 'a b.csv']);
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /^error: upload name "a b\.csv" is not accepted .*choose one with --name \(MODELD_CLI_ERR_USAGE\)\n$/);
    const dir = await run(['upload', '.']);
    assert.match(dir.stderr, /not a regular file \(MODELD_CLI_ERR_USAGE\)/);
    assert.equal(server.uploadRequests.length, before);
  });

  test('uploads list and delete', async () => {
    await run(['upload', catalog, '--name', 'listed.csv']);
    const list = await run(['uploads', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^NAME\s+BYTES\s+SHA256\s+UPLOADED\s+URI\n/);
    assert.match(list.stdout, new RegExp(`\\nlisted\\.csv\\s+${catalogText.length}\\s+${sha(catalogText).slice(0, 12)}\\s`));
    const del = await run(['uploads', 'delete', 'listed.csv']);
    assert.equal(del.stdout, 'deleted upload listed.csv\n');
    const again = await run(['uploads', 'delete', 'listed.csv']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /\(MODELD_ERR_UPLOAD_NOT_FOUND\)\n$/);
  });
});

describe('train', () => {
  test('uploads local files under content-addressed names, sends the assembled config, prints the model', async () => {
    await writeFile(path.join(tmp, 'base.json'), JSON.stringify({ 'trainer_config.num_epochs': 10, 'trainer_config.trn_batch_size': 64 }));
    const res = await run([
      'train',
      '--name',
      'shoes',
      '--catalog',
      'catalog.csv',
      '--signals',
      signals,
      '--config-file',
      'base.json',
      '--set',
      'trainer_config.num_epochs=2',
      '--set',
      'trainer_config.encoder_config.rnn_units_list=[16]',
      '--set',
      'trainer_config/text_processor_config=word_custom',
    ]);
    assert.equal(res.code, 0, res.stderr);
    const catalogName = `catalog-${sha(catalogText).slice(0, 12)}.csv`;
    const signalsName = `signals-${sha(signalsText).slice(0, 12)}.csv`;
    assert.deepEqual(server.trainRequests.at(-1), {
      name: 'shoes',
      modelType: 'ecommerce-rnn',
      region: 'local',
      trainingData: { catalog: server.uploads.get(catalogName)?.uri, signals: server.uploads.get(signalsName)?.uri },
      config: {
        dataset_config: 'mlp_ecommerce',
        trainer_config: 'mlp_ecommerce',
        'trainer_config.num_epochs': 2,
        'trainer_config.trn_batch_size': 64,
        'trainer_config.encoder_config.rnn_units_list': [16],
        'trainer_config/text_processor_config': 'word_custom',
      },
    });
    assert.match(res.stdout, /^model [0-9a-f-]{36} TRAINING \(shoes, ecommerce-rnn\)\n$/);
    assert.match(res.stderr, new RegExp(`uploading ${catalogName} .*100%`));
    assert.match(res.stderr, /follow it with: modeld models follow [0-9a-f-]{36}\n$/);

    // The same files again: nothing is sent twice.
    const uploadsBefore = server.uploadRequests.length;
    const again = await run(['train', '--name', 'shoes-2', '--type', 'general-rnn', '--catalog', catalog, '--signals', signals, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(server.uploadRequests.length, uploadsBefore);
    assert.match(again.stderr, new RegExp(`already uploaded as ${catalogName}`));
    assert.equal((JSON.parse(again.stdout) as Model).modelType, 'general-rnn');
    const elsewhere = await run(['train', '--name', 'x', '--catalog', catalog, '--signals', signals, '--region', 'mars']);
    assert.equal(elsewhere.code, 1);
    assert.match(elsewhere.stderr, /error: body\.region: .*known regions: local \(MODELD_ERR_VALIDATION\)\n$/);
    assert.deepEqual(server.trainRequests.at(-1)?.config, { dataset_config: 'mlp_general', trainer_config: 'mlp_general' });
  });

  test('URIs are passed on as they are', async () => {
    const before = server.uploadRequests.length;
    const res = await run(['train', '--name', 'u', '--catalog', 'file:///srv/c.parquet', '--signals', 'file:///srv/s.parquet']);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(server.trainRequests.at(-1)?.trainingData, { catalog: 'file:///srv/c.parquet', signals: 'file:///srv/s.parquet' });
    assert.equal(server.uploadRequests.length, before);
  });

  test('usage errors come before any upload or request', async () => {
    const before = { uploads: server.uploadRequests.length, trains: server.trainRequests.length };
    const cases: Array<[string[], RegExp]> = [
      [['train', '--name', 'x', '--signals', signals], /required option '--catalog <path\|uri>' not specified/],
      [['train', '--name', 'x', '--catalog', catalog, '--signals', signals, '--type', 'bert'], /argument 'bert' is invalid\. must be one of ecommerce-rnn, general-rnn/],
      [['train', '--name', 'x', '--catalog', catalog, '--signals', signals, '--set', 'num_epochs'], /must be key=value/],
      [['train', '--name', 'x', '--catalog', catalog, '--signals', 'missing.csv'], /missing\.csv: no such file \(MODELD_CLI_ERR_USAGE\)/],
      [['train', '--name', 'x', '--catalog', catalog, '--signals', signals, '--timeout', '5'], /--timeout needs --follow \(MODELD_CLI_ERR_USAGE\)/],
      [['train', '--name', 'x', '--catalog', catalog, '--signals', signals, '--config-file', 'none.json'], /--config-file .*none\.json: no such file/],
    ];
    for (const [args, message] of cases) {
      const res = await run(args);
      assert.equal(res.code, 1, args.join(' '));
      assert.match(res.stderr, message);
    }
    assert.deepEqual({ uploads: server.uploadRequests.length, trains: server.trainRequests.length }, before);
  });
});

describe('following a training', () => {
  test('off a terminal: one line per phase and epoch, then the summary and metrics on stdout', async () => {
    server.nextTrainingSteps = walk;
    const res = await run(['train', '--name', 'f', '--catalog', catalog, '--signals', signals, '--follow', ...FAST]);
    assert.equal(res.code, 0, res.stderr);
    const progress = res.stderr.split('\n').filter((l) => /^(TRAINING|AVAILABLE)/.test(l));
    assert.deepEqual(progress, [
      'TRAINING  starting',
      'TRAINING  loading data',
      'TRAINING  learning the vocabulary',
      'TRAINING  epoch 1/2  [--------------------]  step 0/4  ETA 20s',
      'TRAINING  epoch 2/2  [#####---------------]  step 1/4  loss 0.9000  val ndcg@5 0.3100 (best epoch 1)  ETA 6s  950 pairs/s',
      'TRAINING  exporting the model',
      'AVAILABLE  32-d',
    ]);
    assert.match(res.stderr, /following it \(Ctrl-C stops following, not the training\)/);
    const id = /^model ([0-9a-f-]{36}) \(f\) AVAILABLE, ecommerce-rnn, 32-d vectors$/m.exec(res.stdout)?.[1];
    assert.ok(id, res.stdout);
    assert.match(res.stdout, /^best epoch 2 of 2; 200 catalog items; 540 training and 60 validation queries; 590 training pairs; 14\.3 s of training$/m);
    assert.match(res.stdout, /validation metrics of the best epoch:\nMETRIC {2}VAL@1 {3}VAL@3 {3}VAL@5 {3}VAL@10\nhit {5}0\.3000 {2}0\.4000 {2}0\.4500 {2}0\.5000\nndcg {4}0\.2500/);
  });

  test('on a terminal: one line redrawn; --json prints the final model', async () => {
    server.nextTrainingSteps = walk;
    const res = await run(['train', '--name', 'g', '--catalog', catalog, '--signals', signals, '--follow', '--json', ...FAST], { stderrTTY: true });
    assert.equal(res.code, 0, res.stderr);
    const model = JSON.parse(res.stdout) as Model;
    assert.equal(model.state, 'AVAILABLE');
    assert.equal(model.trainingMetrics?.summary.best_epoch, 2);
    const redraws = res.stderr.split('\r\x1b[2K').slice(1);
    assert.equal(redraws.length, walk.length, 'every read redraws');
    assert.match(redraws[4]!, /^TRAINING {2}epoch 1\/2 {2}\[#{10}-{10}\] {2}step 2\/4 {2}loss 1\.5000 {2}ETA 15s {2}900 pairs\/s$/);
    assert.equal(redraws.at(-1), 'AVAILABLE  32-d\n');
  });

  test('TRAINING_FAILED: the error message on stderr, exit 1', async () => {
    const catalogName = `catalog-${sha(catalogText).slice(0, 12)}.csv`;
    server.nextTrainingSteps = [
      { state: 'TRAINING', progress: { phase: 'loading-data' } },
      { state: 'TRAINING_FAILED', errorMessage: `catalog /srv/${catalogName}: no column "name" (dataset_config.index_title_col_name)` },
    ];
    const res = await run(['train', '--name', 'bad', '--catalog', 'catalog.csv', '--signals', signals, '--follow', ...FAST]);
    assert.equal(res.code, 1);
    assert.equal(res.stdout, '');
    const tail = res.stderr.split('\n').slice(-4);
    assert.deepEqual(tail.slice(0, 2), [
      `TRAINING_FAILED  catalog /srv/${catalogName}: no column "name" (dataset_config.index_title_col_name)`,
      `(${catalogName} is the upload of catalog.csv)`,
    ]);
    assert.match(
      tail[2]!,
      /^error: training of model [0-9a-f-]{36} failed: catalog \/srv\/catalog-[0-9a-f]{12}\.csv: no column "name" \(dataset_config\.index_title_col_name\) \(MODELD_CLIENT_ERR_TRAINING_FAILED\)$/,
    );
    assert.equal(tail[3], '');
  });

  test('Ctrl-C stops following, exits 130, and the training carries on', async () => {
    server.nextTrainingSteps = [{ state: 'TRAINING', progress: { phase: 'training', epoch: 1, numEpochs: 3, step: 1, steps: 9 } }];
    const res = await run(['train', '--name', 'c', '--catalog', catalog, '--signals', signals, '--follow', '--interval', '60'], {
      onStderr: (text, stop) => {
        if (text.includes('epoch 1/3')) stop();
      },
    });
    assert.equal(res.code, 130);
    const id = /model ([0-9a-f-]{36}) \(c\) is TRAINING/.exec(res.stderr)?.[1];
    assert.ok(id, res.stderr);
    assert.match(res.stderr, new RegExp(`stopped following; model ${id} is TRAINING \\(epoch 1/3\\) and its training carries on without you \\(see: modeld models follow ${id}\\)\\n$`));
    const get = await run(['models', 'get', id]);
    assert.equal((JSON.parse(get.stdout) as Model).state, 'TRAINING');
  });

  test('models follow picks up a model by id; models get --metrics prints the summary and both splits', async () => {
    server.nextTrainingSteps = walk.slice(5);
    const created = await run(['train', '--name', 'h', '--catalog', catalog, '--signals', signals, '--json']);
    const id = (JSON.parse(created.stdout) as Model).id;
    const followed = await run(['models', 'follow', id, ...FAST]);
    assert.equal(followed.code, 0, followed.stderr);
    assert.match(followed.stdout, new RegExp(`^model ${id} \\(h\\) AVAILABLE`));

    const table = await run(['models', 'get', id, '--metrics']);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.equal(lines[0], `model ${id} (h) AVAILABLE, ecommerce-rnn, 32-d vectors`);
    assert.match(lines[1]!, /^best epoch 2 of 2; /);
    assert.equal(lines[2], 'METRIC  VAL@1   VAL@3   VAL@5   VAL@10  TRN@1   TRN@3   TRN@5   TRN@10');
    assert.equal(lines[3], 'hit     0.3000  0.4000  0.4500  0.5000  0.2000  0.3000  0.3500  0.4000');

    const json = await run(['models', 'get', id, '--metrics', '--json']);
    assert.deepEqual((JSON.parse(json.stdout) as Model).trainingMetrics, server.trainingMetrics);
    const plain = await run(['models', 'get', id]);
    assert.equal((JSON.parse(plain.stdout) as Model).trainingMetrics, undefined);

    const events = await run(['models', 'events', id]);
    assert.match(events.stdout, /^TIME\s+TYPE\s+REASON\s+MESSAGE\n\S+ \S+\s+Normal\s+TrainingStarted\s+training ecommerce-rnn started\n$/);
  });

  test('models get --metrics of a model still training shows where it is', async () => {
    server.nextTrainingSteps = [{ state: 'TRAINING', progress: { phase: 'training', epoch: 1, numEpochs: 2, step: 1, steps: 4 } }];
    const created = await run(['train', '--name', 'i', '--catalog', catalog, '--signals', signals, '--json']);
    const id = (JSON.parse(created.stdout) as Model).id;
    const res = await run(['models', 'get', id, '--metrics']);
    assert.equal(res.stdout, `model ${id} (i) TRAINING, ecommerce-rnn\nno metrics yet: TRAINING  epoch 1/2  [#####---------------]  step 1/4\n`);
  });
});
