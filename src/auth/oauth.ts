import { ModeldError } from '../errors/index.js';

/**
 * The OAuth 2.0 token endpoint's request rules (RFC 6749 sections 2.3.1, 3.3, 4.4, 5.2), pure:
 * no store, no keys. Errors are ModeldErrors carrying the RFC 6749 error name in
 * `details.oauthError`; the token routes render them as `{error, error_description}`.
 */

export const OAuthErrors = {
  INVALID_REQUEST: 'invalid_request',
  INVALID_CLIENT: 'invalid_client',
  UNSUPPORTED_GRANT_TYPE: 'unsupported_grant_type',
  INVALID_SCOPE: 'invalid_scope',
  SERVER_ERROR: 'server_error',
  /** RFC 6749 4.1.2.1; answered with 429 and Retry-After when failed attempts are limited (token-service.ts). */
  TEMPORARILY_UNAVAILABLE: 'temporarily_unavailable',
} as const;
export type OAuthError = (typeof OAuthErrors)[keyof typeof OAuthErrors];

/** The one grant modeld issues tokens for. */
export const CLIENT_CREDENTIALS = 'client_credentials';

/** Builds the ModeldError for an RFC 6749 error: invalid_client is a 401, server_error a 500, the rest 400. */
export function oauthError(error: OAuthError, description: string): ModeldError {
  const code =
    error === OAuthErrors.INVALID_CLIENT ? 'MODELD_ERR_INVALID_CLIENT' : error === OAuthErrors.SERVER_ERROR ? 'MODELD_ERR_INTERNAL' : 'MODELD_ERR_VALIDATION';
  return new ModeldError(code, description, { details: { oauthError: error } });
}

/** The RFC 6749 name of any ModeldError: its own when it has one, else derived from its status. */
export function oauthErrorName(err: ModeldError): OAuthError {
  const named = err.details?.oauthError;
  if (typeof named === 'string' && (Object.values(OAuthErrors) as string[]).includes(named)) return named as OAuthError;
  if (err.code === 'MODELD_ERR_INVALID_CLIENT') return OAuthErrors.INVALID_CLIENT;
  return err.status >= 500 ? OAuthErrors.SERVER_ERROR : OAuthErrors.INVALID_REQUEST;
}

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

export interface TokenRequest extends ClientCredentials {
  grantType: typeof CLIENT_CREDENTIALS;
  /** The scopes asked for, deduplicated in request order; undefined when no (or an empty) `scope` was sent. */
  scopes: string[] | undefined;
}

/** Parameters as parsed from a query string or a form body: repeated names give arrays. */
export type RawParams = Record<string, unknown>;

/**
 * Reads a token request from the Authorization header, the query string and the body (a parsed
 * form, or undefined when there is none). A parameter may come from the query or the body; when
 * both carry it they must agree. Client authentication is HTTP Basic or the `client_id` /
 * `client_secret` parameters, not both. Throws invalid_request, invalid_client (no or unusable
 * credentials) or unsupported_grant_type, in the order RFC 6749 lists the checks.
 */
