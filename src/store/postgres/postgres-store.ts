import pg from 'pg';
import type { ClientRecord, Customer, DeploymentRecord, EventRecord, ModelRecord, NewEvent, QuotaOverrides, StoredQuotaUsage } from '../../domain/index.js';
import { assignments, CHUNKING_JOB_PATCH_COLUMNS, DEPLOYMENT_SPEC_PATCH_COLUMNS, MODEL_PATCH_COLUMNS, TRAINING_JOB_PATCH_COLUMNS, type Assignment, type TrainingJobPatch } from '../columns.js';
import { checkInstant, encodeJson } from '../json-values.js';
import type { Migration } from '../migrations/types.js';
import { postgresMigrations } from '../migrations/postgres.js';
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

/**
 * Session advisory lock (two-int4 key space, apart from appendEvent's int8 keys) held while
 * migrating, so servers starting together against one database migrate it once, one at a time.
 */
const MIGRATION_LOCK = [0x6d6f646c /* 'modl' */, 1] as const;

/**
 * First key of the transaction-scoped advisory lock a quota-checked write takes on its customer
 * (second key: hashtext(customer id)), so that the count and the insert of one customer's
 * creates run one at a time across every server sharing the database.
 */
const QUOTA_LOCK = 0x71756f74; /* 'quot' */

/** What a statement runs on: the pool (a statement of its own) or the connection of a transaction. */
type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

/** JSONB arrives parsed by the driver; SQL NULL is null. */
const decodeJson = (value: unknown): unknown => value ?? null;

function violation(err: unknown): Violation {
  const code = (err as { code?: unknown }).code;
  if (code === '23505') return 'unique';
  if (code === '23503') return 'foreign-key';
  return null;
}

/** `col = $n` (with a jsonb cast for JSON columns), numbering parameters from `first`. */
function setClause(set: Assignment[], first: number): string[] {
  return set.map((a, i) => `${a.column} = $${first + i}${a.json ? '::jsonb' : ''}`);
}

/**
 * Opens a pool on the PostgreSQL database at `url` (`postgres://user:pass@host:port/db`; libpq
 * parameters such as `sslmode` and `options=-c search_path=...` are honoured). Synchronous and
 * lazy: nothing connects until `await store.migrate()`, which must come first.
 */
export function openPostgresStore(url: string): Store {
  return new PostgresStore(new pg.Pool({ connectionString: url }), postgresMigrations);
}

/**
 * The Store on a pg Pool. Every method is a single statement (atomic on its own under READ
 * COMMITTED: conditional UPDATEs re-check their WHERE on the newest row version after waiting
 * for a concurrent writer), or a statement followed by a re-read where only the re-read's fresh
 * snapshot gives the right answer.
 */
export class PostgresStore implements Store {
  readonly #pool: pg.Pool;
  readonly #migrations: readonly Migration[];
  #closing: Promise<void> | undefined;

  constructor(pool: pg.Pool, migrations: readonly Migration[]) {
    this.#pool = pool;
    this.#migrations = migrations;
    // An idle pooled connection that breaks (server restart, network) emits here; without a
    // listener that would crash the process. The pool drops the client and the next query
    // opens a new connection or fails with its own error, which reaches the caller.
    pool.on('error', () => {});
  }

