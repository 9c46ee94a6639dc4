/**
 * bench/runner-overhead: CPU per batch-32 request of one real runner process (src/runner/main.ts,
 * spawned the way the process runtime does, on its Unix socket) against the raw engine doing the
 * same 32 texts in this process, on the reference BiGRU (makeBigruArtifact) and the same texts as
 * bench/predict. The runner's CPU is read from /proc/<pid>/task/<tid>/schedstat (nanoseconds, all
 * threads); the raw engine's with process.cpuUsage. Rounds alternate raw / runner; min and median
 * of N. The load generator is this process, so the runner has a core to itself when the machine
 * is quiet (unlike bench/predict, where 5 busy processes share 2 cores).
 *
 *   node --import tsx bench/runner-overhead.ts [--rounds 6] [--ms 1500] [--concurrency 16] [--batch 32]
 *     [--prof <dir>]       run the runner with --cpu-prof, profiles (one per thread) written to <dir>/<label> when it stops
 *     [--baseline <repo>]  also run <repo>/src/runner/main.ts (another checkout) in alternation
 *     [--busy <n>]         every round is measured twice: quiet, then with n spinning child processes
 *                          competing for the cores (bench/predict's runners share 2 cores with 4 busy processes)
 *     [--only raw|runner]  measure one side only
 *     [--timed]            also a runner (the Runner class, the real engine) that counts its process CPU
 *                          across each engine.embed call: the engine's share of the runner's CPU
 *     [--pin]              runners on CPU 0, this process (load generator and raw engine) on CPU 1
 *     [--stub]             also a runner (same Runner class, same protocol) whose engine returns constant
 *                          vectors at once (no tokenization, no inference): what the runner's own code (HTTP, JSON, batcher, frame) costs
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { loadEngine } from '../src/engines/index.js';
import { makeBigruArtifact } from '../test/fixtures/models.js';
import { sampleSentences } from '../test/fixtures/text.js';
import { machineLine, repoRoot, serveStubRunner, threadsCpuNs, waitForBenchRunner, writeBenchReplicaDir } from './lib.js';

const arg = (name: string): string | undefined => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const rounds = Number(arg('--rounds') ?? 6);
const roundMs = Number(arg('--ms') ?? 1500);
const concurrency = Number(arg('--concurrency') ?? 16);
const batch = Number(arg('--batch') ?? 32);
const profDir = arg('--prof');
const baseline = arg('--baseline');
/** Spinning child processes that compete for the cores in every other round (0: none). */
const busy = Number(arg('--busy') ?? 0);
/** `raw` or `runner`: measure only that side (e.g. to profile this process with --cpu-prof while it runs the raw engine). */
const onlySide = arg('--only');
const stub = process.argv.includes('--stub');
const timed = process.argv.includes('--timed');
/** Pin the runners to CPU 0 and this process (load generator, raw engine) to CPU 1 (taskset). */
const pin = process.argv.includes('--pin');

// Child mode: the Runner with the real engine, process CPU counted across each engine.embed call
// (tokenization, inference, and whatever the event loop ran meanwhile: at most the stub's cost);
// on SIGUSR2 the totals go to <dir>/engine-cpu.json.
const timedDir = arg('--serve-timed');
if (timedDir !== undefined) {
  const { Runner } = await import('../src/runner/runner.js');
  const { readRunnerSpec } = await import('../src/runner/replica-dir.js');
  const totals = { calls: 0, cpuMs: 0 };
  const loadTimed = async (dir: string, options: { intraOpThreads?: number }) => {
    const engine = await loadEngine(dir, options);
    return {
      manifest: engine.manifest,
      get vectorSize() {
        return engine.vectorSize;
      },
      async embed(texts: string[], opts?: Parameters<typeof engine.embed>[1]) {
        const c0 = process.cpuUsage();
        try {
          return await engine.embed(texts, opts);
        } finally {
          const used = process.cpuUsage(c0);
          totals.calls++;
          totals.cpuMs += (used.user + used.system) / 1000;
        }
      },
      tokenize: (texts: string[]) => engine.tokenize(texts),
      close: () => engine.close(),
    };
  };
  const runner = new Runner({ replicaDir: timedDir, spec: readRunnerSpec(timedDir), loadEngine: loadTimed });
  process.on('SIGTERM', () => runner.drain('SIGTERM'));
  process.on('SIGUSR2', () => writeFileSync(path.join(timedDir, 'engine-cpu.json'), JSON.stringify(totals)));
  await runner.start();
  process.exit((await runner.done).exitCode);
}

