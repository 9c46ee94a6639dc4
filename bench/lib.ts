/**
 * Shared pieces of the benchmarks: the machine they ran on, a modeld server in a child process
 * (so that the load generator and the server do not share an event loop), a token, and a
 * closed-loop load generator over undici that records latencies. Everything talks to 127.0.0.1
 * only and stops by itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import { DEFAULT_RUNNER_SETTINGS, type RunnerSpec } from '../src/runner/replica-dir.js';

export const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

export function machineLine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  return `machine: ${cpu}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, ${os.platform()} ${os.release()}, load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Milliseconds from spawn to /readyz answering 200. */
  startMs: number;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `bin/modeld.js serve` on a free port over `dataDir` and waits until /readyz answers.
 * `nodeArgs` go before the script (e.g. `--cpu-prof`, which NODE_OPTIONS does not allow); `root`
 * is the checkout to run (another one sharing node_modules, e.g. a git worktree of a commit).
 */
export async function startServer(dataDir: string, port?: number, extraEnv: Record<string, string> = {}, nodeArgs: string[] = [], root = repoRoot): Promise<ServerProcess> {
  const p = port ?? (await freePort());
  const t0 = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, path.join(root, 'bin/modeld.js'), 'serve'], {
    cwd: root,
    env: { ...process.env, MODELD_PORT: String(p), MODELD_DATA_DIR: dataDir, MODELD_LOG_LEVEL: 'warn', ...extraEnv },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${p}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before it was ready`);
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('server not ready within 120 s');
    await new Promise((r) => setTimeout(r, 25));
  }
  const startMs = performance.now() - t0;
  return {
    url,
    child,
    startMs,
    stop: (signal: NodeJS.Signals = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}

export interface Admin {
  clientId: string;
  clientSecret: string;
  customerId: string;
}

export async function adminCredentials(dataDir: string): Promise<Admin> {
  return JSON.parse(await readFile(path.join(dataDir, 'admin-credentials.json'), 'utf8')) as Admin;
}

/** An access token of the client (all its scopes, or only `scope`: space-separated). */
export async function token(url: string, admin: Admin, scope?: string): Promise<string> {
  const r = await fetch(`${url}/oauth2/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(admin.clientId)}:${encodeURIComponent(admin.clientSecret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: `grant_type=client_credentials${scope ? `&scope=${encodeURIComponent(scope)}` : ''}`,
  });
  if (!r.ok) throw new Error(`token: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { access_token: string }).access_token;
}

export async function api<T>(url: string, tok: string, method: string, pathName: string, body?: unknown): Promise<T> {
  const r = await fetch(`${url}${pathName}`, {
    method,
    headers: { authorization: `Bearer ${tok}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${pathName}: ${r.status} ${text}`);
  return JSON.parse(text) as T;
}

/**
 * Imports the modeld artifact folder `artifactDir` as model `name` and returns its id. A server
 * that imports only from uploads (the default since imports are confined) gets the folder's files
 * uploaded to the customer's upload folder `name` first, as a client would; an older checkout
 * (`--root`) is given the folder's file:// URI.
 */
export async function importModel(url: string, tok: string, customerId: string, name: string, artifactDir: string): Promise<string> {
  const base = `/customers/${customerId}/ai`;
  try {
    return (await api<{ id: string }>(url, tok, 'POST', `${base}/models`, { name, modelType: 'imported', artifact: { uri: `file://${artifactDir}` } })).id;
  } catch (err) {
    if (!/MODELD_ERR_DATA_PATH_FORBIDDEN/.test((err as Error).message)) throw err;
  }
  const manifest = JSON.parse(readFileSync(path.join(artifactDir, 'manifest.json'), 'utf8')) as { files: Record<string, unknown> };
  for (const file of ['manifest.json', ...Object.keys(manifest.files)]) {
    const r = await fetch(`${url}${base}/uploads/${name}/${file}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/octet-stream' },
      body: readFileSync(path.join(artifactDir, file)),
    });
    if (!r.ok) throw new Error(`PUT uploads/${name}/${file}: ${r.status} ${await r.text()}`);
  }
  return (await api<{ id: string }>(url, tok, 'POST', `${base}/models`, { name, modelType: 'imported', artifact: { upload: name } })).id;
}

/** Polls a deployment until `state` (every 10 ms); returns the elapsed milliseconds. */
export async function waitForState(url: string, tok: string, customerId: string, id: string, state: string, timeoutMs = 120_000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const d = await api<{ state: string; status: { failure: unknown } }>(url, tok, 'GET', `/customers/${customerId}/ai/deployments/${id}`);
    if (d.state === state) return performance.now() - t0;
    if (d.state === 'DEPLOY_FAILED') throw new Error(`deployment failed: ${JSON.stringify(d.status.failure)}`);
    if (performance.now() - t0 > timeoutMs) throw new Error(`deployment not ${state} within ${timeoutMs} ms (is ${d.state})`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface LoadResult {
  requests: number;
  ok: number;
  failed: number;
  /** Failed responses by status (0 = connection error). */
  failures: Record<string, number>;
  items: number;
  seconds: number;
  itemsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Closed-loop load: `concurrency` workers each send the next body as soon as the previous answer
 * is read, for `seconds` (or until `maxRequests`). Bodies are consumed as bytes, not parsed, so
 * the generator spends little CPU; `check` (optional) sees the first response of each worker.
 */
export async function closedLoop(options: {
  url: string;
  path: string;
  tok: string;
  bodies: string[];
  itemsPerRequest: number;
  concurrency: number;
  seconds: number;
  maxRequests?: number;
  check?: (text: string) => void;
}): Promise<LoadResult> {
  const pool = new Pool(options.url, { connections: options.concurrency, pipelining: 1 });
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let sent = 0;
  let ok = 0;
  const t0 = performance.now();
  const end = t0 + options.seconds * 1000;
  const worker = async (w: number) => {
    let first = true;
    while (performance.now() < end && (options.maxRequests === undefined || sent < options.maxRequests)) {
      const body = options.bodies[(sent + w) % options.bodies.length]!;
      sent++;
      const s = performance.now();
      try {
        const r = await pool.request({
          path: options.path,
          method: 'POST',
          headers: { authorization: `Bearer ${options.tok}`, 'content-type': 'application/json' },
          body,
        });
        if (first && options.check && r.statusCode === 200) {
          options.check(await r.body.text());
          first = false;
        } else {
          await r.body.arrayBuffer();
        }
        if (r.statusCode === 200) {
          ok++;
          latencies.push(performance.now() - s);
        } else failures[r.statusCode] = (failures[r.statusCode] ?? 0) + 1;
      } catch {
        failures['0'] = (failures['0'] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, w) => worker(w)));
  const seconds = (performance.now() - t0) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  const items = ok * options.itemsPerRequest;
  return {
    requests: sent,
    ok,
    failed: sent - ok,
    failures,
    items,
    seconds,
    itemsPerSecond: items / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** One request of a `LoadGenerator`: when it was sent and answered (ms since the generator started) and its status (0 = connection error). */
export interface RequestRecord {
  startMs: number;
  endMs: number;
  status: number;
  /** The error body's `code` of a failed response (or the connection error's name). */
  code?: string;
}

/**
 * Closed-loop load whose concurrency can change while it runs (a step load), stopped by the
 * caller. Every request is recorded with its times and status, so that a benchmark can count
 * the failures of any time window (a rollout, a kill). Extra workers stop after their current
 * request when the concurrency goes down.
 */
export class LoadGenerator {
  readonly t0 = performance.now();
  readonly records: RequestRecord[] = [];
  readonly #pool: Pool;
  readonly #options: { path: string; tok: string; bodies: string[] };
  readonly #workers: Promise<void>[] = [];
  #target = 0;
  #running = 0;
  #next = 0;
  #stopped = false;

  constructor(options: { url: string; path: string; tok: string; bodies: string[]; maxConcurrency: number }) {
    this.#pool = new Pool(options.url, { connections: options.maxConcurrency, pipelining: 1 });
    this.#options = options;
  }

  /** Milliseconds since the generator was created. */
  now(): number {
    return performance.now() - this.t0;
  }

  setConcurrency(n: number): void {
    this.#target = n;
    while (!this.#stopped && this.#running < this.#target) {
      this.#running++;
      this.#workers.push(this.#worker());
    }
  }

  /** Stops every worker after its current request; resolves with the records. */
  async stop(): Promise<RequestRecord[]> {
    this.#stopped = true;
    await Promise.all(this.#workers);
    await this.#pool.close();
    return this.records;
  }

  async #worker(): Promise<void> {
    while (!this.#stopped && this.#running <= this.#target) {
      const body = this.#options.bodies[this.#next++ % this.#options.bodies.length]!;
      const startMs = this.now();
      let status = 0;
      let code: string | undefined;
      try {
        const r = await this.#pool.request({
          path: this.#options.path,
          method: 'POST',
          headers: { authorization: `Bearer ${this.#options.tok}`, 'content-type': 'application/json' },
          body,
        });
        status = r.statusCode;
        if (status === 200) await r.body.arrayBuffer();
        else code = errorCode(await r.body.text());
      } catch (err) {
        code = err instanceof Error ? err.name : 'error';
      }
      this.records.push({ startMs, endMs: this.now(), status, ...(code === undefined ? {} : { code }) });
    }
    this.#running--;
  }
}

