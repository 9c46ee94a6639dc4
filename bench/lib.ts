/**
 * Shared pieces of the benchmarks: the machine they ran on, a modeld server in a child process
 * (so that the load generator and the server do not share an event loop), a token, and a
 * closed-loop load generator over undici that records latencies. Everything talks to 127.0.0.1
 * only and stops by itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';

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

/** Starts `bin/modeld.js serve` on a free port over `dataDir` and waits until /readyz answers. */
export async function startServer(dataDir: string, port?: number, extraEnv: Record<string, string> = {}): Promise<ServerProcess> {
  const p = port ?? (await freePort());
  const t0 = performance.now();
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin/modeld.js'), 'serve'], {
    cwd: repoRoot,
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

export async function token(url: string, admin: Admin): Promise<string> {
  const r = await fetch(`${url}/oauth2/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(admin.clientId)}:${encodeURIComponent(admin.clientSecret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
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
