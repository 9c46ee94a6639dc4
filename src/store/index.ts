/**
 * The persistence port and its implementations. Open one with `openStore(config)` (or a dialect
 * directly), then `await store.migrate()` before use, and `await store.close()` at shutdown.
 * docs/store.md describes the tables, the migrations and what the contract guarantees.
 */
export type {
  Store,
  StatusWrite,
  ModelPatch,
  DeploymentSpecPatch,
  TrainingJobRecord,
  QuotaLimits,
  ChunkingJobRecord,
  ChunkingJobPatch,
  LeaseState,
  StoredSigningKey,
  InstanceRecord,
  ServingEndpointsRecord,
} from './types.js';
export type { TrainingJobPatch } from './columns.js';
export type { Migration } from './migrations/types.js';
export { sqliteMigrations } from './migrations/sqlite.js';
export { postgresMigrations } from './migrations/postgres.js';
export { openSqliteStore, SqliteStore } from './sqlite/index.js';
export { openPostgresStore, PostgresStore } from './postgres/index.js';
export { openStore } from './open-store.js';
export { encodeJson, checkInstant } from './json-values.js';
export { EVENT_PAGE } from './records.js';
