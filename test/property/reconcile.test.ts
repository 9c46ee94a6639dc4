/**
 * Properties of the pure reconcile over random histories: a small simulated runtime applies each
 * plan (removed replicas drain then vanish, created ones start then become ready) while fast-check
 * interleaves clock ticks, crashes, load failures, spec changes (new generations, min/max),
 * autoscaler wishes and deletion.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { reconcile } from '../../src/controller/index.js';
import { T0, deployment, okArtifact, testSettings } from '../../src/controller/testing/builders.js';
import { isoAt, type DeploymentRecord } from '../../src/domain/index.js';
import type { ObservedReplica } from '../../src/runtimes/index.js';
import type { ControllerSettings, Plan, ReconcileInput } from '../../src/controller/index.js';

type Op =
  | { kind: 'tick'; dt: number; drainsFinish: boolean }
  | { kind: 'crash'; pick: number; loadFailed: boolean }
  | { kind: 'config' }
  | { kind: 'replicas'; min: number; extra: number }
  | { kind: 'desired'; n: number };

interface SimReplica {
  id: string;
  generation: number;
  phase: ObservedReplica['phase'];
  startedAt: number;
  readyAt: number;
  exitCode: number | null;
  loadFailed: boolean;
}

class Sim {
  now = T0;
  dep: DeploymentRecord;
  desired: number;
  readonly replicas = new Map<string, SimReplica>();
  seq = 0;
  removed = false;
  constructor(
    min: number,
    max: number,
    readonly settings: ControllerSettings,
    readonly readyDelayMs: number,
  ) {
    this.dep = deployment({ minReplicas: min, maxReplicas: max });
    this.desired = min;
  }

  observed(): ObservedReplica[] {
    return [...this.replicas.values()].map((r) => ({
      replicaId: r.id,
      deploymentId: this.dep.id,
      generation: r.generation,
      phase: r.phase,
      endpoint: r.phase === 'ready' || r.phase === 'draining' ? `http://127.0.0.1:9/${r.id}` : null,
      pid: null,
      startedAt: isoAt(r.startedAt),
      readyAt: r.phase === 'ready' ? isoAt(r.readyAt) : null,
      exitCode: r.exitCode,
      lastError: r.phase === 'exited' ? `crash of ${r.id}` : null,
      loadFailed: r.loadFailed,
      inflight: 0,
    }));
  }

  input(): ReconcileInput {
    return {
      deployment: this.dep,
      replicas: this.observed(),
      artifact: okArtifact,
      desiredReplicas: this.desired,
      now: this.now,
      settings: this.settings,
      idSeed: `s${this.seq++}`,
    };
  }

  /** Does what the controller's apply does, as a runtime would see it. */
  apply(plan: Plan): void {
    for (const rm of plan.remove) {
      const r = this.replicas.get(rm.replicaId);
      if (!r) continue;
      if (r.phase === 'exited') this.replicas.delete(r.id);
      else r.phase = 'draining';
    }
    for (const c of plan.create) {
      assert.ok(!this.replicas.has(c.replicaId), `replica id ${c.replicaId} reused`);
      this.replicas.set(c.replicaId, {
        id: c.replicaId,
        generation: c.generation,
        phase: 'starting',
        startedAt: this.now,
        readyAt: this.now + this.readyDelayMs,
        exitCode: null,
        loadFailed: false,
      });
    }
    if (plan.removeRecord) this.removed = true;
    else this.dep = { ...this.dep, state: plan.state, status: plan.status };
  }

  step(op: Op): void {
    switch (op.kind) {
      case 'tick':
        this.now += op.dt;
        for (const r of [...this.replicas.values()]) {
          if (r.phase === 'starting' && r.readyAt <= this.now) r.phase = 'ready';
          else if (r.phase === 'draining' && op.drainsFinish) this.replicas.delete(r.id);
        }
        break;
      case 'crash': {
        const alive = [...this.replicas.values()].filter((r) => r.phase === 'starting' || r.phase === 'ready');
        const r = alive[op.pick % Math.max(1, alive.length)];
        if (r) {
          r.phase = 'exited';
          r.exitCode = 1;
          r.loadFailed = op.loadFailed && r.generation === currentGeneration(this.dep);
        }
        break;
      }
      case 'config':
        this.bump({ config: { v: this.dep.generation + 1 } });
        break;
      case 'replicas':
        this.bump({ minReplicas: op.min, maxReplicas: op.min + op.extra });
        break;
      case 'desired':
        this.desired = op.n;
        break;
    }
  }

  bump(patch: Partial<DeploymentRecord>): void {
    if (this.dep.deletionRequestedAt !== null) return;
    this.dep = { ...this.dep, ...patch, generation: this.dep.generation + 1 };
  }

  requestDeletion(): void {
    if (this.dep.deletionRequestedAt !== null) return;
    this.dep = { ...this.dep, state: 'DELETING', generation: this.dep.generation + 1, deletionRequestedAt: isoAt(this.now) };
  }

  /** One reconcile with the checks every plan must pass; returns the plan after applying it. */
  reconcileAndCheck(): Plan {
    const input = this.input();
    const frozen = structuredClone(input);
    const plan = reconcile(input);
    assert.deepEqual(input, frozen, 'reconcile does not mutate its input');
    assert.deepEqual(reconcile(structuredClone(frozen)), plan, 'reconcile is deterministic');
    checkPlan(input, plan);
    this.apply(plan);
    if (plan.create.length > 0) {
      const existing = [...this.replicas.values()].filter((r) => r.phase !== 'exited').length;
      const rolling = input.replicas.some((r) => r.generation !== plan.status.templateGeneration && (r.phase === 'ready' || r.phase === 'starting'));
      const cap = input.deployment.maxReplicas + (rolling ? 1 : 0);
      assert.ok(existing <= cap, `created up to ${existing} replicas, cap ${cap} (maxReplicas ${input.deployment.maxReplicas}${rolling ? ' + 1 surge' : ''})`);
    }
    return plan;
  }
}

