import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { makeTempDir, type TempDir } from '../../test/fixtures/tmp.js';
import { ALL_SCOPES } from '../domain/index.js';
import { openSqliteStore, type Store } from '../store/index.js';
import { ensureAdminClient, newClient, type AdminCredentials } from './clients.js';
import { verifySecret } from './secrets.js';

const clock = { now: () => Date.parse('2030-01-01T00:00:00Z') };
let tmp: TempDir;
const stores: Store[] = [];

async function freshStore(): Promise<Store> {
  const store = openSqliteStore(':memory:');
  await store.migrate();
  stores.push(store);
  return store;
}

before(async () => {
  tmp = await makeTempDir('modeld-bootstrap');
});
after(async () => {
  for (const s of stores) await s.close();
  await tmp.cleanup();
});

test('first start: an admin customer and client with every scope, credentials in a 0600 file, once', async () => {
  const store = await freshStore();
  const file = path.join(tmp.dir, 'first', 'admin-credentials.json');
  const result = await ensureAdminClient(store, { adminCredentials: file }, clock);
  assert.deepEqual(result, { created: true, file });
  assert.equal((await stat(file)).mode & 0o777, 0o600);

  const text = await readFile(file, 'utf8');
  const creds = JSON.parse(text) as AdminCredentials;
  assert.deepEqual(Object.keys(creds).sort(), ['clientId', 'clientSecret', 'customerId']);
  const customer = await store.getCustomer(creds.customerId);
  assert.equal(customer?.name, 'admin');
  const client = await store.getClient(creds.clientId);
  assert.ok(client);
  assert.equal(client.customerId, creds.customerId);
  assert.deepEqual([...client.scopes].sort(), [...ALL_SCOPES].sort());
  assert.equal(client.disabledAt, null);
  assert.notEqual(client.secretHash, creds.clientSecret);
  assert.ok(!client.secretHash.includes(creds.clientSecret));
  assert.equal(await verifySecret(creds.clientSecret, client.secretHash), true);

  const again = await ensureAdminClient(store, { adminCredentials: file }, clock);
  assert.deepEqual(again, { created: false, file });
  assert.equal(await readFile(file, 'utf8'), text, 'the file is not rewritten');
  assert.equal((await store.listCustomers()).length, 1);
  assert.equal((await store.listClients(creds.customerId)).length, 1);
});

test('a store that already has a client gets no admin client and no file', async () => {
  const store = await freshStore();
  const customer = { id: randomUUID(), name: 'acme', createdAt: new Date(clock.now()).toISOString() };
  await store.createCustomer(customer);
  await store.createClient((await newClient(customer.id, ['machinelearning.predict'], clock)).client);
  const file = path.join(tmp.dir, 'existing', 'admin-credentials.json');
  assert.deepEqual(await ensureAdminClient(store, { adminCredentials: file }, clock), { created: false, file });
  await assert.rejects(stat(file), { code: 'ENOENT' });
});

test('an interrupted bootstrap (admin customer, no client) is completed, reusing that customer', async () => {
  const store = await freshStore();
  const leftover = { id: randomUUID(), name: 'admin', createdAt: new Date(clock.now()).toISOString() };
  await store.createCustomer(leftover);
  const file = path.join(tmp.dir, 'interrupted', 'admin-credentials.json');
  assert.equal((await ensureAdminClient(store, { adminCredentials: file }, clock)).created, true);
  const creds = JSON.parse(await readFile(file, 'utf8')) as AdminCredentials;
  assert.equal(creds.customerId, leftover.id);
  assert.equal((await store.listCustomers()).length, 1);
});
