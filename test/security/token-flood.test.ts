/**
 * Attack cases on the token endpoint (issue 10, finding 6): every attempt used to run scrypt on
 * the libuv pool with no limit. Failed attempts are now limited per client id and per address
 * (429 + Retry-After, before any scrypt), a good client keeps getting tokens under a flood, the
 * limits reveal nothing about which client ids exist, and their memory is bounded. Through the
 * real token route (fastify inject, with the socket address set per request) over a real store.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import swagger from '@fastify/swagger';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerErrorHandling } from '../../src/api/plugins/errors.js';
import { registerAuthRoutes } from '../../src/api/routes/auth.js';
import { loadOrCreateKeys, newClient, TokenService, type KeyRing } from '../../src/auth/index.js';
import { addressKey, ClientAddresses, FailureLimiter } from '../../src/auth/attempts.js';
import { Lanes, SecretChecks } from '../../src/auth/secret-checks.js';
import { defaultConfig, type Config } from '../../src/config/index.js';
import { isoAt, type ClientRecord } from '../../src/domain/index.js';
import { isModeldError } from '../../src/errors/index.js';
import { openSqliteStore, type Store } from '../../src/store/index.js';
import { makeTempDir, type TempDir } from '../fixtures/tmp.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');
const FORM = 'application/x-www-form-urlencoded';
const basic = (id: string, s: string) => `Basic ${Buffer.from(`${id}:${s}`).toString('base64')}`;

let tmp: TempDir;
let store: Store;
let keys: KeyRing;
let customerId: string;

before(async () => {
  tmp = await makeTempDir('modeld-token-flood');
  keys = await loadOrCreateKeys(path.join(tmp.dir, 'keys'));
  store = openSqliteStore(':memory:');
  await store.migrate();
  customerId = randomUUID();
  await store.createCustomer({ id: customerId, name: 'acme', createdAt: isoAt(T0) });
});
after(async () => {
  await store.close();
  await tmp.cleanup();
});

type Limits = Partial<NonNullable<Config['auth']['tokenEndpoint']>>;

/** A token endpoint with its own TokenService, limits and hand-moved clock. */
async function endpoint(limits: Limits = {}) {
  let now = T0;
  const clock = { now: () => now };
  const auth: Config['auth'] = { ...defaultConfig().auth, tokenEndpoint: { ...defaultConfig().auth.tokenEndpoint!, ...limits } };
  const tokens = new TokenService({ keys, store, auth, issuer: 'http://127.0.0.1:8080', clock });
  const app: FastifyInstance = Fastify({ logger: false }).setValidatorCompiler(TypeBoxValidatorCompiler);
  await app.register(swagger, { openapi: { info: { title: 'modeld', version: 'test' } } });
  registerErrorHandling(app);
  registerAuthRoutes(app, { tokens });
  await app.ready();
  const request = async (id: string, secret: string, from = '127.0.0.1', headers: Record<string, string> = {}) => {
    const res = await app.inject({
      method: 'POST',
      url: '/oauth2/token',
      remoteAddress: from,
      headers: { authorization: basic(id, secret), 'content-type': FORM, ...headers },
      payload: 'grant_type=client_credentials',
    });
    return { status: res.statusCode, body: res.json() as Record<string, string>, headers: res.headers };
  };
  return { tokens, app, request, advance: (ms: number) => void (now += ms) };
}

async function aClient(): Promise<{ client: ClientRecord; secret: string }> {
  const { client, clientSecret } = await newClient(customerId, ['machinelearning.predict'], { now: () => T0 });
  await store.createClient(client);
  return { client, secret: clientSecret };
}

