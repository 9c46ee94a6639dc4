import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { newClient, type Authenticator } from '../../auth/index.js';
import { ALL_SCOPES, isoAt, Scopes, type ClientRecord, type Clock, type Customer } from '../../domain/index.js';
import { invalidField, ModeldError } from '../../errors/index.js';
import type { Store } from '../../store/index.js';
import { makeGuard } from '../plugins/auth.js';
import { errorResponses } from '../schemas.js';
import { requireJsonBody } from './shared.js';

/** What this instance knows of the cluster it is part of (src/cluster). */
export interface ClusterSelf {
  instanceId: string;
  /** The lease holder at this instance's last attempt (null before the first, or when nobody holds it). */
  leader(): string | null;
  /** How often every instance reports itself (its heartbeat): an instance unheard of for three is gone. */
  heartbeatMs: number;
}

export interface AdminRoutesDeps {
  store: Store;
  authenticator: Authenticator;
  clock: Clock;
  /** When given, `GET /admin/cluster` lists the instances sharing the store. */
  cluster?: ClusterSelf;
}


const CustomerBody = Type.Object(
  { id: Type.String({ format: 'uuid' }), name: Type.Union([Type.String(), Type.Null()]), createdAt: Type.String({ format: 'date-time' }) },
  { additionalProperties: false },
);
const CreateCustomerBody = Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }, { additionalProperties: false });