export function parseTokenRequest(input: { authorization: string | undefined; query: RawParams | undefined; body: unknown }): TokenRequest {
  if (input.body !== undefined && input.body !== null && (typeof input.body !== 'object' || Array.isArray(input.body))) {
    throw oauthError(OAuthErrors.INVALID_REQUEST, 'the body must be application/x-www-form-urlencoded parameters');
  }
  const query = input.query ?? {};
  const body = (input.body ?? {}) as RawParams;
  const param = (name: string): string | undefined => {
    const fromQuery = single(query, name);
    const fromBody = single(body, name);
    if (fromQuery !== undefined && fromBody !== undefined && fromQuery !== fromBody) {
      throw oauthError(OAuthErrors.INVALID_REQUEST, `parameter ${name} has different values in the query string and the body`);
    }
    return fromBody ?? fromQuery;
  };

  const grantType = param('grant_type');
  const scope = param('scope');
  const paramId = param('client_id');
  const paramSecret = param('client_secret');
  const basic = parseBasicAuthorization(input.authorization);

  let credentials: ClientCredentials;
  if (basic) {
    if (paramSecret !== undefined) {
      throw oauthError(OAuthErrors.INVALID_REQUEST, 'use one client authentication method: HTTP Basic or client_secret, not both');
    }
    if (paramId !== undefined && paramId !== basic.clientId) {
      throw oauthError(OAuthErrors.INVALID_REQUEST, 'client_id differs from the client authenticated by HTTP Basic');
    }
    credentials = basic;
  } else if (paramId !== undefined && paramSecret !== undefined) {
    credentials = { clientId: paramId, clientSecret: paramSecret };
  } else {
    throw oauthError(
      OAuthErrors.INVALID_CLIENT,
      paramId !== undefined ? 'client_secret is missing' : 'client authentication is missing: send HTTP Basic client_id:client_secret',
    );
  }

  if (grantType === undefined || grantType === '') throw oauthError(OAuthErrors.INVALID_REQUEST, 'grant_type is required');
  if (grantType !== CLIENT_CREDENTIALS) {
    throw oauthError(OAuthErrors.UNSUPPORTED_GRANT_TYPE, `grant_type ${JSON.stringify(grantType)} is not supported; use client_credentials`);
  }
  return { ...credentials, grantType: CLIENT_CREDENTIALS, scopes: parseScope(scope) };
}

/**
 * Decodes `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 2.3.1: each
 * part is form-urlencoded before encoding). Null when the header is absent or another scheme;
 * throws invalid_client when it is Basic but unusable.
 */
export function parseBasicAuthorization(header: string | undefined): ClientCredentials | null {
  if (header === undefined) return null;
  const match = /^basic[ \t]+(\S*)[ \t]*$/i.exec(header.trim());
  if (!match) return null;
  const encoded = match[1]!;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw oauthError(OAuthErrors.INVALID_CLIENT, 'HTTP Basic credentials are not valid base64');
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw oauthError(OAuthErrors.INVALID_CLIENT, 'HTTP Basic credentials must be client_id:client_secret');
  const clientId = formDecode(decoded.slice(0, colon));
  const clientSecret = formDecode(decoded.slice(colon + 1));
  if (clientId === '' || clientSecret === '') throw oauthError(OAuthErrors.INVALID_CLIENT, 'HTTP Basic client_id and client_secret must not be empty');
  return { clientId, clientSecret };
}

/** `scope` as a list: split on spaces, empties dropped, duplicates removed; undefined when none is named. */
export function parseScope(scope: string | undefined): string[] | undefined {
  if (scope === undefined) return undefined;
  const list = [...new Set(scope.split(' ').filter((s) => s !== ''))];
  return list.length > 0 ? list : undefined;
}

/**
 * The scopes a token gets: all the client's when none were requested, else the requested ones,
 * each of which the client must hold (invalid_scope names the first that it does not).
 */
export function grantScopes(clientScopes: readonly string[], requested: readonly string[] | undefined): string[] {
  if (requested === undefined) return [...clientScopes];
  for (const s of requested) {
    if (!clientScopes.includes(s)) throw oauthError(OAuthErrors.INVALID_SCOPE, `scope ${JSON.stringify(s)} is not granted to this client`);
  }
  return [...requested];
}

/**
 * Parses an application/x-www-form-urlencoded body. A name given more than once becomes an
 * array (parseTokenRequest rejects it), so that a repeated parameter is never silently resolved.
 */
export function parseForm(text: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const [name, value] of new URLSearchParams(text)) {
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else out[name] = Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

function single(params: RawParams, name: string): string | undefined {
  if (!Object.hasOwn(params, name)) return undefined;
  const v = params[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') {
    throw oauthError(OAuthErrors.INVALID_REQUEST, Array.isArray(v) ? `parameter ${name} is repeated` : `parameter ${name} must be a string`);
  }
  return v;
}

function formDecode(s: string): string {
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    throw oauthError(OAuthErrors.INVALID_CLIENT, 'HTTP Basic credentials are not valid form-urlencoded text');
  }
}