function errorCode(text: string): string {
  try {
    const body = JSON.parse(text) as { code?: unknown };
    return typeof body.code === 'string' ? body.code : 'no code';
  } catch {
    return 'not JSON';
  }
}

/** Requests answered within [fromMs, toMs) of the generator's clock: sent, ok, and failed by `status code`. */
export function countWindow(records: readonly RequestRecord[], fromMs: number, toMs: number): { requests: number; ok: number; failed: number; failures: Record<string, number> } {
  let requests = 0;
  let ok = 0;
  const failures: Record<string, number> = {};
  for (const r of records) {
    if (r.endMs < fromMs || r.endMs >= toMs) continue;
    requests++;
    if (r.status === 200) ok++;
    else {
      const key = `${r.status} ${r.code ?? ''}`.trim();
      failures[key] = (failures[key] ?? 0) + 1;
    }
  }
  return { requests, ok, failed: requests - ok, failures };
}

export interface DeploymentSample {
  atMs: number;
  state: string;
  replicas: number;
  readyReplicas: number;
  desiredReplicas: number;
}

/** Samples a deployment's status every `everyMs` (250 by default) until stopped. */
export class StatusSampler {
  readonly samples: DeploymentSample[] = [];
  #stopped = false;
  readonly #done: Promise<void>;

