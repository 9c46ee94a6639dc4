/**
 * bench/latency: where a batch-1 request's time goes at concurrency 1, shape by shape and hop by
 * hop. Every shape is driven by this process (closed loop, one request in flight, undici), rounds
 * in turn with the order alternated (this 2-core VM is shared and noisy), and reports the p50 and
 * p99 (min and median over the rounds) and the CPU ms per request of each process
 * (/proc/<pid>/task/<tid>/schedstat, all threads):
 *
 *   backend        load generator -> Unix socket -> node:http backend (one hop, nothing in it)
 *   floor          load generator -> node:http relay -> Unix socket -> backend (bench/lib relayFloor's shape)
 *   stub           load generator -> Unix socket -> a runner (src/runner Runner, protocol, batcher)
 *                  whose engine returns constant vectors at once
 *   runner         load generator -> Unix socket -> a real runner (src/runner/main.ts, the BiGRU)
 *   relay+stub     load generator -> relay -> stub runner
 *   relay+runner   load generator -> relay -> real runner
 *   modeld 1r/2r   load generator -> modeld server (bin/modeld.js serve: fastify, auth, gateway)
 *                  -> its runners of the BiGRU, a deployment of 1 and one of 2 replicas
 *
 * With --stamps, every process of a shape also records process.hrtime.bigint() (CLOCK_MONOTONIC,
 * comparable across processes on one machine) at points of the request's way (a preload given
 * with --import, the server's runners included: it adds itself to their command line): an HTTP
 * server's `request` event and `res.end()`, the front's undici call, response headers and body,
 * the runner's body read and onnxruntime's `session.run`. Requests are matched by time (one in
 * flight), and each point's median offset from the load generator's send is printed, in time
 * order, with the step from the point before: which hop holds which share of the time.
 * The stamps cost a few microseconds per point; compare p50s from runs without them.
 *
 * The reference BiGRU (makeBigruArtifact), 1 intra-op thread, batch 1, the texts of bench/predict.
 * Talks to 127.0.0.1 and Unix sockets only; stops by itself.
 *
 *   node --import tsx bench/latency.ts [--rounds 5] [--ms 1500] [--only floor,runner,...] [--stamps]
 *     [--server-root DIR] the modeld shapes' server (and its runners) from DIR, another checkout sharing
 *                        node_modules (e.g. a git worktree of a commit, without this tree's uncommitted work)
 *     [--threads N]      the modeld server's runner.intraOpThreads (default 0: cores / maxReplicas, so
 *                        2 threads for the 1-replica deployment on 2 cores)
 *     [--variants default,http,fastify,http+fastify]  one modeld server per variant of the gateway settings
 *                        (runner calls over HTTP, the embedding route by fastify), shapes `modeld 1r http` ...
 *     [--warmup N]       requests before a shape's first measured round (default 50; 50 before later ones)
 *     [--rounds-p50]     also print every round's p50 of each shape (JIT warm-up shows as a trend)
 *     [--gap MS]         the load generator waits MS between requests (default 0, back to back): work a
 *                        process does after answering is then off the next request's way
 *     [--prof DIR]       the modeld server and the runners started here run with --cpu-prof (100 us
 *                        samples), profiles written to DIR when they stop
 *     [--baseline DIR]   also run DIR's src/runner/main.ts (another checkout sharing node_modules)
 *                        as `runner@base` and `relay+runner@base`, in turn with this checkout's
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { loadEngine } from '../src/engines/index.js';
import { makeBigruArtifact } from '../test/fixtures/models.js';
import { sampleSentences } from '../test/fixtures/text.js';
import { adminCredentials, api, machineLine, percentile, relaySource, repoRoot, runnerPids, serveStubRunner, startServer, threadsCpuNs, token, waitForBenchRunner, waitForState, writeBenchReplicaDir, importModel } from './lib.js';

const arg = (name: string): string | undefined => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);

// Child mode: serve a replica dir with the Runner and an engine that returns constant vectors at once.
const stubDir = arg('--serve-stub');
if (stubDir !== undefined) await serveStubRunner(stubDir);

const rounds = Number(arg('--rounds') ?? 5);
const roundMs = Number(arg('--ms') ?? 1500);
const only = arg('--only')?.split(',') ?? null;
const stamps = process.argv.includes('--stamps');
const baseline = arg('--baseline');
const profDir = arg('--prof');
/** Milliseconds the load generator waits between requests (0: back to back, a closed loop). */
const gapMs = Number(arg('--gap') ?? 0);
/** Requests sent to each shape before its first measured round (50 before each later one). */
const warmup = Number(arg('--warmup') ?? 50);
/** runner.intraOpThreads of the modeld server (default: its own default, cores / maxReplicas). */
const threads = arg('--threads');
/** The checkout whose bin/modeld.js serves the modeld shapes (default this one). */
const serverRoot = path.resolve(arg('--server-root') ?? repoRoot);
/**
 * Server settings to compare in one run: `--variants default,http,fastify` starts one modeld server
 * per variant (shapes `modeld 1r http`, ...), measured in turn like every shape. Without it, one
 * server with the defaults.
 */
