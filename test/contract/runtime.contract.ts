/**
 * The runtime contract: one suite every Runtime implementation passes (process, kubernetes, fake).
 * It drives a runtime only through the port (src/runtimes/types.ts) and talks to replicas only
 * through the runner protocol (src/runner/protocol.ts) at the endpoint the runtime reports.
 *
 * Also exports small HTTP helpers for runner tests (fresh connection per call, so nothing keeps a
 * test process alive).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { decodeEmbedFrame, EMBED_CONTENT_TYPE, runnerConnection, type EmbedFrame, type RunnerHealth } from '../../src/runner/index.js';
import type { ObservedReplica, ReplicaSpec, Runtime } from '../../src/runtimes/index.js';

export interface RuntimeHarness {
  runtime: Runtime;
  /** A new runtime instance over the same state, as after the server was killed and started again (not yet started). */
  reopen(): Promise<Runtime>;
  /** Stops every replica this harness's runtimes started, even after a failed test, and removes the state. */
  cleanup(): Promise<void>;
  /**
   * False for a runtime whose endpoints serve nothing (the fake): the protocol-level checks
   * (embedding, /info, a request held in flight across a delete) are skipped. Default true.
   */
  serves?: boolean;
  /**
   * False for a runtime whose runners cannot know the replica id the controller gave (Kubernetes:
   * the runner in a pod reports its pod name; the runtime maps pods to replica ids). Default true.
   */
  runnerKnowsReplicaId?: boolean;
  /** Kills a replica abruptly, as a crash or the OOM killer would. Default: SIGKILL to its pid. */
  kill?(replica: ObservedReplica): Promise<void>;
}

export interface ContractArtifacts {
  /** A valid artifact that loads in a few seconds at most. */
  model: { dir: string; vectorSize: number };
  /** Artifacts that must fail to load, and what the reported reason must say. */
  broken: Array<{ name: string; dir: string; reason: RegExp }>;
}

export interface RunnerResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request to a runner on a fresh connection. `body` (JSON-encoded unless a Buffer) is sent whole. */
export function callRunner(endpoint: string, method: 'GET' | 'POST', route: string, body?: unknown, timeoutMs = 30_000): Promise<RunnerResponse> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const req = http.request(
      target(endpoint, route),
      {
        ...socketOf(endpoint),
        method,
        agent: false,
        timeout: timeoutMs,
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.byteLength } : { 'content-length': 0 },
      },
      (res) => collect(res, resolve, reject),
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${endpoint}${route}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Starts a POST whose body is sent in two steps: the headers and the first half now, the rest
 * when `finish()` is called. Lets a test hold a request in flight on the replica for as long as
 * it wants.
 */
