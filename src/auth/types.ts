import type { Principal } from '../domain/index.js';

/** Turns an Authorization header into a Principal, or throws a 401 ModeldError saying why. */
export interface Authenticator {
  authenticate(authorization: string | undefined): Promise<Principal>;
  /**
   * Told after every write that disables, deletes or otherwise changes a client: whatever is
   * remembered about it is dropped, so the next request with one of its tokens is checked
   * against the store.
   */
  clientChanged(clientId: string): void;
}
