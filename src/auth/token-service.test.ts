import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { makeTempDir, type TempDir } from '../../test/fixtures/tmp.js';
import type { Config } from '../config/index.js';
import { ALL_SCOPES, isoAt, type ClientRecord, type Customer } from '../domain/index.js';
import { isModeldError } from '../errors/index.js';
import { openSqliteStore, type Store } from '../store/index.js';
import { newClient } from './clients.js';
import { addSigningKey, loadOrCreateKeys, type KeyRing } from './keys.js';
import { TokenService } from './token-service.js';

const ISSUER = 'http://127.0.0.1:8080';
const AUTH: Config['auth'] = { tokenTtlSeconds: 3600, audience: 'modeld' };
const T0 = Date.parse('2030-01-01T00:00:00Z');

/** A clock the test moves by hand. */
function manualClock(start: number) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

async function rejects401(p: Promise<unknown>, message: RegExp, why?: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isModeldError(err), String(err));
    assert.equal(err.code, 'MODELD_ERR_UNAUTHENTICATED');
    assert.equal(err.status, 401);
    assert.match(err.message, message);
    return true;
  }, why);
}

let tmp: TempDir;
let store: Store;
let keys: KeyRing;
let customer: Customer;
let client: ClientRecord;
let clientSecret: string;

before(async () => {
  tmp = await makeTempDir('modeld-tokens');
  keys = await loadOrCreateKeys(`${tmp.dir}/keys`);
  store = openSqliteStore(':memory:');
  await store.migrate();
  customer = { id: randomUUID(), name: 'acme', createdAt: isoAt(T0) };
  await store.createCustomer(customer);
  ({ client, clientSecret } = await newClient(customer.id, ['machinelearning.model', 'machinelearning.predict'], { now: () => T0 }));
  await store.createClient(client);
});
after(async () => {
  await store.close();
  await tmp.cleanup();
});

