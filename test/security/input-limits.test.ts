import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Value } from 'typebox/value';
import { ErrorBodySchema } from '../../src/api/schemas.js';
import { defaultConfig } from '../../src/config/index.js';
import { Scopes } from '../../src/domain/index.js';
import { EndpointRegistry, Gateway } from '../../src/gateway/index.js';
import { seedDeployment, seedModel, snapshot, startApi, type ApiHarness, type Tenant } from '../integration/api-harness.js';

/**
 * Attack cases of issue 10, findings 5 and 7: limits on every input (text length, deployment
 * config size and depth, slow bodies, headers, connections) and one error shape for what is
 * refused before a route runs. Each case goes through a real socket on 127.0.0.1 where the
 * behaviour lives in node's HTTP server, through inject() otherwise.
 */

const BODY_TIMEOUT_MS = 400;
const PER_ADDRESS = 6;

let h: ApiHarness;
let alice: Tenant;
let port: number;

before(async () => {
  h = await startApi({
    config: {
      limits: {
        ...defaultConfig().limits,
        maxTextChars: 1000,
        bodyTimeoutMs: BODY_TIMEOUT_MS,
        headersTimeoutMs: 1000,
        maxHeaderBytes: 4096,
        maxConnectionsPerAddress: PER_ADDRESS,
      },
    },
    gateway: (config, store) => new Gateway({ config, store, registry: new EndpointRegistry(), resolvePretrained: async () => null, listPretrained: () => [] }),
  });
  alice = await h.tenant();
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  port = (h.app.server.address() as AddressInfo).port;
});
after(() => h.close());

/** Sends raw bytes, then more after `thenMs` unless the server answered; resolves with what came back and whether the server closed. */
function rawExchange(first: string, options: { trickle?: string; everyMs?: number; waitMs?: number } = {}): Promise<{ text: string; closed: boolean; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let timer: NodeJS.Timeout | undefined;
    const done = (closed: boolean) => {
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ text, closed, ms: Date.now() - started });
    };
    const giveUp = setTimeout(() => done(false), options.waitMs ?? 5000);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
    });
    socket.on('close', () => done(true));
    socket.on('error', (err) => (text === '' ? reject(err) : done(true)));
    socket.write(first);
    if (options.trickle !== undefined) {
      let i = 0;
      timer = setInterval(() => {
        if (!socket.destroyed && socket.writable) socket.write(options.trickle![i++ % options.trickle!.length]!);
      }, options.everyMs ?? 50);
    }
  });
}

function parseRaw(text: string): { status: number; headers: Record<string, string>; body: unknown } {
  const [head = '', ...rest] = text.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(rest.join('\r\n')) };
}

function assertModeldShape(res: { status: number; headers: Record<string, string>; body: unknown }, status: number, code: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.ok(Value.Check(ErrorBodySchema, res.body), `modeld's error shape: ${JSON.stringify(res.body)}`);
  assert.equal((res.body as { code: string }).code, code);
  assert.ok(res.headers['x-request-id'], 'an x-request-id');
}