/** The generation replicas of the current template carry (a min/max change alone keeps it). */
function currentGeneration(dep: DeploymentRecord): number {
  return dep.status.templateGeneration ?? dep.generation;
}

function checkPlan(input: ReconcileInput, plan: Plan): void {
  const byId = new Map(input.replicas.map((r) => [r.replicaId, r]));
  const removed = new Set(plan.remove.map((r) => r.replicaId));
  for (const e of plan.endpoints) {
    const r = byId.get(e.replicaId);
    assert.ok(r && r.phase === 'ready', `endpoint ${e.replicaId} is a ready replica`);
    assert.ok(!removed.has(e.replicaId), `endpoint ${e.replicaId} is not leaving`);
  }
  assert.equal(plan.status.readyReplicas, plan.endpoints.length);
  assert.ok(plan.status.desiredReplicas <= input.deployment.maxReplicas || input.deployment.deletionRequestedAt !== null);
  assert.equal(new Set(plan.create.map((c) => c.replicaId)).size, plan.create.length);
  for (const c of plan.create) {
    assert.ok(!byId.has(c.replicaId));
    assert.equal(c.generation, plan.status.templateGeneration, 'only the current (template) generation is created');
  }
  for (const rm of plan.remove) assert.ok(byId.has(rm.replicaId), 'only observed replicas are removed');
  if (input.deployment.deletionRequestedAt !== null) {
    assert.equal(plan.create.length, 0);
    assert.deepEqual(plan.endpoints, []);
  }
  if (plan.requeueAfterMs !== null) assert.ok(plan.requeueAfterMs >= 1 && Number.isFinite(plan.requeueAfterMs));
}

const tick = fc.record({ kind: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 700 }), drainsFinish: fc.boolean() });
const anyOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: tick },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('crash' as const), pick: fc.nat(), loadFailed: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('config' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replicas' as const), min: fc.integer({ min: 1, max: 4 }), extra: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('desired' as const), n: fc.integer({ min: 0, max: 7 }) }) },
);
/** No crash, no load failure, no min/max change: a healthy deployment rolled by config changes and autoscaled. */
const healthyOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: tick },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('config' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('desired' as const), n: fc.integer({ min: 0, max: 7 }) }) },
);
const shape = fc.record({ min: fc.integer({ min: 1, max: 3 }), extra: fc.integer({ min: 0, max: 2 }), readyDelayMs: fc.integer({ min: 0, max: 400 }) });

const RUNS = 200;

