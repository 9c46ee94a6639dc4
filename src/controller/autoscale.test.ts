import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { DeploymentLoad } from '../domain/index.js';
import { autoscale, Autoscaler, type AutoscaleSample } from './autoscale.js';

const WINDOW = 60_000;
const settings = { targetConcurrencyPerReplica: 4, scaleDownStabilizationMs: WINDOW, tolerance: 0.1 };

function load(concurrency: number, over: Partial<DeploymentLoad> = {}): DeploymentLoad {
  return { inflight: 0, queued: 0, meanConcurrency: concurrency, peakConcurrency: concurrency, shed: 0, windowMs: 10_000, ...over };
}

describe('autoscale policy', () => {
  it('scales up at once to ceil(concurrency / target)', () => {
    const d = autoscale({ current: 1, min: 1, max: 10, load: load(13), history: [{ at: 0, recommended: 1 }], now: 1000, settings });
    assert.equal(d.desired, 4);
    assert.match(d.reason, /^scale up: concurrency 13 for 4 per replica/);
    assert.equal(d.inputs.recommended, 4);
  });

  it('counts requests in flight and queued now when they exceed the window mean', () => {
    const d = autoscale({ current: 1, min: 1, max: 10, load: load(2, { inflight: 4, queued: 6 }), history: [], now: 0, settings });
    assert.equal(d.desired, 3);
  });

  it('adds a replica when requests were shed, even if the mean looks fine', () => {
    const d = autoscale({ current: 2, min: 1, max: 10, load: load(4, { shed: 3 }), history: [], now: 0, settings });
    assert.equal(d.desired, 3);
    assert.match(d.reason, /3 request\(s\) shed/);
  });

  it('holds within the tolerance band', () => {
    const d = autoscale({ current: 3, min: 1, max: 10, load: load(12.8), history: [], now: 0, settings });
    assert.equal(d.desired, 3);
  });

  it('scales down only to the highest recommendation of the stabilization window', () => {
    let history: AutoscaleSample[] = [{ at: 0, recommended: 5 }];
    const held = autoscale({ current: 5, min: 1, max: 10, load: load(3), history, now: WINDOW - 1, settings });
    assert.equal(held.desired, 5);
    assert.match(held.reason, /^hold/);
    history = held.history;
    const down = autoscale({ current: 5, min: 1, max: 10, load: load(3), history, now: WINDOW, settings });
    assert.equal(down.desired, 1);
    assert.match(down.reason, /^scale down/);
  });

  it('scales down only to a count the load fills to at most (1 - tolerance) of the target', () => {
    // 12 for 4 per replica would be 3 replicas at 100 %: with 4 now, the count holds.
    const full = autoscale({ current: 4, min: 1, max: 10, load: load(12), history: [], now: 0, settings });
    assert.equal(full.desired, 4);
    assert.equal(full.inputs.recommended, 4);
    // 10.8 fills 3 replicas to 90 %: down to 3.
    assert.equal(autoscale({ current: 4, min: 1, max: 10, load: load(10.8), history: [], now: 0, settings }).desired, 3);
    // Going up is not affected: 12.1 on 2 replicas asks for ceil(12.1 / 4) = 4.
    assert.equal(autoscale({ current: 2, min: 1, max: 10, load: load(12.1), history: [], now: 0, settings }).desired, 4);
  });

  it('a closed-loop load that measures higher on fewer replicas does not make the count flap', () => {
    // bench/autoscale measured 12 on 4 replicas and 14 on 3 (16 clients, target 4): 4 must stay.
    let history: AutoscaleSample[] = [{ at: 0, recommended: 4 }];
    let current = 4;
    const changes: number[] = [];
    for (let now = 1_000; now <= 5 * WINDOW; now += 1_000) {
      const d = autoscale({ current, min: 1, max: 4, load: load(current === 4 ? 12 : 14), history, now, settings });
      if (d.desired !== current) changes.push(d.desired);
      current = d.desired;
      history = d.history;
    }
    assert.deepEqual(changes, []);
  });

  it('stays within [min, max] at the edges', () => {
    assert.equal(autoscale({ current: 3, min: 2, max: 4, load: load(1000), history: [], now: 0, settings }).desired, 4);
    assert.equal(autoscale({ current: 3, min: 2, max: 4, load: null, history: [], now: 0, settings }).desired, 2);
  });

  it('Autoscaler starts each history with the current count: no scale-down during the first window', () => {
    let now = 0;
    const scaler = new Autoscaler({ clock: { now: () => now }, settings });
    const dep = { id: 'd', minReplicas: 1, maxReplicas: 5, status: { desiredReplicas: 4 } };
    assert.equal(scaler.decide(dep, null).desired, 4);
    now = WINDOW - 1;
    assert.equal(scaler.decide(dep, null).desired, 4);
    now = WINDOW;
    assert.equal(scaler.decide(dep, null).desired, 1);
  });
});

