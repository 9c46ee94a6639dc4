import { ModeldError, type ErrorCode } from '../errors/index.js';

/** What a failed write violated, as far as the contract cares; null for anything else. */
export type Violation = 'unique' | 'foreign-key' | null;

/**
 * Rethrows a constraint violation as the ModeldError the contract promises (a duplicate id is a
 * 409 MODELD_ERR_CONFLICT; a missing parent is the given not-found code), anything else unchanged.
 */
export function rethrowWrite(err: unknown, violation: Violation, what: string, id: string, missingParent?: { code: ErrorCode; message: string }): never {
  if (violation === 'unique') {
    throw new ModeldError('MODELD_ERR_CONFLICT', `${what} ${id} already exists`, { details: { id }, cause: err });
  }
  if (violation === 'foreign-key' && missingParent) {
    throw new ModeldError(missingParent.code, missingParent.message, { cause: err });
  }
  throw err;
}

export function newerSchemaError(found: number, known: number): ModeldError {
  return new ModeldError(
    'MODELD_ERR_INTERNAL',
    `store: the database schema is at version ${found}, newer than this modeld knows (${known}); run a newer modeld`,
    { details: { found, known } },
  );
}
