import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../runtimes/fake/index.js';
import { WorkQueue } from './queue.js';

function makeQueue() {
  const clock = new ManualClock();
  const queue = new WorkQueue({ clock, timers: clock, backoffBaseMs: 100, backoffMaxMs: 1000 });
  return { clock, queue };
}

/** Takes whatever is ready now without waiting. */
async function drainNow(queue: WorkQueue): Promise<string[]> {
  const out: string[] = [];
  while (queue.length > 0) {
    const key = await queue.get();
    if (key === null) break;
    out.push(key);
  }
  return out;
}

describe('WorkQueue', () => {
  it('dedupes keys that are queued', async () => {
    const { queue } = makeQueue();
    queue.add('a');
    queue.add('b');
    queue.add('a');
    assert.deepEqual(await drainNow(queue), ['a', 'b']);
  });

  it('never hands a key to two workers; a key re-added while processed comes back after done()', async () => {
    const { queue } = makeQueue();
    queue.add('a');
    const first = await queue.get();
    assert.equal(first, 'a');
    queue.add('a');
    assert.equal(queue.length, 0, 'not handed out again while processed');
    let second: string | null = null;
    const waiting = queue.get().then((k) => (second = k));
    await new Promise((r) => setImmediate(r));
    assert.equal(second, null);
    queue.done('a');
    await waiting;
    assert.equal(second, 'a');
    queue.done('a');
    assert.equal(queue.length, 0);
  });

  it('hands a key added later to a worker already waiting', async () => {
    const { queue } = makeQueue();
    const got = queue.get();
    queue.add('x');
    assert.equal(await got, 'x');
  });

  it('addAfter queues on the injected clock, the earliest time wins', async () => {
    const { clock, queue } = makeQueue();
    queue.addAfter('a', 500);
    queue.addAfter('a', 200);
    queue.addAfter('a', 900);
    await clock.advance(199);
    assert.equal(queue.length, 0);
    await clock.advance(1);
    assert.deepEqual(await drainNow(queue), ['a']);
    queue.done('a');
    await clock.advance(1000);
    assert.equal(queue.length, 0, 'the later times were folded into the earliest one');
  });

  it('backs off exponentially per key on errors, capped, and forget() resets it', async () => {
    const { queue } = makeQueue();
    assert.deepEqual(
      [1, 2, 3, 4, 5].map(() => queue.addRateLimited('a')),
      [100, 200, 400, 800, 1000],
    );
    assert.equal(queue.addRateLimited('b'), 100, 'keys back off independently');
    queue.forget('a');
    assert.equal(queue.failures('a'), 0);
    assert.equal(queue.addRateLimited('a'), 100);
  });

  it('whenIdle resolves once nothing is queued or processed', async () => {
    const { queue } = makeQueue();
    queue.add('a');
    let idle = false;
    const w = queue.whenIdle().then(() => (idle = true));
    const key = await queue.get();
    await new Promise((r) => setImmediate(r));
    assert.equal(idle, false);
    queue.done(key as string);
    await w;
    assert.equal(idle, true);
  });

  it('shutDown releases waiting workers with null and ignores later adds', async () => {
    const { clock, queue } = makeQueue();
    const waiting = queue.get();
    queue.addAfter('later', 100);
    queue.shutDown();
    assert.equal(await waiting, null);
    queue.add('a');
    await clock.advance(200);
    assert.equal(queue.length, 0);
    assert.equal(await queue.get(), null);
    assert.equal(clock.pendingTimers, 0);
  });
});
