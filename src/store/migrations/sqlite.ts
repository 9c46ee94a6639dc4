import type { Migration } from './types.js';

/**
 * SQLite schema, in order. STRICT tables; JSON columns are TEXT holding JSON.stringify output;
 * timestamps are the ISO-8601 text callers pass. `rowid` breaks ties between equal createdAt.
 */
export const sqliteMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE customers (
  id TEXT PRIMARY KEY,
  name TEXT,
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE clients (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  secret_hash TEXT NOT NULL,
  scopes TEXT NOT NULL,
  created_at TEXT NOT NULL,
  disabled_at TEXT
) STRICT;
CREATE INDEX clients_customer ON clients(customer_id);

CREATE TABLE models (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  name TEXT NOT NULL,
  model_type TEXT NOT NULL,
  description TEXT,
  region TEXT,
  vector_size INTEGER,
  state TEXT NOT NULL,
  error_message TEXT,
  artifact_id TEXT,
  training_data TEXT,
  config TEXT,
  training_started TEXT,
  training_completed TEXT,
  training_metrics TEXT,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT;
CREATE INDEX models_customer ON models(customer_id, created_at);
CREATE INDEX models_state ON models(state);

CREATE TABLE deployments (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  model_id TEXT NOT NULL REFERENCES models(id),
  region TEXT NOT NULL,
  min_replicas INTEGER NOT NULL,
  max_replicas INTEGER NOT NULL,
  config TEXT NOT NULL,
  state TEXT NOT NULL,
  generation INTEGER NOT NULL,
  status TEXT NOT NULL,
  deployed_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  last_used_at TEXT,
  deletion_requested_at TEXT
) STRICT;
CREATE INDEX deployments_customer ON deployments(customer_id, created_at);
CREATE INDEX deployments_model ON deployments(model_id);

CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  object_kind TEXT NOT NULL,
  object_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  type TEXT NOT NULL,
  reason TEXT NOT NULL,
  message TEXT NOT NULL,
  data TEXT,
  at TEXT NOT NULL
) STRICT;
CREATE INDEX events_object ON events(object_kind, object_id, id);

CREATE TABLE training_jobs (
  id TEXT PRIMARY KEY,
  model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  customer_id TEXT NOT NULL,
  state TEXT NOT NULL,
  progress TEXT,
  checkpoint TEXT,
  attempts INTEGER NOT NULL,
  error TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT;
CREATE INDEX training_jobs_model ON training_jobs(model_id, created_at);
CREATE INDEX training_jobs_state ON training_jobs(state);
`,
  },
  {
    version: 2,
    name: 'deployments: autoscaling extension',
    sql: `ALTER TABLE deployments ADD COLUMN autoscaling TEXT;`,
  },
  {
    version: 3,
    name: 'quotas: per-customer overrides; training jobs by customer',
    sql: `
CREATE TABLE customer_quotas (
  customer_id TEXT PRIMARY KEY REFERENCES customers(id) ON DELETE CASCADE,
  quotas TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT;
CREATE INDEX training_jobs_customer ON training_jobs(customer_id, state);
`,
  },
  {
    version: 4,
    name: 'async chunking jobs',
    sql: `
CREATE TABLE chunking_jobs (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  chunker TEXT NOT NULL,
  model_id TEXT NOT NULL,
  request TEXT NOT NULL,
  status TEXT NOT NULL,
  result TEXT,
  error TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
) STRICT;
CREATE INDEX chunking_jobs_status ON chunking_jobs(status, created_at);
CREATE INDEX chunking_jobs_expires ON chunking_jobs(expires_at);
`,
  },
  {
    version: 5,
    name: 'cluster: leases, shared signing keys, instances, published endpoints',
    sql: `
CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE TABLE signing_keys (
  seq INTEGER PRIMARY KEY,
  kid TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  private_jwk TEXT NOT NULL
) STRICT;
CREATE TABLE instances (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  started_at TEXT NOT NULL,
  seen_at TEXT NOT NULL,
  load TEXT NOT NULL
) STRICT;
CREATE TABLE serving_endpoints (
  deployment_id TEXT PRIMARY KEY,
  revision INTEGER NOT NULL,
  model TEXT NOT NULL,
  endpoints TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT;
`,
  },
];
