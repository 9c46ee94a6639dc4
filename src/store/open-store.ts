import type { Config } from '../config/index.js';
import { ModeldError } from '../errors/index.js';
import { openPostgresStore } from './postgres/index.js';
import { openSqliteStore } from './sqlite/index.js';
import type { Store } from './types.js';

/**
 * Opens the store the config names: `store.kind` `sqlite` (the file `store.sqliteFile`, already
 * absolute after config compilation) or `postgres` (`store.postgresUrl`, set by
 * MODELD_DATABASE_URL). The caller then awaits `migrate()`. Throws MODELD_ERR_VALIDATION when
 * postgres is chosen without a URL, and the SQLite driver's error when the file cannot be opened.
 */
export function openStore(config: Pick<Config, 'store'>): Store {
  const { store } = config;
  if (store.kind === 'postgres') {
    if (!store.postgresUrl) {
      throw new ModeldError('MODELD_ERR_VALIDATION', 'config store.postgresUrl: required when store.kind is postgres', {
        details: { field: 'store.postgresUrl' },
      });
    }
    return openPostgresStore(store.postgresUrl);
  }
  return openSqliteStore(store.sqliteFile);
}