describe('errors raised before modeld’s handlers use modeld’s shape (finding 7)', () => {
  test('414 for a path parameter longer than any id', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/customers/${'a'.repeat(300)}/ai/models`);
    assertModeldShape({ status: res.status, headers: Object.fromEntries(res.headers), body: await res.json() }, 414, 'MODELD_ERR_URI_TOO_LONG');
  });

  test('400 for a malformed % escape in the path, naming the path', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/customers/%zz/ai/models`);
    const body = (await res.json()) as { message: string };
    assertModeldShape({ status: res.status, headers: Object.fromEntries(res.headers), body }, 400, 'MODELD_ERR_VALIDATION');
    assert.match(body.message, /^path: /);
  });

  test('431 for headers larger than limits.maxHeaderBytes', async () => {
    const out = await rawExchange(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`);
    assertModeldShape(parseRaw(out.text), 431, 'MODELD_ERR_HEADERS_TOO_LARGE');
    assert.equal(out.closed, true);
  });

  test('400 naming the header for a bad Content-Length', async () => {
    const out = await rawExchange(`POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n`);
    const res = parseRaw(out.text);
    assertModeldShape(res, 400, 'MODELD_ERR_VALIDATION');
    assert.equal((res.body as { details: { field: string } }).details.field, 'headers.content-length');
  });
});

describe('slow requests are cut (finding 5)', () => {
  test('a JSON body trickled byte by byte is answered 408 and its connection closed', async () => {
    const bearer = await alice.auth();
    const body = JSON.stringify({ modelId: 'x', region: 'local', config: { pad: 'y'.repeat(200) } });
    const out = await rawExchange(
      `POST /customers/${alice.customerId}/ai/deployments HTTP/1.1\r\nHost: x\r\nAuthorization: ${bearer}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n{`,
      { trickle: body.slice(1), everyMs: 50, waitMs: 5000 },
    );
    assertModeldShape(parseRaw(out.text), 408, 'MODELD_ERR_REQUEST_TIMEOUT');
    assert.equal(out.closed, true, 'the server closed the connection');
    assert.ok(out.ms < 5000, `cut after ${out.ms} ms, not left to the client`);
  });

  test('the embedding fast path cuts a trickled body the same way', async () => {
    const bearer = await alice.auth([Scopes.PREDICT]);
    const body = JSON.stringify({ batch: [{ text: 'hello there' }] });
    const out = await rawExchange(
      `POST /ai/prediction/embedding/no-such HTTP/1.1\r\nHost: x\r\nAuthorization: ${bearer}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n{`,
      { trickle: body.slice(1), everyMs: 100, waitMs: 5000 },
    );
    assertModeldShape(parseRaw(out.text), 408, 'MODELD_ERR_REQUEST_TIMEOUT');
    assert.equal(out.closed, true);
  });

  test('headers that never end are cut by limits.headersTimeoutMs', async () => {
    const out = await rawExchange(`GET /healthz HTTP/1.1\r\nHost: x\r\n`, { trickle: 'X-A: b\r\n', everyMs: 100, waitMs: 6000 });
    assert.equal(out.closed, true, 'closed by the server');
    assertModeldShape(parseRaw(out.text), 408, 'MODELD_ERR_REQUEST_TIMEOUT');
  });

  test('a normal body sent at once is not affected by the body timer', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/customers/${alice.customerId}/ai/deployments`, {
      method: 'POST',
      headers: { authorization: await alice.auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ modelId: 'no-such-model', region: 'local' }),
    });
    assert.equal(res.status, 404);
    await new Promise((r) => setTimeout(r, BODY_TIMEOUT_MS + 100));
    const again = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(again.status, 200, 'a keep-alive connection is still usable after the timer would have fired');
  });
});

describe('connections per address (finding 5)', () => {
  test(`more than limits.maxConnectionsPerAddress (${PER_ADDRESS}) open connections from one address are closed on arrival; the rest keep working`, async () => {
    const sockets: net.Socket[] = [];
    try {
      for (let i = 0; i < PER_ADDRESS; i++) {
        const s = net.connect(port, '127.0.0.1');
        await new Promise<void>((r) => s.once('connect', () => r()));
        sockets.push(s);
      }
      await new Promise((r) => setTimeout(r, 50));
      const extra = await rawExchange('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', { waitMs: 2000 });
      assert.equal(extra.text, '', 'no answer on a connection over the limit');
      assert.equal(extra.closed, true);
    } finally {
      for (const s of sockets) s.destroy();
    }
    await new Promise((r) => setTimeout(r, 50));
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { headers: { connection: 'close' } });
    assert.equal(res.status, 200, 'served again once connections closed');
  });
});

