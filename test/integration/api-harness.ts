import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { buildApp, Metrics, type AppDeps, type ModeldApp, type ModelArtifacts, type PretrainedCatalog } from '../../src/api/index.js';
import { TokenService, issuerFor, loadOrCreateKeys } from '../../src/auth/index.js';
import { compileConfig, defaultConfig, type Config } from '../../src/config/index.js';
import {
  newDeploymentRecord,
  newModelRecord,
  ModelStates,
  Scopes,
  isoAt,
  systemClock,
  type Clock,
  type DeploymentRecord,
  type ModelRecord,
} from '../../src/domain/index.js';
import type { Gateway } from '../../src/gateway/index.js';
import { importArtifact } from '../../src/engines/index.js';
import { openSqliteStore, type Store } from '../../src/store/index.js';
import { TrainingJobManager, type TrainingJobManagerOptions } from '../../src/training/jobs/index.js';
import { makeTempDir, type TempDir } from '../fixtures/tmp.js';

/**
 * A real API over a real SQLite store (in memory) and real RS256 tokens from auth/'s
 * TokenService, for the api-*.test.ts files. Each harness owns a temp dir (keys, artifacts)
 * and removes it on close().
 */
export interface ApiHarness {
  app: ModeldApp;
  store: Store;
  config: Readonly<Config>;
  metrics: Metrics;
  /** The harness's token service (signs customer and artifact tokens). */
  tokens: TokenService;
  tmp: TempDir;
  /** The real training job layer, when the harness was started with `training`. */
  training?: TrainingJobManager;
  /** Every log line the app wrote, parsed. */
  logs: Record<string, unknown>[];
  /** A new customer with one client; `token()` signs a bearer token for it. */
  tenant(): Promise<Tenant>;
  close(): Promise<void>;
}

export interface Tenant {
  customerId: string;
  clientId: string;
  /** `Bearer <jwt>` with the given scopes (default: machinelearning.model). */
  auth(scopes?: string[]): Promise<string>;
}

export interface HarnessOptions {
  /** Merged over the defaults before compiling (dataDir is the harness temp dir). */
  config?: Partial<Record<keyof Config, unknown>>;
  /** The artifact port; default: one that refuses every import (for tests that never import). */
  artifacts?: (config: Readonly<Config>, store: Store) => ModelArtifacts;
  pretrained?: (config: Readonly<Config>) => PretrainedCatalog;
  /** The controller told about deployment writes; built on the harness's store (default: one that ignores them). */
  controller?: (store: Store, metrics: Metrics) => AppDeps['controller'];
  /** The API's clock (timestamps it writes); tokens always use the system clock. Default: system clock. */
  clock?: Clock;
  /** A prediction gateway to serve the /ai and /v2 routes with; closed by close(). */
  gateway?: (config: Readonly<Config>, store: Store) => Gateway;
  /**
   * Runs the real training job layer (worker processes, imports into `<dataDir>/artifacts`) with
   * these overrides; started before the app, stopped by close().
   */
  training?: Partial<TrainingJobManagerOptions>;
  /** Serve the internal artifact endpoint (replica pods) from these folders. */
  artifactRoots?: AppDeps['artifactRoots'];
}

/** The artifact port of a harness whose tests never import: any call is a failed test. */
const noImports: ModelArtifacts = {
  importDir: async () => {
    throw new Error('this harness does not import artifacts');
  },
  release: async () => {},
};

