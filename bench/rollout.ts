/**
 * bench/rollout: steady closed-loop load on 127.0.0.1 against a deployment of the reference
 * BiGRU encoder with 2 replicas (minReplicas 2, maxReplicas 2), while
 *
 *   1. a PATCH of the deployment's config rolls both replicas (surge one, retire one per new
 *      ready one), and then
 *   2. one ready replica is killed with SIGKILL (its pid read from
 *      `<dataDir>/replicas/local/<replicaId>/status.json`) and replaced by the controller, and
 *   3. both at once: a second PATCH, and SIGKILL of an old ready replica once the surge replica
 *      exists (fewer than minReplicas ready until the new ones are).
 *
 * Prints, per window, requests sent, succeeded and failed with the failures by status and code
 * (targets: 0 failed during the rollout; during the kill, failures only when the gateway's retry
 * budget (`gateway.retries`, 2) is exhausted, which shows as 503 MODELD_ERR_REPLICA_FAILED), the
 * gateway's retries by reason, the replica-count timeline (status sampled every 250 ms) and the
 * deployment's events.
 *
 * Usage: npm run bench:rollout [-- --concurrency 8]
 */
import { readFile, readdir, mkdtemp, rm } from 'node:fs/promises';
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
  scrapeCounter,
  startServer,
  timeline,
  token,
  waitForState,
  type DeploymentEvent, importModel } from './lib.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) || fallback : fallback;
};
const CONCURRENCY = arg('concurrency', 8);
const BATCH = 8;
const SETTLE_S = 3;

const work = await mkdtemp(path.join(os.tmpdir(), 'modeld-bench-rollout-'));
const dataDir = path.join(work, 'data');
let server: Awaited<ReturnType<typeof startServer>> | null = null;
const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

