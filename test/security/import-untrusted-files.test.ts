/**
 * Issue 10, finding 3: the files of an import are untrusted. Each is capped (limits.importJsonFileBytes,
 * limits.importModelFileBytes) before it is read; they are parsed in the check child process,
 * which gets no server environment and none of its open files; and imports are admitted a few at
 * a time (limits.concurrentImports, limits.concurrentImportsPerCustomer), 429 + Retry-After beyond.
 */
import assert from 'node:assert/strict';
import { open, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { processesWith } from '../fixtures/processes.js';
import { after, before, describe, test } from 'node:test';
import { engineArtifacts, importFileLimits } from '../../src/api/index.js';
import { dataPaths, defaultConfig } from '../../src/config/index.js';
import { checkChildEnv } from '../../src/engines/index.js';
import { CHECK_MAIN } from '../../src/engines/check-isolated.js';
import { makeBrokenArtifacts, makeModeldArtifact, makeTinyHfModel } from '../fixtures/models.js';
import { makeTempDir, type TempDir } from '../fixtures/tmp.js';
import { startApi, uploadFolder, type ApiHarness, type Tenant } from '../integration/api-harness.js';

let src: TempDir;
let hf: string;
let hangs: string;

before(async () => {
  src = await makeTempDir('modeld-untrusted-');
  hf = await makeTinyHfModel(path.join(src.dir, 'hf'), { dim: 16 }); // tokenizer.json 43 KB, model.onnx 194 KB
  hangs = (await makeBrokenArtifacts(path.join(src.dir, 'broken'))).hangs;
});
after(() => src.cleanup());

async function upload(h: ApiHarness, tenant: Tenant, folder: string, from: string, files: string[]): Promise<void> {
  await uploadFolder(h, tenant, folder, from, files);
}
const HF_FILES = ['config.json', 'tokenizer.json', 'onnx/model.onnx'];

function importing(h: ApiHarness, tenant: Tenant, upload: string) {
  return tenant.auth().then((authorization) =>
    h.app.inject({
      method: 'POST',
      url: `/customers/${tenant.customerId}/ai/models`,
      headers: { authorization },
      payload: { name: upload, modelType: 'imported', artifact: { upload } },
    }),
  );
}

function limitsWith(extra: Record<string, number>) {
  return { ...defaultConfig().limits, ...extra };
}

describe('each file of an import is capped', () => {
  test('a model file over limits.importModelFileBytes is refused naming the limit', async () => {
    const h = await startApi({
      config: { limits: limitsWith({ importModelFileBytes: 100 * 1024 }) },
      artifacts: (config, store) => engineArtifacts({ store, artifactsRoot: dataPaths(config).artifacts, limits: importFileLimits(config) }),
    });
    try {
      const alice = await h.tenant();
      await upload(h, alice, 'big-model', hf, HF_FILES);
      const res = await importing(h, alice, 'big-model');
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().code, 'MODELD_ERR_ARTIFACT_INVALID');
      assert.match(res.json().message, /onnx\/model\.onnx: \d+ bytes, more than the 102400 bytes .*\(limits\.importModelFileBytes\)/);
    } finally {
      await h.close();
    }
  });

  test('a tokenizer.json or a manifest.json over limits.importJsonFileBytes is refused naming the limit', async () => {
    const h = await startApi({
      config: { limits: limitsWith({ importJsonFileBytes: 32 * 1024 }) },
      artifacts: (config, store) => engineArtifacts({ store, artifactsRoot: dataPaths(config).artifacts, limits: importFileLimits(config) }),
    });
    try {
      const alice = await h.tenant();
      await upload(h, alice, 'big-tokenizer', hf, HF_FILES);
      const tok = await importing(h, alice, 'big-tokenizer');
      assert.equal(tok.statusCode, 400, tok.body);
      assert.match(tok.json().message, /tokenizer\.json: \d+ bytes, more than the 32768 bytes .*\(limits\.importJsonFileBytes\)/);

      // A manifest padded past the cap, in a free-form field: refused before it is parsed.
      const artifact = await makeModeldArtifact(path.join(src.dir, 'padded'));
      const manifest = JSON.parse(await readFile(path.join(artifact, 'manifest.json'), 'utf8'));
      manifest.training = { config: { pad: 'x'.repeat(40 * 1024) }, metrics: {} };
      const { writeFile } = await import('node:fs/promises');
      await writeFile(path.join(artifact, 'manifest.json'), JSON.stringify(manifest));
      await upload(h, alice, 'padded', artifact, ['manifest.json']);
      const man = await importing(h, alice, 'padded');
      assert.equal(man.statusCode, 400, man.body);
      assert.match(man.json().message, /manifest\.json: \d+ bytes, more than the 32768 bytes .*\(limits\.importJsonFileBytes\)/);
    } finally {
      await h.close();
    }
  });
});

