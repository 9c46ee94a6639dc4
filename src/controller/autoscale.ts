import type { DeploymentLoad } from '../domain/index.js';

/** One past recommendation of the policy (what the load alone asked for at that time). */
export interface AutoscaleSample {
  at: number;
  recommended: number;
}

export interface AutoscalePolicySettings {
  /** Concurrent requests (in flight + queued) one replica should carry. */
  targetConcurrencyPerReplica: number;
  /** A scale-down takes the highest recommendation of this window: slow down, no flapping. Default 5 min. */
  scaleDownStabilizationMs?: number;
  /**
   * Load within this fraction of the current capacity changes nothing (hysteresis band), and a
   * scale-down keeps this fraction of the target free on the replicas left. Default 0.1.
   */
  tolerance?: number;
}

export interface AutoscaleInput {
  /** The replica count currently desired. */
  current: number;
  min: number;
  max: number;
  /** What the gateway measured; null when it has not seen the deployment (no traffic, or just started). */
  load: DeploymentLoad | null;
  /** Recommendations of earlier calls, any order; entries older than the window are ignored. */
  history: readonly AutoscaleSample[];
  now: number;
  settings: AutoscalePolicySettings;
}

export interface AutoscaleDecision {
  /** Within [min, max]. */
  desired: number;
  /** Why, in words (recorded with the ScaledUp / ScaledDown event when it changes the count). */
  reason: string;
  /** The figures the decision used. */
  inputs: Record<string, unknown>;
  /** `history` for the next call: this call's recommendation added, expired ones dropped. */
  history: AutoscaleSample[];
}

export const DEFAULT_SCALE_DOWN_STABILIZATION_MS = 5 * 60_000;
export const DEFAULT_AUTOSCALE_TOLERANCE = 0.1;

/**
 * The autoscaling policy, pure. The load asks for ceil(demand / target) replicas, where demand
 * is the larger of the window's mean concurrency and the requests in flight or queued now; any
 * request shed with 429 in the window asks for one more replica than now. Within the tolerance
 * band around the current capacity the recommendation is the current count (hysteresis), and a
 * count below the current one must leave each replica at most (1 - tolerance) of the target: a
 * closed-loop load measures higher on fewer replicas, and must not then ask for them back.
 *
 * Up is fast: a higher recommendation applies at once. Down is slow: the count goes down only to
 * the highest recommendation of the last `scaleDownStabilizationMs`, so a dip in the load does
 * not remove replicas that the next burst needs, and a steady load settles on one count and
 * stays there. The result is always within [min, max]. An empty history lets the count go down
 * at once: callers start it with the current count (Autoscaler does), so that a restart does not
 * shed replicas before the load was seen for a whole window.
 */
export function autoscale(input: AutoscaleInput): AutoscaleDecision {
  const { min, max, load, now, settings } = input;
  const target = Math.max(settings.targetConcurrencyPerReplica, Number.MIN_VALUE);
  const windowMs = settings.scaleDownStabilizationMs ?? DEFAULT_SCALE_DOWN_STABILIZATION_MS;
  const tolerance = settings.tolerance ?? DEFAULT_AUTOSCALE_TOLERANCE;
  const current = clamp(input.current, min, max);

  const demand = load ? Math.max(load.meanConcurrency, load.inflight + load.queued) : 0;
  const shed = load?.shed ?? 0;
  let recommended: number;
  let why: string;
  if (shed > 0) {
    recommended = Math.max(current + 1, Math.ceil(demand / target));
    why = `${shed} request(s) shed`;
  } else if (load !== null && current > 0 && Math.abs(demand / (current * target) - 1) <= tolerance) {
    recommended = current;
    why = 'load within the tolerance of the current capacity';
  } else {
    recommended = Math.ceil(demand / target);
    // Fewer replicas only as many as the load fills to (1 - tolerance) of the target at most: with
    // closed-loop clients the concurrency measured rises when replicas go (each request waits
    // longer), and a count that is just enough now would be too few after the scale-down.
    if (recommended < current) recommended = Math.min(current, Math.ceil(demand / (target * (1 - Math.min(tolerance, 0.9)))));
    why = load === null ? 'no load measured' : `concurrency ${round(demand)} for ${target} per replica`;
  }
  recommended = clamp(recommended, min, max);

  const history = [...input.history.filter((s) => now - s.at < windowMs && s.at <= now), { at: now, recommended }].sort((a, b) => a.at - b.at);
  const stabilized = Math.max(...history.map((s) => s.recommended));

  let desired: number;
  let reason: string;
  if (recommended > current) {
    desired = recommended;
    reason = `scale up: ${why}`;
  } else if (stabilized < current) {
    desired = stabilized;
    reason = `scale down: ${why}; highest recommendation of the last ${windowMs} ms is ${stabilized}`;
  } else {
    desired = current;
    reason = recommended < current ? `hold: ${why}; waiting for the load to stay low for ${windowMs} ms` : `hold: ${why}`;
  }
  return {
    desired,
    reason,
    inputs: {
      current,
      min,
      max,
      demand: round(demand),
      shed,
      targetConcurrencyPerReplica: target,
      recommended,
      stabilized,
      windowMs: load?.windowMs ?? null,
    },
    history,
  };
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Number.isFinite(n) ? Math.round(n) : lo));
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** Per-deployment autoscaling state the controller keeps in memory (recommendation history). */
export interface AutoscaleSubject {
  id: string;
  minReplicas: number;
  maxReplicas: number;
  status: { desiredReplicas: number };
  /** The deployment's own target (extension); absent or null = the policy's settings. */
  autoscaling?: { targetConcurrencyPerReplica: number } | null;
}

/**
 * The policy with its memory: one history per deployment, started with the deployment's current
 * desired count (so nothing scales down during the first window after a restart). Pass
 * `decide` as the controller's `autoscaler`. Histories of deployments not seen for two windows
 * are dropped.
 */
export class Autoscaler {
  readonly #clock: { now(): number };
  readonly #settings: AutoscalePolicySettings;
  readonly #histories = new Map<string, AutoscaleSample[]>();

  constructor(options: { clock: { now(): number }; settings: AutoscalePolicySettings }) {
    this.#clock = options.clock;
    this.#settings = options.settings;
  }

  readonly decide = (deployment: AutoscaleSubject, load: DeploymentLoad | null): AutoscaleDecision => {
    const now = this.#clock.now();
    const windowMs = this.#settings.scaleDownStabilizationMs ?? DEFAULT_SCALE_DOWN_STABILIZATION_MS;
    for (const [id, samples] of this.#histories) {
      if (now - (samples.at(-1)?.at ?? 0) > 2 * windowMs) this.#histories.delete(id);
    }
    const current = deployment.status.desiredReplicas > 0 ? deployment.status.desiredReplicas : deployment.minReplicas;
    const history = this.#histories.get(deployment.id) ?? [{ at: now, recommended: current }];
    const settings = deployment.autoscaling ? { ...this.#settings, targetConcurrencyPerReplica: deployment.autoscaling.targetConcurrencyPerReplica } : this.#settings;
    const decision = autoscale({ current, min: deployment.minReplicas, max: deployment.maxReplicas, load, history, now, settings });
    this.#histories.set(deployment.id, decision.history);
    return decision;
  };
}
