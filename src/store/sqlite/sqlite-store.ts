import Database from 'better-sqlite3';
import type { ClientRecord, Customer, DeploymentRecord, EventRecord, ModelRecord, NewEvent, QuotaOverrides, StoredQuotaUsage } from '../../domain/index.js';
import { assignments, CHUNKING_JOB_PATCH_COLUMNS, DEPLOYMENT_SPEC_PATCH_COLUMNS, MODEL_PATCH_COLUMNS, TRAINING_JOB_PATCH_COLUMNS, type TrainingJobPatch } from '../columns.js';
import { checkInstant, encodeJson } from '../json-values.js';
import type { Migration } from '../migrations/types.js';
import { sqliteMigrations } from '../migrations/sqlite.js';
import {
  chunkingJobFromRow,
  clientFromRow,
  customerFromRow,
  deploymentFromRow,
  eventFromRow,
  eventPage,
  modelFromRow,
  trainingJobFromRow,
  type Row, instanceFromRow, leaseFromRow, servingEndpointsFromRow, signingKeyFromRow } from '../records.js';
import { customerNotFound, newerSchemaError, rethrowWrite, throwIfOverQuota, type Violation } from '../store-errors.js';
import type {
  ChunkingJobPatch,
  ChunkingJobRecord,
  DeploymentSpecPatch,
  InstanceRecord,
  LeaseState,
  ModelPatch,
  QuotaLimits,
  ServingEndpointsRecord,
  StatusWrite,
  Store,
  StoredSigningKey,
  TrainingJobRecord,
} from '../types.js';

/** How long a writer waits for another connection's write lock before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

const decodeJson = (value: unknown): unknown => (value === null || value === undefined ? null : JSON.parse(value as string));

function violation(err: unknown): Violation {
  const code = (err as { code?: unknown }).code;
  if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') return 'unique';
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return 'foreign-key';
  return null;
}

/**
 * Opens (creating if needed) the SQLite database `file` (`':memory:'` for a private in-memory
 * one) with WAL, busy_timeout, foreign keys and synchronous=NORMAL. Synchronous; call
 * `await store.migrate()` before anything else. Throws the driver's error when the file cannot
 * be opened.
 */
export function openSqliteStore(file: string): Store {
  return new SqliteStore(new Database(file), sqliteMigrations);
}

/**
 * The Store on one better-sqlite3 connection. Every method is one statement or one IMMEDIATE
 * transaction, so it is atomic with respect to other connections (other processes on the same
 * file) as well; within this process calls run one at a time because the driver is synchronous.
 */
export class SqliteStore implements Store {
  readonly #db: Database.Database;
  readonly #migrations: readonly Migration[];
  readonly #statements = new Map<string, Database.Statement>();

  constructor(db: Database.Database, migrations: readonly Migration[]) {
    this.#db = db;
    this.#migrations = migrations;
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
  }

  /** Cached prepared statement (a statement can only be prepared once its tables exist). */
  #sql(sql: string): Database.Statement {
    let stmt = this.#statements.get(sql);
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  #one(sql: string, ...params: unknown[]): Row | null {
    return (this.#sql(sql).get(...params) as Row | undefined) ?? null;
  }

