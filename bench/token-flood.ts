/**
 * bench/token-flood: how a good client fares at the token endpoint while others flood it with bad
 * credentials (issue 10, finding 6). A real server on 127.0.0.1 (child process); the flood runs in
 * a worker thread over many connections bound to other loopback addresses (127.0.0.2, ...), half
 * wrong secrets for an existing client id (the good client's own id: client ids are not secret,
 * every token carries its client's), half unknown random ids. Measured from 127.0.0.1, without
 * and then with the flood, one request at a time each:
 *
 *   - token, same client: the good client asking again and again (as a service renewing tokens);
 *   - token, new client: a client asking for its first token (one request per fresh client),
 *     from 127.0.0.1 (where the good client authenticates: a known address);
 *   - token, new client+address: the same, each from an address never seen (127.0.3.x);
 *   - GET uploads: a customer's upload listing, a readdir on the libuv pool that scrypt also uses.
 *
 * Prints p50/p99 per probe and phase (of the answered requests; one not answered within 20 s is
 * counted as a timeout), non-200 answers, the flood's rate and answers, and the machine. The
 * flood runs until the last probe of its phase has its answer. "Before": `--root <checkout of an older commit>` (shares node_modules), or
 * `--limits off` on this commit (auth.tokenEndpoint: no limits, no bound, nothing remembered).
 *
 * Usage: npm run bench:token-flood [-- --seconds 10 --addresses 16 --connections 4 --root DIR --label TEXT --limits off]
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Pool } from 'undici';
import { adminCredentials, api, fmt, machineLine, percentile, repoRoot, startServer, token } from './lib.js';

const flag = (name: string): string | undefined => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : undefined);
const SECONDS = Number(flag('seconds')) || 10;
const ADDRESSES = Number(flag('addresses')) || 16;
const CONNECTIONS = Number(flag('connections')) || 4;
const ROOT = path.resolve(flag('root') ?? repoRoot);
/** What the server at ROOT is, for the header line (e.g. "main 0cb8a09" for an exported tree). */
const LABEL = flag('label');
const LIMITS_OFF = flag('limits') === 'off';
const NEW_CLIENTS = 20;

