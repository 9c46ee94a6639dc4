import type { Principal } from '../domain/index.js';

/** Turns an Authorization header into a Principal, or throws a 401 ModeldError saying why. */
export interface Authenticator {
  authenticate(authorization: string | undefined): Promise<Principal>;
}