const VARIANTS: Record<string, Record<string, unknown>> = {
  default: {},
  /** Runner calls over HTTP instead of frames. */
  http: { runnerTransport: 'http' },
  /** The embedding route served by fastify instead of the fast path. */
  fastify: { fastEmbeddingRoute: false },
  /** Both: the path of session 3. */
  'http+fastify': { runnerTransport: 'http', fastEmbeddingRoute: false },
};
const variants: Array<string | null> = arg('--variants')?.split(',') ?? [null];
for (const v of variants) if (v !== null && !(v in VARIANTS)) throw new Error(`--variants: unknown ${v}; one of ${Object.keys(VARIANTS).join(', ')}`);
const prof = (label: string) => (profDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', path.join(path.resolve(profDir), label)]);


/**
 * The stamp preload (plain ESM, builtins and this checkout's node_modules only). Points, each one
 * pushed as (code, ns) on an in-memory list that SIGUSR2 writes to `<dir>/<pid>.json`:
 *   in / out / sent  an HTTP server's `request` event (POST only), res.end() called / returned
 *   post             the first setImmediate after res.end() returned: about where the work the
 *                    answer set off (finish handlers, promise chains, hooks) is over (a runner
 *                    answers from onnxruntime's setImmediate, so its `post` waits for the next turn)
 *   read             that request's body read (the IncomingMessage `end` event)
 *   call / hdr / body  undici Pool.request of POST /embed (or the relay's /), headers, body read
 *   run / ran        onnxruntime session.run called / its promise settled
 *   f.<hook>         a fastify app's first hook of each stage (onRequest ... onResponse)
 *   fsend / frecv    a framed runner call or its answer (src/runner/frames.ts) written to / read from a socket
 */
function preloadSource(dir: string): string {
  return `
import http from 'node:http';
import cp from 'node:child_process';
import dc from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
const require = createRequire(${JSON.stringify(path.join(repoRoot, 'package.json'))});
const self = new URL(import.meta.url).pathname;
const ev = [];
const now = () => Number(process.hrtime.bigint());
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (name, req, res) {
  if (name === 'request' && req.method === 'POST') {
    ev.push('in', now());
    req.once('end', () => ev.push('read', now()));
    const end = res.end;
    res.end = function (...a) {
      ev.push('out', now());
      const r = end.apply(this, a);
      ev.push('sent', now());
      setImmediate(() => ev.push('post', now()));
      return r;
    };
  }
  return emit.apply(this, arguments);
};
try {
  const { Pool } = require('undici');
  const request = Pool.prototype.request;
  Pool.prototype.request = function (opts, cb) {
    if (cb !== undefined || opts.method !== 'POST') return request.apply(this, arguments);
    ev.push('call', now());
    return request.call(this, opts).then((res) => {
      ev.push('hdr', now());
      const ab = res.body.arrayBuffer.bind(res.body);
      res.body.arrayBuffer = () => ab().then((b) => { ev.push('body', now()); return b; });
      return res;
    });
  };
} catch {}
if (process.argv.some((a) => a.endsWith('src/runner/main.ts') || a === '--serve-stub')) try {
  const ort = require('onnxruntime-node');
  const run = ort.InferenceSession.prototype.run;
  ort.InferenceSession.prototype.run = function (...a) {
    ev.push('run', now());
    return run.apply(this, a).then((r) => { ev.push('ran', now()); return r; });
  };
} catch {}
// Framed runner calls (src/runner/frames.ts): an EMBED (type 3) or EMBED_OK (type 4) frame written / read.
import net from 'node:net';
const isCallFrame = (b) => b instanceof Uint8Array && b.length >= 9 && (b[4] === 3 || b[4] === 4);
const write = net.Socket.prototype.write;
net.Socket.prototype.write = function (chunk) {
  if (isCallFrame(chunk)) ev.push('fsend', now());
  return write.apply(this, arguments);
};
const sockEmit = net.Socket.prototype.emit;
net.Socket.prototype.emit = function (name, chunk) {
  if (name === 'data' && isCallFrame(chunk)) ev.push('frecv', now());
  return sockEmit.apply(this, arguments);
};
// fastify apps get a first hook at each stage (the modeld server's route: where its time goes).
dc.subscribe('fastify.initialization', ({ fastify: app }) => {
  for (const h of ['onRequest', 'preParsing', 'preValidation', 'preHandler', 'onSend', 'onResponse']) {
    app.addHook(h, h === 'preParsing' || h === 'onSend'
      ? (req, reply, payload, done) => { if (req.method === 'POST') ev.push('f.' + h, now()); done(null, payload); }
      : (req, reply, done) => { if (req.method === 'POST') ev.push('f.' + h, now()); done(); });
  }
});
// Runners spawned by this process (the modeld server's) load this preload too.
const spawn = cp.spawn;
cp.spawn = function (cmd, args, opts) {
  if (Array.isArray(args) && args.some((a) => String(a).endsWith('src/runner/main.ts'))) args = ['--import', self, ...args];
  return spawn.call(this, cmd, args, opts);
};
syncBuiltinESMExports();
process.on('SIGUSR2', () => {
  writeFileSync(${JSON.stringify(dir)} + '/' + process.pid + '.json', JSON.stringify(ev));
  ev.length = 0;
});
`;
}

const backendSource = (socketPath: string) => `
import http from 'node:http';
const answer = Buffer.alloc(1036, 7);
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => { res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': answer.length }); res.end(answer); });
});
server.keepAliveTimeout = 30000;
server.listen(${JSON.stringify(socketPath)}, () => console.log('listening'));`;

/** bench/lib relayFloor's relay, pointed at any Unix socket, answering like a batch-1 response. */
const relayToRunner = (socketPath: string) => relaySource(socketPath, 2700);

interface Proc {
  child: ChildProcess;
  line: string;
}

const work = await mkdtemp(path.join(os.tmpdir(), 'modeld-bench-latency-'));
const stampDir = path.join(work, 'stamps');
mkdirSync(stampDir);
const preloadFile = path.join(work, 'stamp-preload.mjs');
writeFileSync(preloadFile, preloadSource(stampDir));
const preload = stamps ? ['--import', preloadFile] : [];
const children: ChildProcess[] = [];

async function startScript(source: string): Promise<Proc> {
  const child = spawn(process.execPath, [...preload, '--input-type=module', '-e', source], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`script exited with ${code}`)));
    child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
  });
  child.removeAllListeners('exit');
  return { child, line };
}

