/**
 * The controller end to end on the fake runtime (states a real runtime cannot reach cheaply:
 * exact readiness times, crash loops, progress deadlines, runtime faults), the real SQLite store
 * and the gateway's real EndpointRegistry, on a manual clock. Every assertion reads the world
 * afterwards: the store (state, status, events), the fake world's replicas, the registry.
 */
import assert from 'node:assert/strict';
import { Metrics } from '../../src/api/index.js';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { defaultConfig } from '../../src/config/index.js';
import { Autoscaler, Controller, type ControllerOptions, type ControllerSettings } from '../../src/controller/index.js';
import { initialStatus, isoAt, newModelRecord, type DeploymentLoad, type DeploymentRecord, type EventRecord, type ServingModelInfo } from '../../src/domain/index.js';
import { EndpointRegistry } from '../../src/gateway/index.js';
import { FakeRuntime, FakeWorld, ManualClock, type FakeBehaviour } from '../../src/runtimes/fake/index.js';
import type { ReplicaSpec } from '../../src/runtimes/index.js';
import { openSqliteStore, type Store } from '../../src/store/index.js';

const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const CUSTOMER = 'cust-ctl';
const MODEL_ID = '11111111-2222-3333-4444-555555555555';
const model: ServingModelInfo = { modelId: MODEL_ID, name: 'tiny', modelType: 'imported', vectorSize: 32, matryoshkaDims: null };

const settings: ControllerSettings = {
  ...defaultConfig().controller,
  resyncIntervalMs: 1000,
  progressDeadlineMs: 5000,
  crashLoopRestarts: 3,
  restartBackoffBaseMs: 100,
  restartBackoffMaxMs: 400,
  drainTimeoutMs: 1000,
  deleteDeadlineMs: 3000,
  workers: 2,
};

interface Harness {
  clock: ManualClock;
  store: Store;
  world: FakeWorld;
  runtime: FakeRuntime;
  registry: EndpointRegistry;
  controller: Controller;
  events: EventRecord[];
}

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.splice(0).reverse()) await close();
});

async function makeStore(): Promise<Store> {
  const store = openSqliteStore(':memory:');
  await store.migrate();
  await store.createCustomer({ id: CUSTOMER, name: null, createdAt: isoAt(T0) });
  await store.createModel(
    newModelRecord({ id: MODEL_ID, customerId: CUSTOMER, name: 'tiny', modelType: 'imported', vectorSize: 32, state: 'AVAILABLE', artifactId: 'abc', createdBy: 'test', at: isoAt(T0) }),
  );
  open.push(() => store.close());
  return store;
}

/** A controller over `store` and a fake runtime on `world` (new ones unless given: a restart reuses them). */
async function harness(
  options: {
    behaviour?: (spec: ReplicaSpec) => FakeBehaviour;
    store?: Store;
    world?: FakeWorld;
    clock?: ManualClock;
    extra?: (clock: ManualClock) => Partial<ControllerOptions>;
  } = {},
): Promise<Harness> {
  const clock = options.clock ?? new ManualClock(T0);
  const store = options.store ?? (await makeStore());
  const world = options.world ?? new FakeWorld();
  const runtime = new FakeRuntime({ clock, world, behaviour: options.behaviour ?? (() => ({ kind: 'ready', afterMs: 200 })) });
  const registry = new EndpointRegistry({ clock });
  const events: EventRecord[] = [];
  const controller = new Controller({
    store,
    runtimes: (region) => (region === 'local' ? runtime : undefined),
    regions: ['local'],
    resolveArtifact: async () => ({ ok: true, artifactDir: '/artifacts/abc', model }),
    endpoints: registry,
    settings,
    clock,
    timers: clock,
    onEvent: (e) => events.push(e),
    ...options.extra?.(clock),
  });
  await controller.start();
  open.push(() => controller.stop());
  return { clock, store, world, runtime, registry, controller, events };
}

async function deploy(h: Harness, over: Partial<DeploymentRecord> = {}): Promise<string> {
  const id = randomUUID();
  const min = over.minReplicas ?? 1;
  const at = isoAt(h.clock.now());
  await h.store.createDeployment({
    customerId: CUSTOMER,
    modelId: MODEL_ID,
    region: 'local',
    minReplicas: min,
    maxReplicas: over.maxReplicas ?? min,
    config: {},
    state: 'DEPLOYING',
    generation: 1,
    status: initialStatus(min),
    deployedAt: at,
    createdBy: 'test',
    createdAt: at,
    updatedAt: at,
    lastUsedAt: null,
    deletionRequestedAt: null,
    ...over,
    id,
  });
  h.controller.notify(id);
  return id;
}

