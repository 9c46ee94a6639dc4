import { createPrivateKey, createPublicKey, generateKeyPair, randomUUID, type JsonWebKey, type KeyObject } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { isoAt, systemClock, type Clock } from '../domain/index.js';
import { ModeldError } from '../errors/index.js';
import type { Store } from '../store/index.js';

const generateKeyPairAsync = promisify(generateKeyPair);

/** The one signing algorithm modeld issues and accepts for its own tokens. */
export const SIGNING_ALG = 'RS256' as const;

/** Public half of a signing key as served in the JWKS. */
export interface PublicJwk extends JWK {
  kty: 'RSA';
  kid: string;
  alg: typeof SIGNING_ALG;
  use: 'sig';
  n: string;
  e: string;
}

/** One RS256 key pair. `kid` is the RFC 7638 SHA-256 thumbprint of the public key. */
export interface SigningKey {
  kid: string;
  createdAt: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: PublicJwk;
}

/** What one key file holds (`<keysDir>/<kid>.json`, mode 0600). */
interface KeyFile {
  kid: string;
  alg: typeof SIGNING_ALG;
  createdAt: string;
  privateJwk: JWK;
}

/**
 * The server's signing keys, newest first. The newest signs; every key in the ring verifies, so
 * that adding a key (rotation) does not invalidate tokens signed by the previous one. Immutable:
 * rotation builds a new ring.
 */
export class KeyRing {
  readonly #keys: readonly SigningKey[];

  /** Throws when `keys` is empty: a ring always has a key to sign with. */
  constructor(keys: readonly SigningKey[]) {
    if (keys.length === 0) throw new ModeldError('MODELD_ERR_INTERNAL', 'a key ring needs at least one key');
    this.#keys = [...keys].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.kid < b.kid ? 1 : -1));
  }

  /** The key new tokens are signed with (the newest). */
  get signingKey(): SigningKey {
    return this.#keys[0]!;
  }

  get keys(): readonly SigningKey[] {
    return this.#keys;
  }

  get(kid: string): SigningKey | undefined {
    return this.#keys.find((k) => k.kid === kid);
  }

  /** The public keys as a JSON Web Key Set, newest first. */
  jwks(): { keys: PublicJwk[] } {
    return { keys: this.#keys.map((k) => ({ ...k.publicJwk })) };
  }
}

/**
 * Loads every key under `keysDir`, creating the directory (mode 0700) and a first RS256 key
 * (file mode 0600) when there is none, so that tokens survive restarts. Key files readable by
 * group or others are tightened to 0600. Throws MODELD_ERR_INTERNAL naming the file when a key
 * file cannot be parsed or its kid does not match its key.
 */
export async function loadOrCreateKeys(keysDir: string, clock: Clock = systemClock): Promise<KeyRing> {
  await ensurePrivateDir(keysDir);
  const keys = await readKeys(keysDir);
  if (keys.length > 0) return new KeyRing(keys);
  return new KeyRing([await writeNewKey(keysDir, clock)]);
}

/**
 * Rotation: generates a new key in `keysDir` and returns the ring with it as the signing key.
 * Older keys stay and keep verifying until their files are removed (after the token TTL).
 */
export async function addSigningKey(keysDir: string, clock: Clock = systemClock): Promise<KeyRing> {
  await ensurePrivateDir(keysDir);
  const created = await writeNewKey(keysDir, clock);
  const others = (await readKeys(keysDir)).filter((k) => k.kid !== created.kid);
  return new KeyRing([created, ...others]);
}

/**
 * The key ring every instance sharing `store` signs and verifies with: the keys live in the
 * store (signing_keys), so a token one instance issued is accepted by all of them. When the store
 * has none yet, the key files of `importDir` (where a modeld before the cluster work kept its
 * keys) are copied in, so tokens issued before the upgrade keep verifying; with no files either,
 * a first RS256 key is generated. Two instances starting together on an empty store agree: each
 * insert names its seq, the loser's insert writes nothing, and both read the winner's keys back.
 */
export async function loadOrCreateStoredKeys(
  store: Pick<Store, 'listSigningKeys' | 'insertSigningKey'>,
  options: { importDir?: string; clock?: Clock } = {},
): Promise<KeyRing> {
  let stored = await store.listSigningKeys();
  if (stored.length === 0) {
    const local = options.importDir ? await readKeys(options.importDir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err))) : [];
    const keys = local.length > 0 ? local : [await generateKey(options.clock ?? systemClock)];
    for (const [i, key] of keys.entries()) {
      const written = await store.insertSigningKey({ seq: i + 1, kid: key.kid, createdAt: key.createdAt, privateJwk: key.privateKey.export({ format: 'jwk' }) as Record<string, unknown> });
      if (!written) break; // another instance got there first: its keys are read below
    }
    stored = await store.listSigningKeys();
  }
  const keys: SigningKey[] = [];
  for (const row of stored) {
    keys.push(await parseKeyFile(`signing_keys row ${row.seq}`, JSON.stringify({ kid: row.kid, alg: SIGNING_ALG, createdAt: row.createdAt, privateJwk: row.privateJwk })));
  }
  return new KeyRing(keys);
}

