import { ModeldError, quotaExceeded, type ErrorCode } from '../errors/index.js';
import type { StoredQuotaName, StoredQuotaUsage } from '../domain/index.js';
import type { QuotaLimits } from './types.js';

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

export function customerNotFound(customerId: string, cause?: unknown): ModeldError {
  return new ModeldError('MODELD_ERR_CUSTOMER_NOT_FOUND', `customer ${customerId} does not exist`, { details: { customerId }, cause });
}

const STORED_QUOTAS: readonly StoredQuotaName[] = ['deployments', 'replicas', 'models', 'trainingJobs'];

/**
 * Throws MODELD_ERR_QUOTA_EXCEEDED for the first quota in `limits` that `used + adding` would
 * pass. Adding nothing (0 or absent) never fails, so a customer above a lowered quota can still
 * do what does not add.
 */
export function throwIfOverQuota(used: StoredQuotaUsage, limits: QuotaLimits, adding: Partial<StoredQuotaUsage>): void {
  for (const name of STORED_QUOTAS) {
    const limit = limits[name];
    const more = adding[name] ?? 0;
    if (limit === undefined || more <= 0) continue;
    if (used[name] + more > limit) throw quotaExceeded(name, limit, used[name], more);
  }
}
