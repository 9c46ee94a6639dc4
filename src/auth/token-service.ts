import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, SignJWT, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { defaultConfig, type Config } from '../config/index.js';
import { Scopes, SYSTEM_CUSTOMER_ID, type ClientRecord, type Clock, type Principal } from '../domain/index.js';
import { ModeldError } from '../errors/index.js';
import type { Store } from '../store/index.js';
import type { KeyRing, PublicJwk } from './keys.js';
import { SIGNING_ALG } from './keys.js';
import { OAuthErrors, oauthError } from './oauth.js';
import { addressKey, ClientAddresses, FailureLimiter } from './attempts.js';
import { KnownAddresses, Lanes, RememberedSecrets, SecretChecks, type Lane } from './secret-checks.js';
import { DUMMY_SECRET_HASH, verifySecret } from './secrets.js';
import type { Authenticator } from './types.js';

export interface TokenServiceOptions {
  keys: KeyRing;
  /**
   * Where a token's client is looked up: on every verification, except that a client found
   * enabled is trusted for `auth.clientCacheTtlMs` (see TokenService.verify and clientChanged).
   */
  store: Pick<Store, 'getClient'>;
  auth: Config['auth'];
  /** `iss` of issued tokens and the only issuer accepted for them (see issuerFor). */
  issuer: string;
  clock: Clock;
}

/** A freshly signed access token, in the shape of the token endpoint's answer. */
export interface IssuedToken {
  accessToken: string;
  tokenType: 'Bearer';
  /** Seconds until expiry (config auth.tokenTtlSeconds). */
  expiresIn: number;
  /** Granted scopes, space-separated. */
  scope: string;
  tokenId: string;
}

/** The claims of a modeld access token. */
export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  cid: string;
  sub: string;
  scp: string[];
  customerId: string;
}

/**
 * Most verified tokens remembered (see TokenService.verify). Each entry is the raw token (under a
 * kilobyte) and its claims; beyond this the oldest entry is dropped.
 */
export const VERIFIED_TOKEN_CACHE_SIZE = 10_000;

/**
 * Most clients remembered as enabled (see TokenService.verify); beyond this the oldest entry is
 * dropped. A client entry is its id, its customer and a time.
 */
export const CLIENT_STATE_CACHE_SIZE = 10_000;

/** A client read from the store and found enabled, and when (clock ms) it was read. */
interface EnabledClient {
  customerId: string;
  readAtMs: number;
}

/** What a verified local token proved: its claims, and when it expires (ms since the epoch). */
interface VerifiedToken {
  clientId: string;
  customerId: string;
  scopes: string[];
  tokenId: string;
  expMs: number;
}

/** `aud` of artifact tokens (issueArtifactToken): no customer route accepts it. */
export const ARTIFACT_TOKEN_AUDIENCE = 'modeld-artifact';

/** Clock skew tolerated on an external issuer's tokens (theirs is not our clock). */
const EXTERNAL_CLOCK_TOLERANCE_SECONDS = 30;

/**
 * How long an address that authenticated a client successfully has its next secret checks served
 * first (SecretChecks lane `known`), as long as it has no failures since.
 */
const KNOWN_ADDRESS_TTL_MS = 3_600_000;

/** Longest client id and secret looked at; longer ones are refused as they are (see authenticateClient). */
export const MAX_CLIENT_ID_LENGTH = 200;
export const MAX_CLIENT_SECRET_LENGTH = 1024;

/** auth.externalOidc.algorithms when not set: what identity providers sign with. */
export const EXTERNAL_DEFAULT_ALGORITHMS: readonly string[] = ['RS256', 'ES256'];
/** auth.externalOidc.allowedScopes when not set: the Lucidworks scopes, not modeld's admin or ops. */
export const EXTERNAL_DEFAULT_SCOPES: readonly string[] = [Scopes.MODEL, Scopes.PREDICT];

/**
 * `iss` for this server: config.publicUrl without a trailing slash, else `http://host:port`.
 * Must be stable across restarts, or tokens issued before a restart stop verifying.
 */
