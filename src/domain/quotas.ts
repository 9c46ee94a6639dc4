/**
 * Per-customer quotas: how much of the shared server one customer may hold. The defaults come
 * from config `quotas`; an operator overrides any of them for one customer (admin API). Pure
 * types and rules; the store counts and enforces what it keeps (deployments, replicas, models,
 * training jobs) inside the transaction that creates, the upload store counts files on disk.
 */

/** Every quota, in the order they are documented and listed. */
export const QUOTA_NAMES = ['deployments', 'replicas', 'models', 'trainingJobs', 'uploadFiles', 'uploadBytes'] as const;
export type QuotaName = (typeof QUOTA_NAMES)[number];

/** One value per quota: a limit, or what is in use. */
export type Quotas = Record<QuotaName, number>;

/** A customer's overrides: the quotas an operator set for it; the others keep the config default. */
export type QuotaOverrides = Partial<Quotas>;

/** The quotas the store counts itself (the upload ones are counted on disk). */
export type StoredQuotaName = 'deployments' | 'replicas' | 'models' | 'trainingJobs';
export type StoredQuotaUsage = Record<StoredQuotaName, number>;

/** The limits in force for a customer: each override where there is one, else the default. */
export function effectiveQuotas(defaults: Readonly<Quotas>, overrides: QuotaOverrides | null | undefined): Quotas {
  const out = {} as Quotas;
  for (const name of QUOTA_NAMES) out[name] = overrides?.[name] ?? defaults[name];
  return out;
}
