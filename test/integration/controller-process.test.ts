/**
 * The controller with everything real: the ProcessRuntime spawning runner processes that load a
 * real ONNX artifact (makeModeldArtifact), a SQLite file store, the gateway's EndpointRegistry,
 * the system clock. Replicas are killed with SIGKILL, the controller is replaced by a brand-new
 * one over the same store file and replicas directory, and the deployment is deleted; the test
 * checks processes (pids alive or gone), the store and the registry.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '../../src/config/index.js';
import { Controller, type ControllerSettings } from '../../src/controller/index.js';
import { initialStatus, isoAt, newModelRecord, systemClock, type DeploymentRecord, type ServingModelInfo } from '../../src/domain/index.js';
import { readManifest } from '../../src/engines/index.js';
import { EndpointRegistry } from '../../src/gateway/index.js';
import { ProcessRuntime } from '../../src/runtimes/index.js';
import { openSqliteStore, type Store } from '../../src/store/index.js';
import { makeModeldArtifact } from '../fixtures/models.js';
import { makeTempDir, type TempDir } from '../fixtures/tmp.js';
import { healthOf } from '../contract/runtime.contract.js';
import { alive } from '../fixtures/processes.js';

const CUSTOMER = 'cust-proc';
const MODEL_ID = '22222222-3333-4444-5555-666666666666';

const settings: ControllerSettings = {
  ...defaultConfig().controller,
  resyncIntervalMs: 500,
  progressDeadlineMs: 90_000,
  crashLoopRestarts: 5,
  restartBackoffBaseMs: 100,
  restartBackoffMaxMs: 1000,
  drainTimeoutMs: 3000,
  deleteDeadlineMs: 30_000,
  workers: 2,
};

let tmp: TempDir;
let artifactDir: string;
let replicasDir: string;
let storeFile: string;
const cleanups: Array<() => Promise<void>> = [];

before(async () => {
  tmp = await makeTempDir('modeld-controller-process');
  artifactDir = await makeModeldArtifact(path.join(tmp.dir, 'artifact'));
  replicasDir = path.join(tmp.dir, 'replicas');
  storeFile = path.join(tmp.dir, 'modeld.sqlite');
});

after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  killAllRunners(replicasDir);
  await tmp.cleanup();
});

/** SIGKILLs the process group of every runner left under the replicas dir (cleanup after a failure). */
function killAllRunners(dir: string): void {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    try {
      const pid = Number.parseInt(readFileSync(path.join(dir, name, 'pid'), 'utf8'), 10);
      if (Number.isInteger(pid) && pid > 1 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(path.join(dir, name))) process.kill(-pid, 'SIGKILL');
    } catch {
      // no pid file, or already gone
    }
  }
}

