/** Customers and their API clients (OAuth2 client credentials). */

export const Scopes = {
  MODEL: 'machinelearning.model',
  PREDICT: 'machinelearning.predict',
  ADMIN: 'modeld.admin',
} as const;
export type Scope = (typeof Scopes)[keyof typeof Scopes];
export const ALL_SCOPES: readonly string[] = Object.values(Scopes);

export interface Customer {
  id: string;
  name: string | null;
  createdAt: string;
}

export interface ClientRecord {
  /** The public client id (`client_id`). */
  id: string;
  customerId: string;
  /** scrypt hash of the secret, `scrypt$N$r$p$salt$hash` (base64url); the secret itself is never stored. */
  secretHash: string;
  scopes: string[];
  createdAt: string;
  disabledAt: string | null;
}

/** The identity a verified token carries; what every route authorizes against. */
export interface Principal {
  clientId: string;
  customerId: string;
  scopes: string[];
  /** Token id (jti), for logs. */
  tokenId: string;
}