  #all(sql: string, ...params: unknown[]): Row[] {
    return this.#sql(sql).all(...params) as Row[];
  }

  async migrate(): Promise<void> {
    const db = this.#db;
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at TEXT NOT NULL
    ) STRICT`);
    const known = this.#migrations.at(-1)?.version ?? 0;
    // Each migration checks and applies under the write lock (IMMEDIATE), so two processes
    // migrating the same file at once apply it exactly once.
    const apply = db.transaction((m: Migration) => {
      const current = (db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
      if (current > known) throw newerSchemaError(current, known);
      if (db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version)) return;
      db.exec(m.sql);
      db.prepare(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`).run(
        m.version,
        m.name,
      );
    });
    const current = (db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
    if (current > known) throw newerSchemaError(current, known);
    for (const m of this.#migrations) apply.immediate(m);
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  // Customers and clients

  async createCustomer(c: Customer): Promise<void> {
    try {
      this.#sql('INSERT INTO customers (id, name, created_at) VALUES (?, ?, ?)').run(c.id, c.name, c.createdAt);
    } catch (err) {
      rethrowWrite(err, violation(err), 'customer', c.id);
    }
  }

  async getCustomer(id: string): Promise<Customer | null> {
    const r = this.#one('SELECT * FROM customers WHERE id = ?', id);
    return r && customerFromRow(r);
  }

  async listCustomers(): Promise<Customer[]> {
    return this.#all('SELECT * FROM customers ORDER BY created_at, rowid').map(customerFromRow);
  }

  async createClient(c: ClientRecord): Promise<void> {
    try {
      this.#sql('INSERT INTO clients (id, customer_id, secret_hash, scopes, created_at, disabled_at) VALUES (?, ?, ?, ?, ?, ?)').run(
        c.id,
        c.customerId,
        c.secretHash,
        encodeJson('scopes', c.scopes),
        c.createdAt,
        c.disabledAt,
      );
    } catch (err) {
      rethrowWrite(err, violation(err), 'client', c.id, {
        code: 'MODELD_ERR_CUSTOMER_NOT_FOUND',
        message: `customer ${c.customerId} does not exist`,
      });
    }
  }

  async getClient(id: string): Promise<ClientRecord | null> {
    const r = this.#one('SELECT * FROM clients WHERE id = ?', id);
    return r && clientFromRow(r, decodeJson);
  }

  async listClients(customerId: string): Promise<ClientRecord[]> {
    return this.#all('SELECT * FROM clients WHERE customer_id = ? ORDER BY created_at, rowid', customerId).map((r) => clientFromRow(r, decodeJson));
  }

  async disableClient(id: string, at: string): Promise<ClientRecord | null> {
    const r = this.#db
      .transaction(
        () =>
          this.#one('UPDATE clients SET disabled_at = ? WHERE id = ? AND disabled_at IS NULL RETURNING *', at, id) ??
          this.#one('SELECT * FROM clients WHERE id = ?', id),
      )
      .immediate();
    return r && clientFromRow(r, decodeJson);
  }

  // Models

  async createModel(m: ModelRecord, quota: Pick<QuotaLimits, 'models'> = {}): Promise<void> {
    try {
      this.#db
        .transaction(() => {
          this.#checkQuota(m.customerId, quota, { models: 1 });
          this.#insertModel(m);
        })
        .immediate();
    } catch (err) {
      rethrowWrite(err, violation(err), 'model', m.id);
    }
  }

  async createModelWithJob(m: ModelRecord, j: TrainingJobRecord, quota: Pick<QuotaLimits, 'models' | 'trainingJobs'> = {}): Promise<void> {
    try {
      this.#db
        .transaction(() => {
          this.#checkQuota(m.customerId, quota, { models: 1, trainingJobs: j.state === 'QUEUED' || j.state === 'RUNNING' ? 1 : 0 });
          this.#insertModel(m);
          this.#insertTrainingJob(j);
        })
        .immediate();
    } catch (err) {
      rethrowWrite(err, violation(err), 'model or training job', `${m.id} / ${j.id}`);
    }
  }

  #insertModel(m: ModelRecord): void {
    this.#sql(
      `INSERT INTO models (id, customer_id, name, model_type, description, region, vector_size, state, error_message, artifact_id,
         training_data, config, training_started, training_completed, training_metrics, created_by, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      m.id,
      m.customerId,
      m.name,
      m.modelType,
      m.description,
      m.region,
      m.vectorSize,
      m.state,
      m.errorMessage,
      m.artifactId,
      encodeJson('trainingData', m.trainingData),
      encodeJson('config', m.config),
      m.trainingStarted,
      m.trainingCompleted,
      encodeJson('trainingMetrics', m.trainingMetrics),
      m.createdBy,
      m.createdAt,
      m.updatedAt,
    );
  }

  async getModel(customerId: string, id: string): Promise<ModelRecord | null> {
    const r = this.#one('SELECT * FROM models WHERE id = ? AND customer_id = ?', id, customerId);
    return r && modelFromRow(r, decodeJson);
  }

  async getModelById(id: string): Promise<ModelRecord | null> {
    const r = this.#one('SELECT * FROM models WHERE id = ?', id);
    return r && modelFromRow(r, decodeJson);
  }

  async listModels(customerId: string): Promise<ModelRecord[]> {
    return this.#all('SELECT * FROM models WHERE customer_id = ? ORDER BY created_at, rowid', customerId).map((r) => modelFromRow(r, decodeJson));
  }

  async listModelsByState(state: ModelRecord['state']): Promise<ModelRecord[]> {
    return this.#all('SELECT * FROM models WHERE state = ? ORDER BY created_at, rowid', state).map((r) => modelFromRow(r, decodeJson));
  }

  async updateModel(id: string, patch: ModelPatch, updatedAt: string): Promise<ModelRecord | null> {
    const set = assignments(MODEL_PATCH_COLUMNS, patch, encodeJson);
    const sql = `UPDATE models SET ${[...set.map((a) => `${a.column} = ?`), 'updated_at = ?'].join(', ')} WHERE id = ? RETURNING *`;
    const r = this.#one(sql, ...set.map((a) => a.value), updatedAt, id);
    return r && modelFromRow(r, decodeJson);
  }

  /** False only while a deployment references the model; deleting an absent model is true (idempotent). */
  async deleteModel(id: string): Promise<boolean> {
    const referenced = this.#db.transaction(() => {
      if (this.#one('SELECT 1 FROM deployments WHERE model_id = ? LIMIT 1', id)) return true;
      this.#sql('DELETE FROM models WHERE id = ?').run(id);
      return false;
    });
    return !referenced.immediate();
  }

  // Deployments

  async createDeployment(d: DeploymentRecord, quota: Pick<QuotaLimits, 'deployments' | 'replicas'> = {}): Promise<void> {
    try {
      this.#db
        .transaction(() => {
          this.#checkQuota(d.customerId, quota, { deployments: 1, replicas: d.maxReplicas });
          this.#insertDeployment(d);
        })
        .immediate();
    } catch (err) {
      rethrowWrite(err, violation(err), 'deployment', d.id, { code: 'MODELD_ERR_MODEL_NOT_FOUND', message: `model ${d.modelId} does not exist` });
    }
  }

  #insertDeployment(d: DeploymentRecord): void {
    this.#sql(
      `INSERT INTO deployments (id, customer_id, model_id, region, min_replicas, max_replicas, config, state, generation, status,
         deployed_at, created_by, created_at, updated_at, last_used_at, deletion_requested_at, autoscaling)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      d.id,
      d.customerId,
      d.modelId,
      d.region,
      d.minReplicas,
      d.maxReplicas,
      encodeJson('config', d.config),
      d.state,
      d.generation,
      encodeJson('status', d.status),
      d.deployedAt,
      d.createdBy,
      d.createdAt,
      d.updatedAt,
      d.lastUsedAt,
      d.deletionRequestedAt,
      encodeJson('autoscaling', d.autoscaling ?? null),
    );
  }

  async getDeployment(customerId: string, id: string): Promise<DeploymentRecord | null> {
    const r = this.#one('SELECT * FROM deployments WHERE id = ? AND customer_id = ?', id, customerId);
    return r && deploymentFromRow(r, decodeJson);
  }

  async getDeploymentById(id: string): Promise<DeploymentRecord | null> {
    const r = this.#one('SELECT * FROM deployments WHERE id = ?', id);
    return r && deploymentFromRow(r, decodeJson);
  }

  async listDeployments(customerId: string): Promise<DeploymentRecord[]> {
    return this.#all('SELECT * FROM deployments WHERE customer_id = ? ORDER BY created_at, rowid', customerId).map((r) =>
      deploymentFromRow(r, decodeJson),
    );
  }

  async listDeploymentsByModel(modelId: string): Promise<DeploymentRecord[]> {
    return this.#all('SELECT * FROM deployments WHERE model_id = ? ORDER BY created_at, rowid', modelId).map((r) =>
      deploymentFromRow(r, decodeJson),
    );
  }

  async listAllDeploymentIds(): Promise<string[]> {
    return this.#all('SELECT id FROM deployments ORDER BY created_at, rowid').map((r) => r.id as string);
  }

  async updateDeploymentSpec(id: string, patch: DeploymentSpecPatch, updatedAt: string, quota: Pick<QuotaLimits, 'replicas'> = {}): Promise<DeploymentRecord | null> {
    const set = assignments(DEPLOYMENT_SPEC_PATCH_COLUMNS, patch, encodeJson);
    const sql = `UPDATE deployments SET ${[...set.map((a) => `${a.column} = ?`), 'generation = generation + 1', 'updated_at = ?'].join(', ')}
      WHERE id = ? AND deletion_requested_at IS NULL RETURNING *`;
    try {
      const r = this.#db
        .transaction(() => {
          if (quota.replicas !== undefined && patch.maxReplicas !== undefined) {
            const current = this.#one('SELECT customer_id, max_replicas FROM deployments WHERE id = ? AND deletion_requested_at IS NULL', id);
            const more = current ? patch.maxReplicas - Number(current.max_replicas) : 0;
            // Only a raise is checked: lowering is always allowed, also above a quota lowered since.
            if (current && more > 0) this.#checkQuota(current.customer_id as string, quota, { replicas: more });
          }
          return this.#one(sql, ...set.map((a) => a.value), updatedAt, id);
        })
        .immediate();
      return r && deploymentFromRow(r, decodeJson);
    } catch (err) {
      rethrowWrite(err, violation(err), 'deployment', id, { code: 'MODELD_ERR_MODEL_NOT_FOUND', message: `model ${String(patch.modelId)} does not exist` });
    }
  }

  async requestDeploymentDeletion(id: string, at: string): Promise<DeploymentRecord | null> {
    const r = this.#db
      .transaction(
        () =>
          this.#one(
            `UPDATE deployments SET deletion_requested_at = ?, state = 'DELETING', generation = generation + 1, updated_at = ?
             WHERE id = ? AND deletion_requested_at IS NULL RETURNING *`,
            at,
            at,
            id,
          ) ?? this.#one('SELECT * FROM deployments WHERE id = ?', id),
      )
      .immediate();
    return r && deploymentFromRow(r, decodeJson);
  }

  async writeDeploymentStatus(id: string, write: StatusWrite, expect: { generation: number; deleting: boolean }, updatedAt: string): Promise<boolean> {
    const info = this.#sql(
      `UPDATE deployments SET state = ?, status = ?, updated_at = ?
       WHERE id = ? AND generation = ? AND (deletion_requested_at IS NOT NULL) = ?`,
    ).run(write.state, encodeJson('status', write.status), updatedAt, id, expect.generation, expect.deleting ? 1 : 0);
    return info.changes === 1;
  }

  async deleteDeployment(id: string): Promise<void> {
    this.#sql('DELETE FROM deployments WHERE id = ?').run(id);
  }

  async touchDeployment(id: string, at: string): Promise<void> {
    checkInstant('at', at);
    // Compared as instants, not as text, so that offsets and precisions other than toISOString's still order correctly.
    this.#sql(
      `UPDATE deployments SET last_used_at = ?
       WHERE id = ? AND (last_used_at IS NULL OR unixepoch(last_used_at, 'subsec') < unixepoch(?, 'subsec'))`,
    ).run(at, id, at);
  }

  // Events

  async appendEvent(e: NewEvent): Promise<EventRecord> {
    const r = this.#one(
      `INSERT INTO events (object_kind, object_id, customer_id, type, reason, message, data, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      e.objectKind,
      e.objectId,
      e.customerId,
      e.type,
      e.reason,
      e.message,
      encodeJson('data', e.data),
      e.at,
    );
    return eventFromRow(r as Row, decodeJson);
  }

  async listEvents(objectKind: EventRecord['objectKind'], objectId: string, options?: { afterId?: number; limit?: number }): Promise<EventRecord[]> {
    const { afterId, limit } = eventPage(options);
    return this.#all('SELECT * FROM events WHERE object_kind = ? AND object_id = ? AND id > ? ORDER BY id LIMIT ?', objectKind, objectId, afterId, limit).map(
      (r) => eventFromRow(r, decodeJson),
    );
  }

  // Training jobs

  async createTrainingJob(j: TrainingJobRecord): Promise<void> {
    try {
      this.#insertTrainingJob(j);
    } catch (err) {
      rethrowWrite(err, violation(err), 'training job', j.id, { code: 'MODELD_ERR_MODEL_NOT_FOUND', message: `model ${j.modelId} does not exist` });
    }
  }

  #insertTrainingJob(j: TrainingJobRecord): void {
    this.#sql(
      `INSERT INTO training_jobs (id, model_id, customer_id, state, progress, checkpoint, attempts, error, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(j.id, j.modelId, j.customerId, j.state, encodeJson('progress', j.progress), j.checkpoint, j.attempts, j.error, j.createdAt, j.updatedAt);
  }

  async getTrainingJob(id: string): Promise<TrainingJobRecord | null> {
    const r = this.#one('SELECT * FROM training_jobs WHERE id = ?', id);
    return r && trainingJobFromRow(r, decodeJson);
  }

  async getTrainingJobByModel(modelId: string): Promise<TrainingJobRecord | null> {
    const r = this.#one('SELECT * FROM training_jobs WHERE model_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 1', modelId);
    return r && trainingJobFromRow(r, decodeJson);
  }

  async listTrainingJobs(states: TrainingJobRecord['state'][]): Promise<TrainingJobRecord[]> {
    return this.#all('SELECT * FROM training_jobs WHERE state IN (SELECT value FROM json_each(?)) ORDER BY created_at, rowid', JSON.stringify(states)).map(
      (r) => trainingJobFromRow(r, decodeJson),
    );
  }

  async updateTrainingJob(id: string, patch: TrainingJobPatch, updatedAt: string): Promise<TrainingJobRecord | null> {
    const set = assignments(TRAINING_JOB_PATCH_COLUMNS, patch, encodeJson);
    const sql = `UPDATE training_jobs SET ${[...set.map((a) => `${a.column} = ?`), 'updated_at = ?'].join(', ')} WHERE id = ? RETURNING *`;
    const r = this.#one(sql, ...set.map((a) => a.value), updatedAt, id);
    return r && trainingJobFromRow(r, decodeJson);
  }

  // Async chunking jobs

  async createChunkingJob(j: ChunkingJobRecord): Promise<void> {
    try {
      this.#sql(
        `INSERT INTO chunking_jobs (id, customer_id, chunker, model_id, request, status, result, error, created_at, updated_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        j.id, j.customerId, j.chunker, j.modelId, encodeJson('request', j.request), j.status, encodeJson('result', j.result), j.error,
        j.createdAt, j.updatedAt, j.expiresAt,
      );
    } catch (err) {
      rethrowWrite(err, violation(err), 'chunking job', j.id);
    }
  }

  async getChunkingJob(customerId: string, id: string): Promise<ChunkingJobRecord | null> {
    const r = this.#one('SELECT * FROM chunking_jobs WHERE id = ? AND customer_id = ?', id, customerId);
    return r && chunkingJobFromRow(r, decodeJson);
  }

  async listChunkingJobs(statuses: ChunkingJobRecord['status'][]): Promise<ChunkingJobRecord[]> {
    return this.#all('SELECT * FROM chunking_jobs WHERE status IN (SELECT value FROM json_each(?)) ORDER BY created_at, rowid', JSON.stringify(statuses)).map(
      (r) => chunkingJobFromRow(r, decodeJson),
    );
  }

  async updateChunkingJob(id: string, patch: ChunkingJobPatch, updatedAt: string): Promise<ChunkingJobRecord | null> {
    const set = assignments(CHUNKING_JOB_PATCH_COLUMNS, patch, encodeJson);
    const sql = `UPDATE chunking_jobs SET ${[...set.map((a) => `${a.column} = ?`), 'updated_at = ?'].join(', ')} WHERE id = ? RETURNING *`;
    const r = this.#one(sql, ...set.map((a) => a.value), updatedAt, id);
    return r && chunkingJobFromRow(r, decodeJson);
  }

  async deleteExpiredChunkingJobs(now: string): Promise<number> {
    return this.#sql('DELETE FROM chunking_jobs WHERE expires_at <= ?').run(now).changes;
  }

  // Quotas

  async quotaUsage(customerId: string): Promise<StoredQuotaUsage> {
    return this.#usage(customerId);
  }

  async getQuotaOverrides(customerId: string): Promise<QuotaOverrides | null> {
    const r = this.#one('SELECT quotas FROM customer_quotas WHERE customer_id = ?', customerId);
    return r && (decodeJson(r.quotas) as QuotaOverrides);
  }

  async setQuotaOverrides(customerId: string, overrides: QuotaOverrides | null, at: string): Promise<void> {
    if (overrides === null || Object.keys(overrides).length === 0) {
      if (!this.#one('SELECT 1 FROM customers WHERE id = ?', customerId)) throw customerNotFound(customerId);
      this.#sql('DELETE FROM customer_quotas WHERE customer_id = ?').run(customerId);
      return;
    }
    try {
      this.#sql(
        `INSERT INTO customer_quotas (customer_id, quotas, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (customer_id) DO UPDATE SET quotas = excluded.quotas, updated_at = excluded.updated_at`,
      ).run(customerId, encodeJson('quotas', overrides), at);
    } catch (err) {
      if (violation(err) === 'foreign-key') throw customerNotFound(customerId, err);
      throw err;
    }
  }

  // Cluster (one SQLite file serves one instance, but the methods behave as on PostgreSQL; the
  // lease's clock is this process's, the only one that opens the file).

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<LeaseState> {
    const now = Date.now();
    const r =
      this.#one(
        `INSERT INTO leases (name, holder, epoch, expires_at) VALUES (?, ?, 1, ?)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
           epoch = CASE WHEN leases.holder = excluded.holder THEN leases.epoch ELSE leases.epoch + 1 END,
           expires_at = excluded.expires_at
         WHERE leases.holder = excluded.holder OR leases.expires_at <= ?
         RETURNING *`,
        name,
        holder,
        now + ttlMs,
        now,
      ) ?? this.#one('SELECT * FROM leases WHERE name = ?', name)!;
    return leaseFromRow(r, holder);
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    this.#sql(`UPDATE leases SET holder = '', expires_at = 0 WHERE name = ? AND holder = ?`).run(name, holder);
  }

  async listSigningKeys(): Promise<StoredSigningKey[]> {
    return this.#all('SELECT * FROM signing_keys ORDER BY seq').map((r) => signingKeyFromRow(r, decodeJson));
  }

  async insertSigningKey(k: StoredSigningKey): Promise<boolean> {
    const info = this.#sql('INSERT INTO signing_keys (seq, kid, created_at, private_jwk) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING').run(
      k.seq,
      k.kid,
      k.createdAt,
      encodeJson('privateJwk', k.privateJwk),
    );
    return info.changes === 1;
  }

  async putInstance(i: InstanceRecord): Promise<void> {
    this.#sql(
      `INSERT INTO instances (id, url, started_at, seen_at, load) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET url = excluded.url, started_at = excluded.started_at, seen_at = excluded.seen_at, load = excluded.load`,
    ).run(i.id, i.url, i.startedAt, i.seenAt, encodeJson('load', i.load));
  }

  async listInstances(): Promise<InstanceRecord[]> {
    return this.#all('SELECT * FROM instances ORDER BY started_at, id').map((r) => instanceFromRow(r, decodeJson));
  }

  async deleteInstance(id: string): Promise<void> {
    this.#sql('DELETE FROM instances WHERE id = ?').run(id);
  }

  async deleteInstancesSeenBefore(before: string): Promise<number> {
    return this.#sql('DELETE FROM instances WHERE seen_at < ?').run(before).changes;
  }

  async putServingEndpoints(deploymentId: string, model: unknown, endpoints: unknown[], at: string): Promise<number> {
    const r = this.#one(
      `INSERT INTO serving_endpoints (deployment_id, revision, model, endpoints, updated_at) VALUES (?, 1, ?, ?, ?)
       ON CONFLICT (deployment_id) DO UPDATE SET revision = serving_endpoints.revision + 1, model = excluded.model,
         endpoints = excluded.endpoints, updated_at = excluded.updated_at
       RETURNING revision`,
      deploymentId,
      encodeJson('model', model),
      encodeJson('endpoints', endpoints),
      at,
    )!;
    return Number(r.revision);
  }

  async deleteServingEndpoints(deploymentId: string): Promise<void> {
    this.#sql('DELETE FROM serving_endpoints WHERE deployment_id = ?').run(deploymentId);
  }

  async listServingEndpoints(): Promise<ServingEndpointsRecord[]> {
    return this.#all('SELECT * FROM serving_endpoints ORDER BY deployment_id').map((r) => servingEndpointsFromRow(r, decodeJson));
  }

  #usage(customerId: string): StoredQuotaUsage {
    const d = this.#one('SELECT count(*) AS n, coalesce(sum(max_replicas), 0) AS replicas FROM deployments WHERE customer_id = ?', customerId)!;
    const m = this.#one('SELECT count(*) AS n FROM models WHERE customer_id = ?', customerId)!;
    const j = this.#one(`SELECT count(*) AS n FROM training_jobs WHERE customer_id = ? AND state IN ('QUEUED', 'RUNNING')`, customerId)!;
    return { deployments: Number(d.n), replicas: Number(d.replicas), models: Number(m.n), trainingJobs: Number(j.n) };
  }

  /** Inside the caller's IMMEDIATE transaction (the write lock is held): throws the first quota `adding` would pass. */
  #checkQuota(customerId: string, quota: QuotaLimits, adding: Partial<StoredQuotaUsage>): void {
    if (Object.values(quota).every((v) => v === undefined)) return;
    throwIfOverQuota(this.#usage(customerId), quota, adding);
  }
}