// Child mode: serve a replica dir with the Runner and a stub engine (no tokenization, no inference).
const stubDir = arg('--serve-stub');
if (stubDir !== undefined) await serveStubRunner(stubDir);


interface RunnerProc {
  label: string;
  dir: string;
  child: ChildProcess;
  pool: Pool;
}

async function startRunner(work: string, label: string, root: string, artifactDir: string, entry: string[] = [path.join(root, 'src/runner/main.ts')]): Promise<RunnerProc> {
  const dir = path.join(work, `replica-${label}`);
  const socketPath = writeBenchReplicaDir(dir, label, artifactDir);
  const tsx = fileURLToPath(import.meta.resolve('tsx/esm'));
  const prof = profDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', path.join(path.resolve(profDir), label)];
  const argv = [...prof, '--import', tsx, ...entry, dir];
  const child = pin
    ? spawn('taskset', ['-c', '0', process.execPath, ...argv], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] })
    : spawn(process.execPath, argv, { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitForBenchRunner(child, dir, label);
  return { label, dir, child, pool: new Pool('http://localhost', { socketPath, connections: concurrency }) };
}

async function drive(r: RunnerProc, bodies: string[], ms: number): Promise<{ cpuPerRequest: number; clientCpuPerRequest: number; requests: number }> {
  const pid = r.child.pid!;
  let i = 0;
  let requests = 0;
  const call = async (): Promise<void> => {
    const res = await r.pool.request({ method: 'POST', path: '/embed', headers: { 'content-type': 'application/json' }, body: bodies[i++ % bodies.length]! });
    const buf = await res.body.arrayBuffer();
    if (res.statusCode !== 200 || buf.byteLength !== 12 + 4 * batch + 4 * 256 * batch) throw new Error(`runner answered ${res.statusCode}, ${buf.byteLength} bytes`);
  };
  // Warm the connections, then measure.
  await Promise.all(Array.from({ length: concurrency }, call));
  const e0 = r.label === 'timed' ? await engineCpu(r) : null;
  const c0 = threadsCpuNs(pid);
  const self0 = process.cpuUsage();
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await call();
        requests++;
      }
    }),
  );
  const self = process.cpuUsage(self0);
  const cpu = threadsCpuNs(pid);
  if (e0 !== null) {
    const e1 = await engineCpu(r);
    engineSplit.set(currentMode, [...(engineSplit.get(currentMode) ?? []), (e1.cpuMs - e0.cpuMs) / (e1.calls - e0.calls)]);
  }
  return { cpuPerRequest: (cpu - c0) / 1e6 / requests, clientCpuPerRequest: (self.user + self.system) / 1000 / requests, requests };
}

/** CPU ms inside engine.embed calls of the timed runner, per call (see --serve-timed). */
const engineSplit = new Map<string, number[]>();
/** '' or ' busy': the mode of the round being measured. */
let currentMode = '';

async function engineCpu(r: RunnerProc): Promise<{ calls: number; cpuMs: number }> {
  const file = path.join(r.dir, 'engine-cpu.json');
  rmSync(file, { force: true });
  r.child.kill('SIGUSR2');
  for (;;) {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as { calls: number; cpuMs: number };
    } catch {
      await new Promise((res) => setTimeout(res, 5));
    }
  }
}

async function rawRound(engine: Awaited<ReturnType<typeof loadEngine>>, batches: string[][], ms: number): Promise<{ cpuPerCall: number; calls: number }> {
  const c0 = process.cpuUsage();
  const end = performance.now() + ms;
  let calls = 0;
  for (let i = 0; performance.now() < end; i++) {
    await engine.embed(batches[i % batches.length]!);
    calls++;
  }
  const used = process.cpuUsage(c0);
  return { cpuPerCall: (used.user + used.system) / 1000 / calls, calls };
}

const summary = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `min ${s[0]!.toFixed(2)}  median ${s[Math.floor(s.length / 2)]!.toFixed(2)}  (${xs.map((x) => x.toFixed(2)).join(' ')})`;
};

