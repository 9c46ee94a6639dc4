import type { Migration } from './types.js';

/**
 * PostgreSQL schema, in order; the same tables and columns as migrations/sqlite.ts. JSON columns
 * are JSONB; timestamps are the ISO-8601 text callers pass (so they round-trip exactly and both
 * dialects share one row mapping), cast to timestamptz where instants are compared. `seq`
 * breaks ties between equal createdAt, as rowid does in SQLite.
 */
export const postgresMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE customers (
  id text PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  name text,
  created_at text NOT NULL
);

CREATE TABLE clients (
  id text PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  customer_id text NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  secret_hash text NOT NULL,
  scopes jsonb NOT NULL,
  created_at text NOT NULL,
  disabled_at text
);
CREATE INDEX clients_customer ON clients(customer_id);

CREATE TABLE models (
  id text PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  customer_id text NOT NULL,
  name text NOT NULL,
  model_type text NOT NULL,
  description text,
  region text,
  vector_size integer,
  state text NOT NULL,
  error_message text,
  artifact_id text,
  training_data jsonb,
  config jsonb,
  training_started text,
  training_completed text,
  training_metrics jsonb,
  created_by text NOT NULL,
  created_at text NOT NULL,
  updated_at text NOT NULL
);
CREATE INDEX models_customer ON models(customer_id, created_at);
CREATE INDEX models_state ON models(state);

CREATE TABLE deployments (
  id text PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  customer_id text NOT NULL,
  model_id text NOT NULL REFERENCES models(id),
  region text NOT NULL,
  min_replicas integer NOT NULL,
  max_replicas integer NOT NULL,
  config jsonb NOT NULL,
  state text NOT NULL,
  generation integer NOT NULL,
  status jsonb NOT NULL,
  deployed_at text NOT NULL,
  created_by text NOT NULL,
  created_at text NOT NULL,
  updated_at text NOT NULL,
  last_used_at text,
  deletion_requested_at text
);
CREATE INDEX deployments_customer ON deployments(customer_id, created_at);
CREATE INDEX deployments_model ON deployments(model_id);

CREATE TABLE events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  object_kind text NOT NULL,
  object_id text NOT NULL,
  customer_id text NOT NULL,
  type text NOT NULL,
  reason text NOT NULL,
  message text NOT NULL,
  data jsonb,
  at text NOT NULL
);
CREATE INDEX events_object ON events(object_kind, object_id, id);

CREATE TABLE training_jobs (
  id text PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  model_id text NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  customer_id text NOT NULL,
  state text NOT NULL,
  progress jsonb,
  checkpoint text,
  attempts integer NOT NULL,
  error text,
  created_at text NOT NULL,
  updated_at text NOT NULL
);
CREATE INDEX training_jobs_model ON training_jobs(model_id, created_at);
CREATE INDEX training_jobs_state ON training_jobs(state);
`,
  },
  {
    version: 2,
    name: 'deployments: autoscaling extension',
    sql: `ALTER TABLE deployments ADD COLUMN autoscaling jsonb;`,
  },
  {
    version: 3,
    name: 'quotas: per-customer overrides; training jobs by customer',
    sql: `
CREATE TABLE customer_quotas (
  customer_id text PRIMARY KEY REFERENCES customers(id) ON DELETE CASCADE,
  quotas jsonb NOT NULL,
  updated_at text NOT NULL
);
CREATE INDEX training_jobs_customer ON training_jobs(customer_id, state);
`,
  },
  {
    version: 4,
    name: 'async chunking jobs',
    sql: `
CREATE TABLE chunking_jobs (
  id text PRIMARY KEY,
  customer_id text NOT NULL,
  chunker text NOT NULL,
  model_id text NOT NULL,
  request jsonb NOT NULL,
  status text NOT NULL,
  result jsonb,
  error text,
  created_at text NOT NULL,
  updated_at text NOT NULL,
  expires_at text NOT NULL
);
CREATE INDEX chunking_jobs_status ON chunking_jobs(status, created_at);
CREATE INDEX chunking_jobs_expires ON chunking_jobs(expires_at);
`,
  },
  {
    version: 5,
    name: 'cluster: leases, shared signing keys, instances, published endpoints',
    sql: `
CREATE TABLE leases (
  name text PRIMARY KEY,
  holder text NOT NULL,
  epoch bigint NOT NULL,
  expires_at bigint NOT NULL
);
CREATE TABLE signing_keys (
  seq integer PRIMARY KEY,
  kid text NOT NULL UNIQUE,
  created_at text NOT NULL,
  private_jwk jsonb NOT NULL
);
CREATE TABLE instances (
  id text PRIMARY KEY,
  url text NOT NULL,
  started_at text NOT NULL,
  seen_at text NOT NULL,
  load jsonb NOT NULL
);
CREATE TABLE serving_endpoints (
  deployment_id text PRIMARY KEY,
  revision bigint NOT NULL,
  model jsonb NOT NULL,
  endpoints jsonb NOT NULL,
  updated_at text NOT NULL
);
`,
  },
];