describe('failed attempts are limited', () => {
  test('per client id: after failuresPerClientId wrong secrets (from any address) a 429 with Retry-After, in the RFC 6749 shape, before any scrypt', async () => {
    const e = await endpoint({ failuresPerClientId: 3, failuresPerAddress: 0, failureWindowMs: 60_000, rememberedSecretTtlMs: 0 });
    const { client, secret } = await aClient();
    for (let i = 0; i < 3; i++) assert.equal((await e.request(client.id, 'wrong', `10.0.0.${i + 1}`)).status, 401);
    const checks = e.tokens.tokenEndpointStats().secretChecks;
    const limited = await e.request(client.id, 'wrong', '10.0.0.9');
    assert.equal(limited.status, 429);
    assert.deepEqual(Object.keys(limited.body).sort(), ['error', 'error_description']);
    assert.equal(limited.body.error, 'temporarily_unavailable');
    assert.match(limited.body.error_description, /too many failed authentications for this client id; retry in 20 s/);
    assert.equal(limited.headers['retry-after'], '20', 'one attempt refills every 60 s / 3');
    assert.equal(limited.headers['cache-control'], 'no-store');
    // Even the right secret waits: it is not remembered (rememberedSecretTtlMs 0), and telling it
    // apart would take the scrypt the limit is there to save.
    assert.equal((await e.request(client.id, secret, '10.0.0.9')).status, 429);
    assert.equal(e.tokens.tokenEndpointStats().secretChecks, checks, 'no secret was hashed for a limited client id');
    await e.app.close();
  });

  test('the window refills: one attempt per failureWindowMs / failuresPerClientId (injected clock)', async () => {
    const e = await endpoint({ failuresPerClientId: 2, failuresPerAddress: 0, failureWindowMs: 10_000, rememberedSecretTtlMs: 0 });
    const { client, secret } = await aClient();
    await e.request(client.id, 'wrong');
    await e.request(client.id, 'wrong');
    assert.equal((await e.request(client.id, secret)).status, 429);
    e.advance(4_999);
    assert.equal((await e.request(client.id, secret)).headers['retry-after'], '1');
    e.advance(1);
    assert.equal((await e.request(client.id, secret)).status, 200, 'one attempt refilled after 5 s');
    await e.app.close();
  });

  test('per address: a flood of random client ids from one address is limited; other addresses are not', async () => {
    const e = await endpoint({ failuresPerClientId: 0, failuresPerAddress: 4, rememberedSecretTtlMs: 0 });
    const { client, secret } = await aClient();
    for (let i = 0; i < 4; i++) assert.equal((await e.request(randomUUID(), 'guess', '192.0.2.7')).status, 401);
    const limited = await e.request(randomUUID(), 'guess', '192.0.2.7');
    assert.equal(limited.status, 429);
    assert.match(limited.body.error_description!, /from this address/);
    assert.equal((await e.request(client.id, secret, '192.0.2.7')).status, 429, 'the address is limited whatever it sends');
    assert.equal((await e.request(client.id, secret, '198.51.100.1')).status, 200, 'another address is not');
    await e.app.close();
  });

  test('IPv6 addresses count per /64; IPv4-mapped IPv6 counts as the IPv4 address', async () => {
    const e = await endpoint({ failuresPerClientId: 0, failuresPerAddress: 2, rememberedSecretTtlMs: 0 });
    await e.request(randomUUID(), 'x', '2001:db8:1:2::1');
    await e.request(randomUUID(), 'x', '2001:db8:1:2:ffff:ffff:ffff:fffe');
    assert.equal((await e.request(randomUUID(), 'x', '2001:db8:1:2:abcd::9')).status, 429, 'same /64');
    assert.equal((await e.request(randomUUID(), 'x', '2001:db8:1:3::1')).status, 401, 'another /64');
    assert.equal(addressKey('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(addressKey('2001:DB8:0:0:1::1'.toLowerCase()), addressKey('2001:db8::1:0:0:1'));
    await e.app.close();
  });

  test('X-Forwarded-For is not believed by default; with trustedProxies the forwarded client is limited', async () => {
    const plain = await endpoint({ failuresPerClientId: 0, failuresPerAddress: 2, rememberedSecretTtlMs: 0 });
    for (const xff of ['203.0.113.1', '203.0.113.2']) await plain.request(randomUUID(), 'x', '10.1.1.1', { 'x-forwarded-for': xff });
    assert.equal((await plain.request(randomUUID(), 'x', '10.1.1.1', { 'x-forwarded-for': '203.0.113.3' })).status, 429, 'counted on the peer, not on the header');
    await plain.app.close();

    const proxied = await endpoint({ failuresPerClientId: 0, failuresPerAddress: 2, rememberedSecretTtlMs: 0, trustedProxies: ['10.1.1.0/24'] });
    // A client behind the proxy forges an entry on the left; the proxy appends the real peer.
    for (let i = 0; i < 2; i++) await proxied.request(randomUUID(), 'x', '10.1.1.1', { 'x-forwarded-for': `1.2.3.${i}, 203.0.113.1` });
    assert.equal((await proxied.request(randomUUID(), 'x', '10.1.1.1', { 'x-forwarded-for': '9.9.9.9, 203.0.113.1' })).status, 429, '203.0.113.1 is limited whatever it forges');
    assert.equal((await proxied.request(randomUUID(), 'x', '10.1.1.1', { 'x-forwarded-for': '203.0.113.2' })).status, 401, 'another client of the same proxy is not');
    await proxied.app.close();
    assert.throws(() => new ClientAddresses(['10.0.0.0/33']), /auth\.tokenEndpoint\.trustedProxies\[0\]/);
  });
});

describe('what the limits reveal and keep', () => {
  test('an unknown client id is answered exactly like a known one with a wrong secret, and costs a secret check too', async () => {
    const e = await endpoint({ failuresPerClientId: 3, failuresPerAddress: 0, rememberedSecretTtlMs: 0 });
    const { client } = await aClient();
    const run = async (id: string) => {
      const out: string[] = [];
      for (let i = 0; i < 5; i++) {
        const before = e.tokens.tokenEndpointStats().secretChecks;
        const r = await e.request(id, 'wrong');
        out.push(`${r.status} ${r.body.error} ${r.body.error_description} ${r.headers['retry-after'] ?? '-'} checks+${e.tokens.tokenEndpointStats().secretChecks - before}`);
      }
      return out;
    };
    const known = await run(client.id);
    const unknown = await run(randomUUID());
    assert.deepEqual(unknown, known);
    assert.equal(known[0], '401 invalid_client client authentication failed - checks+1');
    assert.match(known[3]!, /^429 temporarily_unavailable .* checks\+0$/);
    await e.app.close();
  });

  test('a good client that got a token keeps getting tokens while its id is flooded, without scrypt, until it is disabled', async () => {
    const e = await endpoint({ failuresPerClientId: 3, failuresPerAddress: 0 });
    const { client, secret } = await aClient();
    assert.equal((await e.request(client.id, secret, '10.9.9.9')).status, 200);
    for (let i = 0; i < 10; i++) await e.request(client.id, `guess-${i}`, `198.51.100.${i}`);
    assert.equal((await e.request(client.id, 'guess', '198.51.100.77')).status, 429, 'the attacker is limited');
    const checks = e.tokens.tokenEndpointStats().secretChecks;
    for (let i = 0; i < 3; i++) assert.equal((await e.request(client.id, secret, '10.9.9.9')).status, 200, 'the owner is not locked out');
    assert.equal(e.tokens.tokenEndpointStats().secretChecks, checks, 'a remembered secret skips scrypt');
    // Disabled (as the admin API does it: store, then clientChanged): refused at once.
    await store.disableClient(client.id, isoAt(T0));
    e.tokens.clientChanged(client.id);
    const refused = await e.request(client.id, secret, '10.9.9.9');
    assert.equal(refused.status, 401, 'no longer remembered: hashed (its host is known) and refused');
    assert.equal(refused.body.error, 'invalid_client');
    await e.app.close();
  });

  test("a flooded client id does not lock out its owner's usual host (an address that authenticated lately and has not failed)", async () => {
    const e = await endpoint({ failuresPerClientId: 3, failuresPerAddress: 10, rememberedSecretTtlMs: 0 });
    const { client, secret } = await aClient();
    const neighbour = await aClient();
    assert.equal((await e.request(neighbour.client.id, neighbour.secret, '10.7.7.7')).status, 200, 'the host authenticated a client');
    for (let i = 0; i < 5; i++) await e.request(client.id, `guess-${i}`, `198.51.100.${i}`);
    assert.equal((await e.request(client.id, secret, '203.0.113.9')).status, 429, 'from an unknown address the id is limited');
    assert.equal((await e.request(client.id, secret, '10.7.7.7')).status, 200, 'from the known host it is not');
    // The known host guessing: its first failure makes it an ordinary address again.
    assert.equal((await e.request(client.id, 'guess', '10.7.7.7')).status, 401);
    assert.equal((await e.request(client.id, 'guess', '10.7.7.7')).status, 429);
    assert.equal((await e.request(client.id, secret, '10.7.7.7')).status, 429);
    await e.app.close();
  });

  test('a client disabled in the store (by another server) is refused even with a remembered secret', async () => {
    const e = await endpoint({});
    const { client, secret } = await aClient();
    assert.equal((await e.request(client.id, secret)).status, 200);
    await store.disableClient(client.id, isoAt(T0));
    assert.equal((await e.request(client.id, secret)).status, 401);
    await e.app.close();
  });

  test('an over-long client id or secret is refused like any bad credential, without a hash and without becoming a limiter key', async () => {
    const e = await endpoint({ failuresPerClientId: 3, failuresPerAddress: 2, rememberedSecretTtlMs: 0 });
    const checks = e.tokens.tokenEndpointStats().secretChecks;
    const long = await e.request('x'.repeat(10_000), 'secret', '192.0.2.50');
    assert.equal(long.status, 401);
    assert.deepEqual(long.body, { error: 'invalid_client', error_description: 'client authentication failed' });
    assert.equal((await e.request(randomUUID(), 's'.repeat(5000), '192.0.2.50')).status, 401);
    const s = e.tokens.tokenEndpointStats();
    assert.equal(s.secretChecks, checks);
    assert.equal(s.trackedClientIds, 0);
    assert.equal((await e.request(randomUUID(), 'x', '192.0.2.50')).status, 429, 'they count against the address');
    await e.app.close();
  });

  test('a source that failed stays suspect for the whole window, although one failure refills sooner', () => {
    let now = T0;
    const limiter = new FailureLimiter({ maxFailures: 30, windowMs: 60_000, maxKeys: 100, clock: { now: () => now } });
    limiter.recordFailure('a');
    now += 2_000; // one failure refilled (60 s / 30)
    assert.equal(limiter.retryAfterMs('a'), 0);
    assert.equal(limiter.isSuspect('a'), true, 'failing once per refill must not look clean again');
    now += 58_000;
    assert.equal(limiter.isSuspect('a'), false);
    assert.equal(limiter.size, 0, 'then forgotten');
  });

  test('memory is bounded: a flood of random ids or addresses keeps at most maxTrackedSources, and a key under attack stays', () => {
    let now = T0;
    const limiter = new FailureLimiter({ maxFailures: 3, windowMs: 60_000, maxKeys: 100, clock: { now: () => now } });
    for (let i = 0; i < 3; i++) limiter.recordFailure('target');
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 99; i++) limiter.recordFailure(randomUUID());
      assert.ok(limiter.size <= 100, `tracked: ${limiter.size}`);
      assert.ok(limiter.retryAfterMs('target') > 0, 'the attacked key is still limited (each refusal keeps it recent)');
    }
    for (let i = 0; i < 10_000; i++) limiter.recordFailure(randomUUID());
    assert.equal(limiter.size, 100);
    now += 60_000;
    for (let i = 0; i < 100; i++) assert.equal(limiter.retryAfterMs(randomUUID()), 0);
    assert.equal(limiter.retryAfterMs('target'), 0, 'a refilled key may try again');
  });

  test('through the route: 25 random ids from 25 addresses leave at most maxTrackedSources (10) of each', async () => {
    const e = await endpoint({ failuresPerClientId: 5, failuresPerAddress: 5, maxTrackedSources: 10, maxConcurrentSecretChecks: 0 });
    await Promise.all(Array.from({ length: 25 }, (_, i) => e.request(randomUUID(), 'x', `10.0.${i}.1`)));
    const s = e.tokens.tokenEndpointStats();
    assert.deepEqual([s.trackedClientIds, s.trackedAddresses], [10, 10]);
    await e.app.close();
  });
});