/** A runner process on `<work>/<label>/runner.sock` (real: `<root>/src/runner/main.ts`; stub: this file's --serve-stub). */
async function startRunner(label: string, artifactDir: string, kind: 'real' | 'stub', root = repoRoot): Promise<{ child: ChildProcess; socketPath: string }> {
  const dir = path.join(work, label);
  const socketPath = writeBenchReplicaDir(dir, label, artifactDir);
  const tsx = fileURLToPath(import.meta.resolve('tsx/esm'));
  const entry = kind === 'real' ? [path.join(root, 'src/runner/main.ts')] : [fileURLToPath(import.meta.url), '--serve-stub'];
  const child = spawn(process.execPath, [...prof(label), ...preload, '--import', tsx, ...entry, dir], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  await waitForBenchRunner(child, dir, label);
  return { child, socketPath };
}

interface Shape {
  name: string;
  /** The process the load generator talks to and, for two-hop shapes, the one behind it. */
  front: number | null;
  back: () => number[];
  pool: Pool;
  path: string;
  headers: Record<string, string>;
  bodies: string[];
}

interface Round {
  p50: number;
  p99: number;
  /** CPU ms per request: load generator, front, back (all back processes together). */
  gen: number;
  front: number;
  back: number;
  /** Per request: [g0, g1] in hrtime ns. */
  spans: Array<[number, number]>;
}

/** Shapes that had their first round (and its long warm-up). */
const warmed = new Set<string>();

async function drive(shape: Shape, ms: number, record: boolean): Promise<Round> {
  const backs = shape.back();
  const lat: number[] = [];
  const spans: Array<[number, number]> = [];
  const call = async (i: number): Promise<void> => {
    const r = await shape.pool.request({ method: 'POST', path: shape.path, headers: shape.headers, body: shape.bodies[i % shape.bodies.length]! });
    await r.body.arrayBuffer();
    if (r.statusCode !== 200) throw new Error(`${shape.name} answered ${r.statusCode}`);
  };
  const first = !warmed.has(shape.name);
  warmed.add(shape.name);
  for (let i = 0; i < (first ? warmup : 50); i++) await call(i);
  if (record) for (const pid of [shape.front, ...backs]) if (pid !== null) process.kill(pid, 'SIGUSR2'); // drop the warm-up's stamps
  const c0 = { gen: process.cpuUsage(), front: shape.front === null ? 0 : threadsCpuNs(shape.front), back: backs.reduce((s, p) => s + threadsCpuNs(p), 0) };
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) {
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    const s = process.hrtime.bigint();
    await call(n++);
    const e = process.hrtime.bigint();
    lat.push(Number(e - s) / 1e6);
    if (record) spans.push([Number(s), Number(e)]);
  }
  const gen = process.cpuUsage(c0.gen);
  const front = shape.front === null ? 0 : (threadsCpuNs(shape.front) - c0.front) / 1e6 / n;
  const back = (backs.reduce((s, p) => s + threadsCpuNs(p), 0) - c0.back) / 1e6 / n;
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), gen: (gen.user + gen.system) / 1000 / n, front, back, spans };
}

