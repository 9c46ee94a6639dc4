/**
 * The one behaviour suite every Store implementation must pass (SQLite, PostgreSQL). Each
 * describe group opens its own empty, migrated store and closes it afterwards; tests inside a
 * group use fresh UUIDs so they do not see each other's rows.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import {
  initialStatus,
  type ClientRecord,
  type Customer,
  type DeploymentRecord,
  type DeploymentStatus,
  type ModelRecord,
  type NewEvent,
} from '../../src/domain/index.js';
import type { ErrorCode } from '../../src/errors/index.js';
import type { ChunkingJobRecord, Store, TrainingJobRecord } from '../../src/store/index.js';

export interface OpenedStore {
  /** An empty store, already migrated. */
  store: Store;
  /** Closes `store` and drops its data (file, database). */
  cleanup(): Promise<void>;
  /** A second, not yet migrated handle on the same data; the test closes it. */
  reopen(): Promise<Store>;
}

/** Instant n seconds after 2025-01-01T00:00:00Z, as toISOString() writes it. */
const t = (n: number): string => new Date(Date.UTC(2025, 0, 1) + n * 1000).toISOString();

function rejectsWith(code: ErrorCode, field?: string) {
  return (err: unknown): boolean => {
    const e = err as { code?: unknown; details?: { field?: unknown } };
    assert.equal(e.code, code, `expected ${code}, got ${String(e.code)}: ${(err as Error).message}`);
    if (field !== undefined) assert.equal(e.details?.field, field);
    return true;
  };
}

/** JSON with the shapes that break naive storage: nesting, unicode, escapes, numbers at the edges. */
const TRICKY_JSON: Record<string, unknown> = {
  nested: { a: [1, [2, [3, { deep: { deeper: { deepest: ['x'] } } }]]], empty: {}, none: [] },
  unicode: 'héllo wörld — 日本語 — עברית — 😀👩‍👩‍👧 — e\u0301',
  'key with "quotes" and \\ backslash': 'and a \\u0000 that is only text, \\\\u0000 too',
  '日本': { '🔑': true },
  escapes: 'tab\there\nnewline "quoted" \u001f \u2028',
  numbers: [0, 1, -1, 0.1, 0.30000000000000004, 1e21, 1.5e-300, 9007199254740991, -9007199254740991, 123456.789],
  literals: [true, false, null],
  nullValue: null,
  longString: 'x'.repeat(100_000),
};

function newCustomer(over: Partial<Customer> = {}): Customer {
  return { id: randomUUID(), name: 'Acme Search', createdAt: t(0), ...over };
}

function newClient(customerId: string, over: Partial<ClientRecord> = {}): ClientRecord {
  return {
    id: randomUUID(),
    customerId,
    secretHash: 'scrypt$16384$8$1$c2FsdA$aGFzaA',
    scopes: ['machinelearning.model', 'machinelearning.predict'],
    createdAt: t(1),
    disabledAt: null,
    ...over,
  };
}

function newModel(customerId: string, over: Partial<ModelRecord> = {}): ModelRecord {
  return {
    id: randomUUID(),
    customerId,
    name: 'catalog encoder',
    modelType: 'ecommerce-rnn',
    description: 'trained on the spring catalog',
    region: 'local',
    vectorSize: 256,
    state: 'AVAILABLE',
    errorMessage: null,
    artifactId: 'a'.repeat(64),
    trainingData: { catalog: 'catalog.jsonl', signals: 'signals.jsonl' },
    config: { epochs: 3, encoder: { kind: 'gru', units: [128, 64] }, unknownKey: 'kept' },
    trainingStarted: t(2),
    trainingCompleted: t(3),
    trainingMetrics: { epochs: [{ epoch: 1, mrr: 0.41 }], best: { 'ndcg@10': 0.5 } },
    createdBy: 'client-1',
    createdAt: t(1),
    updatedAt: t(3),
    ...over,
  };
}

function status(over: Partial<DeploymentStatus> = {}): DeploymentStatus {
  return { ...initialStatus(1), ...over };
}

function newDeployment(customerId: string, modelId: string, over: Partial<DeploymentRecord> = {}): DeploymentRecord {
  return {
    id: randomUUID(),
    customerId,
    modelId,
    region: 'local',
    minReplicas: 1,
    maxReplicas: 2,
    config: { batchSize: 8, labels: ['a', 'b'] },
    state: 'DEPLOYING',
    generation: 1,
    status: status(),
    deployedAt: t(10),
    createdBy: 'client-1',
    createdAt: t(10),
    updatedAt: t(10),
    lastUsedAt: null,
    deletionRequestedAt: null,
    autoscaling: null,
    ...over,
  };
}

function newEvent(objectId: string, customerId: string, over: Partial<NewEvent> = {}): NewEvent {
  return {
    objectKind: 'deployment',
    objectId,
    customerId,
    type: 'Normal',
    reason: 'ReplicaStarted',
    message: 'replica r1 started',
    data: { replicaId: 'r1', load: { inflight: 2 } },
    at: t(20),
    ...over,
  };
}

function newJob(modelId: string, customerId: string, over: Partial<TrainingJobRecord> = {}): TrainingJobRecord {
  return {
    id: randomUUID(),
    modelId,
    customerId,
    state: 'QUEUED',
    progress: null,
    checkpoint: null,
    attempts: 0,
    error: null,
    createdAt: t(5),
    updatedAt: t(5),
    ...over,
  };
}

