import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isoAt, type DeploymentRecord } from '../domain/index.js';
import type { ObservedReplica } from '../runtimes/index.js';
import { findCondition } from './conditions.js';
import { READINESS_POLL_MS, reconcile, restartBackoffMs } from './reconcile.js';
import { T0, afterPlan, deployment, input, replica, testSettings } from './testing/builders.js';
import type { Plan } from './types.js';

const reasons = (plan: Plan) => plan.events.map((e) => e.reason);
const removed = (plan: Plan) => plan.remove.map((r) => `${r.replicaId}:${r.reason}`).sort();

/** A deployment whose generation 1 is rolled out (DEPLOYED, progress complete). */
function deployed(over: Partial<DeploymentRecord> = {}): DeploymentRecord {
  const base = deployment(over);
  return {
    ...base,
    state: 'DEPLOYED',
    status: {
      ...base.status,
      observedGeneration: base.generation,
      desiredReplicas: base.minReplicas,
      replicas: base.minReplicas,
      readyReplicas: base.minReplicas,
      conditions: [
        { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: '', lastTransitionTime: isoAt(T0) },
        { type: 'Progressing', status: 'True', reason: 'RolloutComplete', message: '', lastTransitionTime: isoAt(T0) },
      ],
      progressStartedAt: null,
    },
    ...over,
  };
}

describe('reconcile: deploying', () => {
  it('creates minReplicas replicas of the current generation on the first pass and starts the progress clock', () => {
    const plan = reconcile(input({ deployment: deployment({ minReplicas: 2, maxReplicas: 3 }) }));
    assert.equal(plan.create.length, 2);
    assert.deepEqual(
      plan.create.map((s) => [s.generation, s.artifactDir, s.customerId]),
      [
        [1, '/artifacts/abc', 'cust-1'],
        [1, '/artifacts/abc', 'cust-1'],
      ],
    );
    assert.equal(new Set(plan.create.map((s) => s.replicaId)).size, 2);
    assert.equal(plan.state, 'DEPLOYING');
    assert.equal(plan.status.progressStartedAt, isoAt(T0));
    assert.equal(plan.status.observedGeneration, 1);
    assert.equal(plan.status.replicas, 2);
    assert.equal(plan.status.desiredReplicas, 2);
    assert.deepEqual(reasons(plan), ['ReplicaStarted', 'ReplicaStarted']);
    assert.equal(plan.requeueAfterMs, READINESS_POLL_MS);
  });

  it('waits while replicas start, then becomes DEPLOYED with the ready endpoints once desired are ready', () => {
    const dep0 = deployment({ minReplicas: 2, maxReplicas: 2 });
    const p1 = reconcile(input({ deployment: dep0 }));
    const dep1 = afterPlan(dep0, p1);
    const starting = p1.create.map((s) => replica(s.replicaId, 'starting'));
    const p2 = reconcile(input({ deployment: dep1, replicas: starting, now: T0 + 500 }));
    assert.equal(p2.create.length, 0);
    assert.equal(p2.state, 'DEPLOYING');
    assert.deepEqual(p2.endpoints, []);
    assert.equal(findCondition(p2.status.conditions, 'Available')?.status, 'False');

    const oneReady = [replica(starting[0]!.replicaId, 'ready'), starting[1]!];
    const p3 = reconcile(input({ deployment: afterPlan(dep1, p2), replicas: oneReady, now: T0 + 900 }));
    assert.equal(p3.state, 'DEPLOYING');
    assert.equal(p3.status.readyReplicas, 1);

    const ready = starting.map((r) => replica(r.replicaId, 'ready'));
    const p4 = reconcile(input({ deployment: afterPlan(dep1, p3), replicas: ready, now: T0 + 1000 }));
    assert.equal(p4.state, 'DEPLOYED');
    assert.deepEqual(reasons(p4), ['Deployed']);
    assert.deepEqual(
      p4.endpoints.map((e) => e.replicaId),
      ready.map((r) => r.replicaId).sort(),
    );
    assert.equal(p4.status.progressStartedAt, null);
    assert.equal(findCondition(p4.status.conditions, 'Available')?.status, 'True');
    assert.equal(findCondition(p4.status.conditions, 'Progressing')?.reason, 'RolloutComplete');
    assert.equal(p4.requeueAfterMs, null);
  });

  it('clamps the autoscaler wish to [minReplicas, maxReplicas]', () => {
    const dep = deployment({ minReplicas: 1, maxReplicas: 3 });
    assert.equal(reconcile(input({ deployment: dep, desiredReplicas: 10 })).create.length, 3);
    assert.equal(reconcile(input({ deployment: dep, desiredReplicas: 0 })).create.length, 1);
  });

  it('never reuses the id of a replica the runtime still knows', () => {
    const dep = afterPlan(deployment({ minReplicas: 2, maxReplicas: 2 }), reconcile(input({ deployment: deployment({ minReplicas: 2, maxReplicas: 2 }) })));
    const plan = reconcile(input({ deployment: dep, replicas: [replica('dep00001-g1-s-0', 'ready')], now: T0 + 1 }));
    assert.deepEqual(
      plan.create.map((s) => s.replicaId),
      ['dep00001-g1-s-1'],
    );
  });
});

