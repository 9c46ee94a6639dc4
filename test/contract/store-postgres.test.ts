import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { openPostgresStore, openStore, postgresMigrations } from '../../src/store/index.js';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../fixtures/postgres.js';
import { storeContract } from './store.contract.js';

// One throwaway server for the whole file; every group gets a schema (or a database) of its own.
let server: ThrowawayPostgres | undefined;
let admin: pg.Client | undefined;
let databases = 0;

before(async () => {
  server = await startThrowawayPostgres();
  admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
});

after(async () => {
  await admin?.end();
  await server?.stop();
});

/** A new empty database; returns its URL and a function that drops it. */
async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  assert.ok(server && admin, 'postgres not started');
  const name = `modeld_test_${++databases}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin?.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/**
 * A new empty schema in the server's default database, cheaper than a database: the URL selects
 * it through `options=-c search_path=...`, as an operator would to share one database.
 */
async function freshSchema(): Promise<{ url: string; drop(): Promise<void> }> {
  assert.ok(server && admin, 'postgres not started');
  const name = `modeld_test_${++databases}`;
  await admin.query(`CREATE SCHEMA ${name}`);
  const url = new URL(server.url);
  url.searchParams.set('options', `-c search_path=${name}`);
  return {
    url: url.toString(),
    drop: async () => {
      await admin?.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
    },
  };
}

storeContract('postgres', async () => {
  const db = await freshSchema();
  const store = openPostgresStore(db.url);
  await store.migrate();
  return {
    store,
    reopen: async () => openPostgresStore(db.url),
    cleanup: async () => {
      await store.close();
      await db.drop();
    },
  };
});

describe('postgres store specifics', () => {
  it('servers starting together on an empty database migrate it exactly once', async () => {
    const db = await freshDatabase();
    const stores = [1, 2, 3, 4].map(() => openPostgresStore(db.url));
    try {
      await Promise.all(stores.map((s) => s.migrate()));
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        const { rows } = await c.query('SELECT version, name FROM schema_migrations ORDER BY version');
        assert.deepEqual(rows, postgresMigrations.map((m) => ({ version: m.version, name: m.name })));
      } finally {
        await c.end();
      }
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await db.drop();
    }
  });

  it('migration versions are consecutive from 1', () => {
    assert.deepEqual(postgresMigrations.map((m) => m.version), postgresMigrations.map((_, i) => i + 1));
  });

  it('refuses a database migrated by a newer modeld', async () => {
    const db = await freshSchema();
    const store = openPostgresStore(db.url);
    try {
      await store.migrate();
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      await c.query(`INSERT INTO schema_migrations (version, name) VALUES ($1, 'from the future')`, [postgresMigrations.length + 1]);
      await c.end();
      await assert.rejects(store.migrate(), /newer than this modeld knows/);
    } finally {
      await store.close();
      await db.drop();
    }
  });

  it('openStore picks postgres from the config', async () => {
    const db = await freshSchema();
    const store = openStore({ store: { kind: 'postgres', sqliteFile: '/nonexistent/never-opened.sqlite', postgresUrl: db.url } });
    try {
      await store.migrate();
      await store.createCustomer({ id: 'c1', name: 'pg', createdAt: '2025-01-01T00:00:00.000Z' });
      assert.deepEqual(await store.listCustomers(), [{ id: 'c1', name: 'pg', createdAt: '2025-01-01T00:00:00.000Z' }]);
    } finally {
      await store.close();
      await db.drop();
    }
  });

  it('a reader paging by afterId never skips an event whose insert commits late', async () => {
    assert.ok(admin);
    const db = await freshSchema();
    const schema = new URL(db.url).searchParams.get('options')?.split('=')[1] ?? '';
    const store = openPostgresStore(db.url);
    const HOLD = 4242;
    let holding = false;
    try {
      await store.migrate();
      // A slow writer: the row for message 'slow' has its id, then its transaction waits on an
      // advisory lock this test holds, so it commits only when the test lets it.
      await admin.query(`CREATE FUNCTION ${schema}.hold_slow() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.message = 'slow' THEN PERFORM pg_advisory_xact_lock_shared(${HOLD}); END IF; RETURN NEW; END $$`);
      await admin.query(`CREATE TRIGGER hold_slow AFTER INSERT ON ${schema}.events FOR EACH ROW EXECUTE FUNCTION ${schema}.hold_slow()`);
      await admin.query('SELECT pg_advisory_lock($1)', [HOLD]);
      holding = true;
      const waiting = async () =>
        Number((await admin!.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type IN ('Lock') AND datname = current_database()`)).rows[0].n);

      const base = { objectKind: 'deployment' as const, objectId: 'd1', customerId: 'c1', type: 'Normal' as const, reason: 'Tick', data: null, at: '2025-01-01T00:00:00.000Z' };
      const slow = store.appendEvent({ ...base, message: 'slow' });
      while ((await waiting()) < 1) await new Promise((r) => setImmediate(r));
      let fastDone = false;
      const fast = store.appendEvent({ ...base, message: 'fast' }).then((e) => {
        fastDone = true;
        return e;
      });
      // The fast insert either commits (nothing orders it after the slow one) or waits behind it.
      while (!fastDone && (await waiting()) < 2) await new Promise((r) => setImmediate(r));

      const seen = (await store.listEvents('deployment', 'd1')).map((e) => e.message);
      const cursor = (await store.listEvents('deployment', 'd1')).at(-1)?.id ?? 0;
      await admin.query('SELECT pg_advisory_unlock($1)', [HOLD]);
      holding = false;
      await Promise.all([slow, fast]);
      seen.push(...(await store.listEvents('deployment', 'd1', { afterId: cursor })).map((e) => e.message));
      assert.deepEqual(seen, ['slow', 'fast'], 'paging by afterId saw every event once, in id order');
    } finally {
      if (holding) await admin.query('SELECT pg_advisory_unlock($1)', [HOLD]);
      await store.close();
      await db.drop();
    }
  });
});
