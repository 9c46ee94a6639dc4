import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { processesWith } from '../fixtures/processes.js';
import { tinyConfig, writeTinyDataset, type TinyDataset } from '../fixtures/training-jobs-data.js';
import { startApi, type ApiHarness, type Tenant } from '../integration/api-harness.js';

/**
 * Finding 4 of issue 10, the training queue: with one training slot, a customer who queues many
 * jobs must not make every other customer wait behind all of them (the queue was one global
 * FIFO). Real parts: M2 through app.inject(), the real job manager and its worker processes.
 */

let h: ApiHarness;
let alice: Tenant;
let bob: Tenant;
const data = new Map<string, TinyDataset>();

before(async () => {
  // One slot (the default training.concurrency), so jobs start one after another.
  h = await startApi({ training: {} });
  alice = await h.tenant();
  bob = await h.tenant();
  for (const c of [alice, bob]) data.set(c.customerId, await writeTinyDataset(path.join(h.tmp.dir, 'uploads', c.customerId)));
});
after(() => h.close());

async function submit(c: Tenant, name: string): Promise<string> {
  const d = data.get(c.customerId)!;
  const res = await h.app.inject({
    method: 'POST',
    url: `/customers/${c.customerId}/ai/models`,
    headers: { authorization: await c.auth() },
    payload: { name, modelType: 'ecommerce-rnn', region: 'local', trainingData: { catalog: d.catalogUri, signals: d.signalsUri }, config: tinyConfig() },
  });
  assert.equal(res.statusCode, 200, res.body);
  return (JSON.parse(res.body) as { id: string }).id;
}

/** The id of the model's TrainingStarted event, once it has one (ids grow in the order events are written). */
async function startedAt(modelId: string): Promise<number> {
  for (;;) {
    const started = (await h.store.listEvents('model', modelId)).find((e) => e.reason === 'TrainingStarted');
    if (started) return started.id;
    const model = await h.store.getModelById(modelId);
    assert.equal(model?.state, 'TRAINING', `model ${modelId} ended without starting: ${model?.errorMessage}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("one customer's many queued jobs do not starve another's: B's job starts right after the job that was running", async () => {
  const a = [await submit(alice, 'a1'), await submit(alice, 'a2'), await submit(alice, 'a3'), await submit(alice, 'a4')];
  const b1 = await submit(bob, 'b1');
  const order = await Promise.all([...a, b1].map(async (id) => ({ id, at: await startedAt(id) })));
  const started = order.sort((x, y) => x.at - y.at).map((x) => (x.id === b1 ? 'b1' : `a${a.indexOf(x.id) + 1}`));
  assert.deepEqual(started, ['a1', 'b1', 'a2', 'a3', 'a4']);
});

test('a training worker, which parses the customer’s files, gets nothing of the server’s environment', async () => {
  process.env.MODELD_TEST_SECRET = 'server-secret-value';
  try {
    const id = await submit(bob, 'env-check');
    let environ: string[] | null = null;
    for (let i = 0; i < 300 && environ === null; i++) {
      for (const pid of await processesWith('worker-main', h.tmp.dir)) {
        environ = (await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '')).split('\0').filter((e) => e !== '');
        if (environ.length === 0) environ = null;
        else break;
      }
      if (environ === null) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(environ, `the worker of ${id} was seen running`);
    const names = environ.map((e) => e.split('=')[0]);
    assert.ok(!names.includes('MODELD_TEST_SECRET'), `leaked: ${names.join(', ')}`);
    // NODE_CHANNEL_*: node's own, for the IPC channel to the worker.
    assert.deepEqual(names.filter((n) => n !== 'PATH' && n !== 'TMPDIR' && !n.startsWith('NODE_CHANNEL_')), [], 'only PATH (and TMPDIR)');
  } finally {
    delete process.env.MODELD_TEST_SECRET;
  }
});
