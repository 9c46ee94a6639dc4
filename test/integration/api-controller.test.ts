import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { defaultConfig } from '../../src/config/index.js';
import { Controller, type ControllerSettings } from '../../src/controller/index.js';
import { EndpointRegistry } from '../../src/gateway/index.js';
import { FakeRuntime, ManualClock } from '../../src/runtimes/fake/index.js';
import { seedModel, startApi, type ApiHarness, type Tenant } from './api-harness.js';

/**
 * The API and the real controller together: what a client writes through the API reaches the
 * controller (it is told, it does not wait for a resync) and what the controller does shows in
 * the API (state, status, events, metrics). Replicas run on the fake runtime, time on a manual
 * clock shared by the API and the controller.
 */

const T0 = Date.parse('2026-05-01T00:00:00.000Z');
const settings: ControllerSettings = {
  ...defaultConfig().controller,
  // Far longer than any step below: progress never comes from a resync.
  resyncIntervalMs: 600_000,
  progressDeadlineMs: 60_000,
  drainTimeoutMs: 500,
  deleteDeadlineMs: 60_000,
  workers: 2,
};

let h: ApiHarness;
let controller: Controller;
let runtime: FakeRuntime;
let alice: Tenant;
let auth: string;
const clock = new ManualClock(T0);

before(async () => {
  runtime = new FakeRuntime({ clock, behaviour: () => ({ kind: 'ready', afterMs: 200 }) });
  h = await startApi({
    clock,
    controller: (store, metrics) => {
      controller = new Controller({
        store,
        runtimes: (region) => (region === 'local' ? runtime : undefined),
        regions: ['local'],
        resolveArtifact: async (d) => ({
          ok: true,
          artifactDir: '/artifacts/fake',
          model: { modelId: d.modelId, name: 'seeded', modelType: 'imported', vectorSize: 8, matryoshkaDims: null },
        }),
        endpoints: new EndpointRegistry({ clock }),
        settings,
        clock,
        timers: clock,
        metrics,
      });
      return controller;
    },
  });
  await controller.start();
  alice = await h.tenant();
  auth = await alice.auth();
});
after(async () => {
  await controller.stop();
  await h.close();
});

const base = () => `/customers/${alice.customerId}/ai/deployments`;

async function get(url: string) {
  const res = await h.app.inject({ method: 'GET', url, headers: { authorization: auth } });
  return { status: res.statusCode, body: res.json() as any };
}

/** Lets the controller work, moving the clock in small steps, until `done` holds. */
async function until(what: string, done: () => Promise<boolean>, maxMs = 10_000, stepMs = 50): Promise<void> {
  for (let waited = 0; ; waited += stepMs) {
    await controller.idle();
    if (await done()) return;
    if (waited >= maxMs) assert.fail(`${what}: not reached within ${maxMs} ms of clock time`);
    await clock.advance(stepMs);
  }
}

test('create, scale and delete through the API drive the controller, and its work shows in the API', async () => {
  const model = await seedModel(h.store, alice.customerId);
  const created = await h.app.inject({ method: 'POST', url: base(), headers: { authorization: auth }, payload: { modelId: model.id, region: 'local', maxReplicas: 3 } });
  assert.equal(created.statusCode, 200);
  const id = created.json().id as string;
  assert.equal(created.json().deployedAt, new Date(T0).toISOString(), 'the API writes with its injected clock');

  // No clock movement: the replica exists only because the API told the controller.
  await controller.idle();
  assert.equal((await get(`${base()}/${id}`)).body.status.replicas, 1);

  await until('DEPLOYED', async () => (await get(`${base()}/${id}`)).body.state === 'DEPLOYED');
  const deployed = (await get(`${base()}/${id}`)).body;
  assert.deepEqual([deployed.status.readyReplicas, deployed.status.desiredReplicas], [1, 1]);
  assert.match((await h.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: await alice.auth(['modeld.ops']) } })).body, new RegExp(`modeld_deployment_ready_replicas\\{deployment="${id}"\\} 1`));

  const scaled = await h.app.inject({ method: 'PATCH', url: `${base()}/${id}`, headers: { authorization: auth }, payload: { minReplicas: 2 } });
  assert.equal(scaled.statusCode, 200);
  await until('two ready', async () => {
    const d = (await get(`${base()}/${id}`)).body;
    return d.state === 'DEPLOYED' && d.status.readyReplicas === 2;
  });

  const deleting = await h.app.inject({ method: 'DELETE', url: `${base()}/${id}`, headers: { authorization: auth } });
  assert.equal(deleting.json().state, 'DELETING');
  await until('removed', async () => (await get(`${base()}/${id}`)).status === 404);
  assert.deepEqual((await get(base())).body, []);
  assert.doesNotMatch((await h.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: await alice.auth(['modeld.ops']) } })).body, new RegExp(`deployment="${id}"`));
  assert.equal([...runtime.world.replicas.values()].filter((r) => r.spec.deploymentId === id).length, 0, 'no replica left');
});

test('the events route shows the API’s and the controller’s events in order', async () => {
  const model = await seedModel(h.store, alice.customerId);
  const created = await h.app.inject({ method: 'POST', url: base(), headers: { authorization: auth }, payload: { modelId: model.id, region: 'local' } });
  const id = created.json().id as string;
  await until('DEPLOYED', async () => (await get(`${base()}/${id}`)).body.state === 'DEPLOYED');
  const reasons = ((await get(`${base()}/${id}/events`)).body as { reason: string }[]).map((e) => e.reason);
  assert.deepEqual(reasons, ['Created', 'ReplicaStarted', 'Deployed']);
});