/** Polls `probe` (real processes: no clock to drive) until it returns a value or the time is up. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function openStore(seed: boolean): Promise<Store> {
  const store = openSqliteStore(storeFile);
  await store.migrate();
  if (seed) {
    const at = isoAt(Date.now());
    await store.createCustomer({ id: CUSTOMER, name: null, createdAt: at });
    await store.createModel(
      newModelRecord({ id: MODEL_ID, customerId: CUSTOMER, name: 'tiny-test-encoder', modelType: 'imported', vectorSize: 32, state: 'AVAILABLE', artifactId: 'tiny', createdBy: 'test', at }),
    );
  }
  return store;
}

function makeController(store: Store) {
  const runtime = new ProcessRuntime({ replicasDir, probeTimeoutMs: 2000, killGraceMs: 1000, stopGraceMs: 3000 });
  const registry = new EndpointRegistry();
  const controller = new Controller({
    store,
    runtimes: (region) => (region === 'local' ? runtime : undefined),
    regions: ['local'],
    resolveArtifact: async () => {
      const manifest = await readManifest(artifactDir);
      const model: ServingModelInfo = {
        modelId: MODEL_ID,
        name: manifest.name,
        modelType: manifest.modelType,
        vectorSize: manifest.vectorSize,
        matryoshkaDims: manifest.matryoshkaDims ?? null,
      };
      return { ok: true, artifactDir, model };
    },
    endpoints: registry,
    settings,
    clock: systemClock,
    intraOpThreads: 1,
  });
  return { runtime, registry, controller };
}

async function pidsOf(runtime: ProcessRuntime, id: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const r of await runtime.listReplicas(id)) if (r.phase === 'ready' && r.pid !== null) out.set(r.replicaId, r.pid);
  return out;
}

describe('controller with the process runtime and real runners', () => {
  it('deploys 2 replicas, replaces a SIGKILLed one, is adopted by a new controller, and deletes', async () => {
    const store = await openStore(true);
    cleanups.push(() => store.close());
    const first = makeController(store);
    cleanups.push(() => first.controller.stop({ stopReplicas: true }));
    await first.controller.start();

    const id = randomUUID();
    const at = isoAt(Date.now());
    const record: DeploymentRecord = {
      id,
      customerId: CUSTOMER,
      modelId: MODEL_ID,
      region: 'local',
      minReplicas: 2,
      maxReplicas: 2,
      config: {},
      state: 'DEPLOYING',
      generation: 1,
      status: initialStatus(2),
      deployedAt: at,
      createdBy: 'test',
      createdAt: at,
      updatedAt: at,
      lastUsedAt: null,
      deletionRequestedAt: null,
    };
    await store.createDeployment(record);
    first.controller.notify(id);

    // 1. DEPLOYED with two live runner processes, published to the gateway, answering /health.
    await waitFor('DEPLOYED', async () => (await store.getDeploymentById(id))?.state === 'DEPLOYED');
    const pids = await pidsOf(first.runtime, id);
    assert.equal(pids.size, 2);
    for (const pid of pids.values()) assert.ok(alive(pid), `pid ${pid} alive`);
    const endpoints = first.registry.get(id)?.endpoints ?? [];
    assert.equal(endpoints.length, 2);
    for (const e of endpoints) assert.equal((await healthOf(e.url)).status, 200);

    // 2. SIGKILL one runner: it is replaced and the deployment is DEPLOYED with 2 ready again.
    const [victimId, victimPid] = [...pids][0]!;
    process.kill(victimPid, 'SIGKILL');
    await waitFor('exit recorded', async () => (await store.listEvents('deployment', id, { limit: 100 })).find((e) => e.reason === 'ReplicaExited'));
    const replaced = await waitFor('replaced', async () => {
      const d = await store.getDeploymentById(id);
      const now = await pidsOf(first.runtime, id);
      return d?.state === 'DEPLOYED' && d.status.readyReplicas === 2 && now.size === 2 && !now.has(victimId) ? now : undefined;
    });
    assert.ok(!alive(victimPid));
    assert.equal((await store.getDeploymentById(id))?.status.restartCount, 0);
    const exitEvent = (await store.listEvents('deployment', id, { limit: 100 })).find((e) => e.reason === 'ReplicaExited');
    assert.equal(exitEvent?.data?.replicaId, victimId);

    // 3. A brand-new controller and runtime over the same store file and replicas dir adopt the runners.
    await first.controller.stop({ stopReplicas: false });
    for (const pid of replaced.values()) assert.ok(alive(pid), 'stopping the controller leaves the replicas running');
    const eventsBefore = (await store.listEvents('deployment', id, { limit: 1000 })).length;
    const store2 = await openStore(false);
    cleanups.push(() => store2.close());
    const second = makeController(store2);
    cleanups.push(() => second.controller.stop({ stopReplicas: true }));
    await second.controller.start();
    await waitFor('published again', async () => (second.registry.get(id)?.endpoints.length ?? 0) === 2);
    // A few resyncs later nothing has been created: same replicas, same pids.
    await new Promise((r) => setTimeout(r, 3 * settings.resyncIntervalMs));
    assert.deepEqual(await pidsOf(second.runtime, id), replaced);
    const startedSince = (await store2.listEvents('deployment', id, { limit: 1000 })).slice(eventsBefore).filter((e) => e.reason === 'ReplicaStarted');
    assert.deepEqual(startedSince, []);
    assert.equal((await store2.getDeploymentById(id))?.state, 'DEPLOYED');

    // 4. Delete: the runners are drained and gone, the record removed, the gateway forgets it.
    assert.ok(await store2.requestDeploymentDeletion(id, isoAt(Date.now())));
    second.controller.notify(id);
    await waitFor('record removed', async () => (await store2.getDeploymentById(id)) === null);
    await waitFor('processes gone', async () => [...replaced.values()].every((pid) => !alive(pid)));
    assert.deepEqual(await second.runtime.listReplicas(id), []);
    assert.equal(second.registry.get(id), undefined);
  });
});
