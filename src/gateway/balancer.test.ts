import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ServingEndpoint, ServingModelInfo } from '../domain/index.js';
import { ModeldError } from '../errors/index.js';
import { Balancer, type Lease } from './balancer.js';
import { EndpointRegistry } from './endpoint-registry.js';

const MODEL: ServingModelInfo = { modelId: 'm', name: 'm', modelType: 'imported', vectorSize: 8, matryoshkaDims: null };
const DEP = 'd1';

function endpoints(n: number): ServingEndpoint[] {
  return Array.from({ length: n }, (_, i) => ({ replicaId: `r${i}`, url: `http://127.0.0.1:${40000 + i}`, generation: 1 }));
}

function setup(options: { replicas?: number; cap?: number; queue?: number; perTenant?: number; readyWaitMs?: number; now?: () => number } = {}) {
  const clock = { now: options.now ?? (() => Date.now()) };
  const registry = new EndpointRegistry({ clock });
  const balancer = new Balancer(registry, {
    maxInflightPerReplica: options.cap ?? 2,
    maxQueuePerDeployment: options.queue ?? 4,
    readyWaitMs: options.readyWaitMs ?? 5_000,
    ...(options.perTenant !== undefined && { maxQueuedPerTenant: options.perTenant }),
  });
  if (options.replicas !== 0) registry.publish(DEP, MODEL, endpoints(options.replicas ?? 2));
  return { registry, balancer };
}

function code(err: unknown): string {
  return err instanceof ModeldError ? err.code : `not a ModeldError: ${String(err)}`;
}

/** Settles to 'pending' when the promise has not settled after pending I/O callbacks ran. */
async function state(p: Promise<unknown>): Promise<'resolved' | 'rejected' | 'pending'> {
  return Promise.race([p.then(() => 'resolved' as const, () => 'rejected' as const), new Promise<'pending'>((r) => setImmediate(() => r('pending')))]);
}

describe('Balancer on a deployment customers share (a pre-trained model)', () => {
  it('caps what one customer may have waiting, so that a flood leaves room for the others', async () => {
    const { balancer } = setup({ replicas: 1, cap: 1, queue: 8, perTenant: 3 });
    const running = await balancer.acquire(DEP, { tenant: 'a' });
    const aWaiting = [1, 2, 3].map(() => balancer.acquire(DEP, { tenant: 'a' }));
    const shed = balancer.acquire(DEP, { tenant: 'a' });
    assert.equal(await state(shed), 'rejected');
    const err = await shed.catch((e: unknown) => e);
    assert.equal(code(err), 'MODELD_ERR_OVERLOADED');
    assert.match((err as Error).message, /maxQueueSharePerCustomer/);
    const bWaiting = balancer.acquire(DEP, { tenant: 'b' });
    assert.equal(await state(bWaiting), 'pending', 'the other customer still gets a place in the queue');
    // A freed slot goes to the customer with the fewest calls in flight: b, although it came last.
    running.release(1);
    assert.equal(await state(bWaiting), 'resolved');
    for (const p of aWaiting) assert.equal(await state(p), 'pending');
    (await bWaiting).release(1);
    const firstA = await aWaiting[0]!;
    assert.equal(firstA.deploymentId, DEP, 'then a is served again, in its own order');
    firstA.release(1);
    for (const p of aWaiting.slice(1)) (await p).release(1);
  });

  it('property: never more than the cap waiting per customer, and every admitted request is served once slots free', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 40 }), async (tenants) => {
        const { balancer } = setup({ replicas: 2, cap: 1, queue: 12, perTenant: 4 });
        const results = tenants.map((tenant) => ({ tenant, p: balancer.acquire(DEP, { tenant }) }));
        const waiting = new Map<string, number>();
        const states = await Promise.all(results.map((r) => state(r.p)));
        states.forEach((st, i) => {
          if (st === 'pending') waiting.set(results[i]!.tenant, (waiting.get(results[i]!.tenant) ?? 0) + 1);
        });
        for (const n of waiting.values()) assert.ok(n <= 4, `at most 4 waiting per customer: ${[...waiting]}`);
        // Each lease is given back as soon as it is granted: every admitted request must get one.
        let served = 0;
        const all = results.map((r) =>
          r.p.then(
            (lease) => {
              served++;
              setImmediate(() => lease.release(1));
            },
            () => {},
          ),
        );
        await Promise.all(all);
        assert.equal(served, states.filter((st) => st !== 'rejected').length);
      }),
      { seed: 4, numRuns: 50 },
    );
  });
});

