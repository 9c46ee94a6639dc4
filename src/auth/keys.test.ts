import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, chmod, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { calculateJwkThumbprint, compactVerify, CompactSign, importJWK } from 'jose';
import { openSqliteStore } from '../store/index.js';
import { addSigningKey, loadOrCreateKeys, loadOrCreateStoredKeys } from './keys.js';

const root = await mkdtemp(path.join(os.tmpdir(), 'modeld-keys-'));
after(() => rm(root, { recursive: true, force: true }));

let n = 0;
const freshDir = () => path.join(root, `data-${n++}`, 'keys');
const clockAt = (ms: number) => ({ now: () => ms });

test('first start creates one RS256 key: dir 0700, file 0600, kid = JWK thumbprint', async () => {
  const dir = freshDir();
  const ring = await loadOrCreateKeys(dir);
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  const files = await readdir(dir);
  assert.deepEqual(files, [`${ring.signingKey.kid}.json`]);
  assert.equal((await stat(path.join(dir, files[0]!))).mode & 0o777, 0o600);
  const [jwk] = ring.jwks().keys;
  assert.equal(jwk!.kty, 'RSA');
  assert.equal(jwk!.alg, 'RS256');
  assert.equal(jwk!.use, 'sig');
  assert.equal(jwk!.kid, await calculateJwkThumbprint({ kty: 'RSA', n: jwk!.n, e: jwk!.e }));
  assert.ok(!('d' in jwk!) && !('p' in jwk!), 'the JWKS carries no private part');
});

test('a restart reloads the same key; what it signed still verifies against the new JWKS', async () => {
  const dir = freshDir();
  const first = await loadOrCreateKeys(dir);
  const jws = await new CompactSign(new TextEncoder().encode('hello'))
    .setProtectedHeader({ alg: 'RS256', kid: first.signingKey.kid })
    .sign(first.signingKey.privateKey);
  const second = await loadOrCreateKeys(dir);
  assert.equal(second.signingKey.kid, first.signingKey.kid);
  assert.deepEqual(second.jwks(), first.jwks());
  const publicKey = await importJWK(second.jwks().keys[0]!, 'RS256');
  const { payload } = await compactVerify(jws, publicKey);
  assert.equal(new TextDecoder().decode(payload), 'hello');
});

test('rotation: the newest key signs, older keys stay in the JWKS, and a reload keeps that order', async () => {
  const dir = freshDir();
  const old = await loadOrCreateKeys(dir, clockAt(1_000));
  const rotated = await addSigningKey(dir, clockAt(2_000));
  assert.notEqual(rotated.signingKey.kid, old.signingKey.kid);
  assert.deepEqual(
    rotated.jwks().keys.map((k) => k.kid),
    [rotated.signingKey.kid, old.signingKey.kid],
  );
  const reloaded = await loadOrCreateKeys(dir);
  assert.equal(reloaded.signingKey.kid, rotated.signingKey.kid);
  assert.ok(reloaded.get(old.signingKey.kid));
});

test('loose permissions are tightened on load; a corrupt or mismatched key file is refused by name', async () => {
  const dir = freshDir();
  const ring = await loadOrCreateKeys(dir);
  const file = path.join(dir, `${ring.signingKey.kid}.json`);
  await chmod(file, 0o644);
  await chmod(dir, 0o755);
  await loadOrCreateKeys(dir);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal((await stat(dir)).mode & 0o777, 0o700);

  const content = JSON.parse(await readFile(file, 'utf8')) as { kid: string };
  await writeFile(file, JSON.stringify({ ...content, kid: 'not-the-thumbprint' }), { mode: 0o600 });
  await assert.rejects(loadOrCreateKeys(dir), (err: Error) => err.message.includes(file) && /thumbprint/.test(err.message));
  await writeFile(file, '{not json', { mode: 0o600 });
  await assert.rejects(loadOrCreateKeys(dir), (err: Error) => err.message.includes(file));
});

test('keys in the store: generated once, read back by every later call and by another handle on the same file', async () => {
  const file = path.join(root, `store-${n++}.sqlite`);
  const a = openSqliteStore(file);
  const b = openSqliteStore(file);
  try {
    await a.migrate();
    await b.migrate();
    // Two servers starting together on an empty store end with the same ring.
    const [ra, rb] = await Promise.all([loadOrCreateStoredKeys(a), loadOrCreateStoredKeys(b)]);
    assert.equal(ra.keys.length, 1);
    assert.deepEqual(ra.jwks(), rb.jwks());
    assert.deepEqual((await loadOrCreateStoredKeys(a)).jwks(), ra.jwks(), 'a restart keeps the key');
    // What one signs, the other verifies.
    const jws = await new CompactSign(new TextEncoder().encode('hello')).setProtectedHeader({ alg: 'RS256', kid: ra.signingKey.kid }).sign(ra.signingKey.privateKey);
    const verified = await compactVerify(jws, await importJWK(rb.get(ra.signingKey.kid)!.publicJwk, 'RS256'));
    assert.equal(new TextDecoder().decode(verified.payload), 'hello');
  } finally {
    await a.close();
    await b.close();
  }
});

test("keys in the store: an upgraded server's key files are imported, so its earlier tokens still verify", async () => {
  const dir = freshDir();
  const first = await loadOrCreateKeys(dir, clockAt(1000));
  const second = await addSigningKey(dir, clockAt(2000));
  const store = openSqliteStore(':memory:');
  try {
    await store.migrate();
    const ring = await loadOrCreateStoredKeys(store, { importDir: dir });
    assert.deepEqual(ring.keys.map((k) => k.kid), second.keys.map((k) => k.kid));
    assert.equal(ring.signingKey.kid, second.signingKey.kid, 'the newest file key still signs');
    assert.ok(ring.get(first.signingKey.kid));
    assert.equal((await store.listSigningKeys()).length, 2);
  } finally {
    await store.close();
  }
});

test('keys in the store: a damaged row is an error naming it', async () => {
  const store = openSqliteStore(':memory:');
  try {
    await store.migrate();
    await store.insertSigningKey({ seq: 1, kid: 'not-the-thumbprint', createdAt: new Date(0).toISOString(), privateJwk: { kty: 'RSA' } });
    await assert.rejects(loadOrCreateStoredKeys(store), /signing key signing_keys row 1 is unreadable/);
  } finally {
    await store.close();
  }
});