  constructor(options: { url: string; tok: string; customerId: string; id: string; clock: () => number; everyMs?: number }) {
    const every = options.everyMs ?? 250;
    this.#done = (async () => {
      while (!this.#stopped) {
        const next = options.clock() + every;
        try {
          const d = await api<{ state: string; status: { replicas: number; readyReplicas: number; desiredReplicas: number } }>(
            options.url,
            options.tok,
            'GET',
            `/customers/${options.customerId}/ai/deployments/${options.id}`,
          );
          this.samples.push({ atMs: options.clock(), state: d.state, replicas: d.status.replicas, readyReplicas: d.status.readyReplicas, desiredReplicas: d.status.desiredReplicas });
        } catch {
          // a missed sample shows as a gap in the timeline
        }
        await new Promise((r) => setTimeout(r, Math.max(0, next - options.clock())));
      }
    })();
  }

  async stop(): Promise<DeploymentSample[]> {
    this.#stopped = true;
    await this.#done;
    return this.samples;
  }
}

/**
 * A compact timeline: one line per change of (desired, ready, replicas, state), with the time in
 * seconds on the given clock's origin.
 */
export function timeline(samples: readonly DeploymentSample[], label: (atMs: number) => string = () => ''): string[] {
  const lines: string[] = [];
  let last = '';
  for (const s of samples) {
    const key = `${s.desiredReplicas}/${s.readyReplicas}/${s.replicas}/${s.state}`;
    if (key === last) continue;
    last = key;
    lines.push(`  t=${(s.atMs / 1000).toFixed(2).padStart(7)} s  desired ${s.desiredReplicas}  ready ${s.readyReplicas}  existing ${s.replicas}  ${s.state}${label(s.atMs)}`);
  }
  return lines;
}

export interface DeploymentEvent {
  id: number;
  type: string;
  reason: string;
  message: string;
  at: string;
}

/** Every event of a deployment, oldest first (paged). */
export async function deploymentEvents(url: string, tok: string, customerId: string, id: string): Promise<DeploymentEvent[]> {
  const all: DeploymentEvent[] = [];
  for (let page = 0; page < 100; page++) {
    const batch = await api<DeploymentEvent[]>(url, tok, 'GET', `/customers/${customerId}/ai/deployments/${id}/events?afterId=${all.at(-1)?.id ?? 0}&limit=100`);
    all.push(...batch);
    if (batch.length < 100) break;
  }
  return all;
}

/**
 * The server's /metrics text. `tok` is a bearer token with scope modeld.ops or modeld.admin (the
 * admin client's token has both): /metrics is not public by default (config metrics.access).
 */