describe('Balancer', () => {
  it('frees the slots of requests that were in flight when the controller published again', async () => {
    // The controller re-publishes the same replicas on every resync; requests leased before it
    // must still give their slot back, or a busy deployment ends with no free slot at all.
    const { registry, balancer } = setup({ replicas: 2, cap: 2, queue: 8 });
    const leases = await Promise.all([1, 2, 3, 4].map(() => balancer.acquire(DEP)));
    registry.publish(DEP, MODEL, endpoints(2));
    const waiting = balancer.acquire(DEP);
    assert.equal(await state(waiting), 'pending', 'every slot is taken');
    for (const l of leases) l.release(1);
    assert.equal(await state(waiting), 'resolved', 'a released slot goes to the waiting request');
    const next = await waiting;
    assert.ok(['r0', 'r1'].includes(next.endpoint.replicaId));
    next.release(1);
    const all = await Promise.all([1, 2, 3, 4].map(() => balancer.acquire(DEP)));
    assert.equal(all.length, 4, 'after the releases both replicas have their two slots again');
    assert.deepEqual(registry.get(DEP)!.endpoints.map((e) => e.inflight), [2, 2]);
  });

  it('sends each request to the replica with the fewest in flight, ties to the replica picked last (warm)', async () => {
    const { balancer } = setup({ replicas: 3, cap: 10 });
    const first = await Promise.all([1, 2, 3].map(() => balancer.acquire(DEP)));
    assert.deepEqual(first.map((l) => l.endpoint.replicaId).sort(), ['r0', 'r1', 'r2']);
    // r1 finishes first: it now has the fewest in flight (0 against 1 and 1) and wins.
    first.find((l) => l.endpoint.replicaId === 'r1')!.release(2);
    const next = await balancer.acquire(DEP);
    assert.equal(next.endpoint.replicaId, 'r1');
    // Every replica at 1 in flight: the tie goes to r1, picked last.
    const third = await balancer.acquire(DEP);
    assert.equal(third.endpoint.replicaId, 'r1');
    // r1 now has 2: the others have fewer, whatever was picked last.
    const fourth = await balancer.acquire(DEP);
    assert.notEqual(fourth.endpoint.replicaId, 'r1');
    // One request at a time (concurrency 1): every one goes to the same, warm, replica.
    const { balancer: fresh } = setup({ replicas: 3, cap: 100 });
    const picks: string[] = [];
    for (let i = 0; i < 9; i++) {
      const l = await fresh.acquire(DEP);
      picks.push(l.endpoint.replicaId);
      l.release(1);
    }
    assert.equal(new Set(picks).size, 1, picks.join(','));
  });

  it('property: every pick goes to a least-loaded replica', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(fc.nat(), { minLength: 1, maxLength: 60 }), async (replicas, ops) => {
        const { balancer, registry } = setup({ replicas, cap: 100, queue: 100 });
        const held: Lease[] = [];
        for (const op of ops) {
          // Even: acquire one more; odd: release one of those held.
          if (op % 2 === 0 || held.length === 0) held.push(await balancer.acquire(DEP));
          else held.splice(op % held.length, 1)[0]!.release(1);
          const loads = registry.get(DEP)!.endpoints.map((e) => e.inflight);
          // Only an acquire can raise a load, and it picks a least-loaded replica: a load above
          // min + 1 can come only from releases elsewhere, never from a pick.
          const picked = held.at(-1)?.endpoint.inflight;
          if (op % 2 === 0 && picked !== undefined) assert.ok(picked - 1 <= Math.min(...loads), `picked a replica at ${picked - 1} while another had ${Math.min(...loads)}`);
        }
        for (const l of held) l.release(1);
      }),
      { numRuns: 100 },
    );
  });

  it('never puts more than maxInflightPerReplica on a replica; the overflow waits in FIFO order', async () => {
    const { balancer, registry } = setup({ replicas: 2, cap: 1, queue: 3 });
    const a = await balancer.acquire(DEP);
    const b = await balancer.acquire(DEP);
    assert.notEqual(a.endpoint.replicaId, b.endpoint.replicaId);
    const order: string[] = [];
    const waiting = ['w1', 'w2', 'w3'].map((name) =>
      balancer.acquire(DEP).then((lease) => {
        order.push(name);
        return lease;
      }),
    );
    assert.equal(await state(waiting[0]!), 'pending');
    assert.deepEqual(registry.loadOf(DEP) && { inflight: registry.loadOf(DEP)!.inflight, queued: registry.loadOf(DEP)!.queued }, { inflight: 2, queued: 3 });
    a.release(5);
    const w1 = await waiting[0]!;
    assert.equal(w1.endpoint.replicaId, a.endpoint.replicaId);
    b.release(5);
    w1.release(5);
    const rest = await Promise.all(waiting.slice(1));
    assert.deepEqual(order, ['w1', 'w2', 'w3']);
    for (const l of rest) l.release(5);
    assert.deepEqual({ inflight: registry.loadOf(DEP)!.inflight, queued: registry.loadOf(DEP)!.queued }, { inflight: 0, queued: 0 });
  });

  it('sheds with 429 MODELD_ERR_OVERLOADED and a Retry-After estimate once the queue is full', async () => {
    const shed: string[] = [];
    const registry = new EndpointRegistry();
    const balancer = new Balancer(registry, { maxInflightPerReplica: 1, maxQueuePerDeployment: 2, readyWaitMs: 5_000, onShed: (d) => shed.push(d) });
    registry.publish(DEP, MODEL, endpoints(1));
    const held = await balancer.acquire(DEP);
    const queued = [balancer.acquire(DEP), balancer.acquire(DEP)];
    await assert.rejects(balancer.acquire(DEP), (err: unknown) => {
      assert.equal(code(err), 'MODELD_ERR_OVERLOADED');
      const e = err as ModeldError;
      assert.equal(e.status, 429);
      const retryAfter = e.details?.retryAfterSeconds;
      assert.ok(typeof retryAfter === 'number' && Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `retryAfterSeconds ${retryAfter}`);
      return true;
    });
    assert.deepEqual(shed, [DEP]);
    assert.equal(registry.loadOf(DEP)!.shed, 1);
    // A retry of an admitted request is never shed: it goes to the head of the queue.
    const retry = balancer.acquire(DEP, { admitted: true });
    held.release(3);
    const first = await Promise.race([retry.then(() => 'retry'), ...queued.map((q) => q.then(() => 'queued'))]);
    assert.equal(first, 'retry');
    (await retry).release();
    for (const q of queued) (await q).release();
  });

  it('a request whose client went away leaves the queue at once, and its turn goes to the next one', async () => {
    const { balancer, registry } = setup({ replicas: 1, cap: 1, queue: 4 });
    const held = await balancer.acquire(DEP);
    const gone = new AbortController();
    const abandoned = balancer.acquire(DEP, { signal: gone.signal });
    const patient = balancer.acquire(DEP);
    assert.equal(registry.loadOf(DEP)!.queued, 2);
    gone.abort(new Error('client closed the connection'));
    await assert.rejects(abandoned, /client closed the connection/);
    assert.equal(balancer.queuedOf(DEP), 1);
    assert.equal(registry.loadOf(DEP)!.queued, 1);
    held.release();
    const lease = await patient;
    assert.equal(lease.endpoint.inflight, 1);
    lease.release();
    assert.equal(registry.loadOf(DEP)!.inflight, 0);
    // An already aborted signal never enters the queue.
    await assert.rejects(balancer.acquire(DEP, { signal: AbortSignal.abort(new Error('gone')) }), /gone/);
  });

  it('waits for a deployment with no ready replica, served as soon as one is published', async () => {
    const { balancer, registry } = setup({ replicas: 0, readyWaitMs: 10_000 });
    const waiting = balancer.acquire(DEP);
    assert.equal(await state(waiting), 'pending');
    assert.equal(registry.loadOf(DEP)!.queued, 1);
    registry.publish(DEP, MODEL, endpoints(1));
    const lease = await waiting;
    assert.equal(lease.endpoint.replicaId, 'r0');
    assert.equal(lease.model.vectorSize, 8);
    lease.release();
  });

  it('gives up with 503 MODELD_ERR_NO_READY_REPLICA after readyWaitMs when none comes', async () => {
    const { balancer, registry } = setup({ replicas: 0, readyWaitMs: 30 });
    await assert.rejects(balancer.acquire(DEP), (err: unknown) => code(err) === 'MODELD_ERR_NO_READY_REPLICA' && (err as ModeldError).status === 503);
    // Nothing is left behind for a deployment that was never published.
    assert.equal(registry.loadOf(DEP), null);
  });

  it('skips a replica marked failed until the deployment is published again', async () => {
    const { balancer, registry } = setup({ replicas: 2, cap: 10 });
    registry.markFailed(DEP, 'r0');
    for (let i = 0; i < 4; i++) {
      const l = await balancer.acquire(DEP);
      assert.equal(l.endpoint.replicaId, 'r1');
      l.release();
    }
    assert.equal(registry.readyCount(DEP), 1);
    registry.publish(DEP, MODEL, endpoints(2));
    // Two requests at once: the second goes to r0 again (the fewer in flight).
    const both = [await balancer.acquire(DEP), await balancer.acquire(DEP)];
    assert.deepEqual(both.map((l) => l.endpoint.replicaId).sort(), ['r0', 'r1']);
    for (const l of both) l.release();
  });

  it('never hands a request a replica it already failed on', async () => {
    const { balancer } = setup({ replicas: 2, cap: 10, readyWaitMs: 30 });
    const l = await balancer.acquire(DEP, { exclude: new Set(['r1']) });
    assert.equal(l.endpoint.replicaId, 'r0');
    await assert.rejects(balancer.acquire(DEP, { exclude: new Set(['r0', 'r1']) }), (err: unknown) => code(err) === 'MODELD_ERR_NO_READY_REPLICA');
    l.release();
  });

  it('serves a new request at once from a free replica that the waiters ahead of it cannot use', async () => {
    const { balancer } = setup({ replicas: 2, cap: 1, queue: 4 });
    const onR1 = await balancer.acquire(DEP, { exclude: new Set(['r0']) });
    assert.equal(onR1.endpoint.replicaId, 'r1');
    // A retry that already failed on r0 waits for r1; a new request must not wait behind it while r0 is free.
    const retry = balancer.acquire(DEP, { exclude: new Set(['r0']), admitted: true });
    const fresh = await balancer.acquire(DEP);
    assert.equal(fresh.endpoint.replicaId, 'r0');
    assert.equal(await state(retry), 'pending');
    onR1.release();
    assert.equal((await retry).endpoint.replicaId, 'r1');
  });

  it('keeps in-flight counts across a publish and rejects waiters when the deployment is removed', async () => {
    const { balancer, registry } = setup({ replicas: 1, cap: 1, queue: 2 });
    const held: Lease = await balancer.acquire(DEP);
    registry.publish(DEP, MODEL, endpoints(1));
    assert.equal(registry.get(DEP)!.endpoints[0]!.inflight, 1);
    const waiting = balancer.acquire(DEP);
    registry.remove(DEP);
    await assert.rejects(waiting, (err: unknown) => code(err) === 'MODELD_ERR_DEPLOYMENT_NOT_FOUND');
    held.release();
    assert.equal(registry.loadOf(DEP), null);
  });
});