describe('reconcile: failures before DEPLOYED', () => {
  it('replaces an exited replica after the restart backoff and counts the exit', () => {
    const dep0 = afterPlan(deployment(), reconcile(input({ deployment: deployment() })));
    const exited = replica('r1', 'exited', { exitCode: 3, lastError: 'boom' });
    const p1 = reconcile(input({ deployment: dep0, replicas: [exited], now: T0 + 200 }));
    assert.deepEqual(removed(p1), ['r1:Exited']);
    assert.equal(p1.create.length, 0, 'the replacement waits for the backoff');
    assert.equal(p1.status.restartCount, 1);
    assert.equal(p1.requeueAfterMs, restartBackoffMs(1, testSettings));
    const exitEvent = p1.events.find((e) => e.reason === 'ReplicaExited');
    assert.equal(exitEvent?.type, 'Warning');
    assert.match(exitEvent?.message ?? '', /code 3: boom/);
    assert.equal(exitEvent?.data?.exitCode, 3);
    const failureCond = findCondition(p1.status.conditions, 'ReplicaFailure');
    assert.equal(failureCond?.lastTransitionTime, isoAt(T0 + 200));

    const dep1 = afterPlan(dep0, p1);
    const early = reconcile(input({ deployment: dep1, now: T0 + 250 }));
    assert.equal(early.create.length, 0);
    assert.equal(early.requeueAfterMs, 50);
    const due = reconcile(input({ deployment: dep1, now: T0 + 300 }));
    assert.equal(due.create.length, 1);
    assert.equal(due.status.restartCount, 1, 'an exit is counted once');
  });

  it('grows the backoff exponentially and caps it', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 60].map((n) => restartBackoffMs(n, testSettings)),
      [0, 100, 200, 400, 800, 1000, 1000],
    );
  });

  it('fails with ModelLoadFailed and the runner error, removes every replica and does not retry', () => {
    const dep0 = afterPlan(deployment({ minReplicas: 2, maxReplicas: 2 }), reconcile(input({ deployment: deployment({ minReplicas: 2, maxReplicas: 2 }) })));
    const reps = [replica('a', 'exited', { loadFailed: true, lastError: 'onnx: bad graph' }), replica('b', 'starting')];
    const p1 = reconcile(input({ deployment: dep0, replicas: reps, now: T0 + 100 }));
    assert.equal(p1.state, 'DEPLOY_FAILED');
    assert.equal(p1.status.failure?.reason, 'ModelLoadFailed');
    assert.match(p1.status.failure?.message ?? '', /onnx: bad graph/);
    assert.deepEqual(removed(p1), ['a:Exited', 'b:Failed']);
    assert.equal(p1.create.length, 0);
    assert.ok(reasons(p1).includes('DeployFailed'));
    assert.equal(findCondition(p1.status.conditions, 'Progressing')?.status, 'False');

    const later = reconcile(input({ deployment: afterPlan(dep0, p1), now: T0 + 60_000 }));
    assert.equal(later.state, 'DEPLOY_FAILED');
    assert.equal(later.create.length, 0);
    assert.deepEqual(later.events, []);
    assert.equal(later.requeueAfterMs, null);
    assert.deepEqual(later.status.failure, p1.status.failure);
  });

  it('becomes CrashLoopBackOff with the last error after crashLoopRestarts exits', () => {
    let dep = afterPlan(deployment(), reconcile(input({ deployment: deployment() })));
    let now = T0;
    let last: Plan | null = null;
    for (let i = 0; i < testSettings.crashLoopRestarts; i++) {
      now += 2000;
      last = reconcile(input({ deployment: dep, replicas: [replica(`r${i}`, 'exited', { exitCode: 2, lastError: `segfault ${i}` })], now }));
      dep = afterPlan(dep, last);
    }
    assert.equal(last?.state, 'DEPLOY_FAILED');
    assert.equal(last?.status.failure?.reason, 'CrashLoopBackOff');
    assert.match(last?.status.failure?.message ?? '', /segfault 2/);
    assert.equal(last?.create.length, 0);
    assert.equal(last?.status.restartCount, 3);
  });

  it('fails with ProgressDeadlineExceeded when not ready in time, and removes the stuck replicas', () => {
    const dep0 = afterPlan(deployment(), reconcile(input({ deployment: deployment() })));
    const stuck = [replica('r1', 'starting', { lastError: 'warming up' })];
    const before = reconcile(input({ deployment: dep0, replicas: stuck, now: T0 + testSettings.progressDeadlineMs - 1 }));
    assert.equal(before.state, 'DEPLOYING');
    assert.ok((before.requeueAfterMs ?? 0) <= 1 || before.requeueAfterMs === READINESS_POLL_MS);
    const p = reconcile(input({ deployment: dep0, replicas: stuck, now: T0 + testSettings.progressDeadlineMs }));
    assert.equal(p.state, 'DEPLOY_FAILED');
    assert.equal(p.status.failure?.reason, 'ProgressDeadlineExceeded');
    assert.match(p.status.failure?.message ?? '', /0 of 1 .*warming up/);
    assert.deepEqual(removed(p), ['r1:Failed']);
  });

  it('names what a stuck replica waits for (a runtime’s waitingReason) in the ProgressDeadlineExceeded message', () => {
    const dep0 = afterPlan(deployment(), reconcile(input({ deployment: deployment() })));
    const waiting = [replica('r1', 'starting', { waitingReason: 'Unschedulable: 0/3 nodes are available: 3 Insufficient cpu.' })];
    const p = reconcile(input({ deployment: dep0, replicas: waiting, now: T0 + testSettings.progressDeadlineMs }));
    assert.equal(p.status.failure?.reason, 'ProgressDeadlineExceeded');
    assert.match(p.status.failure?.message ?? '', /replica r1: Unschedulable: 0\/3 nodes are available: 3 Insufficient cpu\.$/);
  });

  it('asks to be woken at the progress deadline', () => {
    const dep0 = afterPlan(deployment(), reconcile(input({ deployment: deployment() })));
    const settings = { ...testSettings, resyncIntervalMs: 60_000 };
    const p = reconcile(input({ deployment: dep0, replicas: [replica('r1', 'starting')], now: T0 + testSettings.progressDeadlineMs - 10, settings }));
    assert.equal(p.requeueAfterMs, 10);
  });

  it('fails with the artifact reason when the model is gone', () => {
    const p = reconcile(input({ deployment: deployment(), artifact: { ok: false, reason: 'ModelMissing', message: 'artifact abc not found' } }));
    assert.equal(p.state, 'DEPLOY_FAILED');
    assert.deepEqual(p.status.failure, { reason: 'ModelMissing', message: 'artifact abc not found', at: isoAt(T0) });
    assert.equal(p.create.length, 0);
  });

  it('starts over when the spec changes after a failure', () => {
    const failed = reconcile(input({ deployment: deployment(), artifact: { ok: false, reason: 'ModelMissing', message: 'gone' } }));
    const dep = { ...afterPlan(deployment(), failed), generation: 2 };
    const p = reconcile(input({ deployment: dep, now: T0 + 5000 }));
    assert.equal(p.state, 'DEPLOYING');
    assert.equal(p.status.failure, null);
    assert.equal(p.status.restartCount, 0);
    assert.equal(p.status.progressStartedAt, isoAt(T0 + 5000));
    assert.deepEqual(
      p.create.map((s) => s.generation),
      [2],
    );
  });
});