describe('secret checks are bounded so a flood cannot take the libuv pool', () => {
  /** A check the test finishes by hand; `started` says whether SecretChecks let it run. */
  function pending() {
    let finish!: (ok: boolean) => void;
    const state = { started: false };
    const done = new Promise<boolean>((resolve) => (finish = resolve));
    return { state, finish, check: async () => ((state.started = true), done) };
  }

  test('suspect checks run one at a time (maxConcurrentSuspectChecks) and after clean ones; a full lane is a 429', async () => {
    const checks = new SecretChecks({ maxConcurrent: 2, maxConcurrentSuspect: 1, maxQueued: 2 });
    const s1 = pending();
    const s2 = pending();
    const s3 = pending();
    const r1 = checks.run(() => Lanes.SUSPECT, s1.check);
    const r2 = checks.run(() => Lanes.SUSPECT, s2.check);
    const r3 = checks.run(() => Lanes.SUSPECT, s3.check);
    await assert.rejects(checks.run(() => Lanes.SUSPECT, async () => true), (err: unknown) => isModeldError(err) && err.code === 'MODELD_ERR_RATE_LIMITED' && err.details?.retryAfterSeconds === 1);
    assert.deepEqual([s1.state.started, s2.state.started, s3.state.started], [true, false, false]);
    const clean = pending();
    const rc = checks.run(() => Lanes.CLEAN, clean.check);
    assert.equal(clean.state.started, true, 'a clean check takes the free slot at once, ahead of queued suspect ones');
    clean.finish(true);
    await rc;
    assert.equal(s2.state.started, false, 'still one suspect check at a time');
    s1.finish(false);
    await r1;
    await new Promise((r) => setImmediate(r));
    assert.equal(s2.state.started, true);
    const c2 = pending();
    const c3 = pending();
    const rc2 = checks.run(() => Lanes.CLEAN, c2.check);
    const rc3 = checks.run(() => Lanes.CLEAN, c3.check);
    assert.equal(c2.state.started, true);
    assert.equal(c3.state.started, false, 'two at once in all');
    s2.finish(false);
    await r2;
    await new Promise((r) => setImmediate(r));
    assert.deepEqual([c3.state.started, s3.state.started], [true, false], 'a waiting clean check goes before a waiting suspect one');
    c2.finish(true);
    c3.finish(true);
    await Promise.all([rc2, rc3]);
    await new Promise((r) => setImmediate(r));
    assert.equal(s3.state.started, true);
    s3.finish(true);
    await r3;
    assert.deepEqual(checks.load, { running: 0, runningSuspect: 0, queuedKnown: 0, queuedClean: 0, queuedSuspect: 0 });
  });

  test('a waiting check is judged again when its turn comes: turned suspect it waits in that lane, limited it is refused unhashed', async () => {
    const checks = new SecretChecks({ maxConcurrent: 1, maxConcurrentSuspect: 1, maxQueued: 8 });
    const running = pending();
    const r0 = checks.run(() => Lanes.CLEAN, running.check);
    let sourceFailed = false;
    const burst = pending();
    const rb = checks.run(() => (sourceFailed ? Lanes.SUSPECT : Lanes.CLEAN), burst.check); // queued as clean
    const other = pending();
    const ro = checks.run(() => Lanes.CLEAN, other.check); // another clean source, queued after it
    let limited = false;
    const doomed = pending();
    const rd = checks.run(
      () => {
        if (limited) throw new Error('429');
        return Lanes.SUSPECT;
      },
      doomed.check,
    ).then(
      () => 'ran',
      (err: Error) => err.message,
    );
    sourceFailed = true; // the burst's source failed meanwhile
    limited = true; // and the doomed one's source got limited
    running.finish(false);
    await r0;
    await new Promise((r) => setImmediate(r));
    assert.deepEqual([burst.state.started, other.state.started], [false, true], 'the now-suspect check let the clean one go first');
    other.finish(true);
    await ro;
    await new Promise((r) => setImmediate(r));
    assert.equal(burst.state.started, true);
    burst.finish(false);
    await rb;
    assert.equal(await rd, '429');
    assert.equal(doomed.state.started, false, 'a check whose source got limited while it waited never runs');
    assert.deepEqual(checks.load, { running: 0, runningSuspect: 0, queuedKnown: 0, queuedClean: 0, queuedSuspect: 0 });
  });

  test('a check from an address that authenticated before (lane known) goes ahead of waiting clean and suspect ones', async () => {
    const checks = new SecretChecks({ maxConcurrent: 1, maxConcurrentSuspect: 1, maxQueued: 8 });
    const first = pending();
    const r0 = checks.run(() => Lanes.CLEAN, first.check);
    const [suspect, clean, known] = [pending(), pending(), pending()];
    const runs = [checks.run(() => Lanes.SUSPECT, suspect.check), checks.run(() => Lanes.CLEAN, clean.check), checks.run(() => Lanes.KNOWN, known.check)];
    first.finish(true);
    await r0;
    await new Promise((r) => setImmediate(r));
    assert.deepEqual([known.state.started, clean.state.started, suspect.state.started], [true, false, false]);
    known.finish(true);
    await runs[2];
    await new Promise((r) => setImmediate(r));
    assert.deepEqual([clean.state.started, suspect.state.started], [true, false]);
    clean.finish(true);
    suspect.finish(true);
    await Promise.all(runs);
  });

  test('maxConcurrentSecretChecks 0: no bound (every check starts at once)', async () => {
    const checks = new SecretChecks({ maxConcurrent: 0, maxConcurrentSuspect: 1, maxQueued: 0 });
    const all = Array.from({ length: 5 }, () => pending());
    const runs = all.map((p) => checks.run(() => Lanes.SUSPECT, p.check));
    assert.ok(all.every((p) => p.state.started));
    for (const p of all) p.finish(true);
    await Promise.all(runs);
  });
});
