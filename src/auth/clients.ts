import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ALL_SCOPES, isoAt, type ClientRecord, type Clock, type Customer } from '../domain/index.js';
import type { Store } from '../store/index.js';
import { writeFileAtomic } from './keys.js';
import { hashSecret, newSecret } from './secrets.js';

/** A client as created: the record (stored) and its secret (shown once, never stored). */
export interface NewClient {
  client: ClientRecord;
  clientSecret: string;
}

/**
 * Makes a client record for `customerId` with a fresh id and secret; stores nothing. The caller
 * stores `client` and hands `clientSecret` to the user exactly once.
 */
export async function newClient(customerId: string, scopes: readonly string[], clock: Clock): Promise<NewClient> {
  const clientSecret = newSecret();
  const client: ClientRecord = {
    id: randomUUID(),
    customerId,
    secretHash: await hashSecret(clientSecret),
    scopes: [...scopes],
    createdAt: isoAt(clock.now()),
    disabledAt: null,
  };
  return { client, clientSecret };
}

/** The name of the customer the first admin client belongs to. */
export const ADMIN_CUSTOMER_NAME = 'admin';

/** What `<dataDir>/admin-credentials.json` holds. */
export interface AdminCredentials {
  clientId: string;
  clientSecret: string;
  customerId: string;
}

/**
 * First-start bootstrap. When the store has no client at all, creates a customer named `admin`
 * (or reuses one left by an interrupted bootstrap) and a client with every scope, and writes its
 * credentials to `paths.adminCredentials` (mode 0600, atomic). The file is written before the
 * client is stored, so a crash in between leaves no client and the next start tries again,
 * instead of a stored client whose secret nobody has. Later starts change nothing.
 * Returns `created: true` when it made the client (main logs the file's path, never its content).
 */
export async function ensureAdminClient(
  store: Pick<Store, 'listCustomers' | 'listClients' | 'createCustomer' | 'createClient'>,
  paths: { adminCredentials: string },
  clock: Clock,
): Promise<{ created: boolean; file: string }> {
  const file = paths.adminCredentials;
  const customers = await store.listCustomers();
  for (const c of customers) {
    if ((await store.listClients(c.id)).length > 0) return { created: false, file };
  }
  let customer: Customer | undefined = customers.find((c) => c.name === ADMIN_CUSTOMER_NAME);
  if (!customer) {
    customer = { id: randomUUID(), name: ADMIN_CUSTOMER_NAME, createdAt: isoAt(clock.now()) };
    await store.createCustomer(customer);
  }
  const { client, clientSecret } = await newClient(customer.id, ALL_SCOPES, clock);
  const credentials: AdminCredentials = { clientId: client.id, clientSecret, customerId: customer.id };
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(credentials, null, 2)}\n`);
  await store.createClient(client);
  return { created: true, file };
}