/** Lets the controller work and the clock move in `stepMs` steps until `done` holds (at most `maxMs` of clock time). */
async function until(h: Harness, what: string, done: () => Promise<boolean> | boolean, maxMs = 30_000, stepMs = 50): Promise<void> {
  for (let waited = 0; ; waited += stepMs) {
    await h.controller.idle();
    if (await done()) return;
    if (waited >= maxMs) assert.fail(`${what}: not reached within ${maxMs} ms of clock time`);
    await h.clock.advance(stepMs);
  }
}

async function stateOf(h: Harness, id: string): Promise<DeploymentRecord> {
  const d = await h.store.getDeploymentById(id);
  assert.ok(d, `deployment ${id} exists`);
  return d;
}

async function eventReasons(h: Harness, id: string): Promise<string[]> {
  return (await h.store.listEvents('deployment', id, { limit: 1000 })).map((e) => e.reason);
}

const replicasOf = (h: Harness, id: string) => [...h.world.replicas.values()].filter((r) => r.spec.deploymentId === id);

describe('controller with the fake runtime and the SQLite store', () => {
  it('deploys: DEPLOYING, then DEPLOYED with minReplicas ready, published to the gateway, events stored', async () => {
    const h = await harness();
    const id = await deploy(h, { minReplicas: 2, maxReplicas: 3 });
    await h.controller.idle();
    const early = await stateOf(h, id);
    assert.equal(early.state, 'DEPLOYING');
    assert.equal(early.status.replicas, 2);
    assert.equal(early.status.readyReplicas, 0);
    await until(h, 'DEPLOYED', async () => (await stateOf(h, id)).state === 'DEPLOYED');
    const d = await stateOf(h, id);
    assert.equal(d.status.readyReplicas, 2);
    assert.equal(d.status.observedGeneration, 1);
    assert.equal(replicasOf(h, id).length, 2);
    assert.deepEqual(
      h.registry.get(id)?.endpoints.map((e) => e.url).sort(),
      replicasOf(h, id).map((r) => `fake://${r.spec.replicaId}`).sort(),
    );
    assert.equal(h.registry.modelOf(id)?.vectorSize, 32);
    assert.deepEqual(await eventReasons(h, id), ['ReplicaStarted', 'ReplicaStarted', 'Deployed']);
    assert.deepEqual(
      h.events.map((e) => e.reason),
      ['ReplicaStarted', 'ReplicaStarted', 'Deployed'],
      'onEvent sees what the store holds',
    );
    // At rest: more clock time creates nothing and writes no new event.
    await h.clock.advance(5 * settings.resyncIntervalMs);
    await h.controller.idle();
    assert.equal(h.world.createdIds.length, 2);
    assert.equal((await eventReasons(h, id)).length, 3);
  });

  it('a crash loop ends in DEPLOY_FAILED CrashLoopBackOff with the last error, and nothing is left running', async () => {
    let n = 0;
    const h = await harness({ behaviour: () => ({ kind: 'exits', afterMs: 80, exitCode: 3, error: `segfault during warm-up #${++n}` }) });
    const id = await deploy(h);
    await until(h, 'DEPLOY_FAILED', async () => (await stateOf(h, id)).state === 'DEPLOY_FAILED');
    const d = await stateOf(h, id);
    assert.equal(d.status.failure?.reason, 'CrashLoopBackOff');
    assert.match(d.status.failure?.message ?? '', new RegExp(`segfault during warm-up #${settings.crashLoopRestarts}`));
    assert.equal(d.status.restartCount, settings.crashLoopRestarts);
    const reasons = await eventReasons(h, id);
    assert.equal(reasons.filter((r) => r === 'ReplicaExited').length, settings.crashLoopRestarts);
    assert.equal(reasons.at(-1), 'DeployFailed');
    const exits = (await h.store.listEvents('deployment', id, { limit: 100 })).filter((e) => e.reason === 'ReplicaExited');
    assert.equal(exits[0]?.data?.exitCode, 3);
    await until(h, 'replicas gone', () => replicasOf(h, id).length === 0);
    // Terminal: no retry until the spec changes.
    const created = h.world.createdIds.length;
    await h.clock.advance(10 * settings.resyncIntervalMs);
    await h.controller.idle();
    assert.equal(h.world.createdIds.length, created);
    // Restarts were spaced by the growing backoff (100, 200 ms) on top of the 80 ms lifetime.
    const starts = (await h.store.listEvents('deployment', id, { limit: 100 })).filter((e) => e.reason === 'ReplicaStarted').map((e) => Date.parse(e.at));
    assert.equal(starts.length, settings.crashLoopRestarts);
    assert.ok(starts[1]! - starts[0]! >= 80 + 100 && starts[2]! - starts[1]! >= 80 + 200, `restart times ${starts.map((s) => s - T0)}`);
  });

  it('a model that fails to load is DEPLOY_FAILED ModelLoadFailed with the runner error, without retries', async () => {
    const h = await harness({ behaviour: () => ({ kind: 'loadFails', afterMs: 120, error: 'onnxruntime: invalid graph: node Gather_3' }) });
    const id = await deploy(h, { minReplicas: 2, maxReplicas: 2 });
    await until(h, 'DEPLOY_FAILED', async () => (await stateOf(h, id)).state === 'DEPLOY_FAILED');
    const d = await stateOf(h, id);
    assert.equal(d.status.failure?.reason, 'ModelLoadFailed');
    assert.match(d.status.failure?.message ?? '', /invalid graph: node Gather_3/);
    await until(h, 'replicas gone', () => replicasOf(h, id).length === 0);
    assert.equal(h.world.createdIds.length, 2);
  });

  it('replicas that never become ready end in ProgressDeadlineExceeded at the deadline, and are removed', async () => {
    const h = await harness({ behaviour: () => ({ kind: 'hangs' }) });
    const id = await deploy(h);
    await until(h, 'DEPLOY_FAILED', async () => (await stateOf(h, id)).state === 'DEPLOY_FAILED', 10_000);
    const d = await stateOf(h, id);
    assert.equal(d.status.failure?.reason, 'ProgressDeadlineExceeded');
    const failedAt = Date.parse(d.status.failure?.at ?? '');
    assert.ok(failedAt - T0 >= settings.progressDeadlineMs && failedAt - T0 < settings.progressDeadlineMs + 100, `failed ${failedAt - T0} ms after the deploy`);
    await until(h, 'replicas gone', () => replicasOf(h, id).length === 0);
  });

  it('a crash after DEPLOYED is replaced and the deployment is DEPLOYED again', async () => {
    const h = await harness();
    const id = await deploy(h, { minReplicas: 2, maxReplicas: 2 });
    await until(h, 'DEPLOYED', async () => (await stateOf(h, id)).state === 'DEPLOYED');
    const victim = replicasOf(h, id)[0]!.spec.replicaId;
    h.runtime.kill(victim, 137, 'killed by SIGKILL');
    await until(h, 'exit seen', async () => (await stateOf(h, id)).status.restartCount === 1);
    const during = await stateOf(h, id);
    assert.equal(during.state, 'DEPLOYED');
    assert.equal(during.status.conditions.find((c) => c.type === 'Available')?.status, 'False');
    await until(h, 'replaced', async () => (await stateOf(h, id)).status.readyReplicas === 2);
    const d = await stateOf(h, id);
    assert.equal(d.state, 'DEPLOYED');
    assert.equal(d.status.restartCount, 0);
    assert.ok(!replicasOf(h, id).some((r) => r.spec.replicaId === victim));
    assert.equal(h.registry.get(id)?.endpoints.length, 2);
    const reasons = await eventReasons(h, id);
    assert.ok(reasons.includes('ReplicaExited') && reasons.includes('Unavailable') && reasons.includes('Available'), reasons.join(','));
  });

  it('PATCH rolls the replicas to the new generation without ever publishing fewer than minReplicas', async () => {
    const h = await harness();
    const id = await deploy(h, { minReplicas: 2, maxReplicas: 2 });
    await until(h, 'DEPLOYED', async () => (await stateOf(h, id)).state === 'DEPLOYED');
    const published: number[] = [];
    const maxExisting: number[] = [];
    h.registry.subscribe((change) => {
      if (change.kind === 'published' && change.deploymentId === id) published.push(h.registry.get(id)?.endpoints.length ?? 0);
      maxExisting.push(replicasOf(h, id).length);
    });
    const patched = await h.store.updateDeploymentSpec(id, { config: { batchSize: 8 } }, isoAt(h.clock.now()));
    assert.equal(patched?.generation, 2);
    h.controller.notify(id);
    await until(h, 'rolled out', async () => (await eventReasons(h, id)).includes('RolledOut'));
    const d = await stateOf(h, id);
    assert.equal(d.state, 'DEPLOYED');
    assert.equal(d.status.observedGeneration, 2);
    await until(h, 'old replicas gone', () => replicasOf(h, id).every((r) => r.spec.generation === 2));
    assert.equal(replicasOf(h, id).length, 2);
    assert.deepEqual(
      replicasOf(h, id).map((r) => r.spec.config),
      [{ batchSize: 8 }, { batchSize: 8 }],
    );
    assert.ok(published.length > 0 && Math.min(...published) >= 2, `published endpoint counts ${published}`);
    assert.ok(Math.max(...maxExisting) <= 3, `never more than maxReplicas + 1 replicas (${maxExisting})`);
    assert.deepEqual(
      h.registry.get(id)?.endpoints.map((e) => e.generation),
      [2, 2],
    );
    const reasons = await eventReasons(h, id);
    assert.ok(reasons.indexOf('RollingUpdate') < reasons.indexOf('RolledOut'));
    assert.equal(reasons.filter((r) => r === 'ReplicaStopping').length, 2);
  });

  it('delete: the gateway stops routing to a replica before it drains, then the record is removed', async () => {
    const h = await harness();
    const id = await deploy(h);
    await until(h, 'DEPLOYED', async () => (await stateOf(h, id)).state === 'DEPLOYED');
    const replicaId = replicasOf(h, id)[0]!.spec.replicaId;
    h.runtime.setInflight(replicaId, 1);
    assert.ok(await h.store.requestDeploymentDeletion(id, isoAt(h.clock.now())));
    h.controller.notify(id);
    await until(h, 'draining', async () => (await h.runtime.listReplicas(id))[0]?.phase === 'draining');
    assert.deepEqual(h.registry.get(id)?.endpoints ?? [], [], 'no longer published while it drains');
    assert.equal((await stateOf(h, id)).state, 'DELETING');
    h.runtime.setInflight(replicaId, 0);
    await until(h, 'record removed', async () => (await h.store.getDeploymentById(id)) === null);
    assert.equal(replicasOf(h, id).length, 0);
    assert.equal(h.registry.get(id), undefined);
    assert.ok(!(await h.store.listAllDeploymentIds()).includes(id));
  });

  it('delete past the deadline is DELETE_FAILED, and the record still goes once the replica is gone', async () => {
    const h = await harness();
    const id = await deploy(h);
    await until(h, 'DEPLOYED', async () => (await stateOf(h, id)).state === 'DEPLOYED');
    const replicaId = replicasOf(h, id)[0]!.spec.replicaId;
    h.runtime.setInflight(replicaId, 1);
    h.runtime.setFault('deleteReplica', new Error('cannot signal process'));
    await h.store.requestDeploymentDeletion(id, isoAt(h.clock.now()));
    h.controller.notify(id);
    await until(h, 'DELETE_FAILED', async () => (await stateOf(h, id)).state === 'DELETE_FAILED', 10_000);
    assert.equal((await stateOf(h, id)).status.failure?.reason, 'DeleteTimeout');
    h.runtime.setFault('deleteReplica', null);
    h.runtime.setInflight(replicaId, 0);
    await until(h, 'record removed', async () => (await h.store.getDeploymentById(id)) === null);
  });

  it('a restarted controller adopts the running replicas without creating new ones', async () => {
    const first = await harness();
    const id = await deploy(first, { minReplicas: 2, maxReplicas: 2 });
    await until(first, 'DEPLOYED', async () => (await stateOf(first, id)).state === 'DEPLOYED');
    const before = replicasOf(first, id).map((r) => r.spec.replicaId).sort();
    await first.controller.stop();
    assert.equal(replicasOf(first, id).length, 2, 'stop leaves the replicas running');

    const second = await harness({ store: first.store, world: first.world, clock: first.clock });
    await until(second, 'published again', () => (second.registry.get(id)?.endpoints.length ?? 0) === 2);
    await second.clock.advance(3 * settings.resyncIntervalMs);
    await second.controller.idle();
    assert.deepEqual(replicasOf(second, id).map((r) => r.spec.replicaId).sort(), before);
    assert.equal(second.world.createdIds.length, 2);
    assert.equal((await stateOf(second, id)).state, 'DEPLOYED');
    assert.deepEqual(second.events, [], 'nothing happened, nothing to report');
  });

  it('a runtime error is retried with backoff and shown as a condition until the runtime answers again', async () => {
    const h = await harness();
    h.runtime.setFault('listReplicas', new Error('cluster unreachable'));
    const id = await deploy(h);
    await until(h, 'condition', async () => (await stateOf(h, id)).status.conditions.some((c) => c.type === 'RuntimeReachable'));
    const cond = (await stateOf(h, id)).status.conditions.find((c) => c.type === 'RuntimeReachable');
    assert.deepEqual([cond?.status, cond?.reason, cond?.message], ['False', 'RuntimeError', 'cluster unreachable']);
    assert.equal((await stateOf(h, id)).state, 'DEPLOYING');
    h.runtime.setFault('listReplicas', null);
    await until(h, 'DEPLOYED', async () => (await stateOf(h, id)).state === 'DEPLOYED');
    assert.ok(!(await stateOf(h, id)).status.conditions.some((c) => c.type === 'RuntimeReachable'));
    assert.equal((await eventReasons(h, id)).filter((r) => r === 'RuntimeError').length, 1);
  });

  it('a refused replica creation is reported and retried', async () => {
    const h = await harness();
    h.runtime.setFault('createReplica', new Error('no space left on device'));
    const id = await deploy(h);
    await until(h, 'condition', async () => (await stateOf(h, id)).status.conditions.some((c) => c.type === 'RuntimeReachable'));
    assert.equal(h.world.createdIds.length, 0);
    h.runtime.setFault('createReplica', null);
    await until(h, 'DEPLOYED', async () => (await stateOf(h, id)).state === 'DEPLOYED');
  });

  it('a region without a runtime is a terminal DEPLOY_FAILED RuntimeError', async () => {
    const h = await harness();
    const id = await deploy(h, { region: 'mars' });
    await until(h, 'DEPLOY_FAILED', async () => (await stateOf(h, id)).state === 'DEPLOY_FAILED');
    const d = await stateOf(h, id);
    assert.equal(d.status.failure?.reason, 'RuntimeError');
    assert.match(d.status.failure?.message ?? '', /mars/);
  });

  it('autoscales on the measured load: up at once with the reason recorded, down after the stabilization window', async () => {
    const windowMs = 20_000;
    let measured: DeploymentLoad | null = null;
    const metrics = new Metrics({ processMetrics: false });
    const h = await harness({
      extra: (clock) => ({
        autoscaler: new Autoscaler({ clock, settings: { targetConcurrencyPerReplica: 4, scaleDownStabilizationMs: windowMs } }).decide,
        load: { loadOf: () => measured },
        metrics,
      }),
    });
    const id = await deploy(h, { minReplicas: 1, maxReplicas: 4 });
    await until(h, 'DEPLOYED', async () => (await stateOf(h, id)).state === 'DEPLOYED');
    measured = { inflight: 10, queued: 2, meanConcurrency: 11, peakConcurrency: 12, shed: 0, windowMs: 10_000 };
    await h.clock.advance(settings.resyncIntervalMs);
    await until(h, '3 ready', async () => (await stateOf(h, id)).status.readyReplicas === 3);
    assert.equal((await stateOf(h, id)).status.desiredReplicas, 3);
    const up = (await h.store.listEvents('deployment', id, { limit: 100 })).find((e) => e.reason === 'ScaledUp');
    assert.match(up?.message ?? '', /1 -> 3 \(scale up: concurrency 12 for 4 per replica\)/);
    assert.equal((up?.data?.inputs as Record<string, unknown>).demand, 12);
    assert.equal(h.registry.get(id)?.endpoints.length, 3);
    const text = await metrics.render();
    assert.match(text, new RegExp(`modeld_autoscaler_decisions_total\\{deployment="${id}",direction="up"\\} 1`));
    assert.match(text, new RegExp(`modeld_deployment_desired_replicas\\{deployment="${id}"\\} 3`));

    measured = null;
    const quietSince = h.clock.now();
    await until(h, 'scaled down', async () => (await stateOf(h, id)).status.desiredReplicas === 1, 2 * windowMs, 500);
    assert.ok(h.clock.now() - quietSince >= windowMs - settings.resyncIntervalMs, 'not before the stabilization window');
    await until(h, '1 replica left', () => replicasOf(h, id).length === 1);
    assert.equal((await stateOf(h, id)).state, 'DEPLOYED');
  });

  it('replicas of a deployment that no longer exists are removed at start', async () => {
    const clock = new ManualClock(T0);
    const world = new FakeWorld();
    const stray = new FakeRuntime({ clock, world, behaviour: () => ({ kind: 'ready', afterMs: 0 }) });
    await stray.start();
    await stray.createReplica({ replicaId: 'orphan-1', deploymentId: randomUUID(), customerId: CUSTOMER, generation: 1, modelId: MODEL_ID, artifactDir: '/a', config: {}, intraOpThreads: 1 });
    const h = await harness({ world, clock });
    await until(h, 'orphan removed', () => world.replicas.size === 0);
  });
});
