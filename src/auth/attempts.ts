import net from 'node:net';
import type { Clock } from '../domain/index.js';
import { ModeldError } from '../errors/index.js';

/**
 * Failed client authentications, counted per key (a client id as sent, or a client address) in
 * a token bucket: a key holds `maxFailures` tokens, refilled continuously at `maxFailures` per
 * `windowMs`; a failure takes one; a key with less than one token left is refused until one has
 * refilled. Successes are not counted and do not refill (an attacker cannot reset a key by
 * interleaving a client's good requests). Pure bookkeeping over an injected clock.
 *
 * Memory: at most `maxKeys` keys. A key whose bucket has refilled is forgotten when next seen;
 * beyond `maxKeys` the key least recently failed or refused is dropped, so a flood of random ids
 * or addresses replaces old entries instead of growing the map. A key under attack stays recent
 * (each refusal touches it), so evicting it takes `maxKeys` fresh keys after its last attempt.
 */
export class FailureLimiter {
  readonly #max: number;
  /** Tokens refilled per ms. */
  readonly #rate: number;
  readonly #maxKeys: number;
  readonly #clock: Clock;
  readonly #windowMs: number;
  /** key -> tokens left at `atMs`, and its last failure; insertion order is recency (least recent first). */
  readonly #buckets = new Map<string, { tokens: number; atMs: number; failedAtMs: number }>();

  /** `maxFailures` 0 disables the limit (nothing is counted). */
  constructor(options: { maxFailures: number; windowMs: number; maxKeys: number; clock: Clock }) {
    this.#max = options.maxFailures;
    this.#rate = options.maxFailures / options.windowMs;
    this.#windowMs = options.windowMs;
    this.#maxKeys = options.maxKeys;
    this.#clock = options.clock;
  }

  /** Keys remembered now (at most maxKeys). */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * 0 when `key` may try now, else the milliseconds until it may (at least 1). A refused key
   * becomes the most recent one.
   */
  retryAfterMs(key: string): number {
    if (this.#max === 0) return 0;
    const tokens = this.#tokens(key);
    if (tokens >= 1) return 0;
    this.#touch(key, tokens);
    return Math.max(1, Math.ceil((1 - tokens) / this.#rate));
  }

  /**
   * True when `key` failed within the last window (its checks go in the suspect lane). Longer
   * than the refill of one failure on purpose: a source that fails once per refill would
   * otherwise look clean again at each attempt.
   */
  isSuspect(key: string): boolean {
    if (this.#max === 0) return false;
    this.#tokens(key); // forgets a key whose window has passed
    const b = this.#buckets.get(key);
    return b !== undefined && this.#clock.now() - b.failedAtMs < this.#windowMs;
  }

  /** Counts one failure of `key`. */
  recordFailure(key: string): void {
    if (this.#max === 0) return;
    const now = this.#clock.now();
    this.#touch(key, Math.max(0, this.#tokens(key) - 1), now);
  }

  /** Tokens `key` holds now; a key found full whose last failure is a window old is forgotten. */
  #tokens(key: string): number {
    const b = this.#buckets.get(key);
    if (b === undefined) return this.#max;
    const now = this.#clock.now();
    const tokens = Math.min(this.#max, b.tokens + Math.max(0, now - b.atMs) * this.#rate);
    if (tokens >= this.#max && now - b.failedAtMs >= this.#windowMs) {
      this.#buckets.delete(key);
      return this.#max;
    }
    return tokens;
  }

  /** Stores `tokens` for `key` as of now, as its most recent key; `failedAtMs` when it just failed. */
  #touch(key: string, tokens: number, failedAtMs?: number): void {
    const previous = this.#buckets.get(key);
    this.#buckets.delete(key);
    if (this.#buckets.size >= this.#maxKeys) {
      const oldest = this.#buckets.keys().next();
      if (!oldest.done) this.#buckets.delete(oldest.value);
    }
    this.#buckets.set(key, { tokens, atMs: this.#clock.now(), failedAtMs: failedAtMs ?? previous?.failedAtMs ?? this.#clock.now() });
  }
}

/**
 * The key a client address is limited under: an IPv4 address as is (also when written as
 * IPv4-mapped IPv6, `::ffff:a.b.c.d`), an IPv6 address by its /64 prefix (one subscriber usually
 * holds a whole /64, so counting single addresses would let it rotate through 2^64 of them).
 * Anything else (no address) is returned unchanged.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!net.isIPv6(address)) return address;
  const groups = expandIpv6(address);
  return groups === null ? address : `${groups.slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (lower-case hex, no leading zeros); null if it embeds IPv4 or a zone. */
function expandIpv6(address: string): string[] | null {
  if (address.includes('.') || address.includes('%')) return null;
  const [head, tail] = address.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((g) => parseInt(g, 16).toString(16));
}

/**
 * Which address a request comes from. By default the socket's peer: X-Forwarded-For is not
 * believed, since any client can send it. With trusted proxies (IPs or CIDRs, config
 * auth.tokenEndpoint.trustedProxies), a request whose peer is one of them is attributed to the
 * right-most X-Forwarded-For entry that is not itself a trusted proxy (the entries left of it
 * were written by the client and prove nothing).
 */
export class ClientAddresses {
  readonly #trusted: net.BlockList | null;

  /** Throws MODELD_ERR_VALIDATION naming the entry when one is neither an IP nor a CIDR. */
  constructor(trustedProxies: readonly string[]) {
    if (trustedProxies.length === 0) {
      this.#trusted = null;
      return;
    }
    const list = new net.BlockList();
    trustedProxies.forEach((entry, i) => {
      const [ip, bits, extra] = entry.split('/');
      const family = net.isIPv4(ip ?? '') ? 'ipv4' : net.isIPv6(ip ?? '') ? 'ipv6' : null;
      const prefix = bits === undefined ? null : Number(bits);
      const maxBits = family === 'ipv4' ? 32 : 128;
      if (family === null || extra !== undefined || (prefix !== null && (!Number.isInteger(prefix) || prefix < 0 || prefix > maxBits || bits === ''))) {
        throw new ModeldError('MODELD_ERR_VALIDATION', `config auth.tokenEndpoint.trustedProxies[${i}]: ${JSON.stringify(entry)} is not an IP address or CIDR`, {
          details: { field: `auth.tokenEndpoint.trustedProxies[${i}]` },
        });
      }
      if (prefix === null) list.addAddress(ip!, family);
      else list.addSubnet(ip!, prefix, family);
    });
    this.#trusted = list;
  }

  /** The client's address for a request from socket peer `peer` carrying `forwardedFor` (the header's value(s)). */
  of(peer: string | undefined, forwardedFor: string | string[] | undefined): string {
    const from = unmap(peer ?? '');
    if (this.#trusted === null || !this.#isTrusted(from) || forwardedFor === undefined) return from;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
      .split(',')
      .map((h) => unmap(h.trim()))
      .filter((h) => h !== '');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (net.isIP(hop) === 0) return from; // garbage where an address should be: believe only the peer
      if (!this.#isTrusted(hop)) return hop;
    }
    return hops[0] ?? from;
  }

  #isTrusted(address: string): boolean {
    const family = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : null;
    return family !== null && this.#trusted!.check(address, family);
  }
}

function unmap(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped ? mapped[1]! : address;
}
