import { Type } from 'typebox';
import { QUOTA_NAMES, Scopes, isoAt, type Clock, type QuotaOverrides } from '../../domain/index.js';
import { ModeldError } from '../../errors/index.js';
import type { Store } from '../../store/index.js';
import type { Authenticator } from '../../auth/index.js';
import { makeGuard, principalOf, type Guard } from '../plugins/auth.js';
import type { CustomerQuotas } from '../quotas.js';
import { CustomerParams, errorResponses } from '../schemas.js';
import { requireJsonBody, type ModeldApp } from './shared.js';

export interface QuotaRouteDeps {
  store: Store;
  clock: Clock;
  guard: Guard;
  authenticator: Authenticator;
  quotas: CustomerQuotas;
}

const QuotaSchema = Type.Object({ limit: Type.Integer(), used: Type.Integer() }, { additionalProperties: false });
const QuotaReportSchema = Type.Object(
  Object.fromEntries(QUOTA_NAMES.map((name) => [name, QuotaSchema])) as Record<(typeof QUOTA_NAMES)[number], typeof QuotaSchema>,
  { additionalProperties: false, description: 'Every quota: its limit for this customer and what is in use now' },
);
const countQuota = Type.Integer({ minimum: 0, maximum: 1_000_000 });
/** An override per quota; a quota left out (or null) takes the config default. */
const OverridesBody = Type.Object(
  {
    deployments: Type.Optional(Type.Union([countQuota, Type.Null()])),
    replicas: Type.Optional(Type.Union([countQuota, Type.Null()])),
    models: Type.Optional(Type.Union([countQuota, Type.Null()])),
    trainingJobs: Type.Optional(Type.Union([countQuota, Type.Null()])),
    uploadFiles: Type.Optional(Type.Union([countQuota, Type.Null()])),
    uploadBytes: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), Type.Null()])),
  },
  { additionalProperties: false },
);
const AdminQuotasSchema = Type.Object(
  {
    customerId: Type.String(),
    quotas: QuotaReportSchema,
    overrides: Type.Record(Type.String(), Type.Integer(), { description: 'The quotas set for this customer; the others are the config defaults' }),
  },
  { additionalProperties: false },
);
const AdminParams = Type.Object({ id: Type.String({ description: 'Customer id' }) });

/**
 * Extension: quotas. `GET /customers/:CUSTOMER_ID/ai/quotas` (scope `machinelearning.model`)
 * tells a customer its limits and usage; `GET` and `PUT /admin/customers/:id/quotas` (scope
 * `modeld.admin`) read and set one customer's overrides. docs/api.md "Quotas".
 */
export function registerQuotaRoutes(app: ModeldApp, deps: QuotaRouteDeps): void {
  const guard = deps.guard(Scopes.MODEL);
  const admin = makeGuard(deps.authenticator)(Scopes.ADMIN);
  const adminBase = { tags: ['Admin'], security: [{ bearerAuth: [] }] };

  app.get(
    '/customers/:CUSTOMER_ID/ai/quotas',
    {
      onRequest: guard,
      schema: {
        tags: ['Manage models'],
        security: [{ bearerAuth: [] }],
        summary: 'Extension: the customer’s quotas, each with its limit and what is in use now',
        params: CustomerParams,
        response: { 200: QuotaReportSchema, ...errorResponses(401, 403) },
      },
    },
    async (request) => deps.quotas.report(principalOf(request).customerId),
  );

  const customerOr404 = async (id: string): Promise<string> => {
    const customer = await deps.store.getCustomer(id);
    if (!customer) throw new ModeldError('MODELD_ERR_CUSTOMER_NOT_FOUND', `customer ${id} not found`);
    return customer.id;
  };
  const adminView = async (customerId: string) => ({
    customerId,
    quotas: await deps.quotas.report(customerId),
    overrides: await deps.quotas.overrides(customerId),
  });

  app.get(
    '/admin/customers/:id/quotas',
    {
      onRequest: admin,
      schema: { ...adminBase, summary: "A customer's quotas (limit and usage) and the overrides set for it", params: AdminParams, response: { 200: AdminQuotasSchema, ...errorResponses(401, 403, 404) } },
    },
    async (request) => adminView(await customerOr404(request.params.id)),
  );

  app.put(
    '/admin/customers/:id/quotas',
    {
      onRequest: [admin, requireJsonBody],
      schema: {
        ...adminBase,
        summary: "Set a customer's quota overrides (replaces the previous ones; {} or null values go back to the config defaults)",
        description:
          'Lowering a quota below what the customer uses removes nothing: its next creates of that kind are refused until it is back under the quota.',
        params: AdminParams,
        body: OverridesBody,
        response: { 200: AdminQuotasSchema, ...errorResponses(400, 401, 403, 404, 415) },
      },
    },
    async (request) => {
      const customerId = await customerOr404(request.params.id);
      const overrides: QuotaOverrides = {};
      for (const name of QUOTA_NAMES) {
        const value = request.body[name];
        if (typeof value === 'number') overrides[name] = value;
      }
      await deps.store.setQuotaOverrides(customerId, overrides, isoAt(deps.clock.now()));
      request.log.info({ customerId, overrides }, 'quota overrides set');
      return adminView(customerId);
    },
  );
}
