/**
 * The persistence port and its implementations. Open one with `openStore(config)` (or a dialect
 * directly), then `await store.migrate()` before use, and `await store.close()` at shutdown.
 */
export type { Store, StatusWrite, ModelPatch, DeploymentSpecPatch, TrainingJobRecord } from './types.js';
export type { TrainingJobPatch } from './columns.js';
export type { Migration } from './migrations/types.js';
export { sqliteMigrations } from './migrations/sqlite.js';
export { openSqliteStore, SqliteStore } from './sqlite/index.js';
export { encodeJson } from './json-values.js';
export { EVENT_PAGE } from './records.js';