describe('modeld tokens', () => {
  test('issue then verify: the principal and every documented claim', async () => {
    const clock = manualClock(T0 + 1234);
    const tokens = new TokenService({ keys, store, auth: AUTH, issuer: ISSUER, clock });
    const issued = await tokens.issue(client, ['machinelearning.predict']);
    assert.equal(issued.tokenType, 'Bearer');
    assert.equal(issued.expiresIn, 3600);
    assert.equal(issued.scope, 'machinelearning.predict');

    const header = decodeProtectedHeader(issued.accessToken);
    assert.deepEqual(header, { alg: 'RS256', kid: keys.signingKey.kid, typ: 'JWT' });
    const claims = decodeJwt(issued.accessToken);
    const iat = Math.floor((T0 + 1234) / 1000);
    assert.deepEqual(claims, {
      iss: ISSUER,
      aud: 'modeld',
      iat,
      exp: iat + 3600,
      jti: issued.tokenId,
      cid: client.id,
      sub: client.id,
      scp: ['machinelearning.predict'],
      customerId: customer.id,
    });

    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const principal = await tokens.authenticate(`${scheme} ${issued.accessToken}`);
      assert.deepEqual(principal, { clientId: client.id, customerId: customer.id, scopes: ['machinelearning.predict'], tokenId: issued.tokenId });
    }
  });

  test('a token is good until exp and 401 "expired" from then on (injected clock)', async () => {
    const clock = manualClock(T0);
    const tokens = new TokenService({ keys, store, auth: AUTH, issuer: ISSUER, clock });
    const { accessToken } = await tokens.issue(client, ALL_SCOPES.slice(0, 1));
    clock.advance(3599_000);
    await tokens.authenticate(`Bearer ${accessToken}`);
    clock.advance(1_000);
    await rejects401(tokens.authenticate(`Bearer ${accessToken}`), /expired/);
  });

  test('missing or malformed Authorization headers and tokens say so', async () => {
    const tokens = new TokenService({ keys, store, auth: AUTH, issuer: ISSUER, clock: manualClock(T0) });
    await rejects401(tokens.authenticate(undefined), /missing Authorization header/);
    await rejects401(tokens.authenticate(''), /missing Authorization header/);
    await rejects401(tokens.authenticate('Basic Zm9vOmJhcg=='), /malformed Authorization header/);
    await rejects401(tokens.authenticate('Bearer'), /malformed Authorization header/);
    await rejects401(tokens.authenticate('Bearer not.a.jwt'), /malformed token/);
    await rejects401(tokens.authenticate('Bearer abc'), /malformed token/);
  });

  test('a token signed by another key: unknown kid, or our kid with a forged signature', async () => {
    const clock = manualClock(T0);
    const tokens = new TokenService({ keys, store, auth: AUTH, issuer: ISSUER, clock });
    const otherDir = await makeTempDir('modeld-otherkeys');
    try {
      const otherKeys = await loadOrCreateKeys(otherDir.dir);
      const forger = new TokenService({ keys: otherKeys, store, auth: AUTH, issuer: ISSUER, clock });
      const { accessToken } = await forger.issue(client, ['machinelearning.model']);
      await rejects401(tokens.authenticate(`Bearer ${accessToken}`), /unknown key/);

      const claims = decodeJwt(accessToken);
      const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: keys.signingKey.kid }).sign(otherKeys.signingKey.privateKey);
      await rejects401(tokens.authenticate(`Bearer ${forged}`), /bad token signature/);
    } finally {
      await otherDir.cleanup();
    }
  });

  test('a tampered payload (scopes widened) no longer matches its signature', async () => {
    const tokens = new TokenService({ keys, store, auth: AUTH, issuer: ISSUER, clock: manualClock(T0) });
    const { accessToken } = await tokens.issue(client, ['machinelearning.predict']);
    const [h, p, s] = accessToken.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')) as Record<string, unknown>;
    payload.scp = [...ALL_SCOPES];
    const tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    await rejects401(tokens.authenticate(`Bearer ${tampered}`), /bad token signature/);
  });

  test('a token verified before is still checked each time: tampering, expiry and its client', async () => {
    const clock = manualClock(T0);
    const tokens = new TokenService({ keys, store, auth: AUTH, issuer: ISSUER, clock });
    const holder = (await newClient(customer.id, ['machinelearning.predict'], clock)).client;
    await store.createClient(holder);
    const { accessToken } = await tokens.issue(holder, ['machinelearning.predict']);
    const first = await tokens.authenticate(`Bearer ${accessToken}`);
    const again = await tokens.authenticate(`Bearer ${accessToken}`);
    assert.deepEqual(again, first);
    again.scopes.push('modeld.admin');
    assert.deepEqual((await tokens.authenticate(`Bearer ${accessToken}`)).scopes, ['machinelearning.predict'], "a caller's copy does not change what the token grants");

    const [h, p, sig] = accessToken.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')) as Record<string, unknown>;
    payload.scp = [...ALL_SCOPES];
    await rejects401(tokens.authenticate(`Bearer ${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${sig}`), /bad token signature/);

    clock.advance(3600_000);
    await rejects401(tokens.authenticate(`Bearer ${accessToken}`), /expired/);

    clock.advance(-3600_000);
    await tokens.authenticate(`Bearer ${accessToken}`);
    await store.disableClient(holder.id, isoAt(T0 + 1));
    tokens.clientChanged(holder.id);
    await rejects401(tokens.authenticate(`Bearer ${accessToken}`), /disabled/);
  });

  test('wrong audience and unknown issuer are refused by name', async () => {
    const clock = manualClock(T0);
    const tokens = new TokenService({ keys, store, auth: AUTH, issuer: ISSUER, clock });
    const otherAudience = new TokenService({ keys, store, auth: { ...AUTH, audience: 'someone-else' }, issuer: ISSUER, clock });
    await rejects401(tokens.authenticate(`Bearer ${(await otherAudience.issue(client, ['machinelearning.model'])).accessToken}`), /wrong audience/);
    const otherIssuer = new TokenService({ keys, store, auth: AUTH, issuer: 'https://elsewhere.example', clock });
    await rejects401(tokens.authenticate(`Bearer ${(await otherIssuer.issue(client, ['machinelearning.model'])).accessToken}`), /unknown issuer/);
  });

  test('only RS256: an HS256 token keyed with our public key is refused', async () => {
    const tokens = new TokenService({ keys, store, auth: AUTH, issuer: ISSUER, clock: manualClock(T0) });
    const { accessToken } = await tokens.issue(client, ['machinelearning.model']);
    const hmacKey = new TextEncoder().encode(JSON.stringify(keys.jwks().keys[0]));
    const confused = await new SignJWT(decodeJwt(accessToken)).setProtectedHeader({ alg: 'HS256', kid: keys.signingKey.kid }).sign(hmacKey);
    await rejects401(tokens.authenticate(`Bearer ${confused}`), /algorithm not accepted|unknown key/);
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${accessToken.split('.')[1]}.`;
    await rejects401(tokens.authenticate(`Bearer ${unsigned}`), /algorithm not accepted|malformed/);
  });

  test('rotation: tokens signed by the previous key keep verifying after a new key signs', async () => {
    const dir = await makeTempDir('modeld-rotate');
    try {
      const clock = manualClock(T0);
      const ring1 = await loadOrCreateKeys(dir.dir, { now: () => T0 });
      const before = await new TokenService({ keys: ring1, store, auth: AUTH, issuer: ISSUER, clock }).issue(client, ['machinelearning.model']);
      const ring2 = await addSigningKey(dir.dir, { now: () => T0 + 1000 });
      const tokens = new TokenService({ keys: ring2, store, auth: AUTH, issuer: ISSUER, clock });
      const afterRotation = await tokens.issue(client, ['machinelearning.model']);
      assert.notEqual(decodeProtectedHeader(afterRotation.accessToken).kid, decodeProtectedHeader(before.accessToken).kid);
      await tokens.authenticate(`Bearer ${before.accessToken}`);
      await tokens.authenticate(`Bearer ${afterRotation.accessToken}`);
    } finally {
      await dir.cleanup();
    }
  });

  test("a deleted or disabled client's tokens stop working", async () => {
    const clock = manualClock(T0);
    const tokens = new TokenService({ keys, store, auth: AUTH, issuer: ISSUER, clock });
    const ghost = (await newClient(customer.id, ['machinelearning.model'], clock)).client;
    await rejects401(tokens.authenticate(`Bearer ${(await tokens.issue(ghost, ['machinelearning.model'])).accessToken}`), /no longer exists/);

    const doomed = (await newClient(customer.id, ['machinelearning.model'], clock)).client;
    await store.createClient(doomed);
    const { accessToken } = await tokens.issue(doomed, ['machinelearning.model']);
    await tokens.authenticate(`Bearer ${accessToken}`);
    await store.disableClient(doomed.id, isoAt(T0 + 1));
    tokens.clientChanged(doomed.id);
    await rejects401(tokens.authenticate(`Bearer ${accessToken}`), /disabled/);
    clock.advance(5_000);
    await rejects401(tokens.authenticate(`Bearer ${accessToken}`), /disabled/, 'a refusal is never remembered as enabled');
  });

  test('a client disabled by another process (store only) is refused once auth.clientCacheTtlMs has passed (injected clock)', async () => {
    const clock = manualClock(T0);
    const tokens = new TokenService({ keys, store, auth: { ...AUTH, clientCacheTtlMs: 1000 }, issuer: ISSUER, clock });
    const elsewhere = (await newClient(customer.id, ['machinelearning.predict'], clock)).client;
    await store.createClient(elsewhere);
    const { accessToken } = await tokens.issue(elsewhere, ['machinelearning.predict']);
    await tokens.authenticate(`Bearer ${accessToken}`); // read and found enabled at T0
    await store.disableClient(elsewhere.id, isoAt(T0 + 1)); // another server: this process is not told
    clock.advance(999);
    const stale = await tokens.authenticate(`Bearer ${accessToken}`);
    assert.equal(stale.clientId, elsewhere.id, 'within the TTL the remembered state stands');
    clock.advance(1);
    await rejects401(tokens.authenticate(`Bearer ${accessToken}`), /disabled/);

    // A clock that goes backwards does not stretch the TTL.
    const back = manualClock(T0);
    const again = (await newClient(customer.id, ['machinelearning.predict'], back)).client;
    await store.createClient(again);
    const other = new TokenService({ keys, store, auth: { ...AUTH, clientCacheTtlMs: 1000 }, issuer: ISSUER, clock: back });
    const t = (await other.issue(again, ['machinelearning.predict'])).accessToken;
    await other.authenticate(`Bearer ${t}`);
    await store.disableClient(again.id, isoAt(T0 + 1));
    back.advance(-1);
    await rejects401(other.authenticate(`Bearer ${t}`), /disabled/);
  });

  test('auth.clientCacheTtlMs 0: the client is read on every request, as before the cache', async () => {
    const clock = manualClock(T0);
    const tokens = new TokenService({ keys, store, auth: { ...AUTH, clientCacheTtlMs: 0 }, issuer: ISSUER, clock });
    const c = (await newClient(customer.id, ['machinelearning.predict'], clock)).client;
    await store.createClient(c);
    const { accessToken } = await tokens.issue(c, ['machinelearning.predict']);
    await tokens.authenticate(`Bearer ${accessToken}`);
    await store.disableClient(c.id, isoAt(T0 + 1));
    await rejects401(tokens.authenticate(`Bearer ${accessToken}`), /disabled/);
  });

  test('a store read that started before clientChanged does not bring the old state back', async () => {
    const clock = manualClock(T0);
    let release: (() => void) | undefined;
    const slowStore: Pick<Store, 'getClient'> = {
      getClient: async (id) => {
        const row = await store.getClient(id); // read now: enabled
        if (release === undefined) await new Promise<void>((r) => (release = r));
        return row;
      },
    };
    const tokens = new TokenService({ keys, store: slowStore, auth: { ...AUTH, clientCacheTtlMs: 1000 }, issuer: ISSUER, clock });
    const c = (await newClient(customer.id, ['machinelearning.predict'], clock)).client;
    await store.createClient(c);
    const { accessToken } = await tokens.issue(c, ['machinelearning.predict']);
    const inFlight = tokens.authenticate(`Bearer ${accessToken}`);
    while (release === undefined) await new Promise((r) => setImmediate(r));
    await store.disableClient(c.id, isoAt(T0 + 1));
    tokens.clientChanged(c.id);
    release();
    await inFlight; // it read the client before the change: accepted
    await rejects401(tokens.authenticate(`Bearer ${accessToken}`), /disabled/);
  });
});

describe('client authentication', () => {
  test('the right secret returns the client; wrong, unknown and disabled all get the same invalid_client', async () => {
    const tokens = new TokenService({ keys, store, auth: AUTH, issuer: ISSUER, clock: manualClock(T0) });
    assert.equal((await tokens.authenticateClient(client.id, clientSecret)).id, client.id);
    const disabled = await newClient(customer.id, ['machinelearning.model'], { now: () => T0 });
    await store.createClient({ ...disabled.client, disabledAt: isoAt(T0) });
    const attempts: Array<[string, string]> = [
      [client.id, `${clientSecret}x`],
      [client.id, ''],
      [randomUUID(), clientSecret],
      [disabled.client.id, disabled.clientSecret],
    ];
    for (const [id, secret] of attempts) {
      await assert.rejects(tokens.authenticateClient(id, secret), (err: unknown) => {
        assert.ok(isModeldError(err));
        assert.equal(err.code, 'MODELD_ERR_INVALID_CLIENT');
        assert.equal(err.details?.oauthError, 'invalid_client');
        assert.equal(err.message, 'client authentication failed');
        return true;
      });
    }
  });
});

describe('external OIDC issuer', () => {
  const EXT = {
    issuer: 'https://idp.example.test/oauth2/default',
    audience: 'api://modeld',
    customerIdClaim: 'tenant',
    scopesClaim: 'scope',
  };
  let server: Server;
  let jwksUrl: string;
  let idpKey: CryptoKey;
  let jwksHits = 0;

  before(async () => {
    const pair = await generateKeyPair('RS256');
    idpKey = pair.privateKey;
    const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'idp-1', alg: 'RS256', use: 'sig' };
    server = createServer((req, res) => {
      jwksHits++;
      if (req.url !== '/keys') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/keys`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const externalToken = (claims: Record<string, unknown>, audience = EXT.audience, key: CryptoKey = idpKey) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'idp-1' })
      .setIssuer(EXT.issuer)
      .setAudience(audience)
      .setSubject('service-account-7')
      .setIssuedAt(Math.floor(T0 / 1000))
      .setExpirationTime(Math.floor(T0 / 1000) + 600)
      .sign(key);

  test("the issuer's tokens are accepted with customer and scopes from the configured claims", async () => {
    const tokens = new TokenService({ keys, store, auth: { ...AUTH, externalOidc: { ...EXT, jwksUrl } }, issuer: ISSUER, clock: manualClock(T0 + 5000) });
    const spaced = await tokens.authenticate(`Bearer ${await externalToken({ tenant: 'cust-42', scope: 'machinelearning.predict  machinelearning.model' })}`);
    assert.deepEqual(spaced, { clientId: 'service-account-7', customerId: 'cust-42', scopes: ['machinelearning.predict', 'machinelearning.model'], tokenId: '' });
    const listed = await tokens.authenticate(`Bearer ${await externalToken({ tenant: 'cust-42', scope: ['machinelearning.predict'], cid: 'app-1', jti: 'j1' })}`);
    assert.deepEqual(listed, { clientId: 'app-1', customerId: 'cust-42', scopes: ['machinelearning.predict'], tokenId: 'j1' });
    assert.ok(jwksHits >= 1, 'the JWKS was fetched from the issuer');
    // Our own tokens still work next to the external ones.
    await tokens.authenticate(`Bearer ${(await tokens.issue(client, ['machinelearning.model'])).accessToken}`);
  });

  test('their tokens are still checked: audience, expiry, signature, customer claim', async () => {
    const clock = manualClock(T0 + 5000);
    const tokens = new TokenService({ keys, store, auth: { ...AUTH, externalOidc: { ...EXT, jwksUrl } }, issuer: ISSUER, clock });
    await rejects401(tokens.authenticate(`Bearer ${await externalToken({ tenant: 'c' }, 'api://other')}`), /wrong audience/);
    await rejects401(tokens.authenticate(`Bearer ${await externalToken({ scope: 'machinelearning.predict' })}`), /lacks the tenant claim/);
    await rejects401(tokens.authenticate(`Bearer ${await externalToken({ tenant: 'c', scope: 7 })}`), /claim scope must be/);
    const stranger = (await generateKeyPair('RS256')).privateKey;
    await rejects401(tokens.authenticate(`Bearer ${await externalToken({ tenant: 'c' }, EXT.audience, stranger)}`), /bad token signature/);
    const valid = await externalToken({ tenant: 'c' });
    clock.advance(3600_000);
    await rejects401(tokens.authenticate(`Bearer ${valid}`), /expired/);
  });

  test('an unreachable JWKS is a 503, not a 401', async () => {
    const tokens = new TokenService({
      keys,
      store,
      auth: { ...AUTH, externalOidc: { ...EXT, jwksUrl: jwksUrl.replace('/keys', '/missing') } },
      issuer: ISSUER,
      clock: manualClock(T0 + 5000),
    });
    await assert.rejects(tokens.authenticate(`Bearer ${await externalToken({ tenant: 'c' })}`), (err: unknown) => {
      assert.ok(isModeldError(err));
      assert.equal(err.code, 'MODELD_ERR_UNAVAILABLE');
      return true;
    });
  });
});
