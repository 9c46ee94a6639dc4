import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashSecret, newSecret, SCRYPT_PARAMS, verifySecret } from './secrets.js';

test('newSecret gives 32 random bytes as base64url, different every time', () => {
  const a = newSecret();
  const b = newSecret();
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(Buffer.from(a, 'base64url').length, 32);
  assert.notEqual(a, b);
});

test('hashSecret stores scrypt$N$r$p$salt$hash without the secret, salted per call', async () => {
  const secret = newSecret();
  const h1 = await hashSecret(secret);
  const h2 = await hashSecret(secret);
  const parts = h1.split('$');
  assert.equal(parts.length, 6);
  assert.deepEqual(parts.slice(0, 4), ['scrypt', String(SCRYPT_PARAMS.N), String(SCRYPT_PARAMS.r), String(SCRYPT_PARAMS.p)]);
  assert.equal(Buffer.from(parts[4]!, 'base64url').length, 16);
  assert.equal(Buffer.from(parts[5]!, 'base64url').length, 32);
  assert.ok(!h1.includes(secret));
  assert.notEqual(h1, h2, 'a fresh salt each time');
});

test('verifySecret accepts the secret and rejects any other', async () => {
  const secret = newSecret();
  const stored = await hashSecret(secret);
  assert.equal(await verifySecret(secret, stored), true);
  assert.equal(await verifySecret(`${secret}x`, stored), false);
  assert.equal(await verifySecret(secret.slice(1), stored), false);
  assert.equal(await verifySecret('', stored), false);
  assert.equal(await verifySecret(newSecret(), stored), false);
});

test('verifySecret treats malformed or abusive stored hashes as a non-match', async () => {
  const secret = newSecret();
  const good = (await hashSecret(secret)).split('$');
  const variants = [
    '',
    secret,
    ['bcrypt', ...good.slice(1)].join('$'),
    good.slice(0, 5).join('$'),
    ['scrypt', '1000', ...good.slice(2)].join('$'),
    ['scrypt', String(1 << 24), ...good.slice(2)].join('$'),
    ['scrypt', good[1], '0', ...good.slice(3)].join('$'),
    ['scrypt', good[1], good[2], '1000', ...good.slice(4)].join('$'),
    [...good.slice(0, 4), '', good[5]].join('$'),
    [...good.slice(0, 5), 'c2hvcnQ'].join('$'),
  ];
  for (const stored of variants) assert.equal(await verifySecret(secret, stored), false, stored);
});
