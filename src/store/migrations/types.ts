/**
 * One schema change. Versions are consecutive integers starting at 1 and never edited once
 * shipped: a change to the schema is a new migration. Each migration runs in its own
 * transaction together with the insert of its row into `schema_migrations`.
 */
export interface Migration {
  version: number;
  name: string;
  /** One or more statements, run as a script. */
  sql: string;
}