async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by the umask and ignored for an existing dir; set it explicitly.
  await chmod(dir, 0o700);
}

async function readKeys(keysDir: string): Promise<SigningKey[]> {
  const names = (await readdir(keysDir)).filter((n) => n.endsWith('.json')).sort();
  const keys: SigningKey[] = [];
  for (const name of names) {
    const file = path.join(keysDir, name);
    const st = await stat(file);
    if ((st.mode & 0o077) !== 0) await chmod(file, 0o600);
    keys.push(await parseKeyFile(file, await readFile(file, 'utf8')));
  }
  return keys;
}

async function parseKeyFile(file: string, text: string): Promise<SigningKey> {
  try {
    const parsed = JSON.parse(text) as KeyFile;
    if (parsed.alg !== SIGNING_ALG || typeof parsed.kid !== 'string' || typeof parsed.createdAt !== 'string') {
      throw new Error('not an RS256 key file');
    }
    const privateKey = createPrivateKey({ key: parsed.privateJwk as JsonWebKey, format: 'jwk' });
    const key = await toSigningKey(privateKey, parsed.createdAt);
    if (key.kid !== parsed.kid) throw new Error(`kid ${parsed.kid} does not match the key's thumbprint ${key.kid}`);
    return key;
  } catch (err) {
    throw new ModeldError('MODELD_ERR_INTERNAL', `signing key ${file} is unreadable: ${(err as Error).message}`, { cause: err });
  }
}

async function toSigningKey(privateKey: KeyObject, createdAt: string): Promise<SigningKey> {
  const publicKey = createPublicKey(privateKey);
  const { n, e } = publicKey.export({ format: 'jwk' });
  if (typeof n !== 'string' || typeof e !== 'string') throw new Error('not an RSA key');
  const kid = await calculateJwkThumbprint({ kty: 'RSA', n, e }, 'sha256');
  return { kid, createdAt, privateKey, publicKey, publicJwk: { kty: 'RSA', kid, alg: SIGNING_ALG, use: 'sig', n, e } };
}

async function generateKey(clock: Clock): Promise<SigningKey> {
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  return toSigningKey(privateKey, isoAt(clock.now()));
}

async function writeNewKey(keysDir: string, clock: Clock): Promise<SigningKey> {
  const key = await generateKey(clock);
  const privateKey = key.privateKey;
  const body: KeyFile = { kid: key.kid, alg: SIGNING_ALG, createdAt: key.createdAt, privateJwk: privateKey.export({ format: 'jwk' }) as JWK };
  await writeFileAtomic(path.join(keysDir, `${key.kid}.json`), `${JSON.stringify(body, null, 2)}\n`);
  return key;
}

/**
 * Writes `text` to `file` with mode 0600 so that a reader sees the old file or the whole new one,
 * never a partial one: a temp file in the same directory, fsync, then rename over the target.
 */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}.tmp`);
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(text, 'utf8');
    // The mode given to open() is filtered by the umask; make 0600 exact.
    await handle.chmod(0o600);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  await rename(tmp, file);
}
