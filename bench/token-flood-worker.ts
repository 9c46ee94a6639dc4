/**
 * The flood of bench/token-flood, in a worker thread (its own event loop, so that sending it does
 * not delay the good client's requests measured by the main thread). Closed loop: every
 * connection sends the next bad token request as soon as the previous answer is read, from the
 * first message ('go') until the second ('stop'), or `maxSeconds` at most. Half the attempts are wrong secrets for an existing client id
 * (`victimId`), half unknown random ids; each connection is bound to one of `addresses` (local
 * addresses such as 127.0.0.2, so the server sees many sources).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { Pool } from 'undici';

const { url, maxSeconds, addresses, connectionsPerAddress, victimId } = workerData as {
  url: string;
  maxSeconds: number;
  addresses: string[];
  connectionsPerAddress: number;
  victimId: string;
};

const pools = addresses.map((localAddress) => new Pool(url, { connections: connectionsPerAddress, pipelining: 1, localAddress }));
const byStatus: Record<string, number> = {};
let requests = 0;
await new Promise<void>((resolve) => parentPort!.once('message', () => resolve()));
const t0 = performance.now();
let stopped = false;
parentPort!.once('message', () => (stopped = true));
const end = t0 + maxSeconds * 1000;

async function connection(pool: Pool, n: number): Promise<void> {
  while (!stopped && performance.now() < end) {
    const id = n % 2 === 0 ? victimId : randomUUID();
    n++;
    const secret = randomBytes(32).toString('base64url');
    requests++;
    try {
      const r = await pool.request({
        path: '/oauth2/token',
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      });
      await r.body.arrayBuffer();
      byStatus[r.statusCode] = (byStatus[r.statusCode] ?? 0) + 1;
    } catch (err) {
      const key = `error ${(err as NodeJS.ErrnoException).code ?? (err as Error).name}`;
      byStatus[key] = (byStatus[key] ?? 0) + 1;
    }
  }
}

await Promise.all(pools.flatMap((pool, p) => Array.from({ length: connectionsPerAddress }, (_, c) => connection(pool, p + c))));
await Promise.all(pools.map((p) => p.close()));
parentPort!.postMessage({ requests, byStatus, seconds: (performance.now() - t0) / 1000 });