  async #one(sql: string, params: unknown[] = [], q: Queryable = this.#pool): Promise<Row | null> {
    const result = await q.query(sql, params);
    return (result.rows[0] as Row | undefined) ?? null;
  }

  async #all(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.#pool.query(sql, params)).rows as Row[];
  }

  async migrate(): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1, $2)', [...MIGRATION_LOCK]);
      try {
        await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
          version integer PRIMARY KEY,
          name text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`);
        const known = this.#migrations.at(-1)?.version ?? 0;
        const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
        const applied = new Set(rows.map((r) => r.version));
        const newest = Math.max(0, ...applied);
        if (newest > known) throw newerSchemaError(newest, known);
        for (const m of this.#migrations) {
          if (applied.has(m.version)) continue;
          await client.query('BEGIN');
          try {
            await client.query(m.sql);
            await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
            await client.query('COMMIT');
          } catch (err) {
            await client.query('ROLLBACK');
            throw err;
          }
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock($1, $2)', [...MIGRATION_LOCK]);
      }
      client.release();
    } catch (err) {
      // A connection in an unknown state (or holding the lock) is closed, not reused.
      client.release(err instanceof Error ? err : true);
      throw err;
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#pool.end();
    return this.#closing;
  }

  // Customers and clients

  async createCustomer(c: Customer): Promise<void> {
    try {
      await this.#pool.query('INSERT INTO customers (id, name, created_at) VALUES ($1, $2, $3)', [c.id, c.name, c.createdAt]);
    } catch (err) {
      rethrowWrite(err, violation(err), 'customer', c.id);
    }
  }

  async getCustomer(id: string): Promise<Customer | null> {
    const r = await this.#one('SELECT * FROM customers WHERE id = $1', [id]);
    return r && customerFromRow(r);
  }

  async listCustomers(): Promise<Customer[]> {
    return (await this.#all('SELECT * FROM customers ORDER BY created_at, seq')).map(customerFromRow);
  }

  async createClient(c: ClientRecord): Promise<void> {
    try {
      await this.#pool.query(
        'INSERT INTO clients (id, customer_id, secret_hash, scopes, created_at, disabled_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6)',
        [c.id, c.customerId, c.secretHash, encodeJson('scopes', c.scopes), c.createdAt, c.disabledAt],
      );
    } catch (err) {
      rethrowWrite(err, violation(err), 'client', c.id, {
        code: 'MODELD_ERR_CUSTOMER_NOT_FOUND',
        message: `customer ${c.customerId} does not exist`,
      });
    }
  }

  async getClient(id: string): Promise<ClientRecord | null> {
    const r = await this.#one('SELECT * FROM clients WHERE id = $1', [id]);
    return r && clientFromRow(r, decodeJson);
  }

  async listClients(customerId: string): Promise<ClientRecord[]> {
    return (await this.#all('SELECT * FROM clients WHERE customer_id = $1 ORDER BY created_at, seq', [customerId])).map((r) => clientFromRow(r, decodeJson));
  }

  async disableClient(id: string, at: string): Promise<ClientRecord | null> {
    // A concurrent disable makes this UPDATE match nothing; the SELECT after it (a new snapshot)
    // then sees the committed first disabledAt.
    const r =
      (await this.#one('UPDATE clients SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL RETURNING *', [at, id])) ??
      (await this.#one('SELECT * FROM clients WHERE id = $1', [id]));
    return r && clientFromRow(r, decodeJson);
  }

  // Models

  async createModel(m: ModelRecord, quota: Pick<QuotaLimits, 'models'> = {}): Promise<void> {
    try {
      await this.#withinQuota(m.customerId, quota, async (q) => {
        await this.#checkQuota(q, m.customerId, quota, { models: 1 });
        await this.#insertModel(q, m);
      });
    } catch (err) {
      rethrowWrite(err, violation(err), 'model', m.id);
    }
  }

  async createModelWithJob(m: ModelRecord, j: TrainingJobRecord, quota: Pick<QuotaLimits, 'models' | 'trainingJobs'> = {}): Promise<void> {
    try {
      await this.#transaction(m.customerId, async (q) => {
        await this.#checkQuota(q, m.customerId, quota, { models: 1, trainingJobs: j.state === 'QUEUED' || j.state === 'RUNNING' ? 1 : 0 });
        await this.#insertModel(q, m);
        await this.#insertTrainingJob(q, j);
      });
    } catch (err) {
      rethrowWrite(err, violation(err), 'model or training job', `${m.id} / ${j.id}`);
    }
  }

  async #insertModel(q: Queryable, m: ModelRecord): Promise<void> {
    await q.query(
      `INSERT INTO models (id, customer_id, name, model_type, description, region, vector_size, state, error_message, artifact_id,
         training_data, config, training_started, training_completed, training_metrics, created_by, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb, $13, $14, $15::jsonb, $16, $17, $18)`,
      [
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
      ],
    );
  }

  async getModel(customerId: string, id: string): Promise<ModelRecord | null> {
    const r = await this.#one('SELECT * FROM models WHERE id = $1 AND customer_id = $2', [id, customerId]);
    return r && modelFromRow(r, decodeJson);
  }

  async getModelById(id: string): Promise<ModelRecord | null> {
    const r = await this.#one('SELECT * FROM models WHERE id = $1', [id]);
    return r && modelFromRow(r, decodeJson);
  }

  async listModels(customerId: string): Promise<ModelRecord[]> {
    return (await this.#all('SELECT * FROM models WHERE customer_id = $1 ORDER BY created_at, seq', [customerId])).map((r) => modelFromRow(r, decodeJson));
  }

  async listModelsByState(state: ModelRecord['state']): Promise<ModelRecord[]> {
    return (await this.#all('SELECT * FROM models WHERE state = $1 ORDER BY created_at, seq', [state])).map((r) => modelFromRow(r, decodeJson));
  }

  async updateModel(id: string, patch: ModelPatch, updatedAt: string): Promise<ModelRecord | null> {
    const set = assignments(MODEL_PATCH_COLUMNS, patch, encodeJson);
    const n = set.length;
    const sql = `UPDATE models SET ${[...setClause(set, 1), `updated_at = $${n + 1}`].join(', ')} WHERE id = $${n + 2} RETURNING *`;
    const r = await this.#one(sql, [...set.map((a) => a.value), updatedAt, id]);
    return r && modelFromRow(r, decodeJson);
  }

  /** False only while a deployment references the model; deleting an absent model is true (idempotent). */
  async deleteModel(id: string): Promise<boolean> {
    // One statement, one snapshot: the reference check and the delete agree (a data-modifying
    // CTE runs whether or not the main query reads it). A deployment
    // inserted concurrently (not yet visible to the snapshot) makes the delete fail its foreign
    // key check once that insert commits, which is the same answer: still referenced.
    try {
      const r = await this.#one(
        `WITH ref AS (SELECT EXISTS (SELECT 1 FROM deployments WHERE model_id = $1) AS referenced),
              del AS (DELETE FROM models WHERE id = $1 AND NOT (SELECT referenced FROM ref) RETURNING id)
         SELECT referenced FROM ref`,
        [id],
      );
      return r?.referenced !== true;
    } catch (err) {
      if (violation(err) === 'foreign-key') return false;
      throw err;
    }
  }

  // Deployments

  async createDeployment(d: DeploymentRecord, quota: Pick<QuotaLimits, 'deployments' | 'replicas'> = {}): Promise<void> {
    try {
      await this.#withinQuota(d.customerId, quota, async (q) => {
        await this.#checkQuota(q, d.customerId, quota, { deployments: 1, replicas: d.maxReplicas });
        await this.#insertDeployment(q, d);
      });
    } catch (err) {
      rethrowWrite(err, violation(err), 'deployment', d.id, { code: 'MODELD_ERR_MODEL_NOT_FOUND', message: `model ${d.modelId} does not exist` });
    }
  }

  async #insertDeployment(q: Queryable, d: DeploymentRecord): Promise<void> {
    await q.query(
      `INSERT INTO deployments (id, customer_id, model_id, region, min_replicas, max_replicas, config, state, generation, status,
         deployed_at, created_by, created_at, updated_at, last_used_at, deletion_requested_at, autoscaling)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10::jsonb, $11, $12, $13, $14, $15, $16, $17::jsonb)`,
      [
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
      ],
    );
  }

  async getDeployment(customerId: string, id: string): Promise<DeploymentRecord | null> {
    const r = await this.#one('SELECT * FROM deployments WHERE id = $1 AND customer_id = $2', [id, customerId]);
    return r && deploymentFromRow(r, decodeJson);
  }

  async getDeploymentById(id: string): Promise<DeploymentRecord | null> {
    const r = await this.#one('SELECT * FROM deployments WHERE id = $1', [id]);
    return r && deploymentFromRow(r, decodeJson);
  }

  async listDeployments(customerId: string): Promise<DeploymentRecord[]> {
    return (await this.#all('SELECT * FROM deployments WHERE customer_id = $1 ORDER BY created_at, seq', [customerId])).map((r) =>
      deploymentFromRow(r, decodeJson),
    );
  }

  async listDeploymentsByModel(modelId: string): Promise<DeploymentRecord[]> {
    return (await this.#all('SELECT * FROM deployments WHERE model_id = $1 ORDER BY created_at, seq', [modelId])).map((r) =>
      deploymentFromRow(r, decodeJson),
    );
  }

  async listAllDeploymentIds(): Promise<string[]> {
    return (await this.#all('SELECT id FROM deployments ORDER BY created_at, seq')).map((r) => r.id as string);
  }

  async updateDeploymentSpec(id: string, patch: DeploymentSpecPatch, updatedAt: string, quota: Pick<QuotaLimits, 'replicas'> = {}): Promise<DeploymentRecord | null> {
    const set = assignments(DEPLOYMENT_SPEC_PATCH_COLUMNS, patch, encodeJson);
    const n = set.length;
    const sql = `UPDATE deployments SET ${[...setClause(set, 1), 'generation = generation + 1', `updated_at = $${n + 1}`].join(', ')}
      WHERE id = $${n + 2} AND deletion_requested_at IS NULL RETURNING *`;
    const params = [...set.map((a) => a.value), updatedAt, id];
    try {
      let r: Row | null;
      const raising = quota.replicas !== undefined && patch.maxReplicas !== undefined;
      const owner = raising ? await this.#one('SELECT customer_id FROM deployments WHERE id = $1', [id]) : null;
      if (owner) {
        const customerId = owner.customer_id as string;
        r = await this.#transaction(customerId, async (q) => {
          // Under the customer's lock: no other quota-checked write of this customer runs until commit.
          const current = await this.#one('SELECT max_replicas FROM deployments WHERE id = $1 AND deletion_requested_at IS NULL', [id], q);
          const more = current ? patch.maxReplicas! - Number(current.max_replicas) : 0;
          // Only a raise is checked: lowering is always allowed, also above a quota lowered since.
          if (more > 0) await this.#checkQuota(q, customerId, quota, { replicas: more });
          return this.#one(sql, params, q);
        });
      } else {
        r = await this.#one(sql, params);
      }
      return r && deploymentFromRow(r, decodeJson);
    } catch (err) {
      rethrowWrite(err, violation(err), 'deployment', id, { code: 'MODELD_ERR_MODEL_NOT_FOUND', message: `model ${String(patch.modelId)} does not exist` });
    }
  }

  async requestDeploymentDeletion(id: string, at: string): Promise<DeploymentRecord | null> {
    // Racing requests: the loser's UPDATE waits for the winner's commit, then matches nothing;
    // its SELECT (a new snapshot) returns the winner's record, so generation moves once.
    const r =
      (await this.#one(
        `UPDATE deployments SET deletion_requested_at = $1, state = 'DELETING', generation = generation + 1, updated_at = $1
         WHERE id = $2 AND deletion_requested_at IS NULL RETURNING *`,
        [at, id],
      )) ?? (await this.#one('SELECT * FROM deployments WHERE id = $1', [id]));
    return r && deploymentFromRow(r, decodeJson);
  }

  async writeDeploymentStatus(id: string, write: StatusWrite, expect: { generation: number; deleting: boolean }, updatedAt: string): Promise<boolean> {
    const result = await this.#pool.query(
      `UPDATE deployments SET state = $1, status = $2::jsonb, updated_at = $3
       WHERE id = $4 AND generation = $5 AND (deletion_requested_at IS NOT NULL) = $6`,
      [write.state, encodeJson('status', write.status), updatedAt, id, expect.generation, expect.deleting],
    );
    return result.rowCount === 1;
  }

  async deleteDeployment(id: string): Promise<void> {
    await this.#pool.query('DELETE FROM deployments WHERE id = $1', [id]);
  }

  async touchDeployment(id: string, at: string): Promise<void> {
    checkInstant('at', at);
    await this.#pool.query(
      `UPDATE deployments SET last_used_at = $1::text
       WHERE id = $2 AND (last_used_at IS NULL OR last_used_at::timestamptz < $3::timestamptz)`,
      [at, id, at],
    );
  }

  // Events

  async appendEvent(e: NewEvent): Promise<EventRecord> {
    // Identity values are handed out before commit, so two inserts for one object could commit
    // out of id order and a reader paging by afterId would skip one. The transaction-scoped
    // advisory lock on the object serializes its inserts from id assignment to commit.
    const r = await this.#one(
      `WITH object_lock AS (SELECT pg_advisory_xact_lock(hashtextextended($1::text || ':' || $2::text, 0)))
       INSERT INTO events (object_kind, object_id, customer_id, type, reason, message, data, at)
       SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::jsonb, $8::text FROM object_lock
       RETURNING *`,
      [e.objectKind, e.objectId, e.customerId, e.type, e.reason, e.message, encodeJson('data', e.data), e.at],
    );
    return eventFromRow(r as Row, decodeJson);
  }

  async listEvents(objectKind: EventRecord['objectKind'], objectId: string, options?: { afterId?: number; limit?: number }): Promise<EventRecord[]> {
    const { afterId, limit } = eventPage(options);
    return (
      await this.#all('SELECT * FROM events WHERE object_kind = $1 AND object_id = $2 AND id > $3 ORDER BY id LIMIT $4', [objectKind, objectId, afterId, limit])
    ).map((r) => eventFromRow(r, decodeJson));
  }

  // Training jobs

  async createTrainingJob(j: TrainingJobRecord): Promise<void> {
    try {
      await this.#insertTrainingJob(this.#pool, j);
    } catch (err) {
      rethrowWrite(err, violation(err), 'training job', j.id, { code: 'MODELD_ERR_MODEL_NOT_FOUND', message: `model ${j.modelId} does not exist` });
    }
  }

  async #insertTrainingJob(q: Queryable, j: TrainingJobRecord): Promise<void> {
    await q.query(
      `INSERT INTO training_jobs (id, model_id, customer_id, state, progress, checkpoint, attempts, error, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10)`,
      [j.id, j.modelId, j.customerId, j.state, encodeJson('progress', j.progress), j.checkpoint, j.attempts, j.error, j.createdAt, j.updatedAt],
    );
  }

  async getTrainingJob(id: string): Promise<TrainingJobRecord | null> {
    const r = await this.#one('SELECT * FROM training_jobs WHERE id = $1', [id]);
    return r && trainingJobFromRow(r, decodeJson);
  }

  async getTrainingJobByModel(modelId: string): Promise<TrainingJobRecord | null> {
    const r = await this.#one('SELECT * FROM training_jobs WHERE model_id = $1 ORDER BY created_at DESC, seq DESC LIMIT 1', [modelId]);
    return r && trainingJobFromRow(r, decodeJson);
  }

  async listTrainingJobs(states: TrainingJobRecord['state'][]): Promise<TrainingJobRecord[]> {
    return (await this.#all('SELECT * FROM training_jobs WHERE state = ANY($1::text[]) ORDER BY created_at, seq', [states])).map((r) =>
      trainingJobFromRow(r, decodeJson),
    );
  }

  async updateTrainingJob(id: string, patch: TrainingJobPatch, updatedAt: string): Promise<TrainingJobRecord | null> {
    const set = assignments(TRAINING_JOB_PATCH_COLUMNS, patch, encodeJson);
    const n = set.length;
    const sql = `UPDATE training_jobs SET ${[...setClause(set, 1), `updated_at = $${n + 1}`].join(', ')} WHERE id = $${n + 2} RETURNING *`;
    const r = await this.#one(sql, [...set.map((a) => a.value), updatedAt, id]);
    return r && trainingJobFromRow(r, decodeJson);
  }

  // Async chunking jobs

  async createChunkingJob(j: ChunkingJobRecord): Promise<void> {
    try {
      await this.#pool.query(
        `INSERT INTO chunking_jobs (id, customer_id, chunker, model_id, request, status, result, error, created_at, updated_at, expires_at)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb, $8, $9, $10, $11)`,
        [j.id, j.customerId, j.chunker, j.modelId, encodeJson('request', j.request), j.status, encodeJson('result', j.result), j.error, j.createdAt, j.updatedAt, j.expiresAt],
      );
    } catch (err) {
      rethrowWrite(err, violation(err), 'chunking job', j.id);
    }
  }

  async getChunkingJob(customerId: string, id: string): Promise<ChunkingJobRecord | null> {
    const r = await this.#one('SELECT * FROM chunking_jobs WHERE id = $1 AND customer_id = $2', [id, customerId]);
    return r && chunkingJobFromRow(r, decodeJson);
  }

  async listChunkingJobs(statuses: ChunkingJobRecord['status'][]): Promise<ChunkingJobRecord[]> {
    return (await this.#all('SELECT * FROM chunking_jobs WHERE status = ANY($1::text[]) ORDER BY created_at, id', [statuses])).map((r) => chunkingJobFromRow(r, decodeJson));
  }

  async updateChunkingJob(id: string, patch: ChunkingJobPatch, updatedAt: string): Promise<ChunkingJobRecord | null> {
    const set = assignments(CHUNKING_JOB_PATCH_COLUMNS, patch, encodeJson);
    const n = set.length;
    const sql = `UPDATE chunking_jobs SET ${[...setClause(set, 1), `updated_at = $${n + 1}`].join(', ')} WHERE id = $${n + 2} RETURNING *`;
    const r = await this.#one(sql, [...set.map((a) => a.value), updatedAt, id]);
    return r && chunkingJobFromRow(r, decodeJson);
  }

  async deleteExpiredChunkingJobs(now: string): Promise<number> {
    return (await this.#pool.query('DELETE FROM chunking_jobs WHERE expires_at <= $1', [now])).rowCount ?? 0;
  }

  // Quotas

  async quotaUsage(customerId: string): Promise<StoredQuotaUsage> {
    return this.#usage(this.#pool, customerId);
  }

  async getQuotaOverrides(customerId: string): Promise<QuotaOverrides | null> {
    const r = await this.#one('SELECT quotas FROM customer_quotas WHERE customer_id = $1', [customerId]);
    return r && (decodeJson(r.quotas) as QuotaOverrides);
  }

  async setQuotaOverrides(customerId: string, overrides: QuotaOverrides | null, at: string): Promise<void> {
    if (overrides === null || Object.keys(overrides).length === 0) {
      if (!(await this.#one('SELECT 1 FROM customers WHERE id = $1', [customerId]))) throw customerNotFound(customerId);
      await this.#pool.query('DELETE FROM customer_quotas WHERE customer_id = $1', [customerId]);
      return;
    }
    try {
      await this.#pool.query(
        `INSERT INTO customer_quotas (customer_id, quotas, updated_at) VALUES ($1, $2::jsonb, $3)
         ON CONFLICT (customer_id) DO UPDATE SET quotas = excluded.quotas, updated_at = excluded.updated_at`,
        [customerId, encodeJson('quotas', overrides), at],
      );
    } catch (err) {
      if (violation(err) === 'foreign-key') throw customerNotFound(customerId, err);
      throw err;
    }
  }

  // Cluster: several instances on this database (src/cluster).

  /**
   * One statement: the row lock of the upsert serializes two instances asking at once, and the
   * second re-checks the WHERE on the first's row (held, not expired: nothing changes). Time is
   * the database server's, so instances on hosts with different clocks agree on expiry.
   */
  async acquireLease(name: string, holder: string, ttlMs: number): Promise<LeaseState> {
    const r =
      (await this.#one(
        `WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms)
         INSERT INTO leases (name, holder, epoch, expires_at) SELECT $1, $2, 1, ms + $3 FROM clock
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
           epoch = CASE WHEN leases.holder = excluded.holder THEN leases.epoch ELSE leases.epoch + 1 END,
           expires_at = excluded.expires_at
         WHERE leases.holder = excluded.holder OR leases.expires_at <= (SELECT ms FROM clock)
         RETURNING *`,
        [name, holder, ttlMs],
      )) ?? (await this.#one('SELECT * FROM leases WHERE name = $1', [name]))!;
    return leaseFromRow(r, holder);
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.#pool.query(`UPDATE leases SET holder = '', expires_at = 0 WHERE name = $1 AND holder = $2`, [name, holder]);
  }

  async listSigningKeys(): Promise<StoredSigningKey[]> {
    return (await this.#all('SELECT * FROM signing_keys ORDER BY seq')).map((r) => signingKeyFromRow(r, decodeJson));
  }

  async insertSigningKey(k: StoredSigningKey): Promise<boolean> {
    const result = await this.#pool.query('INSERT INTO signing_keys (seq, kid, created_at, private_jwk) VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT DO NOTHING', [
      k.seq,
      k.kid,
      k.createdAt,
      encodeJson('privateJwk', k.privateJwk),
    ]);
    return result.rowCount === 1;
  }

  async putInstance(i: InstanceRecord): Promise<void> {
    await this.#pool.query(
      `INSERT INTO instances (id, url, started_at, seen_at, load) VALUES ($1, $2, $3, $4, $5::jsonb)
       ON CONFLICT (id) DO UPDATE SET url = excluded.url, started_at = excluded.started_at, seen_at = excluded.seen_at, load = excluded.load`,
      [i.id, i.url, i.startedAt, i.seenAt, encodeJson('load', i.load)],
    );
  }

  async listInstances(): Promise<InstanceRecord[]> {
    return (await this.#all('SELECT * FROM instances ORDER BY started_at, id')).map((r) => instanceFromRow(r, decodeJson));
  }

  async deleteInstance(id: string): Promise<void> {
    await this.#pool.query('DELETE FROM instances WHERE id = $1', [id]);
  }

  async deleteInstancesSeenBefore(before: string): Promise<number> {
    return (await this.#pool.query('DELETE FROM instances WHERE seen_at < $1', [before])).rowCount ?? 0;
  }

  async putServingEndpoints(deploymentId: string, model: unknown, endpoints: unknown[], at: string): Promise<number> {
    const r = (await this.#one(
      `INSERT INTO serving_endpoints (deployment_id, revision, model, endpoints, updated_at) VALUES ($1, 1, $2::jsonb, $3::jsonb, $4)
       ON CONFLICT (deployment_id) DO UPDATE SET revision = serving_endpoints.revision + 1, model = excluded.model,
         endpoints = excluded.endpoints, updated_at = excluded.updated_at
       RETURNING revision`,
      [deploymentId, encodeJson('model', model), encodeJson('endpoints', endpoints), at],
    ))!;
    return Number(r.revision);
  }

  async deleteServingEndpoints(deploymentId: string): Promise<void> {
    await this.#pool.query('DELETE FROM serving_endpoints WHERE deployment_id = $1', [deploymentId]);
  }

  async listServingEndpoints(): Promise<ServingEndpointsRecord[]> {
    return (await this.#all('SELECT * FROM serving_endpoints ORDER BY deployment_id')).map((r) => servingEndpointsFromRow(r, decodeJson));
  }

  /** One statement, one snapshot: the three counts agree with each other. */
  async #usage(q: Queryable, customerId: string): Promise<StoredQuotaUsage> {
    const r = (await this.#one(
      `SELECT (SELECT count(*) FROM deployments WHERE customer_id = $1) AS deployments,
              (SELECT coalesce(sum(max_replicas), 0) FROM deployments WHERE customer_id = $1) AS replicas,
              (SELECT count(*) FROM models WHERE customer_id = $1) AS models,
              (SELECT count(*) FROM training_jobs WHERE customer_id = $1 AND state IN ('QUEUED', 'RUNNING')) AS training_jobs`,
      [customerId],
      q,
    ))!;
    return { deployments: Number(r.deployments), replicas: Number(r.replicas), models: Number(r.models), trainingJobs: Number(r.training_jobs) };
  }

  /** Runs `fn` in a transaction of its own only when some quota is to be checked; else straight on the pool. */
  async #withinQuota<T>(customerId: string, quota: QuotaLimits, fn: (q: Queryable) => Promise<T>): Promise<T> {
    if (Object.values(quota).every((v) => v === undefined)) return fn(this.#pool);
    return this.#transaction(customerId, fn);
  }

  /**
   * `fn` in one READ COMMITTED transaction that first takes the customer's quota lock
   * (QUOTA_LOCK, released at commit or rollback). Every statement after the lock reads a new
   * snapshot, so a count sees every create of this customer committed before the lock was
   * granted: two creates racing for the last slot are serialized and the second is refused.
   */
  async #transaction<T>(customerId: string, fn: (q: Queryable) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [QUOTA_LOCK, customerId]);
      const result = await fn(client);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
        client.release();
      } catch {
        // A connection that cannot even roll back is closed, not reused.
        client.release(true);
      }
      throw err;
    }
  }

  /** Inside the caller's transaction, after the customer's lock: throws the first quota `adding` would pass. */
  async #checkQuota(q: Queryable, customerId: string, quota: QuotaLimits, adding: Partial<StoredQuotaUsage>): Promise<void> {
    if (Object.values(quota).every((v) => v === undefined)) return;
    throwIfOverQuota(await this.#usage(q, customerId), quota, adding);
  }
}