export function startSplitRequest(endpoint: string, route: string, body: unknown): { finish(): void; response: Promise<RunnerResponse> } {
  const payload = Buffer.from(JSON.stringify(body));
  const half = Math.floor(payload.byteLength / 2);
  let req!: http.ClientRequest;
  const response = new Promise<RunnerResponse>((resolve, reject) => {
    req = http.request(
      target(endpoint, route),
      { ...socketOf(endpoint), method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': payload.byteLength } },
      (res) => collect(res, resolve, reject),
    );
    req.on('error', reject);
    req.flushHeaders();
    req.write(payload.subarray(0, half));
  });
  return { finish: () => req.end(payload.subarray(half)), response };
}

/** The request URL for a runner endpoint (runnerEndpoint: Unix socket or loopback TCP). */
function target(endpoint: string, route: string): string {
  return `${runnerConnection(endpoint).origin}${route}`;
}

function socketOf(endpoint: string): { socketPath?: string } {
  const { socketPath } = runnerConnection(endpoint);
  return socketPath === undefined ? {} : { socketPath };
}

function collect(res: http.IncomingMessage, resolve: (r: RunnerResponse) => void, reject: (e: Error) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
  res.on('error', reject);
}

export function jsonOf<T = Record<string, unknown>>(r: RunnerResponse): T {
  return JSON.parse(r.body.toString('utf8')) as T;
}

/** POST /embed and decode the frame; fails the test with the runner's answer on anything but 200. */
export async function embedVia(endpoint: string, texts: string[], dataType?: 'query' | 'passage'): Promise<EmbedFrame> {
  const res = await callRunner(endpoint, 'POST', '/embed', dataType ? { texts, dataType } : { texts });
  assert.equal(res.status, 200, `embed answered ${res.status}: ${res.body.toString('utf8')}`);
  assert.equal(res.headers['content-type'], EMBED_CONTENT_TYPE);
  return decodeEmbedFrame(res.body);
}

export async function healthOf(endpoint: string): Promise<{ status: number; health: RunnerHealth }> {
  const res = await callRunner(endpoint, 'GET', '/health', undefined, 5_000);
  return { status: res.status, health: jsonOf<RunnerHealth>(res) };
}

/** Polls `probe` until it returns a value (not undefined) or the deadline passes (then fails with `what`). */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Waits until the runtime reports `replicaId` in a phase accepted by `done`, and returns that observation. */
export function waitForReplica(runtime: Runtime, replicaId: string, done: (r: ObservedReplica) => boolean, what: string, timeoutMs = 90_000): Promise<ObservedReplica> {
  return eventually(`replica ${replicaId} ${what}`, async () => {
    const r = (await runtime.listReplicas()).find((x) => x.replicaId === replicaId);
    return r && done(r) ? r : undefined;
  }, timeoutMs);
}

export function waitReady(runtime: Runtime, replicaId: string, timeoutMs = 90_000): Promise<ObservedReplica> {
  return waitForReplica(runtime, replicaId, (r) => {
    if (r.phase === 'exited') throw new Error(`replica ${replicaId} exited instead of becoming ready: ${r.lastError}`);
    return r.phase === 'ready';
  }, 'ready', timeoutMs);
}

let counter = 0;

/** A replica spec for the contract: unique ids per call. */
export function replicaSpec(artifactDir: string, overrides: Partial<ReplicaSpec> = {}): ReplicaSpec {
  counter++;
  return {
    replicaId: `rep-${process.pid}-${counter}`,
    deploymentId: `dep-${process.pid}-${counter}`,
    customerId: 'customer-contract',
    generation: 1,
    modelId: 'model-contract',
    artifactDir,
    config: { contract: true, replica: counter },
    intraOpThreads: 1,
    ...overrides,
  };
}

function sameVector(a: Float32Array, b: Float32Array, tolerance = 1e-5): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tolerance, `component ${i}: ${a[i]} vs ${b[i]}`);
}

/**
 * Registers the contract suite for one runtime. `make` builds a fresh harness (own state) per
 * test; `artifacts` is called once.
 */
