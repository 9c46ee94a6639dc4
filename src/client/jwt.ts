import type { TokenClaims } from './types.js';

/**
 * Reads the payload of a compact JWT without verifying it: the client only needs its own
 * token's `customerId` and `exp`, and the server verifies every token it receives. Returns null
 * for anything that is not a JWT with a JSON object payload. Uses atob/TextDecoder (no Node
 * Buffer) so that the client also runs in a browser.
 */
export function decodeJwtPayload(token: string): TokenClaims | null {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const base64 = parts[1].replaceAll('-', '+').replaceAll('_', '/');
    const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
    const binary = atob(padded);
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    const payload: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return null;
    return payload as TokenClaims;
  } catch {
    return null;
  }
}
