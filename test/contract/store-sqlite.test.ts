import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openSqliteStore, openStore, sqliteMigrations } from '../../src/store/index.js';
import { makeTempDir } from '../fixtures/tmp.js';
import { storeContract } from './store.contract.js';

storeContract('sqlite', async () => {
  const tmp = await makeTempDir('modeld-store-sqlite');
  const file = path.join(tmp.dir, 'modeld.sqlite');
  const store = openSqliteStore(file);
  await store.migrate();
  return {
    store,
    reopen: async () => openSqliteStore(file),
    cleanup: async () => {
      await store.close();
      await tmp.cleanup();
    },
  };
});

describe('sqlite store specifics', () => {
  it('works in memory', async () => {
    const store = openSqliteStore(':memory:');
    try {
      await store.migrate();
      await store.createCustomer({ id: 'c1', name: null, createdAt: '2025-01-01T00:00:00.000Z' });
      assert.deepEqual(await store.listCustomers(), [{ id: 'c1', name: null, createdAt: '2025-01-01T00:00:00.000Z' }]);
    } finally {
      await store.close();
    }
  });

  it('opens the file in WAL mode with foreign keys on, and records each migration once', async () => {
    const tmp = await makeTempDir('modeld-store-sqlite');
    try {
      const file = path.join(tmp.dir, 'm.sqlite');
      const store = openSqliteStore(file);
      await store.migrate();
      await store.migrate();
      await store.close();
      const db = new Database(file, { readonly: true });
      try {
        assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
        const rows = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
        assert.deepEqual(rows, sqliteMigrations.map((m) => ({ version: m.version, name: m.name })));
      } finally {
        db.close();
      }
    } finally {
      await tmp.cleanup();
    }
  });

  it('openStore opens the configured SQLite file, and refuses postgres without a URL', async () => {
    const tmp = await makeTempDir('modeld-store-sqlite');
    try {
      const file = path.join(tmp.dir, 'configured.sqlite');
      const store = openStore({ store: { kind: 'sqlite', sqliteFile: file } });
      await store.migrate();
      await store.createCustomer({ id: 'c1', name: null, createdAt: '2025-01-01T00:00:00.000Z' });
      await store.close();
      const again = openSqliteStore(file);
      await again.migrate();
      assert.equal((await again.getCustomer('c1'))?.id, 'c1');
      await again.close();
      assert.throws(() => openStore({ store: { kind: 'postgres', sqliteFile: file } }), (err: { code?: string }) => err.code === 'MODELD_ERR_VALIDATION');
    } finally {
      await tmp.cleanup();
    }
  });

  it('migration versions are consecutive from 1', () => {
    assert.deepEqual(sqliteMigrations.map((m) => m.version), sqliteMigrations.map((_, i) => i + 1));
  });

  it('refuses a database migrated by a newer modeld', async () => {
    const tmp = await makeTempDir('modeld-store-sqlite');
    try {
      const file = path.join(tmp.dir, 'newer.sqlite');
      const store = openSqliteStore(file);
      await store.migrate();
      await store.close();
      const db = new Database(file);
      db.prepare(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from the future', '2030-01-01T00:00:00.000Z')`).run(
        sqliteMigrations.length + 1,
      );
      db.close();
      const again = openSqliteStore(file);
      try {
        await assert.rejects(again.migrate(), /newer than this modeld knows/);
      } finally {
        await again.close();
      }
    } finally {
      await tmp.cleanup();
    }
  });
});