describe('EndpointRegistry.loadOf', () => {
  it('reports the time-weighted mean and the peak of inflight + queued over the window', async () => {
    let now = 1_000_000;
    const { balancer, registry } = setup({ replicas: 1, cap: 2, queue: 10, now: () => now });
    now += 1000;
    const a = await balancer.acquire(DEP); // concurrency 1 for 1 s
    now += 1000;
    const b = await balancer.acquire(DEP); // 2 for 1 s
    now += 1000;
    const c = balancer.acquire(DEP); // 3 (one queued) for 1 s
    now += 1000;
    a.release();
    b.release();
    (await c).release(); // 0 afterwards
    const load = registry.loadOf(DEP)!;
    assert.equal(load.inflight, 0);
    assert.equal(load.queued, 0);
    assert.equal(load.peakConcurrency, 3);
    assert.equal(load.windowMs, 4000);
    assert.ok(Math.abs(load.meanConcurrency - (0 + 1 + 2 + 3) / 4) < 1e-9, `mean ${load.meanConcurrency}`);
    // Ten idle seconds later the window holds only idleness.
    now += 11_000;
    const idle = registry.loadOf(DEP)!;
    assert.equal(idle.meanConcurrency, 0);
    assert.equal(idle.peakConcurrency, 0);
    assert.equal(idle.windowMs, 10_000);
  });
});