export function issuerFor(config: Pick<Config, 'publicUrl' | 'host' | 'port'>): string {
  if (config.publicUrl) return config.publicUrl.replace(/\/+$/, '');
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${config.port}`;
}

/**
 * Issues and verifies modeld's RS256 access tokens and authenticates OAuth clients. It is the
 * server's Authenticator: `Bearer <jwt>` from our keys (iss, aud, exp checked against the
 * injected clock, client still enabled), and, when config auth.externalOidc is set, tokens of
 * that issuer verified through its JWKS URL with the customer and scopes read from the
 * configured claims.
 */
export class TokenService implements Authenticator {
  readonly #keys: KeyRing;
  readonly #localJwks: JWTVerifyGetKey;
  readonly #store: Pick<Store, 'getClient'>;
  readonly #auth: Config['auth'];
  readonly #issuer: string;
  readonly #clock: Clock;
  readonly #externalJwks: JWTVerifyGetKey | undefined;
  /** Raw token -> what its signature and claims proved; insertion order is age (oldest first). */
  readonly #verified = new Map<string, VerifiedToken>();
  /** config auth.clientCacheTtlMs: how long an entry of #enabledClients is trusted. */
  readonly #clientTtlMs: number;
  /** Client id -> when it was last read and found enabled; insertion order is age. */
  readonly #enabledClients = new Map<string, EnabledClient>();
  /** Failed client authentications per client id as sent, and per client address (auth.tokenEndpoint). */
  readonly #failuresByClient: FailureLimiter;
  readonly #failuresByAddress: FailureLimiter;
  readonly #addresses: ClientAddresses;
  readonly #secretChecks: SecretChecks;
  readonly #rememberedSecrets: RememberedSecrets;
  readonly #knownAddresses: KnownAddresses;
  #rateLimited = 0;
  /**
   * Bumped by clientChanged. A store read that started before a change must not put what it read
   * back into #enabledClients (it may be the state from before the change).
   */
  #clientEpoch = 0;

  constructor(options: TokenServiceOptions) {
    this.#keys = options.keys;
    this.#localJwks = createLocalJWKSet(options.keys.jwks());
    this.#store = options.store;
    this.#auth = options.auth;
    this.#issuer = options.issuer;
    this.#clock = options.clock;
    this.#clientTtlMs = options.auth.clientCacheTtlMs ?? defaultConfig().auth.clientCacheTtlMs ?? 0;
    const ext = options.auth.externalOidc;
    this.#externalJwks = ext ? createRemoteJWKSet(new URL(ext.jwksUrl)) : undefined;
    const te = options.auth.tokenEndpoint ?? defaultConfig().auth.tokenEndpoint!;
    const limit = { windowMs: te.failureWindowMs, maxKeys: te.maxTrackedSources, clock: options.clock };
    this.#failuresByClient = new FailureLimiter({ ...limit, maxFailures: te.failuresPerClientId });
    this.#failuresByAddress = new FailureLimiter({ ...limit, maxFailures: te.failuresPerAddress });
    this.#addresses = new ClientAddresses(te.trustedProxies);
    this.#secretChecks = new SecretChecks({ maxConcurrent: te.maxConcurrentSecretChecks, maxConcurrentSuspect: te.maxConcurrentSuspectChecks, maxQueued: te.maxQueuedSecretChecks });
    this.#rememberedSecrets = new RememberedSecrets({ ttlMs: te.rememberedSecretTtlMs, maxEntries: CLIENT_STATE_CACHE_SIZE });
    this.#knownAddresses = new KnownAddresses({ ttlMs: KNOWN_ADDRESS_TTL_MS, maxEntries: te.maxTrackedSources });
  }

  get issuer(): string {
    return this.#issuer;
  }

  /** The public keys our tokens verify against, as a JWKS. */
  jwks(): { keys: PublicJwk[] } {
    return this.#keys.jwks();
  }

  /**
   * The address a token request is counted under (see ClientAddresses): the socket's peer, or,
   * behind a trusted proxy (auth.tokenEndpoint.trustedProxies), the client it forwarded for.
   */
  clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined): string {
    return this.#addresses.of(peer, forwardedFor);
  }

  /**
   * Checks client credentials and returns the client. Unknown, disabled and wrong-secret all give
   * the same 401 invalid_client and cost the same (a hash is checked in every case), so neither
   * the answer nor its time tells which client ids exist.
   *
   * Under a flood (auth.tokenEndpoint, docs/auth.md "Failed attempts"), in this order:
   * 1. A secret verified less than rememberedSecretTtlMs ago for this client (remembered as an
   *    HMAC) is accepted without scrypt and without the limits below, if the client is still
   *    enabled with the same stored hash: a client under attack keeps getting its tokens.
   * 2. A client id (as sent, existing or not) or an address (`address`, IPv6 by /64) with too
   *    many recent failures gets 429 MODELD_ERR_RATE_LIMITED (`details.retryAfterSeconds`,
   *    oauthError temporarily_unavailable) before any scrypt runs. A known address (one that
   *    authenticated a client in the last hour and has not failed since) is not held to the
   *    client id's limit.
   * 3. The hash is checked in SecretChecks (bounded at once; known addresses first, sources
   *    with recent failures last and fewer at once; 429 when its queue is full). A failure is
   *    counted for both keys (and makes its address no longer known until it has refilled).
   * Without `address` only the client id is limited.
   */
  async authenticateClient(clientId: string, clientSecret: string, address?: string): Promise<ClientRecord> {
    const addressId = address === undefined ? undefined : addressKey(address);
    // No client has such credentials (ids are UUIDs, secrets 43 characters): refused without a
    // hash, and never kept as a limiter key (a megabyte-long id times maxTrackedSources).
    if (clientId.length > MAX_CLIENT_ID_LENGTH || clientSecret.length > MAX_CLIENT_SECRET_LENGTH) {
      if (addressId !== undefined) this.#failuresByAddress.recordFailure(addressId);
      throw oauthError(OAuthErrors.INVALID_CLIENT, 'client authentication failed');
    }
    const mac = this.#rememberedSecrets.mac(clientId, clientSecret);
    const rememberedHash = this.#rememberedSecrets.lookup(clientId, mac, this.#clock.now());
    let client: ClientRecord | null | undefined;
    if (rememberedHash !== null) {
      client = await this.#store.getClient(clientId);
      if (client && client.disabledAt === null && client.secretHash === rememberedHash) {
        if (addressId !== undefined) this.#knownAddresses.succeeded(addressId, this.#clock.now());
        return client;
      }
      this.#rememberedSecrets.forget(clientId);
    }
    // On arrival and again when a queued check's turn comes: 429 when limited, else the lane.
    const admit = (): Lane => {
      // An address that authenticated a client lately and has not failed since is not held to the
      // client id's limit: a flooded id does not lock its owner's usual hosts out.
      const known = addressId !== undefined && this.#knownAddresses.isKnown(addressId, this.#clock.now()) && !this.#failuresByAddress.isSuspect(addressId);
      const byClient = known ? 0 : this.#failuresByClient.retryAfterMs(clientId);
      const byAddress = addressId === undefined ? 0 : this.#failuresByAddress.retryAfterMs(addressId);
      if (byClient > 0 || byAddress > 0) {
        const retryAfterSeconds = Math.ceil(Math.max(byClient, byAddress) / 1000);
        const limit = byClient >= byAddress ? 'clientId' : 'address';
        throw new ModeldError('MODELD_ERR_RATE_LIMITED', `too many failed authentications ${limit === 'clientId' ? 'for this client id' : 'from this address'}; retry in ${retryAfterSeconds} s`, {
          details: { oauthError: OAuthErrors.TEMPORARILY_UNAVAILABLE, retryAfterSeconds, limit },
        });
      }
      if (known) return Lanes.KNOWN;
      if (this.#failuresByClient.isSuspect(clientId) || (addressId !== undefined && this.#failuresByAddress.isSuspect(addressId))) return Lanes.SUSPECT;
      return Lanes.CLEAN;
    };
    try {
      return await this.#secretChecks.run(admit, async () => {
        client ??= await this.#store.getClient(clientId);
        const ok = await verifySecret(clientSecret, client?.secretHash ?? DUMMY_SECRET_HASH);
        if (!client || !ok || client.disabledAt !== null) {
          this.#failuresByClient.recordFailure(clientId);
          if (addressId !== undefined) this.#failuresByAddress.recordFailure(addressId);
          throw oauthError(OAuthErrors.INVALID_CLIENT, 'client authentication failed');
        }
        this.#rememberedSecrets.remember(client.id, client.secretHash, mac, this.#clock.now());
        if (addressId !== undefined) this.#knownAddresses.succeeded(addressId, this.#clock.now());
        return client;
      });
    } catch (err) {
      if (isRateLimited(err)) this.#rateLimited++;
      throw err;
    }
  }

  /**
   * Counters of the token endpoint's defences (for tests; operators see the 429s in
   * http_requests_total of the token route): scrypt checks started,
   * attempts refused with 429, keys remembered by each limiter (each at most
   * auth.tokenEndpoint.maxTrackedSources), and the check queue now.
   */
  tokenEndpointStats() {
    return {
      secretChecks: this.#secretChecks.started,
      rateLimited: this.#rateLimited,
      trackedClientIds: this.#failuresByClient.size,
      trackedAddresses: this.#failuresByAddress.size,
      ...this.#secretChecks.load,
    };
  }

  /** Signs a token for `client` with `scopes` (already checked against the client's). */
  async issue(client: ClientRecord, scopes: readonly string[]): Promise<IssuedToken> {
    const iat = Math.floor(this.#clock.now() / 1000);
    const ttl = this.#auth.tokenTtlSeconds;
    const jti = randomUUID();
    const key = this.#keys.signingKey;
    const accessToken = await new SignJWT({ cid: client.id, scp: [...scopes], customerId: client.customerId })
      .setProtectedHeader({ alg: SIGNING_ALG, kid: key.kid, typ: 'JWT' })
      .setIssuer(this.#issuer)
      .setAudience(this.#auth.audience)
      .setSubject(client.id)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttl)
      .setJti(jti)
      .sign(key.privateKey);
    return { accessToken, tokenType: 'Bearer', expiresIn: ttl, scope: scopes.join(' '), tokenId: jti };
  }

  /**
   * Signs a token that lets a replica pod download one artifact from the internal artifact
   * endpoint (api/routes/internal-artifacts.ts) and nothing else: audience
   * ARTIFACT_TOKEN_AUDIENCE (customer routes refuse it: their audience is auth.audience), claim
   * `art` naming the artifact (`artifacts/<artifactId>` or `models/<name>`), no customer, no scope
   * a route accepts. Lifetime `ttlSeconds` (the Kubernetes runtime refreshes its Secret well before).
   */
  async issueArtifactToken(artifact: string, ttlSeconds: number): Promise<string> {
    const iat = Math.floor(this.#clock.now() / 1000);
    const key = this.#keys.signingKey;
    return new SignJWT({ art: artifact })
      .setProtectedHeader({ alg: SIGNING_ALG, kid: key.kid, typ: 'JWT' })
      .setIssuer(this.#issuer)
      .setAudience(ARTIFACT_TOKEN_AUDIENCE)
      .setSubject(`artifact:${artifact}`)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      .setJti(randomUUID())
      .sign(key.privateKey);
  }

  /**
   * Verifies an artifact token and returns the artifact it names. Throws 401
   * MODELD_ERR_UNAUTHENTICATED for anything else: a customer's access token, an expired or
   * forged token.
   */
  async verifyArtifactToken(authorization: string | undefined): Promise<string> {
    const match = /^bearer[ \t]+([^\s]+)[ \t]*$/i.exec((authorization ?? '').trim());
    if (!match) throw unauthenticated("missing or malformed Authorization header: expected 'Bearer <artifact token>'");
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(match[1]!, this.#localJwks, {
        algorithms: [SIGNING_ALG],
        issuer: this.#issuer,
        audience: ARTIFACT_TOKEN_AUDIENCE,
        currentDate: new Date(this.#clock.now()),
        requiredClaims: ['iat', 'exp', 'sub'],
      }));
    } catch (err) {
      throw fromJoseError(err, false);
    }
    if (typeof payload.art !== 'string' || payload.art === '') throw unauthenticated('not an artifact token');
    return payload.art;
  }

  /** Authenticator: parses `Bearer <jwt>` (scheme case-insensitive) and verifies it. */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (authorization === undefined || authorization.trim() === '') throw unauthenticated('missing Authorization header');
    const match = /^bearer[ \t]+([^\s]+)[ \t]*$/i.exec(authorization.trim());
    if (!match) throw unauthenticated("malformed Authorization header: expected 'Bearer <token>'");
    return this.verify(match[1]!);
  }

  /**
   * Forgets what is remembered about a client's state, so that its next token is checked against
   * the store. Called by whoever writes a client (the admin API after disabling one), before
   * answering: a change made through this process is enforced from the very next request.
   */
  clientChanged(clientId: string): void {
    this.#clientEpoch++;
    this.#enabledClients.delete(clientId);
    this.#rememberedSecrets.forget(clientId);
  }

  /**
   * Verifies a compact JWT and returns its principal. Throws 401 MODELD_ERR_UNAUTHENTICATED
   * saying why (malformed, expired, bad signature, unknown key, wrong issuer or audience,
   * client gone or disabled), or 503 MODELD_ERR_UNAVAILABLE when an external issuer's JWKS
   * cannot be fetched.
   */
  async verify(token: string): Promise<Principal> {
    // A token of ours whose signature and claims were verified before: the RS256 check (the
    // costliest step of a prediction's authentication) is not repeated for the very same bytes
    // until the token expires. The client's state is checked on every request (#checkClient):
    // read from the store, or remembered from a read less than auth.clientCacheTtlMs ago. A
    // client disabled through this process (clientChanged) is refused on the next request; one
    // disabled by another server sharing the database, within the TTL.
    const known = this.#verified.get(token);
    if (known !== undefined) {
      if (this.#clock.now() < known.expMs) return this.#checkClient(known);
      this.#verified.delete(token); // expired: the full check below says so
    }
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      throw unauthenticated('malformed token');
    }
    const ext = this.#auth.externalOidc;
    if (unverified.iss === this.#issuer) return this.#verifyLocal(token);
    if (ext && unverified.iss === ext.issuer) return this.#verifyExternal(token, ext);
    throw unauthenticated(`token issued by an unknown issuer ${JSON.stringify(unverified.iss ?? null)}`);
  }

  async #verifyLocal(token: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#localJwks, {
        algorithms: [SIGNING_ALG],
        issuer: this.#issuer,
        audience: this.#auth.audience,
        currentDate: new Date(this.#clock.now()),
        requiredClaims: ['iat', 'exp', 'jti', 'sub'],
      }));
    } catch (err) {
      throw fromJoseError(err, false);
    }
    const claims = payload as Partial<AccessTokenClaims>;
    if (typeof claims.customerId !== 'string' || !isStringArray(claims.scp) || typeof claims.sub !== 'string') {
      throw unauthenticated('token lacks the customerId, scp or sub claim');
    }
    const clientId = typeof claims.cid === 'string' ? claims.cid : claims.sub;
    const verified: VerifiedToken = { clientId, customerId: claims.customerId, scopes: claims.scp, tokenId: claims.jti!, expMs: claims.exp! * 1000 };
    const principal = await this.#checkClient(verified);
    this.#remember(token, verified);
    return principal;
  }

  /**
   * The token's client must still exist, belong to the token's customer and be enabled: as read
   * from the store, or as read less than auth.clientCacheTtlMs ago (only an enabled client is
   * remembered; a refusal always comes from a fresh read).
   */
  #checkClient(v: VerifiedToken): Promise<Principal> | Principal {
    const now = this.#clock.now();
    const known = this.#enabledClients.get(v.clientId);
    if (known !== undefined && known.customerId === v.customerId && now - known.readAtMs < this.#clientTtlMs && now >= known.readAtMs) {
      return { clientId: v.clientId, customerId: v.customerId, scopes: [...v.scopes], tokenId: v.tokenId };
    }
    return this.#readClient(v, now);
  }

  async #readClient(v: VerifiedToken, now: number): Promise<Principal> {
    const epoch = this.#clientEpoch;
    const client = await this.#store.getClient(v.clientId);
    if (!client || client.customerId !== v.customerId || client.disabledAt !== null) {
      this.#enabledClients.delete(v.clientId);
      if (!client || client.customerId !== v.customerId) throw unauthenticated('the token\'s client no longer exists');
      throw unauthenticated('the token\'s client is disabled');
    }
    if (this.#clientTtlMs > 0 && epoch === this.#clientEpoch) this.#rememberClient(v.clientId, { customerId: client.customerId, readAtMs: now });
    return { clientId: v.clientId, customerId: v.customerId, scopes: [...v.scopes], tokenId: v.tokenId };
  }

  #rememberClient(clientId: string, state: EnabledClient): void {
    this.#enabledClients.delete(clientId); // re-inserted as the newest
    if (this.#enabledClients.size >= CLIENT_STATE_CACHE_SIZE) {
      const oldest = this.#enabledClients.keys().next();
      if (!oldest.done) this.#enabledClients.delete(oldest.value);
    }
    this.#enabledClients.set(clientId, state);
  }

  #remember(token: string, v: VerifiedToken): void {
    if (this.#verified.size >= VERIFIED_TOKEN_CACHE_SIZE) {
      const oldest = this.#verified.keys().next();
      if (!oldest.done) this.#verified.delete(oldest.value);
    }
    this.#verified.set(token, v);
  }

  async #verifyExternal(token: string, ext: NonNullable<Config['auth']['externalOidc']>): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#externalJwks!, {
        // Pinned: without it jose accepts whatever the key set allows, an HS* token included if
        // the issuer's JWKS ever publishes a symmetric key. The schema admits asymmetric ones only.
        algorithms: [...(ext.algorithms ?? EXTERNAL_DEFAULT_ALGORITHMS)],
        issuer: ext.issuer,
        audience: ext.audience,
        currentDate: new Date(this.#clock.now()),
        clockTolerance: EXTERNAL_CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      throw fromJoseError(err, true);
    }
    const customerId = payload[ext.customerIdClaim];
    if (typeof customerId !== 'string' || customerId === '') throw unauthenticated(`token lacks the ${ext.customerIdClaim} claim`);
    // Whoever can set this claim at the issuer picks the customer: the system customer (a fixed,
    // well-known id owning the pre-trained deployments) and the operator's denied ids are never
    // accepted from outside.
    if (customerId === SYSTEM_CUSTOMER_ID || (ext.deniedCustomerIds ?? []).includes(customerId)) {
      throw new ModeldError(
        'MODELD_ERR_UNAUTHENTICATED',
        `token claim ${ext.customerIdClaim} names a customer that external tokens may not act as${customerId === SYSTEM_CUSTOMER_ID ? ' (the system customer)' : ''}`,
      );
    }
    const rawScopes = payload[ext.scopesClaim];
    let claimed: string[];
    if (typeof rawScopes === 'string') claimed = rawScopes.split(' ').filter((s) => s !== '');
    else if (isStringArray(rawScopes)) claimed = rawScopes;
    else if (rawScopes === undefined) claimed = [];
    else throw unauthenticated(`token claim ${ext.scopesClaim} must be a string or an array of strings`);
    const allowed = ext.allowedScopes ?? EXTERNAL_DEFAULT_SCOPES;
    const scopes = claimed.filter((s) => allowed.includes(s));
    const clientId = [payload.cid, payload.azp, payload.client_id, payload.sub].find((v): v is string => typeof v === 'string') ?? 'external';
    const tokenId = typeof payload.jti === 'string' ? payload.jti : '';
    return { clientId, customerId, scopes, tokenId };
  }
}

function isRateLimited(err: unknown): boolean {
  return err instanceof ModeldError && err.code === 'MODELD_ERR_RATE_LIMITED';
}

function unauthenticated(message: string): ModeldError {
  return new ModeldError('MODELD_ERR_UNAUTHENTICATED', message);
}

/**
 * Maps jose's verification failures to a 401 that says which check failed. For a remote JWKS,
 * failing to fetch or read the key set is a 503 (not the caller's fault, may pass on retry);
 * anything else unexpected is rethrown as is (a bug, reported as a 500).
 */
function fromJoseError(err: unknown, remote: boolean): ModeldError {
  if (err instanceof joseErrors.JWTExpired) return unauthenticated('token expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return unauthenticated('token has the wrong audience');
    if (err.claim === 'iss') return unauthenticated('token has the wrong issuer');
    if (err.claim === 'nbf' || err.claim === 'iat') return unauthenticated(`token is not valid yet (${err.claim})`);
    return unauthenticated(`token claim ${err.claim} is invalid (${err.reason})`);
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return unauthenticated('bad token signature');
  if (err instanceof joseErrors.JWKSNoMatchingKey) return unauthenticated('token signed by an unknown key');
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) {
    return unauthenticated('token signing algorithm not accepted');
  }
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return unauthenticated('malformed token');
  const fetchFailed =
    err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid || !(err instanceof joseErrors.JOSEError) || err.code === 'ERR_JOSE_GENERIC';
  if (remote && fetchFailed) {
    return new ModeldError('MODELD_ERR_UNAVAILABLE', "the token issuer's keys cannot be fetched", { cause: err });
  }
  if (!(err instanceof joseErrors.JOSEError)) throw err;
  return unauthenticated(`token rejected (${err.code})`);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}
