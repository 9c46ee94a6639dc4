import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { Authenticator } from '../../auth/types.js';
import type { Principal } from '../../domain/index.js';
import { ModeldError } from '../../errors/index.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the guard of every authenticated route. */
    principal?: Principal;
  }
}

/**
 * Builds the preHandler every protected route uses: a valid bearer token (401 otherwise), the
 * route's scope among the token's scopes (403 MODELD_ERR_FORBIDDEN_SCOPE), and, where the path
 * has `CUSTOMER_ID`, that it equals the token's customer (403 MODELD_ERR_FORBIDDEN_CUSTOMER).
 */
export function makeGuard(authenticator: Authenticator) {
  return function guard(scope: string): preHandlerAsyncHookHandler {
    return async function checkToken(request: FastifyRequest) {
      const principal = await authenticator.authenticate(request.headers.authorization);
      requireScope(principal, scope);
      const params = request.params as Record<string, string> | undefined;
      const pathCustomer = params?.CUSTOMER_ID;
      if (pathCustomer !== undefined && pathCustomer !== principal.customerId) {
        throw new ModeldError('MODELD_ERR_FORBIDDEN_CUSTOMER', 'the token belongs to another customer than the path names');
      }
      request.principal = principal;
    };
  };
}

export type Guard = ReturnType<typeof makeGuard>;

/** 403 MODELD_ERR_FORBIDDEN_SCOPE unless the token carries `scope` (the guard's check, also the embedding fast path's). */
export function requireScope(principal: Principal, scope: string): void {
  if (!principal.scopes.includes(scope)) {
    throw new ModeldError('MODELD_ERR_FORBIDDEN_SCOPE', `token lacks the scope ${scope}`, { details: { requiredScope: scope } });
  }
}

/** The principal of a guarded route; throws if a route forgot its guard (a bug, not a client error). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new ModeldError('MODELD_ERR_INTERNAL', 'route has no auth guard');
  return request.principal;
}