const work = await mkdtemp(path.join(os.tmpdir(), 'modeld-bench-runner-'));
const runners: RunnerProc[] = [];
let spinners: ChildProcess[] = [];
try {
  console.log(machineLine());
  if (pin) spawnSync('taskset', ['-a', '-cp', '1', String(process.pid)], { stdio: 'ignore' });
  const artifactDir = await makeBigruArtifact(path.join(work, 'bigru'));
  const texts = sampleSentences(4096, { seed: 7, minWords: 16, maxWords: 22 });
  const batches: string[][] = [];
  for (let i = 0; i + batch <= texts.length; i += batch) batches.push(texts.slice(i, i + batch));
  const bodies = batches.map((b) => JSON.stringify({ texts: b }));
  const engine = await loadEngine(artifactDir, { intraOpThreads: 1 });
  if (onlySide !== 'runner') await rawRound(engine, batches, 300);
  if (onlySide !== 'raw') runners.push(await startRunner(work, 'this', repoRoot, artifactDir));
  if (onlySide !== 'raw' && baseline !== undefined) runners.push(await startRunner(work, 'baseline', path.resolve(baseline), artifactDir));
  if (onlySide !== 'raw' && timed) runners.push(await startRunner(work, 'timed', repoRoot, artifactDir, [fileURLToPath(import.meta.url), '--serve-timed']));
  if (onlySide !== 'raw' && stub) runners.push(await startRunner(work, 'stub', repoRoot, artifactDir, [fileURLToPath(import.meta.url), '--serve-stub']));
  console.log(`batch ${batch}, concurrency ${concurrency}, ${rounds} rounds of ${roundMs} ms${busy > 0 ? `, each also with ${busy} spinning processes competing` : ''}; CPU ms per ${batch}-text request`);
  const modes = busy > 0 ? ['', ' busy'] : [''];
  const per = new Map<string, number[]>();
  const counts = new Map<string, number>();
  /** CPU ms per request of this process (the load generator) in the runner rounds. */
  const client = new Map<string, number[]>();
  const record = (label: string, cpu: number, n: number): void => {
    per.set(label, [...(per.get(label) ?? []), cpu]);
    counts.set(label, (counts.get(label) ?? 0) + n);
  };
  for (let round = 0; round < rounds; round++) {
    for (const mode of modes) {
      currentMode = mode;
      if (mode !== '') spinners = Array.from({ length: busy }, () => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
      if (onlySide !== 'runner') {
        const r = await rawRound(engine, batches, roundMs);
        record(`raw${mode}`, r.cpuPerCall, r.calls);
      }
      for (const r of round % 2 === 0 ? runners : [...runners].reverse()) {
        const d = await drive(r, bodies, roundMs);
        record(`${r.label}${mode}`, d.cpuPerRequest, d.requests);
        client.set(`${r.label}${mode}`, [...(client.get(`${r.label}${mode}`) ?? []), d.clientCpuPerRequest]);
      }
      for (const c of spinners) c.kill('SIGKILL');
      spinners = [];
    }
  }
  for (const [mode, xs] of engineSplit) console.log(`runner timed, inside engine.embed (process CPU)${mode === '' ? '' : `, ${busy} spinning`}:`.padEnd(58) + summary(xs));
  for (const [label, xs] of per) {
    const what = label.startsWith('raw') ? `raw engine, engine.embed in this process` : `runner ${label.split(' ')[0]}, all threads from /proc`;
    const gen = client.get(label);
    const genNote = gen === undefined ? '' : `, load generator median ${[...gen].sort((a, b) => a - b)[Math.floor(gen.length / 2)]!.toFixed(2)}`;
    console.log(`${what}${label.endsWith(' busy') ? `, ${busy} spinning` : ''}:`.padEnd(58) + `${summary(xs)}  [${counts.get(label)} calls${genNote}]`);
  }
  await engine.close();
} finally {
  for (const c of spinners) c.kill('SIGKILL');
  for (const r of runners) {
    await r.pool.close();
    const exited = new Promise((res) => r.child.once('exit', res));
    r.child.kill('SIGTERM');
    await exited;
  }
  await rm(work, { recursive: true, force: true });
}