describe('bodies are bounded in size and depth (finding 5)', () => {
  test('a deployment config nested 10,000 deep is a 400 naming body, not a 500, and nothing is written', async () => {
    const model = await seedModel(h.store, alice.customerId);
    const before = await snapshot(h.store, alice.customerId);
    const deep = '{"a":'.repeat(10_000) + '{}' + '}'.repeat(10_000);
    const res = await h.app.inject({
      method: 'POST',
      url: `/customers/${alice.customerId}/ai/deployments`,
      headers: { authorization: await alice.auth(), 'content-type': 'application/json' },
      payload: `{"modelId":"${model.id}","region":"local","config":${deep}}`,
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().code, 'MODELD_ERR_VALIDATION');
    assert.equal(res.json().details.field, 'body');
    assert.match(res.json().message, /limits\.maxJsonDepth/);
    assert.equal(await snapshot(h.store, alice.customerId), before);
  });

  test('a config above limits.deploymentConfigBytes is refused at create and at PATCH, naming body.config', async () => {
    const model = await seedModel(h.store, alice.customerId);
    const big = { pad: 'x'.repeat(h.config.limits.deploymentConfigBytes) };
    const created = await h.app.inject({
      method: 'POST',
      url: `/customers/${alice.customerId}/ai/deployments`,
      headers: { authorization: await alice.auth() },
      payload: { modelId: model.id, region: 'local', config: big },
    });
    assert.equal(created.statusCode, 400, created.body);
    assert.equal(created.json().details.field, 'body.config');
    assert.match(created.json().message, /^body\.config: .*limits\.deploymentConfigBytes/);

    const d = await seedDeployment(h.store, model);
    const before = await snapshot(h.store, alice.customerId);
    const patched = await h.app.inject({
      method: 'PATCH',
      url: `/customers/${alice.customerId}/ai/deployments/${d.id}`,
      headers: { authorization: await alice.auth() },
      payload: { config: big },
    });
    assert.equal(patched.statusCode, 400, patched.body);
    assert.equal(patched.json().details.field, 'body.config');
    assert.equal(await snapshot(h.store, alice.customerId), before, 'the deployment is unchanged');

    const fits = await h.app.inject({
      method: 'PATCH',
      url: `/customers/${alice.customerId}/ai/deployments/${d.id}`,
      headers: { authorization: await alice.auth() },
      payload: { config: { pad: 'x'.repeat(1000) } },
    });
    assert.equal(fits.statusCode, 200, fits.body);
  });

  test('a prediction text longer than limits.maxTextChars is refused before any model sees it, naming the item', async () => {
    const predict = await alice.auth([Scopes.PREDICT]);
    const long = 'word '.repeat(300);
    for (const [url, payload, field] of [
      ['/ai/prediction/embedding/no-such', { batch: [{ text: 'ok' }, { text: long }] }, 'body.batch.1.text'],
      ['/ai/tokenization/no-such', { batch: [{ text: long }] }, 'body.batch.0.text'],
      ['/ai/prediction/classification/no-such', { batch: [{ text: 'ok' }], useCaseConfig: { labels: ['a', long] } }, 'body.useCaseConfig.labels.1'],
      ['/v2/models/no-such/infer', { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: [long] }] }, 'body.inputs.0.data.0'],
    ] as const) {
      // Through the socket, so that the embedding route's fast path answers too.
      const res = await fetch(`http://127.0.0.1:${port}${url}`, {
        method: 'POST',
        headers: { authorization: predict, 'content-type': 'application/json' },
        body: JSON.stringify(payload),
      });
      const body = (await res.json()) as { code: string; error?: string; details: { field: string; maxTextChars: number } };
      assert.equal(res.status, 400, `${url}: ${JSON.stringify(body)}`);
      if (url.startsWith('/v2/')) {
        // The Open Inference Protocol's own error shape: {error}.
        assert.match(body.error ?? '', new RegExp(`^${field.replaceAll('.', '\\.')}: .*limits\\.maxTextChars`));
        continue;
      }
      assert.equal(body.details?.field, field, `${url}: ${JSON.stringify(body)}`);
      assert.equal(body.details.maxTextChars, 1000);
    }
  });
});