export async function scrapeMetrics(url: string, tok: string): Promise<string> {
  const r = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${tok}` } });
  const text = await r.text();
  if (!r.ok) throw new Error(`GET /metrics: ${r.status} ${text}`);
  return text;
}

/** The sum of a Prometheus counter's samples whose labels contain every `match` pair, by the value of `by`. */
export async function scrapeCounter(url: string, tok: string, name: string, match: Record<string, string>, by: string): Promise<Record<string, number>> {
  const text = await scrapeMetrics(url, tok);
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labels = Object.fromEntries([...line.slice(name.length + 1, line.lastIndexOf('}')).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(match).some(([k, v]) => labels[k] !== v)) continue;
    const key = labels[by] ?? '';
    out[key] = (out[key] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux); null when it is gone or there is no /proc. */
export function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticksPerSecond = 100; // USER_HZ, 100 on every Linux this runs on
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
  } catch {
    return null;
  }
}

/** Pids of the runner processes under `<dataDir>/replicas/<region>/<replicaId>` (from their `pid` files). */
export function runnerPids(dataDir: string): number[] {
  const pids: number[] = [];
  const root = path.join(dataDir, 'replicas');
  for (const region of safeReaddir(root)) {
    for (const replica of safeReaddir(path.join(root, region))) {
      try {
        const pid = Number.parseInt(readFileSync(path.join(root, region, replica, 'pid'), 'utf8'), 10);
        if (Number.isInteger(pid) && pid > 0) pids.push(pid);
      } catch {
        // being created or removed
      }
    }
  }
  return pids;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** CPU milliseconds used by the load generator (this process), the server and the runners between `start()` and `stop()`. */
export class CpuMeter {
  readonly #serverPid: number;
  readonly #runners: number[];
  #t0 = { self: 0, server: 0, runners: 0 };

  constructor(serverPid: number, runnerPids: number[]) {
    this.#serverPid = serverPid;
    this.#runners = runnerPids;
  }

  #read(): { self: number; server: number; runners: number } {
    const self = process.cpuUsage();
    return {
      self: (self.user + self.system) / 1000,
      server: processCpuMs(this.#serverPid) ?? NaN,
      runners: this.#runners.reduce((sum, pid) => sum + (processCpuMs(pid) ?? NaN), 0),
    };
  }

  start(): void {
    this.#t0 = this.#read();
  }

  stop(): { self: number; server: number; runners: number } {
    const t1 = this.#read();
    return { self: t1.self - this.#t0.self, server: t1.server - this.#t0.server, runners: t1.runners - this.#t0.runners };
  }
}

let floorRuns = 0;

/**
 * The source of the floor's relay (run with `node --input-type=module -e`): node:http on a free
 * 127.0.0.1 port (printed on stdout) in front of an undici Pool on the Unix socket `socketPath`,
 * as the server talks to its runners; forwards each body to POST /embed and answers `answerBytes`.
 */
export function relaySource(socketPath: string, answerBytes: number): string {
  return `
    import http from 'node:http';
    import { Pool } from 'undici';
    const pool = new Pool('http://localhost', { socketPath: ${JSON.stringify(socketPath)}, connections: 16 });
    const answer = Buffer.alloc(${answerBytes}, 32);
    const server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', async () => {
        const r = await pool.request({ method: 'POST', path: '/embed', headers: { 'content-type': 'application/json' }, body: Buffer.concat(chunks) });
        await r.body.arrayBuffer();
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length });
        res.end(answer);
      });
    });
    server.keepAliveTimeout = 30000;
    server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;
}

/** CPU ns of every thread of `pid` so far (from /proc/<pid>/task/<tid>/schedstat; 0 when it is gone). */
export function threadsCpuNs(pid: number): number {
  let sum = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        sum += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // thread gone
      }
    }
  } catch {
    // process gone
  }
  return sum;
}

/**
 * Makes `dir` a replica directory for a runner started by hand (the runner benches): spec.json
 * for the artifact, one intra-op thread, the default runner settings, a socket `dir/runner.sock`.
 * Returns the socket path.
 */
export function writeBenchReplicaDir(dir: string, label: string, artifactDir: string): string {
  mkdirSync(dir, { recursive: true });
  const socketPath = path.join(dir, 'runner.sock');
  const spec: RunnerSpec = {
    replicaId: `r-${label}`,
    deploymentId: 'd-bench',
    customerId: 'c-bench',
    generation: 1,
    modelId: 'm-bench',
    artifactDir,
    config: {},
    intraOpThreads: 1,
    ...DEFAULT_RUNNER_SETTINGS,
    socketPath,
    createdAt: new Date().toISOString(),
  };
  writeFileSync(path.join(dir, 'spec.json'), JSON.stringify(spec));
  return socketPath;
}

