/**
 * Issue 10, finding 8 (part): what customers read about a failed import or a replica that ended
 * (API errors, events, deployment status) is a reason they can act on, without host paths, child
 * stderr or log lines; those go to the operator log.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { engineArtifacts } from '../../src/api/index.js';
import { dataPaths } from '../../src/config/index.js';
import { ProcessRuntime } from '../../src/runtimes/index.js';
import { makeBrokenArtifacts, makeModeldArtifact, type BrokenArtifacts } from '../fixtures/models.js';
import { makeTempDir, type TempDir } from '../fixtures/tmp.js';
import { replicaSpec, waitForReplica, waitReady } from '../contract/runtime.contract.js';
import { seedDeployment, seedModel, startApi, type ApiHarness } from '../integration/api-harness.js';
import { resolveArtifactFor } from '../../src/catalog/index.js';
import { openSqliteStore } from '../../src/store/index.js';

let tmp: TempDir;
let broken: BrokenArtifacts;

before(async () => {
  tmp = await makeTempDir('modeld-disclosure-');
  broken = await makeBrokenArtifacts(path.join(tmp.dir, 'broken'));
});
after(() => tmp.cleanup());

describe('import failures', () => {
  let h: ApiHarness;
  before(async () => {
    h = await startApi({ artifacts: (config, store) => engineArtifacts({ store, artifactsRoot: dataPaths(config).artifacts }) });
  });
  after(() => h.close());

  test('the customer gets the reason with relative file names; the operator log gets the child’s stderr', async () => {
    const alice = await h.tenant();
    const auth = await alice.auth();
    for (const rel of ['config.json', 'tokenizer.json', 'onnx/model.onnx']) {
      const res = await h.app.inject({
        method: 'PUT',
        url: `/customers/${alice.customerId}/ai/uploads/fails/${rel}`,
        headers: { authorization: auth, 'content-type': 'application/octet-stream' },
        payload: await readFile(path.join(broken.failsAtLoad, rel)),
      });
      assert.equal(res.statusCode, 200, res.body);
    }
    const res = await h.app.inject({
      method: 'POST',
      url: `/customers/${alice.customerId}/ai/models`,
      headers: { authorization: auth },
      payload: { name: 'fails', modelType: 'imported', artifact: { upload: 'fails' } },
    });
    assert.equal(res.statusCode, 400, res.body);
    const body = res.json();
    assert.equal(body.code, 'MODELD_ERR_ARTIFACT_INVALID');
    assert.match(body.message, /^body\.artifact\.upload: onnx\/model\.onnx: onnxruntime cannot load the model/);
    const text = JSON.stringify(body);
    assert.ok(!text.includes(h.config.dataDir) && !text.includes('/tmp/'), `no host path: ${text}`);
    assert.ok(!/stderr|\bat .*\.ts:\d+/.test(text), `no stderr or stack: ${text}`);

    const logged = h.logs.find((l) => l.msg === 'import refused');
    assert.ok(logged, 'the refusal is in the operator log');
    assert.match(String(logged.stderrTail), /ModeldNoSuchOp/);
    assert.ok(String(logged.stderrTail).includes(h.config.dataDir) || String(logged.dir).includes(h.config.dataDir), 'the operator sees where');
  });
});

describe('deployment failures', () => {
  test('a model whose stored artifact is gone fails its deployment with a reason that names no host path', async () => {
    const store = openSqliteStore(':memory:');
    await store.migrate();
    try {
      const artifactsRoot = path.join(tmp.dir, 'artifacts-store');
      const model = await seedModel(store, 'customer-a', { artifactId: 'a'.repeat(64) });
      const deployment = await seedDeployment(store, model);
      const resolve = resolveArtifactFor({ store, artifactsRoot, pretrained: { get: async () => null } });
      const answer = await resolve(deployment);
      assert.equal(answer.ok, false);
      const message = answer.ok ? '' : answer.message;
      assert.match(message, /manifest\.json: cannot read \(ENOENT\)/);
      assert.ok(!message.includes(tmp.dir), `no host path: ${message}`);
    } finally {
      await store.close();
    }
  });
});

describe('replica exits', () => {
  test('lastError (what events and status carry) has no host path and no log lines; the operator gets the log tail', async () => {
    const warnings: Record<string, unknown>[] = [];
    const replicasDir = path.join(tmp.dir, 'replicas');
    const runtime = new ProcessRuntime({
      replicasDir,
      probeTimeoutMs: 2_000,
      killGraceMs: 1_000,
      stopGraceMs: 3_000,
      logger: { info: () => {}, warn: (fields, msg) => warnings.push({ ...fields, msg }) },
    });
    await runtime.start();
    try {
      // A load failure: the runner's reason names the file, not where the artifact lives.
      const bad = replicaSpec(broken.badChecksum);
      await runtime.createReplica(bad);
      const failed = await waitForReplica(runtime, bad.replicaId, (r) => r.phase === 'exited', 'exited');
      assert.equal(failed.loadFailed, true);
      assert.match(failed.lastError ?? '', /tokenizer\.json: checksum mismatch/);
      assert.ok(!(failed.lastError ?? '').includes(tmp.dir), `no host path: ${failed.lastError}`);

      // A crash: how it ended, not its log lines; those are the operator's.
      const good = replicaSpec(await makeModeldArtifact(path.join(tmp.dir, 'good')));
      await runtime.createReplica(good);
      const ready = await waitReady(runtime, good.replicaId);
      process.kill(ready.pid!, 'SIGKILL');
      const gone = await waitForReplica(runtime, good.replicaId, (r) => r.phase === 'exited', 'exited');
      assert.match(gone.lastError ?? '', /runner was killed by SIGKILL|gone without a final status/);
      assert.ok(!(gone.lastError ?? '').includes('\n') && !(gone.lastError ?? '').includes('"msg"'), `no log lines: ${gone.lastError}`);
      assert.match(gone.operatorDetail ?? '', /"msg":"ready"/);
      const logged = warnings.find((w) => w.replicaId === good.replicaId && w.msg === 'replica ended with an error');
      assert.match(String(logged?.logTail), /"msg":"ready"/, 'the operator log has the tail, once');
      assert.equal(warnings.filter((w) => w.replicaId === good.replicaId).length, 1);

      await runtime.deleteReplica(bad.replicaId, { graceMs: 500 });
      await runtime.deleteReplica(good.replicaId, { graceMs: 500 });
    } finally {
      await runtime.stop({ stopReplicas: true });
    }
  });
});
