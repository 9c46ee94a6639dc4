export { openPostgresStore, PostgresStore } from './postgres-store.js';