try {
  console.log(machineLine());
  console.log(`setup: bigru-30k-128 (256-d), minReplicas 2, maxReplicas 2, default config (gateway.retries 2, maxInflightPerReplica 8, controller resync 2000 ms, restartBackoffBaseMs 250)`);
  console.log(`load: closed loop, concurrency ${CONCURRENCY}, batch ${BATCH} texts per request, for the whole run`);
  const artifactDir = await makeBigruArtifact(path.join(work, 'bigru'));
  const texts = sampleSentences(2048, { seed: 13, minWords: 16, maxWords: 22 });
  const bodies: string[] = [];
  for (let i = 0; i + BATCH <= texts.length && bodies.length < 256; i += BATCH) bodies.push(JSON.stringify({ batch: texts.slice(i, i + BATCH).map((text) => ({ text })) }));

  server = await startServer(dataDir);
  const url = server.url;
  const admin = await adminCredentials(dataDir);
  const tok = await token(url, admin);
  const C = admin.customerId;
  const model = { id: await importModel(url, tok, C, 'bigru-30k-128', artifactDir) };
  const dep = await api<{ id: string }>(url, tok, 'POST', `/customers/${C}/ai/deployments`, { modelId: model.id, region: 'local', minReplicas: 2, maxReplicas: 2 });
  console.log(`deploy-to-DEPLOYED (2 replicas): ${fmt(await waitForState(url, tok, C, dep.id, 'DEPLOYED'))} ms`);

  const load = new LoadGenerator({ url, path: `/ai/prediction/embedding/${dep.id}`, tok, bodies, maxConcurrency: CONCURRENCY });
  const wall0 = Date.now() - load.now();
  const sampler = new StatusSampler({ url, tok, customerId: C, id: dep.id, clock: () => load.now() });
  const retries = () => scrapeCounter(url, tok, 'modeld_gateway_retries_total', { deployment: dep.id }, 'reason');
  const events = () => deploymentEvents(url, tok, C, dep.id);
  /** Polls (every 100 ms, at most `timeoutS`) until `done` holds for the events and the latest status sample. */
  const until = async (what: string, done: (events: DeploymentEvent[]) => boolean, timeoutS = 60): Promise<void> => {
    const deadline = load.now() + timeoutS * 1000;
    while (!done(await events())) {
      if (load.now() > deadline) {
        // Say what the deployment did before giving up.
        for (const line of timeline(sampler.samples)) console.log(line);
        for (const e of await events()) console.log(`  ${e.at} ${e.reason}: ${e.message.split('\n')[0]}`);
        throw new Error(`${what}: not within ${timeoutS} s`);
      }
      await sleep(0.1);
    }
  };
  const lastSample = () => sampler.samples.at(-1);

  load.setConcurrency(CONCURRENCY);
  await sleep(SETTLE_S);
  const baseline = { from: 0, to: load.now() };

  // 1. The rollout: a config change is a new template, so both replicas are replaced.
  const beforeRoll = (await events()).at(-1)?.id ?? 0;
  const retriesBeforeRoll = await retries();
  const rollFrom = load.now();
  await api(url, tok, 'PATCH', `/customers/${C}/ai/deployments/${dep.id}`, { config: { rollout: 'bench-1' } });
  await until(
    'the rollout',
    (ev) => ev.some((e) => e.id > beforeRoll && e.reason === 'RolledOut') && lastSample()?.replicas === 2 && lastSample()?.readyReplicas === 2,
  );
  const rolledOutAt = load.now();
  await sleep(SETTLE_S);
  const roll = { from: rollFrom, to: load.now() };
  const retriesAfterRoll = await retries();

  // 2. The kill: SIGKILL one ready replica of the new generation.
  const victim = await pickReadyReplica(path.join(dataDir, 'replicas', 'local'));
  const beforeKill = (await events()).at(-1)?.id ?? 0;
  const killFrom = load.now();
  process.kill(victim.pid, 'SIGKILL');
  await until(
    'the replacement',
    (ev) => ev.some((e) => e.id > beforeKill && e.reason === 'ReplicaStarted') && lastSample()!.atMs > killFrom + 500 && lastSample()?.readyReplicas === 2 && lastSample()?.replicas === 2,
  );
  const replacedAt = load.now();
  await sleep(SETTLE_S);
  const kill = { from: killFrom, to: load.now() };
  const retriesAfterKill = await retries();

  // 3. Both at once: a second roll, and SIGKILL of a ready replica of the old generation as soon
  // as the surge replica exists (ready drops below minReplicas while the new one starts).
  const beforeBoth = (await events()).at(-1)?.id ?? 0;
  const bothFrom = load.now();
  await api(url, tok, 'PATCH', `/customers/${C}/ai/deployments/${dep.id}`, { config: { rollout: 'bench-2' } });
  await until('the surge replica', () => (lastSample()?.replicas ?? 0) >= 3, 30);
  const victim2 = await pickReadyReplica(path.join(dataDir, 'replicas', 'local'));
  process.kill(victim2.pid, 'SIGKILL');
  const killedInRollAt = load.now();
  await until(
    'the rollout after the kill',
    // Below minReplicas ready the deployment is DEPLOYING again, so it ends with Deployed, not RolledOut.
    (ev) => ev.some((e) => e.id > beforeBoth && (e.reason === 'RolledOut' || e.reason === 'Deployed')) && lastSample()?.replicas === 2 && lastSample()?.readyReplicas === 2,
  );
  const rolledOutAgainAt = load.now();
  await sleep(SETTLE_S);
  const both = { from: bothFrom, to: load.now() };
  const retriesAfterBoth = await retries();

  const records = await load.stop();
  const samples = await sampler.stop();
  const all = (await events()).map((e) => ({ ...e, atMs: Date.parse(e.at) - wall0 }));

  console.log(
    `\nreplica count over time (status sampled every 250 ms; t=0 is the start of the load; PATCH at ${(rollFrom / 1000).toFixed(2)} s, SIGKILL at ${(killFrom / 1000).toFixed(2)} s, PATCH + SIGKILL at ${(bothFrom / 1000).toFixed(2)} s):`,
  );
  for (const line of timeline(samples)) console.log(line);
  console.log('\nevents:');
  for (const e of all.filter((x) => x.atMs >= rollFrom - 1000)) console.log(`  t=${(e.atMs / 1000).toFixed(2).padStart(7)} s  ${e.reason}: ${e.message}`);

  const diff = (a: Record<string, number>, b: Record<string, number>) =>
    Object.entries(b)
      .map(([k, v]) => [k, v - (a[k] ?? 0)] as const)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  const row = (name: string, w: { from: number; to: number }, extra = '') => {
    const c = countWindow(records, w.from, w.to);
    console.log(
      `  ${name.padEnd(34)} ${((w.to - w.from) / 1000).toFixed(1).padStart(5)} s  sent ${String(c.requests).padStart(6)}  succeeded ${String(c.ok).padStart(6)}  failed ${c.failed}${c.failed ? ` ${JSON.stringify(c.failures)}` : ''}${extra}`,
    );
    return c;
  };
  console.log('\nfigures (a request counts in the window in which it was answered):');
  row('steady, before the PATCH', baseline);
  const r = row('rollout (PATCH to rolled out + 3 s)', roll, `; gateway retries: ${diff(retriesBeforeRoll, retriesAfterRoll)}`);
  const k = row('SIGKILL (kill to replaced + 3 s)', kill, `; gateway retries: ${diff(retriesAfterRoll, retriesAfterKill)}`);
  const b = row('rollout + SIGKILL of an old replica', both, `; gateway retries: ${diff(retriesAfterKill, retriesAfterBoth)}`);
  const total = countWindow(records, 0, Infinity);
  console.log(`  ${'whole run'.padEnd(34)} ${(load.now() / 1000).toFixed(1).padStart(5)} s  sent ${String(total.requests).padStart(6)}  succeeded ${String(total.ok).padStart(6)}  failed ${total.failed}`);
  console.log(`  rollout: PATCH -> RolledOut with 2 replicas ${fmt(rolledOutAt - rollFrom)} ms; failed ${r.failed} (target 0)`);
  const exhausted = k.failures['503 MODELD_ERR_REPLICA_FAILED'] ?? 0;
  console.log(
    `  kill: replica ${victim.replicaId} (pid ${victim.pid}); SIGKILL -> replacement serving (2 ready) ${fmt(replacedAt - killFrom)} ms; failed ${k.failed}, of which retry budget exhausted (503 MODELD_ERR_REPLICA_FAILED) ${exhausted}`,
  );
  console.log(
    `  rollout + kill: replica ${victim2.replicaId} killed ${fmt(killedInRollAt - bothFrom)} ms after the PATCH; rolled out ${fmt(rolledOutAgainAt - bothFrom)} ms after the PATCH; failed ${b.failed}, of which retry budget exhausted ${b.failures['503 MODELD_ERR_REPLICA_FAILED'] ?? 0}`,
  );
} finally {
  if (server) await server.stop('SIGTERM');
  await rm(work, { recursive: true, force: true });
}

/** A replica whose runner says it is ready and whose process is alive: its id and pid from status.json. */
async function pickReadyReplica(dir: string): Promise<{ replicaId: string; pid: number }> {
  for (const replicaId of (await readdir(dir)).sort()) {
    let status: { pid?: unknown; phase?: unknown };
    try {
      status = JSON.parse(await readFile(path.join(dir, replicaId, 'status.json'), 'utf8')) as typeof status;
    } catch {
      continue;
    }
    if (status.phase !== 'ready' || typeof status.pid !== 'number') continue;
    try {
      process.kill(status.pid, 0);
      return { replicaId, pid: status.pid };
    } catch {
      // gone already
    }
  }
  throw new Error(`no ready replica with a live pid under ${dir}`);
}