/** Stamps of `pid` since its last dump: [code, ns] pairs. */
async function dumpStamps(pid: number): Promise<Array<[string, number]>> {
  const file = path.join(stampDir, `${pid}.json`);
  rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 400; i++) {
    try {
      const flat = JSON.parse(readFileSync(file, 'utf8')) as Array<string | number>;
      const out: Array<[string, number]> = [];
      for (let k = 0; k < flat.length; k += 2) out.push([flat[k] as string, flat[k + 1] as number]);
      return out;
    } catch {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  throw new Error(`no stamps from ${pid}`);
}

/**
 * Groups a process's points into requests (each starts at an `in`, or at `frecv` in a process with
 * no `in`: a runner called over frames; health probes and other GETs
 * leave no points) and matches each load-generator request with the one whose `in` falls within
 * it (one request in flight). Returns, for every point, the median over requests of its offset
 * from the load generator's send, in ms; `gen.done` is the answer read back.
 */
function timeline(spans: Array<[number, number]>, front: Array<[string, number]>, back: Array<[string, number]>): Map<string, number> {
  const group = (evs: Array<[string, number]>) => {
    const out: Array<Map<string, number>> = [];
    // A runner called over frames has no HTTP `in`: its requests start where a call frame is read.
    const start = evs.some(([c]) => c === 'in') ? 'in' : 'frecv';
    for (const [c, t] of evs) {
      if (c === start) out.push(new Map([['start', t]]));
      const cur = out.at(-1);
      if (cur !== undefined && !cur.has(c)) cur.set(c, t);
    }
    return out;
  };
  const sides: Array<[string, Array<Map<string, number>>]> = [];
  if (front.length > 0) sides.push(['front', group(front)]);
  sides.push(['back', group(back)]);
  const offsets = new Map<string, number[]>();
  const add = (k: string, v: number) => offsets.set(k, [...(offsets.get(k) ?? []), v]);
  const cursor = new Map<string, number>();
  for (const [s, e] of spans) {
    add('gen.done', (e - s) / 1e6);
    for (const [side, reqs] of sides) {
      let i = cursor.get(side) ?? 0;
      while (i < reqs.length && reqs[i]!.get('start')! < s) i++;
      cursor.set(side, i);
      const r = reqs[i];
      if (r === undefined || r.get('start')! > e) continue;
      for (const [c, t] of r) if (c !== 'start') add(`${side}.${c}`, (t - s) / 1e6);
    }
  }
  const med = new Map<string, number>();
  for (const [k, xs] of offsets) {
    xs.sort((a, b) => a - b);
    med.set(k, percentile(xs, 50));
  }
  return med;
}

const servers: Array<Awaited<ReturnType<typeof startServer>>> = [];
const pools: Pool[] = [];
try {
  console.log(machineLine());
  const artifactDir = await makeBigruArtifact(path.join(work, 'bigru'));
  const texts = sampleSentences(4096, { seed: 7, minWords: 16, maxWords: 22 });
  const runnerBodies = texts.slice(0, 256).map((t) => JSON.stringify({ texts: [t] }));
  const apiBodies = texts.slice(0, 256).map((t) => JSON.stringify({ batch: [{ text: t }] }));
  const json = { 'content-type': 'application/json' };

  // The raw engine's p50 per batch-1 call, in this process.
  const engine = await loadEngine(artifactDir, { intraOpThreads: 1 });
  const single: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const s = performance.now();
    await engine.embed([texts[i % texts.length]!]);
    if (i >= 200) single.push(performance.now() - s);
  }
  await engine.close();
  single.sort((a, b) => a - b);
  console.log(`raw engine, batch 1, 1 thread, in this process: p50 ${percentile(single, 50).toFixed(3)} ms`);

  const want = (name: string) => only === null || only.includes(name);
  const shapes: Shape[] = [];
  const unixPool = (socketPath: string) => {
    const p = new Pool('http://localhost', { socketPath, connections: 1 });
    pools.push(p);
    return p;
  };
  const tcpPool = (url: string) => {
    const p = new Pool(url, { connections: 1 });
    pools.push(p);
    return p;
  };

  if (want('backend') || want('floor')) {
    const socketPath = path.join(work, 'backend.sock');
    const backend = await startScript(backendSource(socketPath));
    if (want('backend')) shapes.push({ name: 'backend', front: null, back: () => [backend.child.pid!], pool: unixPool(socketPath), path: '/embed', headers: json, bodies: runnerBodies });
    if (want('floor')) {
      const relay = await startScript(relayToRunner(socketPath));
      shapes.push({ name: 'floor', front: relay.child.pid!, back: () => [backend.child.pid!], pool: tcpPool(`http://127.0.0.1:${relay.line}`), path: '/', headers: json, bodies: apiBodies });
    }
  }
  /** `name` and `relay+name` (as `--only` allows), on one runner started from `root`; `suffix` tells a baseline's apart. */
  const runnerShapes = async (name: string, kind: 'real' | 'stub', root: string, suffix: string) => {
    const relayed = `relay+${name}`;
    if (!want(name) && !want(relayed)) return;
    const r = await startRunner(`${name}${suffix.replace(/\W/g, '-')}`, artifactDir, kind, root);
    if (want(name)) shapes.push({ name: `${name}${suffix}`, front: null, back: () => [r.child.pid!], pool: unixPool(r.socketPath), path: '/embed', headers: json, bodies: runnerBodies });
    if (want(relayed)) {
      // A relay of its own per runner: the direct shape's connection stays the only one on its socket.
      const relay = await startScript(relayToRunner(r.socketPath));
      shapes.push({ name: `${relayed}${suffix}`, front: relay.child.pid!, back: () => [r.child.pid!], pool: tcpPool(`http://127.0.0.1:${relay.line}`), path: '/', headers: json, bodies: runnerBodies });
    }
  };
  await runnerShapes('stub', 'stub', repoRoot, '');
  await runnerShapes('runner', 'real', repoRoot, '');
  if (baseline !== undefined) await runnerShapes('runner', 'real', path.resolve(baseline), '@base');

  for (const variant of want('modeld') ? variants : []) {
    const label = variant === null ? '' : ` ${variant}`;
    const dataDir = path.join(work, `data${label.replace(/\W/g, '-')}`);
    const config: Record<string, unknown> = {};
    if (threads !== undefined) config.runner = { intraOpThreads: Number(threads) };
    if (variant !== null && variant !== 'default') config.gateway = VARIANTS[variant];
    const env: Record<string, string> = {};
    if (Object.keys(config).length > 0) {
      env.MODELD_CONFIG = path.join(work, `modeld${label.replace(/\W/g, '-')}.json`);
      writeFileSync(env.MODELD_CONFIG, JSON.stringify(config));
    }
    const server = await startServer(dataDir, undefined, env, [...prof(`server${label.replace(/\W/g, '-')}`), ...preload], serverRoot);
    servers.push(server);
    const admin = await adminCredentials(dataDir);
    const tok = await token(server.url, admin);
    const C = admin.customerId;
    const model = { id: await importModel(server.url, tok, C, 'bigru-30k-128', artifactDir) };
    const pidsBefore = new Set<number>();
    const serverPid = server.child.pid!;
    for (const replicas of [1, 2]) {
      const dep = await api<{ id: string }>(server.url, tok, 'POST', `/customers/${C}/ai/deployments`, { modelId: model.id, region: 'local', minReplicas: replicas, maxReplicas: replicas });
      await waitForState(server.url, tok, C, dep.id, 'DEPLOYED');
      const mine = runnerPids(dataDir).filter((p) => !pidsBefore.has(p));
      for (const p of mine) pidsBefore.add(p);
      shapes.push({
        name: `modeld ${replicas}r${label}`,
        front: serverPid,
        back: () => mine,
        pool: tcpPool(server.url),
        path: `/ai/prediction/embedding/${dep.id}`,
        headers: { ...json, authorization: `Bearer ${tok}` },
        bodies: apiBodies,
      });
    }
  }

  if (want('modeld')) console.log(`modeld server: ${serverRoot}${threads === undefined ? '' : `, runner.intraOpThreads ${threads}`}`);
  console.log(`concurrency 1, batch 1, ${rounds} rounds of ${roundMs} ms per shape, order alternated${gapMs > 0 ? `, ${gapMs} ms between requests` : ''}${stamps ? ', with stamps' : ''}`);
  const results = new Map<string, Round[]>();
  const lines = new Map<string, Map<string, number[]>>();
  for (let round = 0; round < rounds; round++) {
    for (const shape of round % 2 === 0 ? shapes : [...shapes].reverse()) {
      const r = await drive(shape, roundMs, stamps);
      results.set(shape.name, [...(results.get(shape.name) ?? []), r]);
      if (stamps) {
        const front = shape.front === null ? [] : await dumpStamps(shape.front);
        const back: Array<[string, number]> = [];
        for (const pid of shape.back()) back.push(...(await dumpStamps(pid)));
        back.sort((a, b) => a[1] - b[1]);
        const m = lines.get(shape.name) ?? new Map<string, number[]>();
        for (const [k, v] of timeline(r.spans, front, back)) m.set(k, [...(m.get(k) ?? []), v]);
        lines.set(shape.name, m);
      }
    }
  }

  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const min = (xs: number[]) => Math.min(...xs);
  const f = (x: number, w = 7) => x.toFixed(2).padStart(w);
  console.log('shape                p50 min  p50 med  p99 med   cpu ms/request (median): gen   front    back');
  for (const shape of shapes) {
    const rs = results.get(shape.name)!;
    console.log(
      `${shape.name.padEnd(20)} ${f(min(rs.map((r) => r.p50)))}  ${f(med(rs.map((r) => r.p50)))}  ${f(med(rs.map((r) => r.p99)))}                           ${f(med(rs.map((r) => r.gen)))} ${f(shape.front === null ? NaN : med(rs.map((r) => r.front)))} ${f(med(rs.map((r) => r.back)))}`,
    );
  }
  if (process.argv.includes('--rounds-p50')) {
    for (const shape of shapes) console.log(`${shape.name.padEnd(20)} p50 by round: ${results.get(shape.name)!.map((r) => r.p50.toFixed(2)).join(' ')}`);
  }
  if (stamps) {
    for (const shape of shapes) {
      console.log(`\n${shape.name}: ms from the load generator's send to each point (median per round, then over rounds), and since the point before`);
      const points = [...lines.get(shape.name)!].map(([k, xs]) => [k, med(xs)] as const).sort((a, b) => a[1] - b[1]);
      let prev = 0;
      for (const [k, t] of points) {
        console.log(`  ${k.padEnd(12)} ${t.toFixed(3).padStart(7)}  +${(t - prev).toFixed(3)}`);
        prev = t;
      }
    }
  }
} finally {
  for (const p of pools) await p.close().catch(() => {});
  for (const server of servers) await server.stop('SIGTERM');
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    const exited = new Promise((res) => c.once('exit', res));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(t);
  }
  await rm(work, { recursive: true, force: true });
}