describe('reconcile: after DEPLOYED', () => {
  it('a crash keeps DEPLOYED, turns Available False below minReplicas, and the replica is replaced after the backoff', () => {
    const dep = deployed({ minReplicas: 2, maxReplicas: 2 });
    const reps = [replica('a', 'ready'), replica('b', 'exited', { exitCode: 137, lastError: 'killed' })];
    const p1 = reconcile(input({ deployment: dep, replicas: reps, now: T0 + 1000 }));
    assert.equal(p1.state, 'DEPLOYED');
    assert.equal(findCondition(p1.status.conditions, 'Available')?.status, 'False');
    assert.ok(reasons(p1).includes('Unavailable'));
    assert.deepEqual(
      p1.endpoints.map((e) => e.replicaId),
      ['a'],
    );
    assert.equal(p1.status.restartCount, 1);
    assert.equal(p1.create.length, 0);
    const p2 = reconcile(input({ deployment: afterPlan(dep, p1), replicas: [reps[0]!], now: T0 + 1100 }));
    assert.equal(p2.create.length, 1);
    assert.equal(p2.state, 'DEPLOYED');
    const p3 = reconcile(input({ deployment: afterPlan(dep, p2), replicas: [reps[0]!, replica(p2.create[0]!.replicaId, 'ready')], now: T0 + 1500 }));
    assert.equal(p3.status.restartCount, 0, 'every desired replica ready again resets the count');
    assert.equal(findCondition(p3.status.conditions, 'ReplicaFailure'), undefined);
    assert.ok(reasons(p3).includes('Available'));
  });

  it('repeated crashes show CrashLoopBackOff in status while the controller keeps restarting', () => {
    let dep = deployed();
    let now = T0;
    let p: Plan | null = null;
    for (let i = 0; i < testSettings.crashLoopRestarts + 2; i++) {
      now += 5000;
      p = reconcile(input({ deployment: dep, replicas: [replica(`r${i}`, 'exited', { lastError: `oom ${i}` })], now }));
      dep = afterPlan(dep, p);
      const replacement = reconcile(input({ deployment: dep, now: now + testSettings.restartBackoffMaxMs }));
      assert.equal(replacement.create.length, 1, `replacement ${i} is created`);
    }
    assert.equal(p?.state, 'DEPLOYED');
    assert.equal(p?.status.failure?.reason, 'CrashLoopBackOff');
    assert.match(p?.status.failure?.message ?? '', /oom 4/);
    assert.equal(dep.status.failure?.at, isoAt(T0 + 5000 * testSettings.crashLoopRestarts), 'the failure time is that of the first crash-loop report');
  });

  it('a replacement that never becomes ready is removed and counted after the progress deadline', () => {
    const dep = deployed({ minReplicas: 1 });
    const hung = replica('h', 'starting', { startedAt: isoAt(T0) });
    const p = reconcile(input({ deployment: dep, replicas: [hung], now: T0 + testSettings.progressDeadlineMs }));
    assert.deepEqual(removed(p), ['h:NotReady']);
    assert.equal(p.status.restartCount, 1);
    assert.equal(p.state, 'DEPLOYED');
  });

  it('scale-down removes starting replicas first, then the least busy and newest ready ones', () => {
    const base = deployed({ minReplicas: 1, maxReplicas: 4 });
    const dep = { ...base, status: { ...base.status, desiredReplicas: 4 } };
    const reps = [
      replica('old-busy', 'ready', { startedAt: isoAt(T0), inflight: 3 }),
      replica('old-idle', 'ready', { startedAt: isoAt(T0) }),
      replica('new-idle', 'ready', { startedAt: isoAt(T0 + 10) }),
      replica('starting', 'starting', { startedAt: isoAt(T0 + 20) }),
    ];
    const p = reconcile(input({ deployment: dep, replicas: reps, desiredReplicas: 1, now: T0 + 100 }));
    assert.deepEqual(removed(p), ['new-idle:ScaledDown', 'old-idle:ScaledDown', 'starting:ScaledDown']);
    assert.deepEqual(
      p.endpoints.map((e) => e.replicaId),
      ['old-busy'],
    );
    assert.ok(reasons(p).includes('ScaledDown'));
  });
});

