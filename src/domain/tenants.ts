/** Customers and their API clients (OAuth2 client credentials). */

export const Scopes = {
  MODEL: 'machinelearning.model',
  PREDICT: 'machinelearning.predict',
  ADMIN: 'modeld.admin',
  /** Operations: `GET /metrics` when config metrics.access is `token` (modeld.admin is accepted too). */
  OPS: 'modeld.ops',
} as const;
export type Scope = (typeof Scopes)[keyof typeof Scopes];
export const ALL_SCOPES: readonly string[] = Object.values(Scopes);

/**
 * Owner of the deployments that serve pre-trained models (catalog/system-deployments.ts). Not a
 * real customer: no token may carry it (modeld never issues one; an external issuer's token that
 * names it is refused), so these deployments never appear in a customer's lists and cannot be
 * changed through the Models API.
 */
export const SYSTEM_CUSTOMER_ID = '00000000-0000-0000-0000-000000000000';

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
