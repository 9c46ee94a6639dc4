import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { listPretrained, readManifest } from '../engines/index.js';
import { makeBertExport } from '../../test/fixtures/models.js';
import { makeTempDir } from '../../test/fixtures/tmp.js';
import { runCaptured } from './test-harness.js';

/**
 * `modeld models install <name> <folder>`: works on the data directory of the server machine
 * (no HTTP), like `serve`; the running server lists the folder it writes on its next refresh.
 */

let tmp: Awaited<ReturnType<typeof makeTempDir>>;
before(async () => {
  tmp = await makeTempDir('modeld-cli-install-');
});
after(() => tmp.cleanup());

test('installs a catalogue model into <dataDir>/models/<name> from --data-dir or MODELD_DATA_DIR, and says what it installed', async () => {
  const folder = await makeBertExport(path.join(tmp.dir, 'export-e5'), 384);
  const dataDir = path.join(tmp.dir, 'data');
  const r = await runCaptured(['--json', 'models', 'install', 'e5-small-v2', 'export-e5', '--data-dir', 'data'], { cwd: tmp.dir, env: {} });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(out, { name: 'e5-small-v2', vectorSize: 384, directory: path.join(dataDir, 'models', 'e5-small-v2'), prefixes: { query: 'query: ', passage: 'passage: ' }, matryoshkaDims: [] });
  assert.equal((await readManifest(path.join(dataDir, 'models', 'e5-small-v2'))).onnx?.pooling, 'mean');
  assert.deepEqual((await listPretrained(path.join(dataDir, 'models'))).models.map((m) => m.id), ['e5-small-v2']);

  const again = await runCaptured(['models', 'install', 'e5-small-v2', folder], { cwd: tmp.dir, env: { MODELD_DATA_DIR: dataDir } });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /e5-small-v2 is already installed .*--replace.*MODELD_CLI_ERR_INSTALL_FAILED/);
  const text = await runCaptured(['models', 'install', 'gte-small', folder], { cwd: tmp.dir, env: { MODELD_DATA_DIR: dataDir } });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^installed gte-small \(384-d\) in .*gte-small; a running server serves it within 10 s\n$/);
});

test('refuses a folder that does not fit the name, naming the size it has and the one it needs', async () => {
  const folder = await makeBertExport(path.join(tmp.dir, 'export-small'), 384);
  const r = await runCaptured(['models', 'install', 'bge-large', folder, '--data-dir', path.join(tmp.dir, 'data2')], { cwd: tmp.dir, env: {} });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bge-large: this folder is not an export of BAAI\/bge-large-en-v1.5: config.json hidden_size is 384, bge-large has 1024/);
  assert.deepEqual((await listPretrained(path.join(tmp.dir, 'data2', 'models'))).models, []);
});
