import { ClientScopes, ModeldClient, decodeJwtPayload, isModeldClientError } from '../../src/client/index.js';

/**
 * A signed-in console: the typed client (it holds the client id and secret in memory only, to
 * get and renew its token from modeld's token endpoint), the customer and the scopes the token
 * was granted. Nothing is written to a cookie or to storage: a reload or sign-out forgets it.
 */
export interface Session {
  client: ModeldClient;
  clientId: string;
  customerId: string;
  scopes: readonly string[];
  /** Token expiry (ms since the epoch), for display. */
  expiresAt: number | null;
}

export async function signIn(baseUrl: string, clientId: string, clientSecret: string): Promise<Session> {
  const client = new ModeldClient({ baseUrl, clientId, clientSecret, clientAuth: 'post' });
  const token = await client.accessToken();
  const claims = decodeJwtPayload(token);
  const scopes = Array.isArray(claims?.scp) ? claims.scp.filter((s): s is string => typeof s === 'string') : [];
  const customerId = await client.customerId();
  return { client, clientId, customerId, scopes, expiresAt: typeof claims?.exp === 'number' ? claims.exp * 1000 : null };
}

export const can = {
  models: (s: Session) => s.scopes.includes(ClientScopes.MODEL),
  predict: (s: Session) => s.scopes.includes(ClientScopes.PREDICT),
  admin: (s: Session) => s.scopes.includes(ClientScopes.ADMIN),
};

/** The API's message for an error (ModeldClientError carries the server's message and code). */
export function describeError(err: unknown): { message: string; code: string | null; status: number | null } {
  if (isModeldClientError(err)) return { message: err.message, code: err.code, status: err.status || null };
  if (err instanceof Error) return { message: err.message, code: null, status: null };
  return { message: String(err), code: null, status: null };
}