/** Pids of live check processes whose arguments mention `needle`. */
const checkChildren = (needle: string): Promise<number[]> => processesWith(CHECK_MAIN, needle);

async function waitForChildren(needle: string, count: number): Promise<number[]> {
  // The child exists only while the import runs; poll for it (there is no event to await from outside).
  for (let i = 0; i < 600; i++) {
    const pids = await checkChildren(needle);
    if (pids.length >= count) return pids;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`no ${count} check children for ${needle}`);
}

describe('the check child and admission', () => {
  let h: ApiHarness;
  let alice: Tenant;
  let bob: Tenant;
  let carol: Tenant;

  before(async () => {
    h = await startApi({
      config: { limits: limitsWith({ concurrentImports: 2, concurrentImportsPerCustomer: 1 }) },
      artifacts: (config, store) => engineArtifacts({ store, artifactsRoot: dataPaths(config).artifacts, check: { timeoutMs: 5000 } }),
    });
    [alice, bob, carol] = [await h.tenant(), await h.tenant(), await h.tenant()];
    for (const t of [alice, bob, carol]) {
      await upload(h, t, 'hangs', hangs, HF_FILES);
      await upload(h, t, 'good', hf, HF_FILES);
    }
  });
  after(() => h.close());

  test('the child runs with PATH only, none of the server’s secrets or open files; over the caps a 429 with Retry-After', async () => {
    process.env.MODELD_TEST_SECRET = 'server-secret-value';
    const openSecret = await open(path.join(h.config.dataDir, 'open-secret.txt'), 'w');
    try {
      const first = importing(h, alice, 'hangs');
      const second = importing(h, carol, 'hangs');
      const pids = await waitForChildren(dataPaths(h.config).artifacts, 2);

      for (const pid of pids) {
        const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').filter((e) => e !== '');
        assert.deepEqual(environ.map((e) => e.split('=')[0]).sort(), Object.keys(checkChildEnv()).sort(), environ.join(' '));
        assert.ok(!environ.some((e) => e.includes('server-secret-value')));
        const fds = await readdir(`/proc/${pid}/fd`);
        const targets = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
        assert.ok(!targets.some((t) => t.endsWith('open-secret.txt')), `no server file in the child: ${targets.join(', ')}`);
      }

      // Both slots are taken: another customer is told when to come back.
      const full = await importing(h, bob, 'good');
      assert.equal(full.statusCode, 429, full.body);
      assert.equal(full.json().code, 'MODELD_ERR_OVERLOADED');
      assert.match(full.json().message, /limits\.concurrentImports is 2/);
      assert.match(String(full.headers['retry-after']), /^[1-9]\d*$/);

      const [a, c] = await Promise.all([first, second]);
      assert.equal(a.statusCode, 400, a.body);
      assert.match(a.json().message, /did not finish within 5000 ms/);
      assert.equal(c.statusCode, 400);
    } finally {
      delete process.env.MODELD_TEST_SECRET;
      await openSecret.close();
    }
  });

  test('one customer holds at most limits.concurrentImportsPerCustomer slots; others still get theirs', async () => {
    const hanging = importing(h, alice, 'hangs');
    await waitForChildren(dataPaths(h.config).artifacts, 1);
    const again = await importing(h, alice, 'good');
    assert.equal(again.statusCode, 429, again.body);
    assert.match(again.json().message, /limits\.concurrentImportsPerCustomer is 1/);
    const other = await importing(h, bob, 'good');
    assert.equal(other.statusCode, 200, other.body);
    assert.equal((await hanging).statusCode, 400);
    // The slot is free again once the import ended.
    assert.equal((await importing(h, alice, 'good')).statusCode, 200);
  });

  test('checkChildEnv passes PATH (and TMPDIR) only', () => {
    assert.deepEqual(checkChildEnv({ PATH: '/bin', TMPDIR: '/t', MODELD_CONFIG: '/etc/modeld.json', MODELD_DATABASE_URL: 'postgres://u:p@h/db', AWS_SECRET_ACCESS_KEY: 'k', HOME: '/root' }), {
      PATH: '/bin',
      TMPDIR: '/t',
    });
  });
});