export function runtimeContract(name: string, make: () => Promise<RuntimeHarness>, artifacts: () => Promise<ContractArtifacts>): void {
  describe(`Runtime contract: ${name}`, () => {
    let art: ContractArtifacts;
    const harnesses: RuntimeHarness[] = [];
    before(async () => {
      art = await artifacts();
    });
    after(async () => {
      for (const h of harnesses) await h.cleanup();
    });
    async function fresh(): Promise<RuntimeHarness> {
      const h = await make();
      harnesses.push(h);
      await h.runtime.start();
      return h;
    }

    test('a created replica becomes ready, embeds at its endpoint and got the deployment config', async () => {
      const h = await fresh();
      const { runtime } = h;
      const spec = replicaSpec(art.model.dir, { config: { threads: 2, label: 'contract', nested: { on: true } }, generation: 3 });
      await runtime.createReplica(spec);
      const listed = (await runtime.listReplicas()).find((r) => r.replicaId === spec.replicaId);
      assert.ok(listed, 'a created replica is listed at once');
      assert.ok(listed.phase === 'starting' || listed.phase === 'ready', `phase right after create: ${listed.phase}`);

      const ready = await waitReady(runtime, spec.replicaId);
      assert.equal(ready.deploymentId, spec.deploymentId);
      assert.equal(ready.generation, 3);
      assert.ok(ready.endpoint, 'a ready replica has an endpoint');
      assert.equal(ready.exitCode, null);
      assert.equal(ready.loadFailed, false);
      assert.equal(ready.inflight, 0);
      assert.ok(ready.readyAt !== null && Date.parse(ready.readyAt) >= Date.parse(ready.startedAt));

      if (h.serves === false) return;
      const frame = await embedVia(ready.endpoint!, ['red running shoes', 'a blue winter coat']);
      assert.equal(frame.count, 2);
      assert.equal(frame.dim, art.model.vectorSize);
      for (let row = 0; row < 2; row++) {
        let norm = 0;
        for (let j = 0; j < frame.dim; j++) norm += frame.vectors[row * frame.dim + j]! ** 2;
        assert.ok(Math.abs(Math.sqrt(norm) - 1) < 1e-4, `row ${row} is L2-normalized`);
      }
      assert.ok(frame.tokenCounts[0]! > 0);
      const again = await embedVia(ready.endpoint!, ['a blue winter coat']);
      sameVector(again.vectors, frame.vectors.subarray(frame.dim, 2 * frame.dim));

      const info = jsonOf(await callRunner(ready.endpoint!, 'GET', '/info'));
      assert.deepEqual(info.config, spec.config);
      if (h.runnerKnowsReplicaId !== false) assert.equal(info.replicaId, spec.replicaId);
      assert.equal(info.deploymentId, spec.deploymentId);
      assert.equal(info.customerId, spec.customerId);
      assert.equal(info.modelId, spec.modelId);
    });

    test('replicas are listed by deployment; a second create with the same id is a conflict', async () => {
      const { runtime } = await fresh();
      const a1 = replicaSpec(art.model.dir);
      const a2 = replicaSpec(art.model.dir, { deploymentId: a1.deploymentId });
      const b1 = replicaSpec(art.model.dir);
      for (const s of [a1, a2, b1]) await runtime.createReplica(s);
      await assert.rejects(runtime.createReplica(a1), (err: Error & { code?: string }) => err.code === 'MODELD_ERR_CONFLICT');

      const ofA = await runtime.listReplicas(a1.deploymentId);
      assert.deepEqual(ofA.map((r) => r.replicaId).sort(), [a1.replicaId, a2.replicaId].sort());
      assert.ok(ofA.every((r) => r.deploymentId === a1.deploymentId));
      assert.deepEqual((await runtime.listReplicas(b1.deploymentId)).map((r) => r.replicaId), [b1.replicaId]);
      assert.deepEqual(await runtime.listReplicas('no-such-deployment'), []);
      const all = (await runtime.listReplicas()).map((r) => r.replicaId);
      for (const s of [a1, a2, b1]) assert.ok(all.includes(s.replicaId));
      for (const s of [a1, a2, b1]) await waitReady(runtime, s.replicaId);
    });

    test('delete drains: a request in flight when delete starts completes, new work is refused, then the replica is gone', async () => {
      const h = await fresh();
      const { runtime } = h;
      const spec = replicaSpec(art.model.dir);
      await runtime.createReplica(spec);
      const ready = await waitReady(runtime, spec.replicaId);
      const endpoint = ready.endpoint!;
      if (h.serves === false) {
        await runtime.deleteReplica(spec.replicaId, { graceMs: 5_000 });
        assert.deepEqual(await runtime.listReplicas(spec.deploymentId), []);
        return;
      }
      const texts = Array.from({ length: 64 }, (_, i) => `in flight item number ${i}`);

      const held = startSplitRequest(endpoint, '/embed', { texts });
      await eventually('the held request to be in flight', async () => ((await healthOf(endpoint)).health.inflight >= 1 ? true : undefined));
      let deleted = false;
      const deletion = runtime.deleteReplica(spec.replicaId, { graceMs: 20_000 }).then(() => {
        deleted = true;
      });
      await eventually('the replica to drain', async () => {
        const { status, health } = await healthOf(endpoint);
        return status === 503 && health.phase === 'draining' ? true : undefined;
      });
      const refused = await callRunner(endpoint, 'POST', '/embed', { texts: ['too late'] });
      assert.equal(refused.status, 503);
      assert.equal(jsonOf(refused).code, 'draining');
      assert.equal(deleted, false, 'delete waits for the request in flight');

      held.finish();
      const res = await held.response;
      assert.equal(res.status, 200, res.body.toString('utf8'));
      assert.equal(decodeEmbedFrame(res.body).count, texts.length);
      await deletion;
      assert.deepEqual((await runtime.listReplicas(spec.deploymentId)).map((r) => r.replicaId), []);
      await assert.rejects(callRunner(endpoint, 'GET', '/health', undefined, 2_000));
      await runtime.deleteReplica(spec.replicaId, { graceMs: 1_000 }); // idempotent
    });

    test('a replica killed with SIGKILL shows as exited with an exit code or an error, until deleted', async () => {
      const h = await fresh();
      const { runtime } = h;
      const spec = replicaSpec(art.model.dir);
      await runtime.createReplica(spec);
      const ready = await waitReady(runtime, spec.replicaId);
      if (h.kill) await h.kill(ready);
      else {
        assert.ok(ready.pid !== null, 'without a kill hook, this test needs the pid to kill the replica');
        process.kill(ready.pid, 'SIGKILL');
      }
      const exited = await waitForReplica(runtime, spec.replicaId, (r) => r.phase === 'exited', 'exited');
      assert.ok(exited.exitCode !== null || exited.lastError !== null, 'an exited replica says how it ended');
      assert.notEqual(exited.exitCode, 0);
      assert.equal(exited.loadFailed, false);
      assert.equal(exited.endpoint, null);
      // Still reported on the next observation: exits are not forgotten before deleteReplica.
      assert.equal((await runtime.listReplicas(spec.deploymentId))[0]?.phase, 'exited');
      await runtime.deleteReplica(spec.replicaId, { graceMs: 1_000 });
      assert.deepEqual(await runtime.listReplicas(spec.deploymentId), []);
    });

    test('an artifact that cannot be loaded shows loadFailed with the reason', async () => {
      const { runtime } = await fresh();
      assert.ok(art.broken.length > 0);
      const specs = art.broken.map((b) => ({ b, spec: replicaSpec(b.dir) }));
      for (const { spec } of specs) await runtime.createReplica(spec);
      for (const { b, spec } of specs) {
        const failed = await waitForReplica(runtime, spec.replicaId, (r) => r.phase === 'exited', `(${b.name}) exited`);
        assert.equal(failed.loadFailed, true, `${b.name}: loadFailed`);
        assert.match(failed.lastError ?? '', b.reason, `${b.name}: reason`);
        assert.notEqual(failed.exitCode, 0);
        await runtime.deleteReplica(spec.replicaId, { graceMs: 1_000 });
      }
    });

    test('a new runtime instance over the same state adopts the live replicas', async () => {
      const h = await fresh();
      const spec = replicaSpec(art.model.dir);
      await h.runtime.createReplica(spec);
      const before = await waitReady(h.runtime, spec.replicaId);

      const second = await h.reopen();
      await second.start();
      await second.start(); // idempotent
      const adopted = (await second.listReplicas(spec.deploymentId))[0];
      assert.ok(adopted, 'the new instance sees the replica');
      assert.equal(adopted.phase, 'ready');
      assert.equal(adopted.pid, before.pid);
      assert.equal(adopted.endpoint, before.endpoint);
      assert.equal(adopted.startedAt, before.startedAt);
      if (h.serves !== false) {
        const frame = await embedVia(adopted.endpoint!, ['adopted replica still serves']);
        assert.equal(frame.dim, art.model.vectorSize);
      }

      await second.deleteReplica(spec.replicaId, { graceMs: 5_000 });
      assert.deepEqual(await second.listReplicas(spec.deploymentId), []);
      assert.deepEqual(await h.runtime.listReplicas(spec.deploymentId), []);
      await second.stop();
    });
  });
}