export async function startApi(options: HarnessOptions = {}): Promise<ApiHarness> {
  const tmp = await makeTempDir('modeld-api-');
  const config = compileConfig({ ...defaultConfig(), dataDir: tmp.dir, logLevel: 'info', ...options.config });
  const store = openSqliteStore(':memory:');
  await store.migrate();
  const keys = await loadOrCreateKeys(path.join(tmp.dir, 'keys'));
  const tokens = new TokenService({ keys, store, auth: config.auth, issuer: issuerFor(config), clock: systemClock });
  const metrics = new Metrics({ processMetrics: false });
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const gateway = options.gateway?.(config, store);
  const training = options.training
    ? new TrainingJobManager({
        store,
        clock: options.clock ?? systemClock,
        trainingDir: path.join(config.dataDir, 'training'),
        dataRoots: config.training.dataRoots,
        concurrency: config.training.concurrency,
        importArtifact: async (dir, meta) => {
          const imported = await importArtifact(dir, path.join(config.dataDir, 'artifacts'), meta);
          return { artifactId: imported.artifactId, vectorSize: imported.vectorSize };
        },
        metrics,
        ...options.training,
      })
    : undefined;
  await training?.start();
  const app = await buildApp({
    config,
    store,
    authenticator: tokens,
    tokens,
    controller: options.controller ? options.controller(store, metrics) : { notify: () => {} },
    metrics,
    clock: options.clock ?? systemClock,
    logger: pino({ level: 'info' }, sink),
    artifacts: options.artifacts ? options.artifacts(config, store) : noImports,
    pretrained: options.pretrained ? options.pretrained(config) : { list: async () => [] },
    ...(gateway && { gateway }),
    ...(training && { training }),
    ...(options.artifactRoots && { artifactRoots: options.artifactRoots }),
  });

  async function tenant(): Promise<Tenant> {
    const customerId = randomUUID();
    const clientId = randomUUID();
    const now = isoAt(Date.now());
    await store.createCustomer({ id: customerId, name: null, createdAt: now });
    const client = { id: clientId, customerId, secretHash: 'unused-in-these-tests', scopes: [Scopes.MODEL, Scopes.PREDICT], createdAt: now, disabledAt: null };
    await store.createClient(client);
    return {
      customerId,
      clientId,
      auth: async (scopes = [Scopes.MODEL]) => `Bearer ${(await tokens.issue(client, scopes)).accessToken}`,
    };
  }

  return {
    app,
    store,
    config,
    metrics,
    tokens,
    tmp,
    ...(training && { training }),
    logs,
    tenant,
    close: async () => {
      await app.close();
      await training?.stop();
      await gateway?.close();
      await store.close();
      await tmp.cleanup();
    },
  };
}

/** Stores an AVAILABLE (or other state) custom model for `customerId`, as an import would leave it. */
export async function seedModel(store: Store, customerId: string, overrides: Partial<ModelRecord> = {}): Promise<ModelRecord> {
  const now = isoAt(Date.now());
  const model = newModelRecord({
    id: randomUUID(),
    customerId,
    name: 'seeded',
    modelType: 'imported',
    vectorSize: 8,
    state: ModelStates.AVAILABLE,
    createdBy: 'seed',
    at: now,
    ...overrides,
  });
  await store.createModel(model);
  return model;
}

/** Stores a deployment record as D2 would have written it. */
export async function seedDeployment(store: Store, model: ModelRecord, overrides: Partial<DeploymentRecord> = {}): Promise<DeploymentRecord> {
  const now = isoAt(Date.now());
  const d: DeploymentRecord = {
    ...newDeploymentRecord({ id: randomUUID(), customerId: model.customerId, modelId: model.id, region: 'local', minReplicas: 1, maxReplicas: 1, config: {}, createdBy: 'seed', at: now }),
    ...overrides,
  };
  await store.createDeployment(d);
  return d;
}

/** Everything the store holds for a customer, to compare before and after a refused request. */
export async function snapshot(store: Store, customerId: string): Promise<string> {
  const models = await store.listModels(customerId);
  const deployments = await store.listDeployments(customerId);
  const events = await Promise.all(
    [...models.map((m) => ['model', m.id] as const), ...deployments.map((d) => ['deployment', d.id] as const)].map(([k, id]) => store.listEvents(k, id)),
  );
  return JSON.stringify({ models, deployments, events });
}

/**
 * Uploads the files `files` (paths relative to `from`) into the tenant's upload folder `folder`
 * through the API, as a client importing a model does. Returns the folder's `file://` URI.
 */
export async function uploadFolder(h: ApiHarness, tenant: Tenant, folder: string, from: string, files: readonly string[]): Promise<string> {
  let folderUri = '';
  for (const rel of files) {
    const res = await h.app.inject({
      method: 'PUT',
      url: `/customers/${tenant.customerId}/ai/uploads/${folder}/${rel}`,
      headers: { authorization: await tenant.auth(), 'content-type': 'application/octet-stream' },
      payload: await readFile(path.join(from, rel)),
    });
    if (res.statusCode !== 200) throw new Error(`upload of ${folder}/${rel}: ${res.statusCode} ${res.body}`);
    folderUri = (JSON.parse(res.body) as { folderUri: string }).folderUri;
  }
  return folderUri;
}