describe('reconcile: rolling update', () => {
  const g2 = (over: Partial<ObservedReplica> = {}) => ({ generation: 2, ...over });

  it('surges one new replica, retires old ones only as new ones become ready, and reports RolledOut', () => {
    const dep = { ...deployed({ minReplicas: 2, maxReplicas: 2 }), generation: 2 };
    const old = [replica('o1', 'ready'), replica('o2', 'ready')];
    const p1 = reconcile(input({ deployment: dep, replicas: old, now: T0 + 10 }));
    assert.equal(p1.create.length, 1, 'one surge replica (maxReplicas + 1 exist)');
    assert.equal(p1.remove.length, 0);
    assert.equal(p1.state, 'DEPLOYED');
    assert.ok(reasons(p1).includes('RollingUpdate'));
    assert.equal(findCondition(p1.status.conditions, 'Progressing')?.reason, 'RollingUpdate');
    let d = afterPlan(dep, p1);

    const n1 = p1.create[0]!.replicaId;
    const p2 = reconcile(input({ deployment: d, replicas: [...old, replica(n1, 'starting', g2())], now: T0 + 20 }));
    assert.equal(p2.create.length + p2.remove.length, 0, 'nothing moves while the new one starts');

    const p3 = reconcile(input({ deployment: d, replicas: [...old, replica(n1, 'ready', g2())], now: T0 + 30 }));
    assert.equal(p3.remove.length, 1, 'one old replica retires for one new ready');
    assert.equal(p3.remove[0]?.reason, 'Replaced');
    assert.equal(p3.create.length, 0, 'the draining one still counts towards maxReplicas + 1');
    assert.equal(p3.endpoints.length, 2);
    d = afterPlan(d, p3);
    const leaving = p3.remove[0]!.replicaId;
    const staying = old.find((r) => r.replicaId !== leaving)!;

    const p4 = reconcile(input({ deployment: d, replicas: [staying, replica(leaving, 'draining'), replica(n1, 'ready', g2())], now: T0 + 40 }));
    assert.equal(p4.create.length, 0);
    const p5 = reconcile(input({ deployment: d, replicas: [staying, replica(n1, 'ready', g2())], now: T0 + 50 }));
    assert.equal(p5.create.length, 1);
    d = afterPlan(d, p5);
    const n2 = p5.create[0]!.replicaId;
    const p6 = reconcile(input({ deployment: d, replicas: [staying, replica(n1, 'ready', g2()), replica(n2, 'ready', g2())], now: T0 + 60 }));
    assert.deepEqual(removed(p6), [`${staying.replicaId}:Replaced`]);
    assert.equal(p6.state, 'DEPLOYED');
    assert.ok(reasons(p6).includes('RolledOut'));
    assert.deepEqual(
      p6.endpoints.map((e) => e.generation),
      [2, 2],
    );
    assert.equal(p6.status.progressStartedAt, null);
  });

  it('a change of minReplicas / maxReplicas alone scales without rolling; a config change rolls', () => {
    const old = [replica('o1', 'ready'), replica('o2', 'ready')];
    const steady = reconcile(input({ deployment: deployed({ minReplicas: 2, maxReplicas: 2 }), replicas: old, now: T0 + 10 }));
    assert.equal(steady.status.templateGeneration, 1);
    let d = afterPlan(deployed({ minReplicas: 2, maxReplicas: 2 }), steady);

    // PATCH maxReplicas 4 (generation 2), autoscaler wants 3: one more replica of generation 1.
    d = { ...d, maxReplicas: 4, generation: 2 };
    const scaled = reconcile(input({ deployment: d, replicas: old, desiredReplicas: 3, now: T0 + 20 }));
    assert.ok(!reasons(scaled).includes('RollingUpdate'));
    assert.equal(scaled.remove.length, 0, 'no replica is replaced');
    assert.deepEqual(
      scaled.create.map((c) => c.generation),
      [1],
    );
    assert.equal(scaled.status.observedGeneration, 2);
    assert.equal(scaled.status.templateGeneration, 1);
    d = afterPlan(d, scaled);

    // PATCH config (generation 3): the template changed, the replicas roll to generation 3.
    d = { ...d, config: { batch: 'large' }, generation: 3 };
    const rolled = reconcile(input({ deployment: d, replicas: old, desiredReplicas: 2, now: T0 + 30 }));
    assert.ok(reasons(rolled).includes('RollingUpdate'));
    assert.ok(rolled.create.length > 0 && rolled.create.every((c) => c.generation === 3), 'new replicas carry the new template generation');
    assert.equal(rolled.remove.length, 0, 'old replicas leave only as new ones become ready');
    assert.equal(rolled.status.templateGeneration, 3);
  });

  it('a failing new generation leaves the old replicas serving: DEPLOYED with the failure in status', () => {
    const dep = { ...deployed({ minReplicas: 1, maxReplicas: 1 }), generation: 2 };
    const p1 = reconcile(input({ deployment: dep, replicas: [replica('o1', 'ready')], now: T0 + 10 }));
    const d = afterPlan(dep, p1);
    const reps = [replica('o1', 'ready'), replica(p1.create[0]!.replicaId, 'exited', g2({ loadFailed: true, lastError: 'bad config' }))];
    const p2 = reconcile(input({ deployment: d, replicas: reps, now: T0 + 20 }));
    assert.equal(p2.state, 'DEPLOYED');
    assert.equal(p2.status.failure?.reason, 'ModelLoadFailed');
    assert.ok(reasons(p2).includes('RolloutFailed'));
    assert.deepEqual(
      p2.endpoints.map((e) => e.replicaId),
      ['o1'],
    );
    const p3 = reconcile(input({ deployment: afterPlan(d, p2), replicas: [replica('o1', 'ready')], now: T0 + 30_000 }));
    assert.equal(p3.create.length, 0, 'no retry until the spec changes');
    assert.equal(p3.remove.length, 0);
    assert.equal(p3.requeueAfterMs, null);
  });

  it('old replicas that are still starting are dropped at once', () => {
    const dep = { ...deployed({ minReplicas: 1, maxReplicas: 2 }), generation: 2 };
    const p = reconcile(input({ deployment: dep, replicas: [replica('o1', 'ready'), replica('o2', 'starting')], now: T0 + 10 }));
    assert.deepEqual(removed(p), ['o2:Replaced']);
  });
});

