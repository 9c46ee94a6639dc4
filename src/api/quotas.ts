import { QUOTA_NAMES, effectiveQuotas, type QuotaName, type QuotaOverrides, type Quotas } from '../domain/index.js';
import type { Config } from '../config/index.js';
import type { QuotaLimits, Store } from '../store/index.js';
import type { UploadQuota, UploadStore } from './uploads.js';

/** One quota as the API reports it. */
export interface QuotaReport {
  limit: number;
  used: number;
}

/**
 * The quotas of each customer as the routes apply them: the config defaults (`quotas`) with the
 * customer's overrides (set through the admin API) over them, and what the customer uses now.
 * The store enforces the quotas on what it keeps (in the transaction that creates); the upload
 * store enforces the upload ones on disk. Nothing is cached: an override applies to the next
 * request, on every server sharing the database.
 */
export class CustomerQuotas {
  readonly #defaults: Readonly<Quotas>;
  readonly #store: Store;
  readonly #uploads: UploadStore;

  constructor(config: Pick<Readonly<Config>, 'quotas'>, store: Store, uploads: UploadStore) {
    this.#defaults = config.quotas;
    this.#store = store;
    this.#uploads = uploads;
  }

  get defaults(): Readonly<Quotas> {
    return this.#defaults;
  }

  /** The limits in force for the customer. */
  async limits(customerId: string): Promise<Quotas> {
    return effectiveQuotas(this.#defaults, await this.#store.getQuotaOverrides(customerId));
  }

  /** The limits the store checks, for a write of this customer. */
  async storeLimits(customerId: string): Promise<Required<QuotaLimits>> {
    const q = await this.limits(customerId);
    return { deployments: q.deployments, replicas: q.replicas, models: q.models, trainingJobs: q.trainingJobs };
  }

  async uploadLimits(customerId: string): Promise<UploadQuota> {
    const q = await this.limits(customerId);
    return { files: q.uploadFiles, bytes: q.uploadBytes };
  }

  async overrides(customerId: string): Promise<QuotaOverrides> {
    return (await this.#store.getQuotaOverrides(customerId)) ?? {};
  }

  /** Every quota of the customer: its limit and what is used now. */
  async report(customerId: string): Promise<Record<QuotaName, QuotaReport>> {
    const [limits, stored, uploads] = await Promise.all([this.limits(customerId), this.#store.quotaUsage(customerId), this.#uploads.usage(customerId)]);
    const used: Quotas = { ...stored, uploadFiles: uploads.files, uploadBytes: uploads.bytes };
    return Object.fromEntries(QUOTA_NAMES.map((name) => [name, { limit: limits[name], used: used[name] }])) as Record<QuotaName, QuotaReport>;
  }
}
