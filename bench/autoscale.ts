/**
 * bench/autoscale: a step load (low, high, low) on 127.0.0.1 against a deployment of the
 * reference BiGRU encoder with minReplicas 1, maxReplicas 4, under the server's autoscaler
 * (targetConcurrencyPerReplica 4, tolerance 0.1). The server runs with a config file that
 * shortens autoscale.scaleDownStabilizationMs (default 5 min) so that the scale-down of the last
 * low phase happens within the run; everything else is the default config.
 *
 * Prints: the replica-count timeline (deployment status sampled every 250 ms), the ScaledUp /
 * ScaledDown events with their reasons, the time from the step up to the autoscaler's decision and
 * to the first added replica serving (ready and published to the gateway), the requests sent and
 * failed per phase (target: 0 failed), and the count changes during the high phase after it
 * settled (target: 0).
 *
 * Usage: npm run bench:autoscale [-- --low 12 --high 40 --tail 35 --stabilization 15000 --concurrency 16]
 * (`--concurrency` is the high phase's; 16 asks for maxReplicas, 10 for 3 replicas of 4.)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeBigruArtifact } from '../test/fixtures/models.js';
import { sampleSentences } from '../test/fixtures/text.js';
import {
  LoadGenerator,
  StatusSampler,
  adminCredentials,
  api,
  countWindow,
  deploymentEvents,
  fmt,
  machineLine,
  startServer,
  timeline,
  token,
  waitForState, importModel } from './lib.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) || fallback : fallback;
};
const lowSeconds = arg('low', 12);
const highSeconds = arg('high', 40);
const tailSeconds = arg('tail', 35);
const stabilizationMs = arg('stabilization', 15_000);
const LOW = 1;
const HIGH = arg('concurrency', 16);
const BATCH = 8;
const TARGET = 4;

const work = await mkdtemp(path.join(os.tmpdir(), 'modeld-bench-autoscale-'));
const dataDir = path.join(work, 'data');
let server: Awaited<ReturnType<typeof startServer>> | null = null;

try {
  console.log(machineLine());
  const configFile = path.join(work, 'modeld.json');
  await writeFile(configFile, JSON.stringify({ autoscale: { targetConcurrencyPerReplica: TARGET, tolerance: 0.1, scaleDownStabilizationMs: stabilizationMs } }));
  console.log(
    `setup: bigru-30k-128 (256-d), minReplicas 1, maxReplicas 4; autoscale targetConcurrencyPerReplica ${TARGET}, tolerance 0.1, ` +
      `scaleDownStabilizationMs ${stabilizationMs} (shortened from the default 300000 through MODELD_CONFIG so the scale-down shows within the run); ` +
      `controller resync 2000 ms (default)`,
  );
  console.log(`load: closed loop, batch ${BATCH} texts per request; concurrency ${LOW} for ${lowSeconds} s, ${HIGH} for ${highSeconds} s, ${LOW} for ${tailSeconds} s`);
  const artifactDir = await makeBigruArtifact(path.join(work, 'bigru'));
  const texts = sampleSentences(2048, { seed: 11, minWords: 16, maxWords: 22 });
  const bodies: string[] = [];
  for (let i = 0; i + BATCH <= texts.length && bodies.length < 256; i += BATCH) bodies.push(JSON.stringify({ batch: texts.slice(i, i + BATCH).map((text) => ({ text })) }));

  server = await startServer(dataDir, undefined, { MODELD_CONFIG: configFile });
  const admin = await adminCredentials(dataDir);
  const tok = await token(server.url, admin);
  const C = admin.customerId;
  const model = { id: await importModel(server.url, tok, C, 'bigru-30k-128', artifactDir) };
  const dep = await api<{ id: string }>(server.url, tok, 'POST', `/customers/${C}/ai/deployments`, { modelId: model.id, region: 'local', minReplicas: 1, maxReplicas: 4 });
  const deployMs = await waitForState(server.url, tok, C, dep.id, 'DEPLOYED');
  console.log(`deploy-to-DEPLOYED (1 replica): ${fmt(deployMs)} ms`);

  const load = new LoadGenerator({ url: server.url, path: `/ai/prediction/embedding/${dep.id}`, tok, bodies, maxConcurrency: HIGH });
  const wall0 = Date.now() - load.now();
  const sampler = new StatusSampler({ url: server.url, tok, customerId: C, id: dep.id, clock: () => load.now() });
  const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

  load.setConcurrency(LOW);
  await sleep(lowSeconds);
  const stepUpMs = load.now();
  load.setConcurrency(HIGH);
  await sleep(highSeconds);
  const stepDownMs = load.now();
  load.setConcurrency(LOW);
  await sleep(tailSeconds);
  const endMs = load.now();
  const records = await load.stop();
  const samples = await sampler.stop();
  const events = (await deploymentEvents(server.url, tok, C, dep.id)).map((e) => ({ ...e, atMs: Date.parse(e.at) - wall0 }));

  const phaseOf = (t: number) => (t < stepUpMs ? 'low' : t < stepDownMs ? 'HIGH' : 'low');
  console.log(`\nreplica count over time (status sampled every 250 ms, ${samples.length} samples; t=0 is the start of the load; step up at ${(stepUpMs / 1000).toFixed(2)} s, down at ${(stepDownMs / 1000).toFixed(2)} s):`);
  for (const line of timeline(samples, (t) => `  [${phaseOf(t)}]`)) console.log(line);

  console.log('\nscaling events (reasons from the autoscaler):');
  for (const e of events.filter((x) => x.reason === 'ScaledUp' || x.reason === 'ScaledDown')) {
    console.log(`  t=${(e.atMs / 1000).toFixed(2).padStart(7)} s  ${e.reason}: ${e.message}`);
  }
  const replicaEvents = events.filter((x) => x.reason === 'ReplicaStarted' || x.reason === 'ReplicaStopping' || x.reason === 'ReplicaExited');
  console.log(`replica events: ${replicaEvents.map((e) => `${e.reason}@${(e.atMs / 1000).toFixed(1)}s`).join(', ') || 'none'}`);

  const firstUp = events.find((e) => e.reason === 'ScaledUp' && e.atMs >= stepUpMs);
  const firstServing = samples.find((s) => s.atMs >= stepUpMs && s.readyReplicas >= 2);
  const highSamples = samples.filter((s) => s.atMs >= stepUpMs && s.atMs < stepDownMs);
  const peak = Math.max(0, ...highSamples.map((s) => s.desiredReplicas));
  const settledAt = highSamples.find((s) => s.desiredReplicas === peak && s.readyReplicas === peak)?.atMs ?? null;
  let changesAfterSettling = 0;
  if (settledAt !== null) {
    let prev: { d: number; r: number } | null = null;
    for (const s of highSamples.filter((x) => x.atMs >= settledAt)) {
      if (prev && (s.desiredReplicas !== prev.d || s.readyReplicas !== prev.r)) changesAfterSettling++;
      prev = { d: s.desiredReplicas, r: s.readyReplicas };
    }
  }
  const scalingInHigh = events.filter((e) => (e.reason === 'ScaledUp' || e.reason === 'ScaledDown') && e.atMs >= stepUpMs && e.atMs < stepDownMs);
  const scaleDown = events.find((e) => e.reason === 'ScaledDown' && e.atMs >= stepDownMs);
  const backToOne = samples.find((s) => s.atMs >= stepDownMs && s.desiredReplicas === 1 && s.readyReplicas === 1 && s.replicas === 1);

  console.log('\nfigures:');
  console.log(`  step up -> autoscaler decision (first ScaledUp event):      ${firstUp ? `${fmt(firstUp.atMs - stepUpMs)} ms (${firstUp.message})` : 'none'}`);
  console.log(`  step up -> first added replica serving (ready >= 2):        ${firstServing ? `${fmt(firstServing.atMs - stepUpMs)} ms (to within the 250 ms sampling)` : 'never'}`);
  console.log(`  high phase: peak desired ${peak}, settled (desired = ready = ${peak}) ${settledAt === null ? 'never' : `${fmt(settledAt - stepUpMs)} ms after the step`}`);
  console.log(`  count changes in the high phase after settling:             ${changesAfterSettling} (target 0); ScaledUp/ScaledDown events in the high phase: ${scalingInHigh.length}`);
  console.log(
    `  step down -> ScaledDown: ${scaleDown ? `${fmt(scaleDown.atMs - stepDownMs)} ms (stabilization window ${stabilizationMs} ms)` : 'none within the run'}; back to 1 replica: ${backToOne ? `${fmt(backToOne.atMs - stepDownMs)} ms` : 'not within the run'}`,
  );
  const phases: Array<[string, number, number]> = [
    [`low (${LOW})`, 0, stepUpMs],
    [`high (${HIGH})`, stepUpMs, stepDownMs],
    [`low (${LOW})`, stepDownMs, endMs + 60_000],
  ];
  let failedTotal = 0;
  let sentTotal = 0;
  for (const [name, from, to] of phases) {
    const w = countWindow(records, from, to);
    failedTotal += w.failed;
    sentTotal += w.requests;
    const secs = (Math.min(to, endMs) - from) / 1000;
    console.log(`  ${name.padEnd(10)} requests ${String(w.requests).padStart(6)}  ok ${String(w.ok).padStart(6)}  failed ${w.failed}${w.failed ? ` ${JSON.stringify(w.failures)}` : ''}  (${fmt((w.ok * BATCH) / secs)} items/s)`);
  }
  console.log(`  requests sent ${sentTotal}, failed ${failedTotal} (target 0)`);
} finally {
  if (server) await server.stop('SIGTERM');
  await rm(work, { recursive: true, force: true });
}
