import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { ModeldClient, ModeldClientError } from '../../src/client/index.js';
import { compileTrainingConfig } from '../../src/training/config.js';
import { CONFIG_KEYS, CONFIG_NAMES, familiesOf, validateConfig } from '../../web/src/training-keys.js';
import { startConsoleServer, type ConsoleServer } from '../fixtures/console.js';
import { makeModeldArtifact } from '../fixtures/models.js';

/**
 * What the console relies on besides the browser: its training-key table agrees with the
 * server's compiler; its TypeScript (DOM library, web/tsconfig.json) typechecks; the console
 * extensions (replicas, metrics) keep the customer scoping of the other deployment routes.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe("the console's training keys agree with the server", () => {
  test('every default, for every dataset and trainer config, is what the server compiles', () => {
    // The mlp configs, and transformer-RNN trainers (a base model's tokenizer; the dataset's family).
    for (const dataset of Object.keys(CONFIG_NAMES)) {
      for (const trainer of [...Object.keys(CONFIG_NAMES), 'e5_small_v2_rnn', 'bge_small_rnn']) {
        const given = { dataset_config: dataset, trainer_config: trainer };
        const compiled = compileTrainingConfig('ecommerce-rnn', given).flat;
        const fam = familiesOf(given);
        for (const k of CONFIG_KEYS) {
          if (k.key === 'dataset_config' || k.key === 'trainer_config') continue;
          assert.ok(k.key in compiled, `${k.key} is a key the server knows`);
          assert.deepEqual(k.defaultFor(fam.dataset, fam.trainer, given), compiled[k.key], `${k.key} for ${dataset}/${trainer}`);
        }
        assert.deepEqual(validateConfig(given), {});
      }
    }
  });

  test('a value the console refuses, the server refuses naming the same key; a value it accepts, the server accepts', () => {
    const base = { dataset_config: 'mlp_ecommerce', trainer_config: 'mlp_ecommerce' };
    const bad: Array<[string, unknown]> = [
      ['trainer_config.num_epochs', 65],
      ['trainer_config.num_epochs', 0],
      ['trainer_config.num_epochs', 2.5],
      ['trainer_config.monitor_patience', 0],
      ['trainer_config.trn_batch_size', 9000],
      ['trainer_config/text_processor_config', 'bpe_multi'],
      ['trainer_config.encoder_config.rnn_units_list', [100]],
      ['trainer_config.encoder_config.rnn_units_list', [16, 16, 16, 16, 16]],
      ['trainer_config.encoder_config.rnn_names_list', ['rnn']],
      ['trainer_config.encoder_config.emb_spdp', 1.5],
      ['dataset_config.pkid_col_name', ''],
      ['dataset_config.metrics_config.monitor_metric', 'ndcg@7'],
      ['dataset_config.metrics_config.monitor_metric', 'f1@5'],
    ];
    const transformer = { ...base, trainer_config: 'e5_small_v2_rnn' };
    assert.ok(validateConfig({ ...transformer, 'trainer_config/text_processor_config': 'word_en' })['trainer_config/text_processor_config']);
    assert.throws(
      () => compileTrainingConfig('ecommerce-rnn', { ...transformer, 'trainer_config/text_processor_config': 'word_en' }),
      (e: { details?: { field?: string } }) => e.details?.field === 'body.config.trainer_config/text_processor_config',
    );
    assert.ok(validateConfig({ ...base, trainer_config: 'nope' }).trainer_config);
    for (const [key, value] of bad) {
      const config = { ...base, [key]: value };
      assert.ok(validateConfig(config)[key], `the console refuses ${key}=${JSON.stringify(value)}`);
      assert.throws(
        () => compileTrainingConfig('ecommerce-rnn', config),
        (e: { details?: { field?: string } }) => (e.details?.field ?? '').startsWith(`body.config.${key}`),
        `the server refuses ${key}=${JSON.stringify(value)}`,
      );
    }
    const good = { ...base, 'trainer_config.num_epochs': 2, 'trainer_config.encoder_config.rnn_units_list': [16], 'trainer_config.trn_batch_size': null, 'dataset_config.weight_col_name': null };
    assert.deepEqual(validateConfig(good), {});
    compileTrainingConfig('ecommerce-rnn', good);
  });
});

test('the console typechecks (web/tsconfig.json: DOM library, the typed client)', () => {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '-p', path.join(root, 'web')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

describe('console extensions of the deployment routes', () => {
  let s: ConsoleServer;
  let other: ModeldClient;
  let deploymentId: string;

  before(async () => {
    s = await startConsoleServer('modeld-console-api-');
    const dir = await makeModeldArtifact(path.join(s.tmp.dir, 'model'));
    const { readFile } = await import('node:fs/promises');
    for (const f of ['manifest.json', 'model.onnx', 'tokenizer.json']) await s.api.uploadFile(`m/${f}`, await readFile(path.join(dir, f)));
    const model = await s.api.importModel({ name: 'm', upload: 'm' });
    deploymentId = (await s.api.createDeployment({ modelId: model.id, region: 'local', minReplicas: 1, maxReplicas: 1 })).id;
    await s.api.waitForDeployment(deploymentId, { timeoutMs: 90_000, intervalMs: 200 });
    const customer = await s.api.createCustomer('other');
    const creds = await s.api.createClient(customer.id, ['machinelearning.model']);
    other = new ModeldClient({ baseUrl: s.url, clientId: creds.clientId, clientSecret: creds.clientSecret });
  });
  after(async () => {
    await s?.close();
  });

  test('replicas: the ready replica with its pid and the gateway counts', async () => {
    const replicas = await s.api.listReplicas(deploymentId);
    assert.equal(replicas.length, 1);
    const [r] = replicas;
    assert.equal(r!.phase, 'ready');
    assert.ok(Number.isInteger(r!.pid) && r!.pid! > 0);
    assert.equal(r!.pod, null);
    assert.equal(r!.routed, true);
    assert.equal(r!.inflight, 0);
    assert.equal(r!.generation, 1);
  });

  test('metrics: an hour of 10 s samples at most, oldest first', async () => {
    const m = await s.api.getDeploymentMetrics(deploymentId);
    assert.equal(m.intervalSeconds, 10);
    assert.equal(m.capacity, 360);
    assert.ok(Array.isArray(m.samples));
  });

  test("another customer's deployment and an unknown one are both 404; no token is 401", async () => {
    for (const call of [() => other.listReplicas(deploymentId), () => other.getDeploymentMetrics(deploymentId), () => s.api.listReplicas('nope'), () => s.api.getDeploymentMetrics('nope')]) {
      await assert.rejects(call(), (e: ModeldClientError) => e.status === 404 && e.code === 'MODELD_ERR_DEPLOYMENT_NOT_FOUND');
    }
    const res = await fetch(`${s.url}/customers/${s.creds.customerId}/ai/deployments/${deploymentId}/replicas`);
    assert.equal(res.status, 401);
    await res.arrayBuffer();
  });
});