interface Probe {
  latencies: number[];
  failures: Record<string, number>;
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** A probe request not answered within this is counted as `timeout` (and the phase does not wait longer). */
const PROBE_TIMEOUT_MS = 20_000;

/** Sends one probe request; records its latency (200) or its status / `timeout` / error name. */
async function probeRequest(pool: Pool, probe: Probe, options: Parameters<Pool['request']>[0]): Promise<void> {
  const t0 = performance.now();
  try {
    const r = await pool.request(options);
    await r.body.arrayBuffer();
    if (r.statusCode === 200) probe.latencies.push(performance.now() - t0);
    else probe.failures[r.statusCode] = (probe.failures[r.statusCode] ?? 0) + 1;
  } catch (err) {
    const name = (err as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT' ? `timeout > ${PROBE_TIMEOUT_MS / 1000} s` : (err as Error).name;
    probe.failures[name] = (probe.failures[name] ?? 0) + 1;
  }
}

function tokenRequest(pool: Pool, id: string, secret: string, probe: Probe): Promise<void> {
  return probeRequest(pool, probe, {
    path: '/oauth2/token',
    method: 'POST',
    headers: { authorization: basic(id, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
}

function row(phase: string, name: string, p: Probe): string {
  const sorted = [...p.latencies].sort((a, b) => a - b);
  const failed = Object.entries(p.failures).map(([s, n]) => `${s}: ${n}`).join(', ') || '-';
  return `${phase.padEnd(9)} ${name.padEnd(20)} ${String(sorted.length).padStart(6)} ${fmt(percentile(sorted, 50), 1).padStart(9)} ${fmt(percentile(sorted, 99), 1).padStart(9)}   ${failed}`;
}

const work = await mkdtemp(path.join(os.tmpdir(), 'modeld-bench-token-flood-'));
const dataDir = path.join(work, 'data');
let server: Awaited<ReturnType<typeof startServer>> | null = null;
try {
  const env: Record<string, string> = {};
  if (LIMITS_OFF) {
    const file = path.join(work, 'config.json');
    const off = { failuresPerClientId: 0, failuresPerAddress: 0, maxConcurrentSecretChecks: 0, rememberedSecretTtlMs: 0 };
    writeFileSync(file, JSON.stringify({ auth: { tokenEndpoint: off } }));
    env.MODELD_CONFIG = file;
  }
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['-C', ROOT, 'log', '-1', '--format=%h'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // not a git checkout (e.g. an exported tree)
  }
  console.log(machineLine());
  console.log(`server: ${ROOT} (${LABEL ?? commit}), config: ${LIMITS_OFF ? 'auth.tokenEndpoint limits off' : 'defaults'}`);
  console.log(
    `flood: ${ADDRESSES} addresses (127.0.0.2..) x ${CONNECTIONS} connections, closed loop, half wrong secrets for the good client's id, half unknown ids; probes from 127.0.0.1 for ${SECONDS} s per phase (same client, uploads: one request at a time; ${NEW_CLIENTS} new clients arriving evenly from 127.0.0.1, ${NEW_CLIENTS} more from new addresses)`,
  );
  server = await startServer(dataDir, undefined, env, [], ROOT);
  const url = server.url;
  const adminTok = await token(url, await adminCredentials(dataDir));
  const customer = await api<{ id: string }>(url, adminTok, 'POST', '/admin/customers', { name: 'bench' });
  const newClient = () =>
    api<{ clientId: string; clientSecret: string }>(url, adminTok, 'POST', `/admin/customers/${customer.id}/clients`, { scopes: ['machinelearning.model', 'machinelearning.predict'] });
  const good = await newClient();
  const goodTok = await token(url, { ...good, customerId: customer.id });

  const phase = async (name: string, flood: boolean): Promise<string[]> => {
    const fresh = await Promise.all(Array.from({ length: NEW_CLIENTS }, () => newClient()));
    const freshElsewhere = await Promise.all(Array.from({ length: NEW_CLIENTS }, () => newClient()));
    let floodDone: Promise<{ requests: number; byStatus: Record<string, number>; seconds: number }> | null = null;
    let worker: Worker | null = null;
    if (flood) {
      const addresses = Array.from({ length: ADDRESSES }, (_, i) => `127.0.${Math.floor((i + 2) / 256)}.${(i + 2) % 256}`);
      const w = new Worker(new URL('./token-flood-worker.mjs', import.meta.url), {
        workerData: { url, maxSeconds: SECONDS * 20, addresses, connectionsPerAddress: CONNECTIONS, victimId: good.clientId },
      });
      worker = w;
      floodDone = new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
      w.postMessage('go');
      await new Promise((r) => setTimeout(r, 1000)); // let the flood reach its pace before measuring
    }
    const same: Probe = { latencies: [], failures: {} };
    const first: Probe = { latencies: [], failures: {} };
    const firstElsewhere: Probe = { latencies: [], failures: {} };
    const uploads: Probe = { latencies: [], failures: {} };
    const timeouts = { headersTimeout: PROBE_TIMEOUT_MS, bodyTimeout: PROBE_TIMEOUT_MS };
    const pools = [new Pool(url, { connections: 1, ...timeouts }), new Pool(url, { connections: NEW_CLIENTS, ...timeouts }), new Pool(url, { connections: 1, ...timeouts })] as const;
    const t0 = performance.now();
    const end = t0 + SECONDS * 1000;
    await Promise.all([
      (async () => {
        while (performance.now() < end) await tokenRequest(pools[0], good.clientId, good.clientSecret, same);
      })(),
      // New clients arrive on a schedule, each on its own connection, whether or not earlier ones were answered.
      ...fresh.map(async (c, i) => {
        await new Promise((r) => setTimeout(r, (i * SECONDS * 1000) / NEW_CLIENTS));
        await tokenRequest(pools[1], c.clientId, c.clientSecret, first);
      }),
      ...freshElsewhere.map(async (c, i) => {
        await new Promise((r) => setTimeout(r, ((i + 0.5) * SECONDS * 1000) / NEW_CLIENTS));
        const pool = new Pool(url, { connections: 1, localAddress: `127.0.3.${flood ? 128 + i : 1 + i}`, ...timeouts });
        await tokenRequest(pool, c.clientId, c.clientSecret, firstElsewhere);
        await pool.close();
      }),
      (async () => {
        while (performance.now() < end) {
          await probeRequest(pools[2], uploads, { path: `/customers/${customer.id}/ai/uploads`, method: 'GET', headers: { authorization: `Bearer ${goodTok}` } });
        }
      })(),
    ]);
    // Every probe ran under the flood, its last request included: the flood stops only now.
    worker?.postMessage('stop');
    await Promise.all(pools.map((p) => p.close()));
    const lines = [
      row(name, 'token, same client', same),
      row(name, 'token, new client', first),
      row(name, 'token, new cl.+addr.', firstElsewhere),
      row(name, 'GET uploads', uploads),
    ];
    if (floodDone) {
      const f = await floodDone;
      const answers = Object.entries(f.byStatus).map(([s, n]) => `${s}: ${n}`).join(', ');
      lines.push(`          flood sent ${fmt(f.requests)} bad attempts in ${fmt(f.seconds, 1)} s (${fmt(f.requests / f.seconds)}/s); answers ${answers}`);
    }
    return lines;
  };

  const quiet = await phase('no flood', false);
  const flooded = await phase('flood', true);
  console.log(`${'phase'.padEnd(9)} ${'probe'.padEnd(20)} ${'n'.padStart(6)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)}   non-200`);
  for (const l of [...quiet, ...flooded]) console.log(l);
} finally {
  await server?.stop();
  await rm(work, { recursive: true, force: true });
}
