/**
 * Attack cases on tokens of an external OIDC issuer (issue 10, finding 8): whoever can set the
 * customer claim at the issuer must not become the system customer, and the signing algorithm
 * is pinned (no HS* through a symmetric key the issuer's JWKS happens to publish, no algorithm
 * the operator did not list). The issuer's JWKS is served on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { SYSTEM_CUSTOMER_ID } from '../../src/domain/index.js';
import { startApi, type ApiHarness } from '../integration/api-harness.js';

const ISSUER = 'https://idp.example.test/oauth2/default';
const AUDIENCE = 'api://modeld';
const EXT = { issuer: ISSUER, audience: AUDIENCE, customerIdClaim: 'tenant', scopesClaim: 'scope' };

let server: Server;
let jwksUrl: string;
let rsa: CryptoKey;
let ec: CryptoKey;
let rsa384: CryptoKey;
const hmacSecret = randomBytes(32);

before(async () => {
  const rsaPair = await generateKeyPair('RS256');
  const ecPair = await generateKeyPair('ES256');
  const rsa384Pair = await generateKeyPair('RS384');
  rsa = rsaPair.privateKey;
  ec = ecPair.privateKey;
  rsa384 = rsa384Pair.privateKey;
  // No `alg` on the RSA key (common in real JWKS): any RSA algorithm could use it. The symmetric
  // key is what a misconfigured issuer might publish; with it, anyone reading the JWKS could sign.
  const keys: JWK[] = [
    { ...(await exportJWK(rsaPair.publicKey)), kid: 'rsa', use: 'sig' },
    { ...(await exportJWK(rsa384Pair.publicKey)), kid: 'rsa384', use: 'sig' },
    { ...(await exportJWK(ecPair.publicKey)), kid: 'ec', alg: 'ES256', use: 'sig' },
    { kty: 'oct', k: hmacSecret.toString('base64url'), kid: 'oct' },
  ];
  server = createServer((req, res) => {
    if (req.url !== '/keys') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/keys`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function sign(claims: Record<string, unknown>, alg: string, kid: string, key: CryptoKey | Uint8Array): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims).setProtectedHeader({ alg, kid }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('svc').setIssuedAt(now).setExpirationTime(now + 600).sign(key);
}

async function withApi(ext: Record<string, unknown>, fn: (h: ApiHarness) => Promise<void>): Promise<void> {
  const h = await startApi({ config: { auth: { tokenTtlSeconds: 3600, audience: 'modeld', externalOidc: { ...EXT, jwksUrl, ...ext } } } });
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

async function get(h: ApiHarness, url: string, token: string) {
  const res = await h.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  return { status: res.statusCode, body: res.json() as { message: string; code: string } };
}

describe('external OIDC: the customer claim', () => {
  test('a token whose customer claim names the system customer is refused (401, says why)', async () => {
    await withApi({}, async (h) => {
      const token = await sign({ tenant: SYSTEM_CUSTOMER_ID, scope: 'machinelearning.model machinelearning.predict' }, 'RS256', 'rsa', rsa);
      const res = await get(h, `/customers/${SYSTEM_CUSTOMER_ID}/ai/deployments`, token);
      assert.equal(res.status, 401);
      assert.equal(res.body.code, 'MODELD_ERR_UNAUTHENTICATED');
      assert.match(res.body.message, /token claim tenant names a customer that external tokens may not act as \(the system customer\)/);
      // The same issuer and key, another customer: accepted (the refusal is about the customer).
      const ok = await get(h, '/customers/cust-1/ai/deployments', await sign({ tenant: 'cust-1', scope: 'machinelearning.model' }, 'RS256', 'rsa', rsa));
      assert.equal(ok.status, 200);
    });
  });

  test('customer ids the operator denies (auth.externalOidc.deniedCustomerIds) are refused too', async () => {
    await withApi({ deniedCustomerIds: ['admin-customer'] }, async (h) => {
      const res = await get(h, '/customers/admin-customer/ai/deployments', await sign({ tenant: 'admin-customer', scope: 'machinelearning.model' }, 'RS256', 'rsa', rsa));
      assert.equal(res.status, 401);
      assert.match(res.body.message, /names a customer that external tokens may not act as$/);
    });
  });

  test("modeld's own scopes (admin, ops) are not taken from an external token unless allowed", async () => {
    await withApi({}, async (h) => {
      const token = await sign({ tenant: 'cust-1', scope: 'modeld.admin machinelearning.model' }, 'RS256', 'rsa', rsa);
      const admin = await get(h, '/admin/customers', token);
      assert.equal(admin.status, 403);
      assert.equal(admin.body.code, 'MODELD_ERR_FORBIDDEN_SCOPE');
      assert.equal((await get(h, '/customers/cust-1/ai/deployments', token)).status, 200, 'the allowed scope is kept');
    });
    await withApi({ allowedScopes: ['modeld.admin'] }, async (h) => {
      const token = await sign({ tenant: 'cust-1', scope: 'modeld.admin' }, 'RS256', 'rsa', rsa);
      assert.equal((await get(h, '/admin/customers', token)).status, 200, 'an operator may opt in');
    });
  });
});

describe('external OIDC: pinned algorithms', () => {
  test('HS256 signed with a symmetric key from the JWKS is refused', async () => {
    await withApi({}, async (h) => {
      const res = await get(h, '/customers/cust-1/ai/deployments', await sign({ tenant: 'cust-1', scope: 'machinelearning.model' }, 'HS256', 'oct', hmacSecret));
      assert.equal(res.status, 401);
      assert.match(res.body.message, /signing algorithm not accepted/);
    });
  });

  test('by default RS256 and ES256 only: RS384 (key published without alg) is refused, ES256 accepted', async () => {
    await withApi({}, async (h) => {
      const rs384 = await get(h, '/customers/cust-1/ai/deployments', await sign({ tenant: 'cust-1', scope: 'machinelearning.model' }, 'RS384', 'rsa384', rsa384));
      assert.equal(rs384.status, 401);
      assert.match(rs384.body.message, /signing algorithm not accepted/);
      assert.equal((await get(h, '/customers/cust-1/ai/deployments', await sign({ tenant: 'cust-1', scope: 'machinelearning.model' }, 'ES256', 'ec', ec))).status, 200);
    });
  });

  test('auth.externalOidc.algorithms narrows the list: ES256 only refuses RS256', async () => {
    await withApi({ algorithms: ['ES256'] }, async (h) => {
      const res = await get(h, '/customers/cust-1/ai/deployments', await sign({ tenant: 'cust-1', scope: 'machinelearning.model' }, 'RS256', 'rsa', rsa));
      assert.equal(res.status, 401);
      assert.match(res.body.message, /signing algorithm not accepted/);
    });
  });

  test('the config refuses `none` and HS* in algorithms', async () => {
    const { compileConfig, defaultConfig } = await import('../../src/config/index.js');
    for (const alg of ['none', 'HS256']) {
      const base = defaultConfig();
      assert.throws(
        () => compileConfig({ ...base, auth: { ...base.auth, externalOidc: { ...EXT, jwksUrl: 'http://127.0.0.1:1/keys', algorithms: [alg] } } }),
        /config auth\.externalOidc\.algorithms/,
      );
    }
  });
});