describe('reconcile: deletion', () => {
  const deleting = (over: Partial<DeploymentRecord> = {}) =>
    ({ ...deployed({ minReplicas: 2, maxReplicas: 2 }), state: 'DELETING', generation: 2, deletionRequestedAt: isoAt(T0), ...over }) as DeploymentRecord;

  it('drains every replica, publishes no endpoint, and removes the record once none is left', () => {
    const p1 = reconcile(input({ deployment: deleting(), replicas: [replica('a', 'ready'), replica('b', 'starting'), replica('c', 'exited')], now: T0 + 10 }));
    assert.deepEqual(removed(p1), ['a:Deleting', 'b:Deleting', 'c:Exited']);
    assert.deepEqual(p1.endpoints, []);
    assert.equal(p1.state, 'DELETING');
    assert.equal(p1.removeRecord, false);
    assert.equal(p1.create.length, 0);
    const p2 = reconcile(input({ deployment: deleting(), replicas: [replica('a', 'draining')], now: T0 + 20 }));
    assert.deepEqual(removed(p2), ['a:Draining']);
    assert.deepEqual(reasons(p2), [], 'asserting an ongoing drain again is not news');
    const p3 = reconcile(input({ deployment: deleting(), replicas: [], now: T0 + 30 }));
    assert.equal(p3.removeRecord, true);
    assert.ok(reasons(p3).includes('Deleted'));
  });

  it('becomes DELETE_FAILED past the delete deadline, and still removes the record when the replicas finally go', () => {
    const p1 = reconcile(input({ deployment: deleting(), replicas: [replica('a', 'draining')], now: T0 + testSettings.deleteDeadlineMs }));
    assert.equal(p1.state, 'DELETE_FAILED');
    assert.equal(p1.status.failure?.reason, 'DeleteTimeout');
    assert.ok(reasons(p1).includes('DeleteFailed'));
    const d = { ...deleting(), state: p1.state, status: p1.status };
    const p2 = reconcile(input({ deployment: d, replicas: [replica('a', 'draining')], now: T0 + testSettings.deleteDeadlineMs + 100 }));
    assert.deepEqual(reasons(p2), []);
    assert.equal(p2.status.failure?.at, p1.status.failure?.at);
    assert.equal(reconcile(input({ deployment: d, replicas: [], now: T0 + 60_000 })).removeRecord, true);
  });

  it('cancels a deployment that is still DEPLOYING', () => {
    const dep = { ...deployment(), state: 'DELETING', generation: 2, deletionRequestedAt: isoAt(T0) } as DeploymentRecord;
    const p = reconcile(input({ deployment: dep, replicas: [replica('a', 'starting')], now: T0 + 1 }));
    assert.deepEqual(removed(p), ['a:Deleting']);
    assert.equal(p.create.length, 0);
  });
});