const scopeList = Type.Array(Type.String({ description: `One of ${ALL_SCOPES.join(', ')}` }), { minItems: 1, maxItems: ALL_SCOPES.length * 4 });
const CreateClientBody = Type.Object({ scopes: scopeList }, { additionalProperties: false });
/** A client as listed: never its secret nor the secret's hash. */
const ClientBody = Type.Object(
  {
    clientId: Type.String(),
    customerId: Type.String(),
    scopes: Type.Array(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
    disabledAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { additionalProperties: false },
);
const CreatedClientBody = Type.Object(
  {
    clientId: Type.String(),
    clientSecret: Type.String({ description: 'Shown only in this answer; store it now' }),
    customerId: Type.String(),
    scopes: Type.Array(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

const ClusterBody = Type.Object(
  {
    self: Type.String({ description: 'The instance that answered' }),
    leader: Type.Union([Type.String(), Type.Null()], { description: 'The instance holding the leader lease (runs the controller and the training jobs)' }),
    instances: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          url: Type.String(),
          startedAt: Type.String({ format: 'date-time' }),
          seenAt: Type.String({ format: 'date-time', description: 'Its last heartbeat' }),
          live: Type.Boolean({ description: 'Heard from within the last three heartbeats' }),
          leader: Type.Boolean(),
          inflight: Type.Integer({ description: 'Requests in flight in its gateway at its last heartbeat, all deployments' }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const CustomerParams = Type.Object({ id: Type.String({ description: 'Customer id' }) });
const ClientParams = Type.Object({ id: Type.String({ description: 'Customer id' }), clientId: Type.String() });

function renderCustomer(c: Customer) {
  return { id: c.id, name: c.name, createdAt: c.createdAt };
}

/** The wire form of a client: never its secret nor the secret's hash. */
function renderClient(c: ClientRecord) {
  return { clientId: c.id, customerId: c.customerId, scopes: c.scopes, createdAt: c.createdAt, disabledAt: c.disabledAt };
}

/**
 * The admin API (scope `modeld.admin`, any customer): customers and their OAuth clients. A
 * client's secret is returned once, by the call that creates it; the store keeps only its hash.
 * Deleting a client disables it: its secret and every token it holds stop working at once.
 * Unknown customers and clients (or a client of another customer) are 404.
 */
export function registerAdminRoutes(app: FastifyInstance, deps: AdminRoutesDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  // Authentication runs first (onRequest), so an unauthenticated caller learns nothing from validation errors.
  const admin = makeGuard(deps.authenticator)(Scopes.ADMIN);
  const base = { tags: ['Admin'], security: [{ bearerAuth: [] }] };

  const customerOr404 = async (id: string): Promise<Customer> => {
    const customer = await deps.store.getCustomer(id);
    if (!customer) throw new ModeldError('MODELD_ERR_CUSTOMER_NOT_FOUND', `customer ${id} not found`);
    return customer;
  };

  r.post(
    '/admin/customers',
    {
      onRequest: [admin, requireJsonBody],
      // `{name?}` may be sent as no body at all.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
      schema: { ...base, summary: 'Create a customer', body: CreateCustomerBody, response: { 200: CustomerBody, ...errorResponses(400, 401, 403) } },
    },
    async (request) => {
      const customer: Customer = { id: randomUUID(), name: request.body.name ?? null, createdAt: isoAt(deps.clock.now()) };
      await deps.store.createCustomer(customer);
      return renderCustomer(customer);
    },
  );

  const cluster = deps.cluster;
  if (cluster) {
    r.get(
      '/admin/cluster',
      {
        onRequest: admin,
        schema: { ...base, summary: 'The modeld instances sharing this store, and which one leads', response: { 200: ClusterBody, ...errorResponses(401, 403) } },
      },
      async () => {
        const leader = cluster.leader();
        const liveSince = deps.clock.now() - 3 * cluster.heartbeatMs;
        const instances = (await deps.store.listInstances()).map((i) => ({
          id: i.id,
          url: i.url,
          startedAt: i.startedAt,
          seenAt: i.seenAt,
          live: Date.parse(i.seenAt) >= liveSince,
          leader: i.id === leader,
          inflight: Object.values(i.load).reduce<number>((n, l) => n + (Number((l as { inflight?: unknown }).inflight) || 0), 0),
        }));
        return { self: cluster.instanceId, leader, instances };
      },
    );
  }

  r.get(
    '/admin/customers',
    { onRequest: admin, schema: { ...base, summary: 'List customers', response: { 200: Type.Array(CustomerBody), ...errorResponses(401, 403) } } },
    async () => (await deps.store.listCustomers()).map(renderCustomer),
  );

  r.get(
    '/admin/customers/:id',
    { onRequest: admin, schema: { ...base, summary: 'Get a customer', params: CustomerParams, response: { 200: CustomerBody, ...errorResponses(401, 403, 404) } } },
    async (request) => renderCustomer(await customerOr404(request.params.id)),
  );

  r.post(
    '/admin/customers/:id/clients',
    {
      onRequest: [admin, requireJsonBody],
      schema: {
        ...base,
        summary: 'Create an OAuth client for a customer (the secret is shown only here)',
        params: CustomerParams,
        body: CreateClientBody,
        response: { 200: CreatedClientBody, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const scopes = checkScopes(request.body.scopes);
      const customer = await customerOr404(request.params.id);
      const { client, clientSecret } = await newClient(customer.id, scopes, deps.clock);
      await deps.store.createClient(client);
      request.log.info({ clientId: client.id, customerId: customer.id, scopes }, 'client created');
      return { clientId: client.id, clientSecret, customerId: customer.id, scopes: client.scopes, createdAt: client.createdAt };
    },
  );

  r.get(
    '/admin/customers/:id/clients',
    {
      onRequest: admin,
      schema: { ...base, summary: "List a customer's clients (never their secrets)", params: CustomerParams, response: { 200: Type.Array(ClientBody), ...errorResponses(401, 403, 404) } },
    },
    async (request) => {
      const customer = await customerOr404(request.params.id);
      return (await deps.store.listClients(customer.id)).map(renderClient);
    },
  );

  r.delete(
    '/admin/customers/:id/clients/:clientId',
    {
      onRequest: admin,
      schema: {
        ...base,
        summary: 'Disable a client: its secret and tokens stop working (idempotent)',
        params: ClientParams,
        response: { 200: ClientBody, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => {
      const customer = await customerOr404(request.params.id);
      const existing = await deps.store.getClient(request.params.clientId);
      if (!existing || existing.customerId !== customer.id) {
        throw new ModeldError('MODELD_ERR_NOT_FOUND', `client ${request.params.clientId} not found for customer ${customer.id}`);
      }
      const disabled = await deps.store.disableClient(existing.id, isoAt(deps.clock.now()));
      // Before answering: the authenticator may remember the client as enabled (auth.clientCacheTtlMs).
      deps.authenticator.clientChanged(existing.id);
      if (!disabled) throw new ModeldError('MODELD_ERR_NOT_FOUND', `client ${existing.id} not found for customer ${customer.id}`);
      request.log.info({ clientId: disabled.id, customerId: customer.id }, 'client disabled');
      return renderClient(disabled);
    },
  );
}

/** Each scope must be a known one; duplicates collapse. Throws 400 naming `body.scopes[i]`. */
function checkScopes(scopes: readonly string[]): string[] {
  scopes.forEach((s, i) => {
    if (!ALL_SCOPES.includes(s)) throw invalidField(`body.scopes[${i}]`, `unknown scope ${JSON.stringify(s)}; known: ${ALL_SCOPES.join(', ')}`);
  });
  return [...new Set(scopes)];
}