/** Waits until the runner serving `dir` says it is ready (status.json), failing if it exits or takes over 60 s. */
export async function waitForBenchRunner(child: ChildProcess, dir: string, label: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`runner ${label} exited with ${child.exitCode}`);
    try {
      if ((JSON.parse(readFileSync(path.join(dir, 'status.json'), 'utf8')) as { phase: string }).phase === 'ready') return;
    } catch {
      // not written yet
    }
    if (Date.now() > deadline) throw new Error(`runner ${label} not ready after 60 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Child mode of the runner benches: serves `replicaDir` with the real Runner (HTTP, protocol,
 * batcher) and an engine that answers constant 256-d vectors at once (no tokenization, no
 * inference), then exits with the runner's exit code.
 */
export async function serveStubRunner(replicaDir: string): Promise<never> {
  const { Runner } = await import('../src/runner/runner.js');
  const { readRunnerSpec } = await import('../src/runner/replica-dir.js');
  const dim = 256;
  const engine = {
    manifest: {} as never,
    vectorSize: dim,
    async embed(texts: string[]) {
      return { vectors: new Float32Array(texts.length * dim).fill(0.0625), tokenCounts: texts.map(() => 24) };
    },
    tokenize(texts: string[]) {
      return { tokens: texts.map(() => []), ids: texts.map(() => []) };
    },
    async close() {},
  };
  const runner = new Runner({ replicaDir, spec: readRunnerSpec(replicaDir), loadEngine: async () => engine });
  process.on('SIGTERM', () => runner.drain('SIGTERM'));
  await runner.start();
  process.exit((await runner.done).exitCode);
}

/**
 * The floor of the serving path's shape: a load generator -> an HTTP relay -> a backend, three
 * processes and two hops like client -> server -> runner, with nothing in them (no auth, no
 * routing, no JSON, no model). The relay is node:http in front of an undici Pool on a Unix
 * socket, as the server talks to its runners; the backend answers `backendBytes`, the relay
 * answers `relayBytes`. Returns the load result and the CPU ms per request of the three processes:
 * what any request on this shape costs on this machine before modeld does anything.
 */
export async function relayFloor(options: { concurrency: number; seconds: number; backendBytes: number; relayBytes: number; body: string }): Promise<{ r: LoadResult; cpu: { self: number; relay: number; backend: number } }> {
  const socketPath = path.join(os.tmpdir(), `modeld-floor-${process.pid}-${++floorRuns}.sock`);
  const backendScript = `
    import http from 'node:http';
    const answer = Buffer.alloc(${options.backendBytes}, 7);
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => { res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': answer.length }); res.end(answer); });
    });
    server.keepAliveTimeout = 30000;
    server.listen(${JSON.stringify(socketPath)}, () => console.log('listening'));`;
  const relayScript = relaySource(socketPath, options.relayBytes);
  const start = async (script: string): Promise<{ child: ChildProcess; line: string }> => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`relay floor process exited with ${code}`)));
      child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
    });
    return { child, line };
  };
  const backend = await start(backendScript);
  const relay = await start(relayScript);
  try {
    const url = `http://127.0.0.1:${relay.line}`;
    await closedLoop({ url, path: '/', tok: '', bodies: [options.body], itemsPerRequest: 1, concurrency: options.concurrency, seconds: 0.5 });
    const cpu0 = { self: process.cpuUsage(), relay: processCpuMs(relay.child.pid!)!, backend: processCpuMs(backend.child.pid!)! };
    const r = await closedLoop({ url, path: '/', tok: '', bodies: [options.body], itemsPerRequest: 1, concurrency: options.concurrency, seconds: options.seconds });
    const self = process.cpuUsage(cpu0.self);
    return {
      r,
      cpu: {
        self: (self.user + self.system) / 1000 / r.ok,
        relay: (processCpuMs(relay.child.pid!)! - cpu0.relay) / r.ok,
        backend: (processCpuMs(backend.child.pid!)! - cpu0.backend) / r.ok,
      },
    };
  } finally {
    for (const p of [relay.child, backend.child]) {
      p.removeAllListeners('exit');
      p.kill('SIGKILL');
    }
    rmSync(socketPath, { force: true });
  }
}