describe('reconcile properties', () => {
  it('never creates beyond maxReplicas (+1 surge during a roll), publishes only ready non-leaving replicas, is deterministic', () => {
    fc.assert(
      fc.property(shape, fc.array(anyOp, { maxLength: 80 }), ({ min, extra, readyDelayMs }, ops) => {
        const sim = new Sim(min, min + extra, testSettings, readyDelayMs);
        for (const op of ops) {
          sim.step(op);
          sim.reconcileAndCheck();
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('once DEPLOYED and without failures, ready replicas never drop below minReplicas through rolls and scaling', () => {
    const settings = { ...testSettings, progressDeadlineMs: 10 * 60_000 };
    fc.assert(
      fc.property(shape, fc.array(healthyOp, { maxLength: 80 }), ({ min, extra, readyDelayMs }, ops) => {
        const sim = new Sim(min, min + extra, settings, readyDelayMs);
        let deployed = false;
        const settle = () => {
          // Reach DEPLOYED first: the property starts there.
          for (let i = 0; i < 20 && !deployed; i++) {
            sim.step({ kind: 'tick', dt: 500, drainsFinish: true });
            deployed = sim.reconcileAndCheck().state === 'DEPLOYED';
          }
        };
        settle();
        assert.ok(deployed, 'a healthy deployment becomes DEPLOYED');
        for (const op of ops) {
          sim.step(op);
          const plan = sim.reconcileAndCheck();
          assert.equal(plan.status.failure, null);
          assert.equal(plan.state, 'DEPLOYED');
          assert.ok(plan.endpoints.length >= sim.dep.minReplicas, `${plan.endpoints.length} ready published, minReplicas ${sim.dep.minReplicas}`);
        }
        // And it converges: every replica of the last generation, the desired count ready.
        for (let i = 0; i < 25; i++) {
          sim.step({ kind: 'tick', dt: 500, drainsFinish: true });
          sim.reconcileAndCheck();
        }
        const live = [...sim.replicas.values()];
        assert.ok(live.every((r) => r.generation === currentGeneration(sim.dep) && r.phase === 'ready'), 'rolled out completely');
        assert.equal(live.length, Math.min(Math.max(sim.desired, sim.dep.minReplicas), sim.dep.maxReplicas));
        assert.equal(sim.dep.status.progressStartedAt, null);
      }),
      { numRuns: RUNS / 2 },
    );
  });

  it('deletion always ends with removeRecord once the replicas drain or exit, even past the delete deadline', () => {
    fc.assert(
      fc.property(
        shape,
        fc.array(anyOp, { maxLength: 60 }),
        fc.array(fc.oneof(tick, fc.record({ kind: fc.constant('crash' as const), pick: fc.nat(), loadFailed: fc.boolean() })), { maxLength: 20 }),
        fc.integer({ min: 0, max: 3 * testSettings.deleteDeadlineMs }),
        ({ min, extra, readyDelayMs }, before, during, stuckMs) => {
          const sim = new Sim(min, min + extra, testSettings, readyDelayMs);
          for (const op of before) {
            sim.step(op);
            sim.reconcileAndCheck();
          }
          sim.requestDeletion();
          const requestedAt = sim.now;
          // Drains hang for `stuckMs` (a replica that will not stop), then finish when ticks say so.
          for (const op of during) {
            if (sim.removed) break;
            sim.step(op.kind === 'tick' ? { ...op, drainsFinish: op.drainsFinish && sim.now + op.dt - requestedAt >= stuckMs } : op);
            sim.reconcileAndCheck();
          }
          if (!sim.removed) {
            sim.step({ kind: 'tick', dt: Math.max(0, requestedAt + stuckMs - sim.now), drainsFinish: false });
            const plan = sim.reconcileAndCheck();
            if (!plan.removeRecord && sim.now - requestedAt >= testSettings.deleteDeadlineMs) {
              assert.equal(plan.state, 'DELETE_FAILED', 'past the delete deadline with replicas left');
              assert.equal(plan.status.failure?.reason, 'DeleteTimeout');
            }
          }
          // From here on drains finish: the record must go within a few passes.
          for (let i = 0; i < 4 && !sim.removed; i++) {
            sim.step({ kind: 'tick', dt: 100, drainsFinish: true });
            const plan = sim.reconcileAndCheck();
            assert.ok(['DELETING', 'DELETE_FAILED'].includes(plan.state) || plan.removeRecord);
            if (sim.now - requestedAt >= testSettings.deleteDeadlineMs && !plan.removeRecord) assert.equal(plan.state, 'DELETE_FAILED');
          }
          assert.ok(sim.removed, 'the record is removed');
          assert.equal([...sim.replicas.values()].filter((r) => r.phase !== 'exited').length, 0);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('a failed generation is never retried until the spec changes', () => {
    fc.assert(
      fc.property(shape, fc.array(anyOp, { maxLength: 80 }), ({ min, extra, readyDelayMs }, ops) => {
        const sim = new Sim(min, min + extra, testSettings, readyDelayMs);
        let failedGeneration: number | null = null;
        for (const op of ops) {
          sim.step(op);
          const generation = sim.dep.generation;
          const plan = sim.reconcileAndCheck();
          if (failedGeneration === generation) assert.equal(plan.create.length, 0, `generation ${generation} failed, yet replicas are created`);
          const progressing = plan.status.conditions.find((c) => c.type === 'Progressing');
          if (plan.status.failure && progressing?.status === 'False') failedGeneration = generation;
        }
      }),
      { numRuns: RUNS },
    );
  });
});