describe('Autoscaler per deployment', () => {
  it("uses a deployment's own target concurrency (extension) over the server default", () => {
    const scaler = new Autoscaler({ clock: { now: () => 1000 }, settings });
    const base = { minReplicas: 1, maxReplicas: 10, status: { desiredReplicas: 1 } };
    assert.equal(scaler.decide({ id: 'default', ...base }, load(12)).desired, 3, '12 / 4 per replica');
    const own = scaler.decide({ id: 'own', ...base, autoscaling: { targetConcurrencyPerReplica: 2 } }, load(12));
    assert.equal(own.desired, 6, '12 / 2 per replica');
    assert.match(own.reason, /for 2 per replica/);
    assert.equal(scaler.decide({ id: 'cleared', ...base, autoscaling: null }, load(12)).desired, 3);
  });
});

describe('autoscale properties', () => {
  const loadArb = fc.option(
    fc.record({
      inflight: fc.nat({ max: 200 }),
      queued: fc.nat({ max: 200 }),
      meanConcurrency: fc.double({ min: 0, max: 300, noNaN: true }),
      peakConcurrency: fc.double({ min: 0, max: 300, noNaN: true }),
      shed: fc.nat({ max: 5 }),
      windowMs: fc.constant(10_000),
    }),
    { nil: null },
  );
  const bounds = fc.integer({ min: 1, max: 8 }).chain((min) => fc.record({ min: fc.constant(min), max: fc.integer({ min, max: min + 8 }) }));

  it('the decision is always within [min, max], whatever the inputs', () => {
    fc.assert(
      fc.property(
        bounds,
        fc.integer({ min: -5, max: 30 }),
        loadArb,
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 200_000 }), recommended: fc.integer({ min: -3, max: 40 }) }), { maxLength: 10 }),
        fc.integer({ min: 0, max: 200_000 }),
        fc.double({ min: 0.1, max: 50, noNaN: true }),
        ({ min, max }, current, l, history, now, target) => {
          const d = autoscale({ current, min, max, load: l, history, now, settings: { ...settings, targetConcurrencyPerReplica: target } });
          assert.ok(Number.isInteger(d.desired) && d.desired >= min && d.desired <= max, `desired ${d.desired} not in [${min}, ${max}]`);
          assert.ok(d.history.every((s) => now - s.at < WINDOW));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('under a steady load the count moves in one direction only, then stays (no oscillation)', () => {
    fc.assert(
      fc.property(
        bounds,
        fc.integer({ min: 1, max: 16 }),
        loadArb,
        fc.integer({ min: 500, max: 20_000 }),
        ({ min, max }, start, l, stepMs) => {
          let current = Math.min(max, Math.max(min, start));
          let history: AutoscaleSample[] = [{ at: 0, recommended: current }];
          const seen = [current];
          for (let now = stepMs; now <= 4 * WINDOW; now += stepMs) {
            const d = autoscale({ current, min, max, load: l, history, now, settings });
            history = d.history;
            current = d.desired;
            if (current !== seen.at(-1)) seen.push(current);
          }
          // Without shedding one move; with steady shedding one step per pass up to max. Never back.
          if (!l || l.shed === 0) assert.ok(seen.length <= 2, `counts over time: ${seen.join(' -> ')}`);
          const up = seen.every((c, i) => i === 0 || c > seen[i - 1]!);
          const down = seen.every((c, i) => i === 0 || c < seen[i - 1]!);
          assert.ok(up || down, `counts over time change direction: ${seen.join(' -> ')}`);
          // And it settled where the load asks (up to the hysteresis band when holding).
          const again = autoscale({ current, min, max, load: l, history, now: 4 * WINDOW + stepMs, settings });
          assert.equal(again.desired, current);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a dip in the load never removes replicas before the stabilization window has passed', () => {
    fc.assert(
      fc.property(bounds, fc.double({ min: 0, max: 100, noNaN: true }), fc.integer({ min: 1, max: WINDOW - 1 }), ({ min, max }, highLoad, dipAt) => {
        const high = autoscale({ current: min, min, max, load: load(highLoad), history: [], now: 0, settings });
        const dip = autoscale({ current: high.desired, min, max, load: load(0), history: high.history, now: dipAt, settings });
        assert.equal(dip.desired, high.desired);
      }),
      { numRuns: 300 },
    );
  });
});
