import { ModeldError } from './modeld-error.js';

/**
 * 403 MODELD_ERR_QUOTA_EXCEEDED for quota `quota` (a config `quotas` key): its `limit` per
 * customer, what is `used` now, and what the refused request would have added (`requested`,
 * default 1). The message names the quota and its value, e.g.
 * `quota deployments: 10 per customer reached (10 in use)`; details repeat them for programs,
 * with `field` when one field of the request asked for the amount (`body.maxReplicas`).
 */
export function quotaExceeded(quota: string, limit: number, used: number, requested = 1, field?: string): ModeldError {
  const need = requested === 1 ? '' : `; this request needs ${requested}`;
  const what = used >= limit ? 'reached' : 'would be exceeded';
  return new ModeldError('MODELD_ERR_QUOTA_EXCEEDED', `${field ? `${field}: ` : ''}quota ${quota}: ${limit} per customer ${what} (${used} in use${need}); delete something or ask the operator for a higher quota`, {
    details: { quota, limit, used, requested, ...(field !== undefined && { field }) },
  });
}
