import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { runnerConnection } from '../../runner/index.js';

/** Whether this system has a Linux-style /proc to check a pid's command line against pid reuse. */
const HAS_PROC = existsSync('/proc/self/cmdline');

/**
 * True when `pid` is alive and is the process of `dir` (a runner's replica directory, a training
 * worker's job directory): the pid exists and, where /proc exists, its command line has `dir` as
 * an argument. A recycled pid, a zombie (empty command line) or a process of another user is not.
 */
export function isProcessOf(pid: number, dir: string): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  try {
    process.kill(pid, 0);
  } catch {
    // ESRCH: gone. EPERM: another user's process, so not a runner we spawned.
    return false;
  }
  if (!HAS_PROC) return true;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return false;
  }
  return cmdline.split('\0').includes(dir);
}

/** Sends `signal` to the process group led by `pid` (runners and training workers are spawned detached, so pgid = pid). Absent group is fine. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

export interface HttpJsonResponse {
  status: number;
  body: unknown;
}

/**
 * One small HTTP exchange with a runner at `endpoint` (protocol.ts runnerEndpoint: a Unix socket
 * or loopback TCP) on a fresh connection (a probe must not be queued behind inference traffic on
 * a pooled one). Rejects on connection errors, on timeout and on a body that is not JSON.
 */
export function httpJson(method: 'GET' | 'POST', endpoint: string, route: string, timeoutMs: number): Promise<HttpJsonResponse> {
  const url = `${endpoint}${route}`;
  const { origin, socketPath } = runnerConnection(endpoint);
  return new Promise((resolve, reject) => {
    const options: http.RequestOptions = { method, agent: false, timeout: timeoutMs, headers: { 'content-length': 0 } };
    if (socketPath !== undefined) options.socketPath = socketPath;
    const req = http.request(`${origin}${route}`, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
        } catch (err) {
          reject(new Error(`${method} ${url}: answer is not JSON (${(err as Error).message})`));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Polls `condition` every `intervalMs` until it holds (true) or `timeoutMs` passes (false). */
export async function waitUntil(condition: () => boolean, timeoutMs: number, intervalMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (condition()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(1, deadline - Date.now()))));
  }
}
