import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Client secrets: random, shown once, stored only as scrypt hashes in the form
 * `scrypt$N$r$p$salt$hash` (salt and hash base64url). Nothing here logs or returns a secret
 * except newSecret() itself.
 */

/** Cost parameters for new hashes (about 16 MiB and tens of ms per check). */
export const SCRYPT_PARAMS = { N: 16384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
/** Refuse stored parameters beyond these, so that a corrupt row cannot pin a core or exhaust memory. */
const MAX_N = 1 << 20;
const MAX_RP = 64;

function scryptAsync(secret: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** A new client secret: 32 random bytes, base64url (43 characters). */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Hashes a secret with a fresh salt: `scrypt$N$r$p$salt$hash`. */
export async function hashSecret(secret: string): Promise<string> {
  const { N, r, p } = SCRYPT_PARAMS;
  const salt = randomBytes(SALT_LENGTH);
  const hash = await scryptAsync(secret, salt, KEY_LENGTH, { N, r, p, maxmem: memoryFor(N, r) });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/**
 * True when `secret` matches `stored`. The comparison is constant-time; a malformed `stored`
 * value is a non-match (false), never an exception, so a corrupt row cannot be told apart from a
 * wrong secret by the caller.
 */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const N = Number(parts[1]);
  const r = Number(parts[2]);
  const p = Number(parts[3]);
  if (!isPowerOfTwo(N) || N > MAX_N || !isSmallPositive(r) || !isSmallPositive(p)) return false;
  const salt = Buffer.from(parts[4]!, 'base64url');
  const expected = Buffer.from(parts[5]!, 'base64url');
  if (salt.length === 0 || expected.length < 16) return false;
  const actual = await scryptAsync(secret, salt, expected.length, { N, r, p, maxmem: memoryFor(N, r) });
  return timingSafeEqual(actual, expected);
}

/**
 * A hash of a secret nobody knows; verifying against it costs the same as a real check, so an
 * unknown client id takes as long to reject as a wrong secret.
 */
export const DUMMY_SECRET_HASH = `scrypt$${SCRYPT_PARAMS.N}$${SCRYPT_PARAMS.r}$${SCRYPT_PARAMS.p}$${Buffer.alloc(SALT_LENGTH).toString('base64url')}$${Buffer.alloc(KEY_LENGTH).toString('base64url')}`;

function memoryFor(N: number, r: number): number {
  return 128 * N * r * 2;
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 1 && (n & (n - 1)) === 0;
}

function isSmallPositive(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= MAX_RP;
}
