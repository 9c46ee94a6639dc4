import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FairQueue, type QueuedJob } from './fair-queue.js';

const job = (customerId: string, n: number, resumed = false): QueuedJob => ({ jobId: `${customerId}${n}`, customerId, resumed });

/** Starts jobs one at a time (one slot, each finishing before the next starts): the start order. */
function drainOneSlot(queue: FairQueue): string[] {
  const order: string[] = [];
  for (let next = queue.take(new Map()); next; next = queue.take(new Map())) order.push(next.jobId);
  return order;
}

describe('FairQueue', () => {
  it('one slot: a customer with many queued jobs does not make another wait behind all of them', () => {
    const q = new FairQueue();
    for (let i = 1; i <= 4; i++) q.push(job('A', i));
    q.push(job('B', 1));
    assert.deepEqual(drainOneSlot(q), ['A1', 'B1', 'A2', 'A3', 'A4']);
  });

  it('customers take turns in the order they have been waiting', () => {
    const q = new FairQueue();
    for (let i = 1; i <= 3; i++) q.push(job('A', i));
    for (let i = 1; i <= 2; i++) q.push(job('B', i));
    q.push(job('C', 1));
    assert.deepEqual(drainOneSlot(q), ['A1', 'B1', 'C1', 'A2', 'B2', 'A3']);
  });

  it('a customer arriving later is served before the customer who started last', () => {
    const q = new FairQueue();
    for (let i = 1; i <= 3; i++) q.push(job('A', i));
    assert.equal(q.take(new Map())?.jobId, 'A1');
    q.push(job('B', 1));
    assert.equal(q.take(new Map())?.jobId, 'B1');
    assert.equal(q.take(new Map())?.jobId, 'A2');
  });

  it('several slots: the customer with fewer jobs running goes first', () => {
    const q = new FairQueue();
    q.push(job('A', 1));
    q.push(job('A', 2));
    q.push(job('B', 1));
    assert.equal(q.take(new Map([['A', 2]]))?.jobId, 'B1');
    assert.equal(q.take(new Map([['A', 2], ['B', 1]]))?.jobId, 'A1');
  });

  it('jobs resumed after a restart go first, in their order', () => {
    const q = new FairQueue();
    q.push(job('A', 1));
    q.push(job('B', 1, true));
    q.push(job('A', 2, true));
    assert.deepEqual(drainOneSlot(q), ['B1', 'A2', 'A1']);
  });

  it('push ignores a job already queued; remove takes a job out', () => {
    const q = new FairQueue();
    q.push(job('A', 1));
    q.push(job('A', 1));
    q.push(job('A', 2));
    assert.equal(q.size, 2);
    assert.equal(q.remove('A1'), true);
    assert.equal(q.remove('A1'), false);
    assert.deepEqual(drainOneSlot(q), ['A2']);
    assert.equal(q.take(new Map()), undefined);
  });
});