export function storeContract(name: string, open: () => Promise<OpenedStore>): void {
  /** Registers a describe group with its own fresh store; `body` reads it through the getters. */
  function group(title: string, body: (ctx: { readonly store: Store; readonly opened: OpenedStore }) => void): void {
    describe(title, () => {
      let opened: OpenedStore | undefined;
      before(async () => {
        opened = await open();
      });
      after(async () => {
        await opened?.cleanup();
      });
      body({
        get store() {
          assert.ok(opened, 'store not opened');
          return opened.store;
        },
        get opened() {
          assert.ok(opened, 'store not opened');
          return opened;
        },
      });
    });
  }

  /** A customer and an AVAILABLE model of theirs, for tests that need a parent. */
  async function seedModel(store: Store, over: Partial<ModelRecord> = {}) {
    const customer = newCustomer();
    await store.createCustomer(customer);
    const model = newModel(customer.id, over);
    await store.createModel(model);
    return { customer, model };
  }

  describe(`store contract: ${name}`, () => {
    group('migrations and durability', (ctx) => {
      it('migrate() is idempotent and keeps the data', async () => {
        const c = newCustomer();
        await ctx.store.createCustomer(c);
        await ctx.store.migrate();
        await ctx.store.migrate();
        assert.deepEqual(await ctx.store.getCustomer(c.id), c);
      });

      it('two handles migrating the same database at once both succeed', async () => {
        const [a, b] = [await ctx.opened.reopen(), await ctx.opened.reopen()];
        try {
          await Promise.all([a.migrate(), b.migrate()]);
          const c = newCustomer();
          await a.createCustomer(c);
          assert.deepEqual(await b.getCustomer(c.id), c);
        } finally {
          await Promise.all([a.close(), b.close()]);
        }
      });

      it('everything written survives closing and reopening', async () => {
        const first = await ctx.opened.reopen();
        await first.migrate();
        const { customer, model } = await seedModel(first, { config: TRICKY_JSON });
        const client = newClient(customer.id);
        await first.createClient(client);
        const deployment = newDeployment(customer.id, model.id, { config: TRICKY_JSON });
        await first.createDeployment(deployment);
        const event = await first.appendEvent(newEvent(deployment.id, customer.id));
        const job = newJob(model.id, customer.id, { progress: { epoch: 2, of: 5 } });
        await first.createTrainingJob(job);
        await first.close();

        const second = await ctx.opened.reopen();
        try {
          await second.migrate();
          assert.deepEqual(await second.getCustomer(customer.id), customer);
          assert.deepEqual(await second.getClient(client.id), client);
          assert.deepEqual(await second.getModelById(model.id), model);
          assert.deepEqual(await second.getDeploymentById(deployment.id), deployment);
          assert.deepEqual(await second.listEvents('deployment', deployment.id), [event]);
          assert.deepEqual(await second.getTrainingJob(job.id), job);
        } finally {
          await second.close();
        }
      });
    });

    group('customers and clients', (ctx) => {
      it('creates and reads a customer; unknown ids are null', async () => {
        const c = newCustomer({ name: null });
        await ctx.store.createCustomer(c);
        assert.deepEqual(await ctx.store.getCustomer(c.id), c);
        assert.equal(await ctx.store.getCustomer(randomUUID()), null);
      });

      it('lists customers oldest first', async () => {
        const later = newCustomer({ createdAt: t(500) });
        const earlier = newCustomer({ createdAt: t(400) });
        await ctx.store.createCustomer(later);
        await ctx.store.createCustomer(earlier);
        const ids = (await ctx.store.listCustomers()).map((c) => c.id);
        assert.ok(ids.includes(earlier.id) && ids.includes(later.id));
        assert.ok(ids.indexOf(earlier.id) < ids.indexOf(later.id));
      });

      it('refuses a second customer with the same id', async () => {
        const c = newCustomer();
        await ctx.store.createCustomer(c);
        await assert.rejects(ctx.store.createCustomer({ ...c, name: 'other' }), rejectsWith('MODELD_ERR_CONFLICT'));
        assert.deepEqual(await ctx.store.getCustomer(c.id), c);
      });

      it('creates, reads and lists clients per customer, scopes round-trip', async () => {
        const a = newCustomer();
        const b = newCustomer();
        await ctx.store.createCustomer(a);
        await ctx.store.createCustomer(b);
        const a1 = newClient(a.id, { createdAt: t(2) });
        const a2 = newClient(a.id, { createdAt: t(1), scopes: [], disabledAt: t(9) });
        const b1 = newClient(b.id, { scopes: ['modeld.admin'] });
        for (const c of [a1, a2, b1]) await ctx.store.createClient(c);
        assert.deepEqual(await ctx.store.getClient(a1.id), a1);
        assert.deepEqual(await ctx.store.getClient(a2.id), a2);
        assert.deepEqual(await ctx.store.listClients(a.id), [a2, a1]);
        assert.deepEqual(await ctx.store.listClients(b.id), [b1]);
        assert.deepEqual(await ctx.store.listClients(randomUUID()), []);
        assert.equal(await ctx.store.getClient(randomUUID()), null);
      });

      it('refuses a client of an unknown customer and a duplicate client id', async () => {
        await assert.rejects(ctx.store.createClient(newClient(randomUUID())), rejectsWith('MODELD_ERR_CUSTOMER_NOT_FOUND'));
        const c = newCustomer();
        await ctx.store.createCustomer(c);
        const client = newClient(c.id);
        await ctx.store.createClient(client);
        await assert.rejects(ctx.store.createClient({ ...client, secretHash: 'x' }), rejectsWith('MODELD_ERR_CONFLICT'));
        assert.deepEqual(await ctx.store.getClient(client.id), client);
      });
      it('disableClient sets disabledAt once and is idempotent; null for unknown ids', async () => {
        const c = newCustomer();
        await ctx.store.createCustomer(c);
        const client = newClient(c.id);
        await ctx.store.createClient(client);
        const disabled = { ...client, disabledAt: t(70) };
        assert.deepEqual(await ctx.store.disableClient(client.id, t(70)), disabled);
        assert.deepEqual(await ctx.store.disableClient(client.id, t(80)), disabled);
        assert.deepEqual(await ctx.store.getClient(client.id), disabled);
        assert.deepEqual(await ctx.store.listClients(c.id), [disabled]);
        assert.equal(await ctx.store.disableClient(randomUUID(), t(90)), null);
      });
    });

    group('models', (ctx) => {
      it('round-trips every field, and hides a model from other customers', async () => {
        const { customer, model } = await seedModel(ctx.store);
        assert.deepEqual(await ctx.store.getModel(customer.id, model.id), model);
        assert.deepEqual(await ctx.store.getModelById(model.id), model);
        assert.equal(await ctx.store.getModel(randomUUID(), model.id), null);
        assert.equal(await ctx.store.getModel(customer.id, randomUUID()), null);
        assert.equal(await ctx.store.getModelById(randomUUID()), null);
      });

      it('round-trips a model with every nullable field null', async () => {
        const { customer } = await seedModel(ctx.store);
        const bare = newModel(customer.id, {
          description: null,
          region: null,
          vectorSize: null,
          state: 'TRAINING',
          artifactId: null,
          trainingData: null,
          config: null,
          trainingStarted: null,
          trainingCompleted: null,
          trainingMetrics: null,
        });
        await ctx.store.createModel(bare);
        assert.deepEqual(await ctx.store.getModelById(bare.id), bare);
      });

      it('refuses a duplicate model id', async () => {
        const { model } = await seedModel(ctx.store);
        await assert.rejects(ctx.store.createModel({ ...model, name: 'again' }), rejectsWith('MODELD_ERR_CONFLICT'));
        assert.deepEqual(await ctx.store.getModelById(model.id), model);
      });

      it("lists a customer's models oldest first, and models by state", async () => {
        const c = newCustomer();
        const other = newCustomer();
        await ctx.store.createCustomer(c);
        await ctx.store.createCustomer(other);
        const newest = newModel(c.id, { createdAt: t(30), state: 'TRAINING' });
        const oldest = newModel(c.id, { createdAt: t(10) });
        const middle = newModel(c.id, { createdAt: t(20), state: 'TRAINING_FAILED', errorMessage: 'no signals' });
        const others = newModel(other.id, { createdAt: t(15), state: 'TRAINING' });
        for (const m of [newest, oldest, middle, others]) await ctx.store.createModel(m);
        assert.deepEqual(await ctx.store.listModels(c.id), [oldest, middle, newest]);
        assert.deepEqual(await ctx.store.listModels(randomUUID()), []);
        const training = (await ctx.store.listModelsByState('TRAINING')).filter((m) => [newest.id, others.id].includes(m.id));
        assert.deepEqual(training, [others, newest]);
        assert.ok((await ctx.store.listModelsByState('TRAINING')).every((m) => m.state === 'TRAINING'));
        assert.deepEqual(
          (await ctx.store.listModelsByState('TRAINING_FAILED')).filter((m) => m.customerId === c.id),
          [middle],
        );
      });

      it('updateModel applies the patch and updatedAt, leaves the rest, and is null for unknown ids', async () => {
        const { model } = await seedModel(ctx.store, { state: 'TRAINING', trainingMetrics: null, trainingCompleted: null });
        const metrics = { epochs: [{ epoch: 1, loss: 0.25, 'mrr@10': 0.5 }], note: 'ünïcödé ✓' };
        const updated = await ctx.store.updateModel(
          model.id,
          { state: 'AVAILABLE', trainingMetrics: metrics, trainingCompleted: t(50), vectorSize: 128, errorMessage: undefined },
          t(51),
        );
        const expected = { ...model, state: 'AVAILABLE' as const, trainingMetrics: metrics, trainingCompleted: t(50), vectorSize: 128, updatedAt: t(51) };
        assert.deepEqual(updated, expected);
        assert.deepEqual(await ctx.store.getModelById(model.id), expected);

        const cleared = await ctx.store.updateModel(model.id, { description: null, artifactId: null }, t(52));
        assert.equal(cleared?.description, null);
        assert.equal(cleared?.artifactId, null);
        assert.deepEqual(await ctx.store.updateModel(model.id, {}, t(53)), { ...expected, description: null, artifactId: null, updatedAt: t(53) });
        assert.equal(await ctx.store.updateModel(randomUUID(), { state: 'AVAILABLE' }, t(54)), null);
      });

      it('updateModel replaces the training config (the compiled one a training run reports) and can clear it', async () => {
        const { model } = await seedModel(ctx.store, { state: 'TRAINING', config: { dataset_config: 'mlp_ecommerce', extra: [1, 'x'] } });
        const compiled = { ...TRICKY_JSON, dataset_config: 'mlp_ecommerce', 'trainer_config.num_epochs': 2 };
        const updated = await ctx.store.updateModel(model.id, { config: compiled, state: 'AVAILABLE' }, t(60));
        assert.deepEqual(updated?.config, compiled);
        assert.deepEqual((await ctx.store.getModelById(model.id))?.config, compiled);
        assert.equal((await ctx.store.updateModel(model.id, { config: null }, t(61)))?.config, null);
        await assert.rejects(ctx.store.updateModel(model.id, { config: { bad: 'nul \u0000' } }, t(62)), rejectsWith('MODELD_ERR_VALIDATION', 'config'));
        assert.equal((await ctx.store.getModelById(model.id))?.config, null);
      });

      it('deleteModel is refused while any deployment, even a deleting one, references the model', async () => {
        const { customer, model } = await seedModel(ctx.store);
        const d = newDeployment(customer.id, model.id);
        await ctx.store.createDeployment(d);
        assert.equal(await ctx.store.deleteModel(model.id), false);
        await ctx.store.requestDeploymentDeletion(d.id, t(60));
        assert.equal(await ctx.store.deleteModel(model.id), false);
        assert.deepEqual(await ctx.store.getModelById(model.id), model);

        await ctx.store.deleteDeployment(d.id);
        assert.equal(await ctx.store.deleteModel(model.id), true);
        assert.equal(await ctx.store.getModelById(model.id), null);
        assert.equal(await ctx.store.getModel(customer.id, model.id), null);
        assert.deepEqual(await ctx.store.listModels(customer.id), []);
        // Deleting what is already gone is not an error.
        assert.equal(await ctx.store.deleteModel(model.id), true);
      });

      it("deleting a model removes its training jobs", async () => {
        const { customer, model } = await seedModel(ctx.store);
        const job = newJob(model.id, customer.id);
        await ctx.store.createTrainingJob(job);
        assert.equal(await ctx.store.deleteModel(model.id), true);
        assert.equal(await ctx.store.getTrainingJob(job.id), null);
        assert.equal(await ctx.store.getTrainingJobByModel(model.id), null);
      });

      it('a deployment created concurrently with deleteModel never outlives its model', async () => {
        for (let i = 0; i < 10; i++) {
          const { customer, model } = await seedModel(ctx.store);
          const d = newDeployment(customer.id, model.id);
          const [created, deleted] = await Promise.allSettled([ctx.store.createDeployment(d), ctx.store.deleteModel(model.id)]);
          const modelLeft = await ctx.store.getModelById(model.id);
          const deploymentLeft = await ctx.store.getDeploymentById(d.id);
          if (created.status === 'rejected') rejectsWith('MODELD_ERR_MODEL_NOT_FOUND')(created.reason);
          assert.equal(deleted.status, 'fulfilled');
          if (deploymentLeft) {
            assert.ok(modelLeft, 'a deployment exists but its model was deleted');
            assert.equal((deleted as PromiseFulfilledResult<boolean>).value, false);
          } else {
            assert.equal(modelLeft, null);
            assert.equal(created.status, 'rejected');
          }
          if (deploymentLeft) await ctx.store.deleteDeployment(d.id);
        }
      });
    });

    group('deployments', (ctx) => {
      async function seedDeployment(over: Partial<DeploymentRecord> = {}) {
        const { customer, model } = await seedModel(ctx.store);
        const d = newDeployment(customer.id, model.id, over);
        await ctx.store.createDeployment(d);
        return { customer, model, d };
      }

      it('round-trips every field, and hides a deployment from other customers', async () => {
        const { customer, d } = await seedDeployment({ lastUsedAt: t(11), status: status({ replicas: 2, readyReplicas: 1, conditions: [] }) });
        assert.deepEqual(await ctx.store.getDeployment(customer.id, d.id), d);
        assert.deepEqual(await ctx.store.getDeploymentById(d.id), d);
        assert.equal(await ctx.store.getDeployment(randomUUID(), d.id), null);
        assert.equal(await ctx.store.getDeployment(customer.id, randomUUID()), null);
        assert.equal(await ctx.store.getDeploymentById(randomUUID()), null);
      });

      it('refuses a deployment of an unknown model and a duplicate id', async () => {
        const c = newCustomer();
        await ctx.store.createCustomer(c);
        await assert.rejects(ctx.store.createDeployment(newDeployment(c.id, randomUUID())), rejectsWith('MODELD_ERR_MODEL_NOT_FOUND'));
        const { d } = await seedDeployment();
        await assert.rejects(ctx.store.createDeployment({ ...d, region: 'elsewhere' }), rejectsWith('MODELD_ERR_CONFLICT'));
        assert.deepEqual(await ctx.store.getDeploymentById(d.id), d);
      });

      it('lists oldest first per customer (including deleting ones), per model, and every id', async () => {
        const { customer, model } = await seedModel(ctx.store);
        const second = newDeployment(customer.id, model.id, { createdAt: t(20) });
        const first = newDeployment(customer.id, model.id, { createdAt: t(10) });
        const third = newDeployment(customer.id, model.id, { createdAt: t(30) });
        for (const d of [second, first, third]) await ctx.store.createDeployment(d);
        const deleting = await ctx.store.requestDeploymentDeletion(third.id, t(40));
        assert.ok(deleting);
        const other = await seedDeployment();

        assert.deepEqual(await ctx.store.listDeployments(customer.id), [first, second, deleting]);
        assert.deepEqual(await ctx.store.listDeploymentsByModel(model.id), [first, second, deleting]);
        assert.deepEqual(await ctx.store.listDeployments(randomUUID()), []);
        assert.deepEqual(await ctx.store.listDeploymentsByModel(randomUUID()), []);
        const all = await ctx.store.listAllDeploymentIds();
        for (const id of [first.id, second.id, third.id, other.d.id]) assert.ok(all.includes(id), `${id} missing from listAllDeploymentIds`);
        assert.equal(new Set(all).size, all.length);
      });

      it('updateDeploymentSpec applies the patch, increments generation, keeps status', async () => {
        const { customer, d } = await seedDeployment({ state: 'DEPLOYED', status: status({ readyReplicas: 1, replicas: 1, observedGeneration: 1 }) });
        const newModelRecord = newModel(customer.id);
        await ctx.store.createModel(newModelRecord);
        const config = { nested: { list: [1, 'zwei', { drei: 3 }] }, emoji: '🚀' };
        const updated = await ctx.store.updateDeploymentSpec(d.id, { minReplicas: 2, maxReplicas: 4, config, modelId: newModelRecord.id }, t(70));
        const expected = { ...d, minReplicas: 2, maxReplicas: 4, config, modelId: newModelRecord.id, generation: 2, updatedAt: t(70) };
        assert.deepEqual(updated, expected);
        assert.deepEqual(await ctx.store.getDeploymentById(d.id), expected);
        const again = await ctx.store.updateDeploymentSpec(d.id, { maxReplicas: 5 }, t(71));
        assert.equal(again?.generation, 3);
        assert.equal(again?.minReplicas, 2);
        assert.equal(await ctx.store.updateDeploymentSpec(randomUUID(), { maxReplicas: 5 }, t(72)), null);
        await assert.rejects(ctx.store.updateDeploymentSpec(d.id, { modelId: randomUUID() }, t(73)), rejectsWith('MODELD_ERR_MODEL_NOT_FOUND'));
        assert.equal((await ctx.store.getDeploymentById(d.id))?.generation, 3);
      });

      it('keeps the autoscaling extension: created, patched, cleared, and left alone by other patches', async () => {
        const { d } = await seedDeployment({ autoscaling: { targetConcurrencyPerReplica: 2.5 } });
        assert.deepEqual((await ctx.store.getDeploymentById(d.id))?.autoscaling, { targetConcurrencyPerReplica: 2.5 });
        const patched = await ctx.store.updateDeploymentSpec(d.id, { autoscaling: { targetConcurrencyPerReplica: 8 } }, t(80));
        assert.deepEqual(patched?.autoscaling, { targetConcurrencyPerReplica: 8 });
        const other = await ctx.store.updateDeploymentSpec(d.id, { maxReplicas: 3 }, t(81));
        assert.deepEqual(other?.autoscaling, { targetConcurrencyPerReplica: 8 });
        const cleared = await ctx.store.updateDeploymentSpec(d.id, { autoscaling: null }, t(82));
        assert.equal(cleared?.autoscaling, null);
        assert.equal((await ctx.store.getDeploymentById(d.id))?.autoscaling, null);
      });

      it('updateDeploymentSpec refuses a deployment being deleted and changes nothing', async () => {
        const { d } = await seedDeployment();
        const deleting = await ctx.store.requestDeploymentDeletion(d.id, t(80));
        assert.equal(await ctx.store.updateDeploymentSpec(d.id, { maxReplicas: 9 }, t(81)), null);
        assert.deepEqual(await ctx.store.getDeploymentById(d.id), deleting);
      });

      it('requestDeploymentDeletion marks DELETING once, increments generation once, and is idempotent', async () => {
        const { d } = await seedDeployment({ state: 'DEPLOYED' });
        const first = await ctx.store.requestDeploymentDeletion(d.id, t(90));
        const expected = { ...d, state: 'DELETING' as const, deletionRequestedAt: t(90), generation: 2, updatedAt: t(90) };
        assert.deepEqual(first, expected);
        assert.deepEqual(await ctx.store.requestDeploymentDeletion(d.id, t(95)), expected);
        assert.deepEqual(await ctx.store.getDeploymentById(d.id), expected);
        assert.equal(await ctx.store.requestDeploymentDeletion(randomUUID(), t(96)), null);
      });

      it('concurrent deletion requests increment generation exactly once', async () => {
        const { d } = await seedDeployment();
        const results = await Promise.all([1, 2, 3, 4, 5].map((i) => ctx.store.requestDeploymentDeletion(d.id, t(100 + i))));
        const final = await ctx.store.getDeploymentById(d.id);
        assert.equal(final?.generation, 2);
        assert.equal(final?.state, 'DELETING');
        for (const r of results) assert.deepEqual(r, final);
      });

      it('writeDeploymentStatus applies only when generation and deletion state match', async () => {
        const { d } = await seedDeployment();
        const ready = status({ replicas: 1, readyReplicas: 1, observedGeneration: 1, conditions: [
          { type: 'Available', status: 'True', reason: 'MinimumReplicasReady', message: '1/1 ready — ✓', lastTransitionTime: t(111) },
        ] });
        assert.equal(await ctx.store.writeDeploymentStatus(d.id, { state: 'DEPLOYED', status: ready }, { generation: 1, deleting: false }, t(111)), true);
        const written = { ...d, state: 'DEPLOYED' as const, status: ready, updatedAt: t(111) };
        assert.deepEqual(await ctx.store.getDeploymentById(d.id), written);

        // Wrong generation, wrong deletion state, unknown id: false and nothing written.
        const failed = status({ failure: { reason: 'CrashLoopBackOff', message: 'exit 1', at: t(112) } });
        assert.equal(await ctx.store.writeDeploymentStatus(d.id, { state: 'DEPLOY_FAILED', status: failed }, { generation: 2, deleting: false }, t(112)), false);
        assert.equal(await ctx.store.writeDeploymentStatus(d.id, { state: 'DEPLOY_FAILED', status: failed }, { generation: 0, deleting: false }, t(112)), false);
        assert.equal(await ctx.store.writeDeploymentStatus(d.id, { state: 'DEPLOY_FAILED', status: failed }, { generation: 1, deleting: true }, t(112)), false);
        assert.equal(await ctx.store.writeDeploymentStatus(randomUUID(), { state: 'DEPLOY_FAILED', status: failed }, { generation: 1, deleting: false }, t(112)), false);
        assert.deepEqual(await ctx.store.getDeploymentById(d.id), written);

        // After a spec change the old generation is stale.
        const changed = await ctx.store.updateDeploymentSpec(d.id, { maxReplicas: 3 }, t(113));
        assert.equal(await ctx.store.writeDeploymentStatus(d.id, { state: 'DEPLOYED', status: ready }, { generation: 1, deleting: false }, t(114)), false);
        assert.deepEqual(await ctx.store.getDeploymentById(d.id), changed);

        // After a deletion request only a write for the deleting generation applies.
        const deleting = await ctx.store.requestDeploymentDeletion(d.id, t(115));
        assert.equal(deleting?.generation, 3);
        assert.equal(await ctx.store.writeDeploymentStatus(d.id, { state: 'DEPLOYED', status: ready }, { generation: 3, deleting: false }, t(116)), false);
        assert.equal(await ctx.store.writeDeploymentStatus(d.id, { state: 'DEPLOYED', status: ready }, { generation: 2, deleting: false }, t(116)), false);
        const draining = status({ replicas: 1, observedGeneration: 3 });
        assert.equal(await ctx.store.writeDeploymentStatus(d.id, { state: 'DELETE_FAILED', status: draining }, { generation: 3, deleting: true }, t(117)), true);
        assert.deepEqual(await ctx.store.getDeploymentById(d.id), { ...deleting, state: 'DELETE_FAILED', status: draining, updatedAt: t(117) });
      });

      it('two concurrent status writes for the same generation both apply, the last one wins', async () => {
        const { d } = await seedDeployment();
        const a = status({ replicas: 1, observedGeneration: 1 });
        const b = status({ replicas: 2, readyReplicas: 2, observedGeneration: 1 });
        const results = await Promise.all([
          ctx.store.writeDeploymentStatus(d.id, { state: 'DEPLOYING', status: a }, { generation: 1, deleting: false }, t(120)),
          ctx.store.writeDeploymentStatus(d.id, { state: 'DEPLOYED', status: b }, { generation: 1, deleting: false }, t(121)),
        ]);
        assert.deepEqual(results, [true, true]);
        const final = await ctx.store.getDeploymentById(d.id);
        assert.ok(
          (final?.state === 'DEPLOYING' && isDeepStrictEqual(final.status, a)) || (final?.state === 'DEPLOYED' && isDeepStrictEqual(final.status, b)),
          'the final status is one of the two writes, whole',
        );
      });

      it('a status write racing a spec change or a deletion never overwrites the newer desired state', async () => {
        for (let i = 0; i < 15; i++) {
          const { d } = await seedDeployment();
          const ready = status({ replicas: 1, readyReplicas: 1, observedGeneration: 1 });
          const write = () => ctx.store.writeDeploymentStatus(d.id, { state: 'DEPLOYED', status: ready }, { generation: 1, deleting: false }, t(130));
          const change =
            i % 2 === 0 ? () => ctx.store.updateDeploymentSpec(d.id, { maxReplicas: 7 }, t(131)) : () => ctx.store.requestDeploymentDeletion(d.id, t(131));
          const [wrote] = i % 3 === 0 ? await Promise.all([write(), change()]) : (await Promise.all([change(), write()])).reverse();
          const final = await ctx.store.getDeploymentById(d.id);
          assert.ok(final);
          assert.equal(final.generation, 2);
          if (i % 2 === 0) {
            assert.equal(final.maxReplicas, 7);
            assert.equal(final.deletionRequestedAt, null);
            assert.equal(final.state, wrote ? 'DEPLOYED' : 'DEPLOYING');
          } else {
            assert.equal(final.state, 'DELETING', 'a stale DEPLOYED write must not hide the deletion');
            assert.equal(final.deletionRequestedAt, t(131));
          }
          assert.deepEqual(final.status, wrote ? ready : d.status);
        }
      });

      it('deleteDeployment removes the record; removing a missing one is fine', async () => {
        const { customer, model, d } = await seedDeployment();
        await ctx.store.deleteDeployment(d.id);
        assert.equal(await ctx.store.getDeploymentById(d.id), null);
        assert.equal(await ctx.store.getDeployment(customer.id, d.id), null);
        assert.deepEqual(await ctx.store.listDeploymentsByModel(model.id), []);
        assert.ok(!(await ctx.store.listAllDeploymentIds()).includes(d.id));
        await ctx.store.deleteDeployment(d.id);
        await ctx.store.deleteDeployment(randomUUID());
      });

      it('touchDeployment only moves lastUsedAt forward', async () => {
        const { d } = await seedDeployment();
        await ctx.store.touchDeployment(d.id, t(200));
        assert.equal((await ctx.store.getDeploymentById(d.id))?.lastUsedAt, t(200));
        await ctx.store.touchDeployment(d.id, t(199));
        assert.equal((await ctx.store.getDeploymentById(d.id))?.lastUsedAt, t(200));
        await ctx.store.touchDeployment(d.id, '2025-01-01T00:03:20.001Z');
        assert.equal((await ctx.store.getDeploymentById(d.id))?.lastUsedAt, '2025-01-01T00:03:20.001Z');
        // The same instant written with an offset is not later; an earlier instant with a later-sorting text is not either.
        await ctx.store.touchDeployment(d.id, '2025-01-01T01:03:20.001+01:00');
        await ctx.store.touchDeployment(d.id, '2025-01-01T09:00:00.000+10:00');
        assert.equal((await ctx.store.getDeploymentById(d.id))?.lastUsedAt, '2025-01-01T00:03:20.001Z');
        await ctx.store.touchDeployment(randomUUID(), t(300));
        await assert.rejects(ctx.store.touchDeployment(d.id, 'yesterday'), rejectsWith('MODELD_ERR_VALIDATION', 'at'));
        // Nothing but lastUsedAt moves.
        const after = await ctx.store.getDeploymentById(d.id);
        assert.deepEqual(after, { ...d, lastUsedAt: '2025-01-01T00:03:20.001Z' });
      });

      it('concurrent touches leave the latest instant', async () => {
        const { d } = await seedDeployment();
        const instants = [5, 3, 9, 1, 7, 8, 2].map((n) => t(1000 + n));
        await Promise.all(instants.map((at) => ctx.store.touchDeployment(d.id, at)));
        assert.equal((await ctx.store.getDeploymentById(d.id))?.lastUsedAt, t(1009));
      });
    });

    group('JSON columns', (ctx) => {
      it('round-trip nested, unicode and numeric edge values exactly', async () => {
        const { customer, model } = await seedModel(ctx.store, { config: TRICKY_JSON, trainingMetrics: { ...TRICKY_JSON, m: 1 } });
        assert.deepEqual(await ctx.store.getModelById(model.id), model);
        const d = newDeployment(customer.id, model.id, { config: TRICKY_JSON });
        await ctx.store.createDeployment(d);
        assert.deepEqual(await ctx.store.getDeploymentById(d.id), d);
        const patched = await ctx.store.updateDeploymentSpec(d.id, { config: { ...TRICKY_JSON, extra: [[]] } }, t(1));
        assert.deepEqual((await ctx.store.getDeploymentById(d.id))?.config, { ...TRICKY_JSON, extra: [[]] });
        assert.deepEqual(patched?.config, { ...TRICKY_JSON, extra: [[]] });
        const e = await ctx.store.appendEvent(newEvent(d.id, customer.id, { data: TRICKY_JSON, message: 'ünïcödé 😀' }));
        assert.deepEqual(await ctx.store.listEvents('deployment', d.id), [e]);
        assert.deepEqual(e.data, TRICKY_JSON);
        const job = newJob(model.id, customer.id, { progress: TRICKY_JSON });
        await ctx.store.createTrainingJob(job);
        assert.deepEqual(await ctx.store.getTrainingJob(job.id), job);
      });

      it('refuse U+0000 and unpaired surrogates with a 400 naming the field, writing nothing', async () => {
        const { customer, model } = await seedModel(ctx.store);
        const nul = newDeployment(customer.id, model.id, { config: { a: { b: 'x\u0000y' } } });
        await assert.rejects(ctx.store.createDeployment(nul), rejectsWith('MODELD_ERR_VALIDATION', 'config'));
        assert.equal(await ctx.store.getDeploymentById(nul.id), null);
        const d = newDeployment(customer.id, model.id);
        await ctx.store.createDeployment(d);
        await assert.rejects(ctx.store.updateDeploymentSpec(d.id, { config: { ['k\u0000']: 1 } }, t(1)), rejectsWith('MODELD_ERR_VALIDATION', 'config'));
        await assert.rejects(ctx.store.updateDeploymentSpec(d.id, { config: { s: 'lone \ud800 high' } }, t(1)), rejectsWith('MODELD_ERR_VALIDATION', 'config'));
        await assert.rejects(ctx.store.updateModel(model.id, { trainingMetrics: { s: 'lone \udc00 low' } }, t(1)), rejectsWith('MODELD_ERR_VALIDATION', 'trainingMetrics'));
        await assert.rejects(ctx.store.appendEvent(newEvent(d.id, customer.id, { data: { s: '\u0000' } })), rejectsWith('MODELD_ERR_VALIDATION', 'data'));
        assert.deepEqual(await ctx.store.getDeploymentById(d.id), d);
        assert.deepEqual(await ctx.store.getModelById(model.id), model);
        assert.deepEqual(await ctx.store.listEvents('deployment', d.id), []);
      });
    });

    group('events', (ctx) => {
      it('appends with increasing ids and lists one object oldest first', async () => {
        const c = randomUUID();
        const obj = randomUUID();
        const other = randomUUID();
        const e1 = await ctx.store.appendEvent(newEvent(obj, c, { reason: 'ReplicaStarted' }));
        const x = await ctx.store.appendEvent(newEvent(other, c));
        const sameIdOtherKind = await ctx.store.appendEvent(newEvent(obj, c, { objectKind: 'model', reason: 'EpochFinished' }));
        const e2 = await ctx.store.appendEvent(newEvent(obj, c, { type: 'Warning', reason: 'ReplicaCrashed', data: null, at: t(21) }));
        assert.ok(e1.id < x.id && x.id < sameIdOtherKind.id && sameIdOtherKind.id < e2.id);
        assert.deepEqual(e2, { ...newEvent(obj, c, { type: 'Warning', reason: 'ReplicaCrashed', data: null, at: t(21) }), id: e2.id });
        assert.deepEqual(await ctx.store.listEvents('deployment', obj), [e1, e2]);
        assert.deepEqual(await ctx.store.listEvents('model', obj), [sameIdOtherKind]);
        assert.deepEqual(await ctx.store.listEvents('deployment', other), [x]);
        assert.deepEqual(await ctx.store.listEvents('deployment', randomUUID()), []);
      });

      it('paginates by afterId and limit, 100 per page by default', async () => {
        const c = randomUUID();
        const obj = randomUUID();
        const appended = [];
        for (let i = 0; i < 105; i++) appended.push(await ctx.store.appendEvent(newEvent(obj, c, { message: `event ${i}` })));
        const firstPage = await ctx.store.listEvents('deployment', obj);
        assert.deepEqual(firstPage, appended.slice(0, 100));
        assert.deepEqual(await ctx.store.listEvents('deployment', obj, { afterId: firstPage.at(-1)?.id }), appended.slice(100));

        const walked = [];
        let afterId = 0;
        for (;;) {
          const page = await ctx.store.listEvents('deployment', obj, { afterId, limit: 7 });
          assert.ok(page.length <= 7);
          if (page.length === 0) break;
          walked.push(...page);
          afterId = page.at(-1)?.id ?? afterId;
        }
        assert.deepEqual(walked, appended);
        assert.deepEqual(await ctx.store.listEvents('deployment', obj, { afterId: appended[49]?.id, limit: 2 }), appended.slice(50, 52));
        assert.deepEqual(await ctx.store.listEvents('deployment', obj, { afterId: appended.at(-1)?.id }), []);
      });

      it('refuses a bad page size or cursor', async () => {
        await assert.rejects(ctx.store.listEvents('deployment', randomUUID(), { limit: 0 }), rejectsWith('MODELD_ERR_VALIDATION', 'limit'));
        await assert.rejects(ctx.store.listEvents('deployment', randomUUID(), { limit: 1.5 }), rejectsWith('MODELD_ERR_VALIDATION', 'limit'));
        await assert.rejects(ctx.store.listEvents('deployment', randomUUID(), { afterId: -1 }), rejectsWith('MODELD_ERR_VALIDATION', 'afterId'));
      });
    });

    group('training jobs', (ctx) => {
      it('creates, reads, finds by model (latest) and refuses unknown models and duplicates', async () => {
        const { customer, model } = await seedModel(ctx.store, { state: 'TRAINING' });
        const first = newJob(model.id, customer.id, { createdAt: t(1), state: 'FAILED', error: 'killed', attempts: 1 });
        const retry = newJob(model.id, customer.id, { createdAt: t(2) });
        await ctx.store.createTrainingJob(first);
        await ctx.store.createTrainingJob(retry);
        assert.deepEqual(await ctx.store.getTrainingJob(first.id), first);
        assert.deepEqual(await ctx.store.getTrainingJobByModel(model.id), retry);
        assert.equal(await ctx.store.getTrainingJob(randomUUID()), null);
        assert.equal(await ctx.store.getTrainingJobByModel(randomUUID()), null);
        await assert.rejects(ctx.store.createTrainingJob(newJob(randomUUID(), customer.id)), rejectsWith('MODELD_ERR_MODEL_NOT_FOUND'));
        await assert.rejects(ctx.store.createTrainingJob({ ...first, state: 'QUEUED' }), rejectsWith('MODELD_ERR_CONFLICT'));
      });

      it('lists jobs in the given states, oldest first', async () => {
        const { customer, model } = await seedModel(ctx.store, { state: 'TRAINING' });
        const running = newJob(model.id, customer.id, { state: 'RUNNING', createdAt: t(30) });
        const queued = newJob(model.id, customer.id, { state: 'QUEUED', createdAt: t(20) });
        const done = newJob(model.id, customer.id, { state: 'SUCCEEDED', createdAt: t(10) });
        for (const j of [running, queued, done]) await ctx.store.createTrainingJob(j);
        const mine = (jobs: TrainingJobRecord[]) => jobs.filter((j) => j.modelId === model.id);
        assert.deepEqual(mine(await ctx.store.listTrainingJobs(['QUEUED', 'RUNNING'])), [queued, running]);
        assert.deepEqual(mine(await ctx.store.listTrainingJobs(['SUCCEEDED'])), [done]);
        assert.deepEqual(mine(await ctx.store.listTrainingJobs(['CANCELLED'])), []);
        assert.deepEqual(await ctx.store.listTrainingJobs([]), []);
      });

      it('updateTrainingJob applies the patch and updatedAt; null for unknown ids', async () => {
        const { customer, model } = await seedModel(ctx.store, { state: 'TRAINING' });
        const job = newJob(model.id, customer.id);
        await ctx.store.createTrainingJob(job);
        const progress = { epoch: 3, epochs: 10, metrics: { loss: 0.125, 'recall@10': 0.75 }, etaMs: 42_000 };
        const updated = await ctx.store.updateTrainingJob(job.id, { state: 'RUNNING', progress, checkpoint: '/data/training/x/epoch-3', attempts: 1 }, t(40));
        const expected = { ...job, state: 'RUNNING' as const, progress, checkpoint: '/data/training/x/epoch-3', attempts: 1, updatedAt: t(40) };
        assert.deepEqual(updated, expected);
        assert.deepEqual(await ctx.store.getTrainingJob(job.id), expected);
        const failed = await ctx.store.updateTrainingJob(job.id, { state: 'FAILED', error: 'out of memory', progress: null }, t(41));
        assert.deepEqual(failed, { ...expected, state: 'FAILED', error: 'out of memory', progress: null, updatedAt: t(41) });
        assert.equal(await ctx.store.updateTrainingJob(randomUUID(), { state: 'RUNNING' }, t(42)), null);
      });
    });

    group('quotas', (ctx) => {
      /** Settles every promise; the codes of the refusals, and how many succeeded. */
      async function outcomes(writes: Promise<unknown>[]): Promise<{ ok: number; refused: string[] }> {
        const settled = await Promise.allSettled(writes);
        const refused = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String((r.reason as { code?: unknown }).code ?? r.reason));
        return { ok: settled.length - refused.length, refused };
      }

      it('quotaUsage counts deployments (deleting ones too), their maxReplicas, models and open training jobs, per customer', async () => {
        const { customer, model } = await seedModel(ctx.store);
        const other = await seedModel(ctx.store);
        assert.deepEqual(await ctx.store.quotaUsage(customer.id), { deployments: 0, replicas: 0, models: 1, trainingJobs: 0 });
        const a = newDeployment(customer.id, model.id, { maxReplicas: 3 });
        const b = newDeployment(customer.id, model.id, { maxReplicas: 5 });
        await ctx.store.createDeployment(a);
        await ctx.store.createDeployment(b);
        await ctx.store.createDeployment(newDeployment(other.customer.id, other.model.id, { maxReplicas: 7 }));
        await ctx.store.requestDeploymentDeletion(b.id, t(20));
        const training = newModel(customer.id, { state: 'TRAINING' });
        await ctx.store.createModelWithJob(training, newJob(training.id, customer.id, { state: 'QUEUED' }));
        await ctx.store.createTrainingJob(newJob(training.id, customer.id, { state: 'RUNNING' }));
        await ctx.store.createTrainingJob(newJob(training.id, customer.id, { state: 'FAILED' }));
        assert.deepEqual(await ctx.store.quotaUsage(customer.id), { deployments: 2, replicas: 8, models: 2, trainingJobs: 2 });
        await ctx.store.deleteDeployment(b.id);
        assert.deepEqual(await ctx.store.quotaUsage(customer.id), { deployments: 1, replicas: 3, models: 2, trainingJobs: 2 });
        assert.deepEqual(await ctx.store.quotaUsage(randomUUID()), { deployments: 0, replicas: 0, models: 0, trainingJobs: 0 });
      });

      it('createDeployment refuses past the deployments or the replicas quota, writing nothing; deleting frees it', async () => {
        const { customer, model } = await seedModel(ctx.store);
        const first = newDeployment(customer.id, model.id, { maxReplicas: 4 });
        await ctx.store.createDeployment(first, { deployments: 2, replicas: 6 });
        const tooMany = newDeployment(customer.id, model.id, { maxReplicas: 3 });
        await assert.rejects(ctx.store.createDeployment(tooMany, { deployments: 2, replicas: 6 }), (err: { code?: string; status?: number; details?: unknown; message?: string }) => {
          assert.equal(err.code, 'MODELD_ERR_QUOTA_EXCEEDED');
          assert.equal(err.status, 403);
          assert.deepEqual(err.details, { quota: 'replicas', limit: 6, used: 4, requested: 3 });
          assert.match(err.message ?? '', /quota replicas: 6 per customer/);
          return true;
        });
        assert.equal(await ctx.store.getDeploymentById(tooMany.id), null);
        await ctx.store.createDeployment(newDeployment(customer.id, model.id, { maxReplicas: 2 }), { deployments: 2, replicas: 6 });
        await assert.rejects(ctx.store.createDeployment(newDeployment(customer.id, model.id, { maxReplicas: 1 }), { deployments: 2, replicas: 100 }), (err: { details?: unknown }) => {
          assert.deepEqual(err.details, { quota: 'deployments', limit: 2, used: 2, requested: 1 });
          return true;
        });
        assert.equal((await ctx.store.listDeployments(customer.id)).length, 2);
        await ctx.store.deleteDeployment(first.id);
        await ctx.store.createDeployment(newDeployment(customer.id, model.id, { maxReplicas: 4 }), { deployments: 2, replicas: 6 });
        // Without a quota (system deployments) nothing is checked.
        await ctx.store.createDeployment(newDeployment(customer.id, model.id, { maxReplicas: 50 }));
      });

      it('updateDeploymentSpec checks a raise of maxReplicas only; a refused patch changes nothing', async () => {
        const { customer, model } = await seedModel(ctx.store);
        const a = newDeployment(customer.id, model.id, { maxReplicas: 2 });
        const b = newDeployment(customer.id, model.id, { maxReplicas: 2 });
        await ctx.store.createDeployment(a);
        await ctx.store.createDeployment(b);
        const raised = await ctx.store.updateDeploymentSpec(a.id, { maxReplicas: 4 }, t(30), { replicas: 6 });
        assert.equal(raised?.maxReplicas, 4);
        await assert.rejects(ctx.store.updateDeploymentSpec(b.id, { maxReplicas: 3 }, t(31), { replicas: 6 }), (err: { code?: string; details?: unknown }) => {
          assert.equal(err.code, 'MODELD_ERR_QUOTA_EXCEEDED');
          assert.deepEqual(err.details, { quota: 'replicas', limit: 6, used: 6, requested: 1 });
          return true;
        });
        assert.deepEqual(await ctx.store.getDeploymentById(b.id), b, 'generation and spec unchanged');
        // Over a quota lowered since: lowering and other changes still pass.
        assert.equal((await ctx.store.updateDeploymentSpec(a.id, { maxReplicas: 3 }, t(32), { replicas: 2 }))?.maxReplicas, 3);
        assert.deepEqual((await ctx.store.updateDeploymentSpec(b.id, { maxReplicas: 2, config: { x: 1 } }, t(33), { replicas: 2 }))?.config, { x: 1 });
        assert.equal(await ctx.store.updateDeploymentSpec(randomUUID(), { maxReplicas: 3 }, t(34), { replicas: 6 }), null);
      });

      it('createModel and createModelWithJob refuse past the models or training jobs quota, writing neither row', async () => {
        const { customer } = await seedModel(ctx.store);
        const m1 = newModel(customer.id, { state: 'TRAINING' });
        const j1 = newJob(m1.id, customer.id);
        await ctx.store.createModelWithJob(m1, j1, { models: 3, trainingJobs: 1 });
        assert.deepEqual(await ctx.store.getTrainingJobByModel(m1.id), j1);
        const m2 = newModel(customer.id, { state: 'TRAINING' });
        const j2 = newJob(m2.id, customer.id);
        await assert.rejects(ctx.store.createModelWithJob(m2, j2, { models: 3, trainingJobs: 1 }), (err: { code?: string; details?: unknown }) => {
          assert.equal(err.code, 'MODELD_ERR_QUOTA_EXCEEDED');
          assert.deepEqual(err.details, { quota: 'trainingJobs', limit: 1, used: 1, requested: 1 });
          return true;
        });
        assert.equal(await ctx.store.getModelById(m2.id), null);
        assert.equal(await ctx.store.getTrainingJob(j2.id), null);
        // A finished job frees its slot.
        await ctx.store.updateTrainingJob(j1.id, { state: 'SUCCEEDED' }, t(40));
        await ctx.store.createModelWithJob(m2, j2, { models: 3, trainingJobs: 1 });
        await assert.rejects(ctx.store.createModel(newModel(customer.id), { models: 3 }), (err: { details?: unknown }) => {
          assert.deepEqual(err.details, { quota: 'models', limit: 3, used: 3, requested: 1 });
          return true;
        });
        assert.equal((await ctx.store.listModels(customer.id)).length, 3);
        await ctx.store.deleteModel(m1.id);
        await ctx.store.createModel(newModel(customer.id), { models: 3 });
      });

      it('keeps per-customer overrides: set, replace, clear; unknown customers are refused', async () => {
        const c = newCustomer();
        await ctx.store.createCustomer(c);
        assert.equal(await ctx.store.getQuotaOverrides(c.id), null);
        await ctx.store.setQuotaOverrides(c.id, { deployments: 3, uploadBytes: 5_000_000_000 }, t(1));
        assert.deepEqual(await ctx.store.getQuotaOverrides(c.id), { deployments: 3, uploadBytes: 5_000_000_000 });
        await ctx.store.setQuotaOverrides(c.id, { models: 0 }, t(2));
        assert.deepEqual(await ctx.store.getQuotaOverrides(c.id), { models: 0 });
        await ctx.store.setQuotaOverrides(c.id, null, t(3));
        assert.equal(await ctx.store.getQuotaOverrides(c.id), null);
        await assert.rejects(ctx.store.setQuotaOverrides(randomUUID(), { models: 1 }, t(4)), rejectsWith('MODELD_ERR_CUSTOMER_NOT_FOUND'));
        await assert.rejects(ctx.store.setQuotaOverrides(randomUUID(), null, t(4)), rejectsWith('MODELD_ERR_CUSTOMER_NOT_FOUND'));
      });

      it('concurrent creates through two handles (two servers) never both take the last slot', async () => {
        const second = await ctx.opened.reopen();
        try {
          const { customer, model } = await seedModel(ctx.store);
          const handles = [ctx.store, second];
          const deployments = await outcomes(
            Array.from({ length: 16 }, (_, i) => handles[i % 2]!.createDeployment(newDeployment(customer.id, model.id, { maxReplicas: 1 }), { deployments: 5, replicas: 100 })),
          );
          assert.equal(deployments.ok, 5);
          assert.deepEqual(new Set(deployments.refused), new Set(['MODELD_ERR_QUOTA_EXCEEDED']));
          assert.equal((await ctx.store.listDeployments(customer.id)).length, 5);

          const replicas = await outcomes(
            (await ctx.store.listDeployments(customer.id)).map((d, i) => handles[i % 2]!.updateDeploymentSpec(d.id, { maxReplicas: 3 }, t(50), { replicas: 9 })),
          );
          assert.equal(replicas.ok, 2, 'each raise takes 2 of the 4 replicas left');
          assert.equal((await ctx.store.quotaUsage(customer.id)).replicas, 9);

          const jobs = await outcomes(
            Array.from({ length: 12 }, (_, i) => {
              const m = newModel(customer.id, { state: 'TRAINING' });
              return handles[i % 2]!.createModelWithJob(m, newJob(m.id, customer.id), { models: 100, trainingJobs: 3 });
            }),
          );
          assert.equal(jobs.ok, 3);
          assert.deepEqual(await ctx.store.quotaUsage(customer.id), { deployments: 5, replicas: 9, models: 4, trainingJobs: 3 });
        } finally {
          await second.close();
        }
      });
    });
    group('cluster: leases, signing keys, instances, serving endpoints', (ctx) => {
      it('a lease has one holder until it expires or is released; renewals keep the epoch, a change of holder bumps it', async () => {
        const name = `lease-${randomUUID()}`;
        const a = await ctx.store.acquireLease(name, 'a', 400);
        assert.equal(a.held, true);
        assert.equal(a.holder, 'a');
        const b = await ctx.store.acquireLease(name, 'b', 400);
        assert.deepEqual({ held: b.held, holder: b.holder, epoch: b.epoch }, { held: false, holder: 'a', epoch: a.epoch });
        const renewed = await ctx.store.acquireLease(name, 'a', 400);
        assert.equal(renewed.held, true);
        assert.equal(renewed.epoch, a.epoch);
        assert.ok(renewed.expiresAt >= a.expiresAt);
        await new Promise((r) => setTimeout(r, 450));
        const taken = await ctx.store.acquireLease(name, 'b', 400);
        assert.deepEqual({ held: taken.held, holder: taken.holder, epoch: taken.epoch }, { held: true, holder: 'b', epoch: a.epoch + 1 });
        assert.equal((await ctx.store.acquireLease(name, 'a', 400)).held, false, 'the old holder does not get it back while b holds it');
        await ctx.store.releaseLease(name, 'a');
        assert.equal((await ctx.store.acquireLease(name, 'a', 400)).held, false, "releasing someone else's lease does nothing");
        await ctx.store.releaseLease(name, 'b');
        const again = await ctx.store.acquireLease(name, 'a', 400);
        assert.deepEqual({ held: again.held, epoch: again.epoch }, { held: true, epoch: a.epoch + 2 });
      });

      it('of two handles (two servers) asking for a free lease at once, exactly one gets it', async () => {
        const second = await ctx.opened.reopen();
        try {
          for (let round = 0; round < 10; round++) {
            const name = `race-${randomUUID()}`;
            const results = await Promise.all([ctx.store.acquireLease(name, 'x', 10_000), second.acquireLease(name, 'y', 10_000)]);
            assert.equal(results.filter((r) => r.held).length, 1, JSON.stringify(results));
            assert.equal(results[0]!.holder, results[1]!.holder);
          }
        } finally {
          await second.close();
        }
      });

      it('signing keys: ordered by seq; a taken seq or kid writes nothing', async () => {
        const before = await ctx.store.listSigningKeys();
        const seq = before.length + 1;
        const key = { seq, kid: `kid-${randomUUID()}`, createdAt: t(1), privateJwk: { kty: 'RSA', n: 'abc', d: 'secret' } };
        assert.equal(await ctx.store.insertSigningKey(key), true);
        assert.equal(await ctx.store.insertSigningKey({ ...key, kid: `kid-${randomUUID()}` }), false, 'seq taken');
        assert.equal(await ctx.store.insertSigningKey({ ...key, seq: seq + 1 }), false, 'kid taken');
        const after = await ctx.store.listSigningKeys();
        assert.deepEqual(after.at(-1), key);
        assert.deepEqual(after.map((k) => k.seq), [...before.map((k) => k.seq), seq]);
      });

      it('instances: upserted by id, listed, pruned when not seen since', async () => {
        const id = `instance-${randomUUID()}`;
        const row = { id, url: 'http://10.0.0.1:8080', startedAt: t(1), seenAt: t(2), load: { d1: { inflight: 3, meanConcurrency: 1.5 } } };
        await ctx.store.putInstance(row);
        await ctx.store.putInstance({ ...row, seenAt: t(10), load: {} });
        assert.deepEqual((await ctx.store.listInstances()).find((i) => i.id === id), { ...row, seenAt: t(10), load: {} });
        const other = { ...row, id: `instance-${randomUUID()}`, seenAt: t(4) };
        await ctx.store.putInstance(other);
        assert.equal(await ctx.store.deleteInstancesSeenBefore(t(5)), 1);
        assert.deepEqual((await ctx.store.listInstances()).map((i) => i.id).filter((x) => x === id || x === other.id), [id]);
        await ctx.store.deleteInstance(id);
        assert.equal((await ctx.store.listInstances()).some((i) => i.id === id), false);
      });

      it('serving endpoints: each put bumps the revision; delete removes them', async () => {
        const dep = `dep-${randomUUID()}`;
        const model = { modelId: 'm', vectorSize: 8, tricky: TRICKY_JSON };
        const first = await ctx.store.putServingEndpoints(dep, model, [{ replicaId: 'r1', url: 'unix:/x', generation: 1 }], t(1));
        const second = await ctx.store.putServingEndpoints(dep, model, [], t(2));
        assert.equal(second, first + 1);
        const listed = (await ctx.store.listServingEndpoints()).find((e) => e.deploymentId === dep);
        assert.deepEqual(listed, { deploymentId: dep, revision: second, model, endpoints: [], updatedAt: t(2) });
        await ctx.store.deleteServingEndpoints(dep);
        assert.equal((await ctx.store.listServingEndpoints()).some((e) => e.deploymentId === dep), false);
      });
    });
    group('async chunking jobs', (ctx) => {
      const job = (customerId: string, over: Partial<ChunkingJobRecord> = {}): ChunkingJobRecord => ({
        id: randomUUID(),
        customerId,
        chunker: 'sentence',
        modelId: 'm',
        request: { batch: [{ text: 'A. B.' }], chunkerConfig: { chunkSize: 1 } },
        status: 'SUBMITTED',
        result: null,
        error: null,
        createdAt: t(1),
        updatedAt: t(1),
        expiresAt: t(100),
        ...over,
      });

      it('keeps a job for its customer only, lists by status, patches, and deletes the expired', async () => {
        const a = job('customer-a');
        const b = job('customer-b', { createdAt: t(2), expiresAt: t(50) });
        await ctx.store.createChunkingJob(a);
        await ctx.store.createChunkingJob(b);
        assert.deepEqual(await ctx.store.getChunkingJob('customer-a', a.id), a);
        assert.equal(await ctx.store.getChunkingJob('customer-b', a.id), null, "another customer's job is not found");
        await assert.rejects(ctx.store.createChunkingJob(a), rejectsWith('MODELD_ERR_CONFLICT'));
        assert.deepEqual((await ctx.store.listChunkingJobs(['SUBMITTED', 'RUNNING'])).map((j) => j.id), [a.id, b.id]);

        const result = [{ chunks: ['A.', 'B.'], spans: [[0, 2], [3, 5]], vectors: [{ tokensUsed: { inputTokens: 2 }, vector: [0.5, -1] }] }];
        const ready = await ctx.store.updateChunkingJob(a.id, { status: 'READY', result }, t(3));
        assert.deepEqual(ready, { ...a, status: 'READY', result, updatedAt: t(3) });
        assert.deepEqual((await ctx.store.listChunkingJobs(['SUBMITTED', 'RUNNING'])).map((j) => j.id), [b.id]);
        assert.equal(await ctx.store.updateChunkingJob(randomUUID(), { status: 'ERROR' }, t(3)), null);

        assert.equal(await ctx.store.deleteExpiredChunkingJobs(t(49)), 0);
        assert.equal(await ctx.store.deleteExpiredChunkingJobs(t(50)), 1);
        assert.equal(await ctx.store.getChunkingJob('customer-b', b.id), null);
        assert.ok(await ctx.store.getChunkingJob('customer-a', a.id));
      });
    });
  });
}
