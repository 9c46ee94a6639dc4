/**
 * A real prediction path for the gateway*.test.ts files: runner processes started through the
 * ProcessRuntime on a real model artifact, a real SQLite store, real RS256 tokens, the real
 * fastify app (buildApp, which registers the prediction and OIP routes over the gateway), and an EndpointRegistry into which
 * the test publishes the ready replicas (the controller's job in the server).
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { buildApp, Metrics, type ModeldApp } from '../../src/api/index.js';
import { TokenService, issuerFor, loadOrCreateKeys } from '../../src/auth/index.js';
import { compileConfig, defaultConfig, type Config } from '../../src/config/index.js';
import {
  newModelRecord,
  DeploymentStates,
  ModelStates,
  Scopes,
  initialStatus,
  isoAt,
  systemClock,
  type DeploymentRecord,
  type DeploymentState,
  type ModelRecord,
  type PretrainedModel,
  type ServingEndpoint,
  type ServingModelInfo,
} from '../../src/domain/index.js';
import { EndpointRegistry, Gateway, createGatewayMetrics, type GatewayMetrics } from '../../src/gateway/index.js';
import { ProcessRuntime } from '../../src/runtimes/index.js';
import type { ObservedReplica } from '../../src/runtimes/types.js';
import { openSqliteStore, type Store } from '../../src/store/index.js';
import { makeModeldArtifact } from '../fixtures/models.js';
import { makeTempDir, type TempDir } from '../fixtures/tmp.js';

export const PRETRAINED_NAME = 'tiny-pretrained';

export interface Cluster {
  app: ModeldApp;
  gateway: Gateway;
  registry: EndpointRegistry;
  metrics: Metrics;
  gatewayMetrics: GatewayMetrics;
  runtime: ProcessRuntime;
  store: Store;
  config: Readonly<Config>;
  artifactDir: string;
  model: ServingModelInfo;
  /** The customer's DEPLOYED deployment served by the replicas. */
  deployment: DeploymentRecord;
  /** The system deployment id the pre-trained name resolves to (same replicas). */
  pretrainedDeploymentId: string;
  replicas: ObservedReplica[];
  customerId: string;
  /** `Bearer <jwt>` for the customer (scope machinelearning.predict unless told). */
  auth(scopes?: string[]): Promise<string>;
  /** Another customer, with its own token and its own deployment. */
  otherCustomer(): Promise<{ customerId: string; auth: string; deployment: DeploymentRecord }>;
  /** A deployment of the customer in `state`, with no replica. */
  seedDeployment(state: DeploymentState): Promise<DeploymentRecord>;
  /** Publishes the replicas still alive under the customer's deployment and the pre-trained one. */
  publish(replicas?: ObservedReplica[]): void;
  close(): Promise<void>;
}

export interface ClusterOptions {
  replicas?: number;
  gateway?: Partial<Config['gateway']>;
  readyWaitMs?: number;
}

async function waitAllReady(runtime: ProcessRuntime, ids: string[], timeoutMs = 60_000): Promise<ObservedReplica[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = await runtime.listReplicas();
    const mine = ids.map((id) => all.find((r) => r.replicaId === id));
    const exited = mine.find((r) => r?.phase === 'exited');
    if (exited) throw new Error(`replica ${exited.replicaId} exited: ${exited.lastError}`);
    if (mine.every((r) => r?.phase === 'ready' && r.endpoint)) return mine as ObservedReplica[];
    if (Date.now() > deadline) throw new Error(`replicas not ready after ${timeoutMs} ms: ${JSON.stringify(mine.map((r) => r?.phase))}`);
    // The runtime has no readiness event to await; its observation is re-derived on each call.
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const tmp: TempDir = await makeTempDir('modeld-gateway-');
  const cleanups: Array<() => Promise<unknown> | unknown> = [() => tmp.cleanup()];
  const close = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const artifactDir = await makeModeldArtifact(path.join(tmp.dir, 'artifact'));
    const config = compileConfig({
      ...defaultConfig(),
      dataDir: tmp.dir,
      gateway: { ...defaultConfig().gateway, ...options.gateway },
    });
    const runtime = new ProcessRuntime({ replicasDir: path.join(tmp.dir, 'replicas'), killGraceMs: 1_000, stopGraceMs: 3_000 });
    await runtime.start();
    cleanups.push(() => runtime.stop({ stopReplicas: true }));

    const store = openSqliteStore(':memory:');
    await store.migrate();
    cleanups.push(() => store.close());
    const keys = await loadOrCreateKeys(path.join(tmp.dir, 'keys'));
    const tokens = new TokenService({ keys, store, auth: config.auth, issuer: issuerFor(config), clock: systemClock });
    const metrics = new Metrics({ processMetrics: false });
    const gatewayMetrics = createGatewayMetrics(metrics.registry);

    const now = isoAt(Date.now());
    const newTenant = async () => {
      const customerId = randomUUID();
      await store.createCustomer({ id: customerId, name: null, createdAt: now });
      const client = { id: randomUUID(), customerId, secretHash: 'unused', scopes: [Scopes.MODEL, Scopes.PREDICT], createdAt: now, disabledAt: null };
      await store.createClient(client);
      return { customerId, auth: async (scopes: string[] = [Scopes.PREDICT]) => `Bearer ${(await tokens.issue(client, scopes)).accessToken}` };
    };
    const seed = async (customerId: string, state: DeploymentState): Promise<DeploymentRecord> => {
      const model = newModelRecord({
        id: randomUUID(),
        customerId,
        name: 'tiny-test-encoder',
        modelType: 'imported',
        vectorSize: 32,
        state: ModelStates.AVAILABLE,
        createdBy: 'test',
        at: now,
      });
      await store.createModel(model);
      const d: DeploymentRecord = {
        id: randomUUID(),
        customerId,
        modelId: model.id,
        region: 'local',
        minReplicas: 1,
        maxReplicas: 2,
        config: {},
        state,
        generation: 1,
        status: initialStatus(2),
        deployedAt: now,
        createdBy: 'test',
        createdAt: now,
        updatedAt: now,
        lastUsedAt: null,
        deletionRequestedAt: null,
      };
      await store.createDeployment(d);
      return d;
    };

    const tenant = await newTenant();
    const deployment = await seed(tenant.customerId, DeploymentStates.DEPLOYED);
    const pretrainedDeploymentId = `system-${randomUUID()}`;
    const registry = new EndpointRegistry();
    const pretrained: PretrainedModel[] = [
      { id: PRETRAINED_NAME, name: PRETRAINED_NAME, modelType: PRETRAINED_NAME, description: 'the tiny test encoder under a fixed name', vectorSize: 32, artifactDir },
    ];
    const gateway = new Gateway({
      config,
      store,
      registry,
      resolvePretrained: async (name) => (name === PRETRAINED_NAME ? pretrainedDeploymentId : null),
      listPretrained: () => pretrained,
      metrics: gatewayMetrics,
      ...(options.readyWaitMs !== undefined ? { readyWaitMs: options.readyWaitMs } : {}),
    });
    cleanups.push(() => gateway.close());
    const quiet = new Writable({ write: (_c, _e, done) => done() });
    const app = await buildApp({
      config,
      store,
      authenticator: tokens,
      tokens,
      controller: { notify: () => {} },
      metrics,
      clock: systemClock,
      logger: pino({ level: 'warn' }, quiet),
      artifacts: {
        importDir: async () => {
          throw new Error('no imports in gateway tests');
        },
        release: async () => {},
      },
      pretrained: { list: async () => [] },
      // buildApp registers the prediction and OIP routes over it, as in the server.
      gateway,
    });
    cleanups.push(() => app.close());

    const ids = Array.from({ length: options.replicas ?? 2 }, (_, i) => `gw-${process.pid}-${Date.now()}-${i}`);
    for (const replicaId of ids) {
      await runtime.createReplica({
        replicaId,
        deploymentId: deployment.id,
        customerId: tenant.customerId,
        generation: 1,
        modelId: deployment.modelId,
        artifactDir,
        config: {},
        intraOpThreads: 1,
      });
    }
    const replicas = await waitAllReady(runtime, ids);
    const model: ServingModelInfo = { modelId: deployment.modelId, name: 'tiny-test-encoder', modelType: 'imported', vectorSize: 32, matryoshkaDims: null };
    const publish = (which: ObservedReplica[] = replicas) => {
      const endpoints: ServingEndpoint[] = which.map((r) => ({ replicaId: r.replicaId, url: r.endpoint!, generation: r.generation }));
      registry.publish(deployment.id, model, endpoints);
      registry.publish(pretrainedDeploymentId, { ...model, modelId: PRETRAINED_NAME, name: PRETRAINED_NAME }, endpoints);
    };
    publish();
    await app.ready();

    return {
      app,
      gateway,
      registry,
      metrics,
      gatewayMetrics,
      runtime,
      store,
      config,
      artifactDir,
      model,
      deployment,
      pretrainedDeploymentId,
      replicas,
      customerId: tenant.customerId,
      auth: tenant.auth,
      otherCustomer: async () => {
        const other = await newTenant();
        return { customerId: other.customerId, auth: await other.auth(), deployment: await seed(other.customerId, DeploymentStates.DEPLOYED) };
      },
      seedDeployment: (state) => seed(tenant.customerId, state),
      publish,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Texts that tokenize differently (distinct vectors), `n` of them. */
export function texts(n: number, prefix = 'query'): string[] {
  const words = ['red', 'running', 'shoes', 'for', 'women', 'blue', 'denim', 'jacket', 'wireless', 'headphones', 'kitchen', 'table', 'garden', 'hose'];
  return Array.from({ length: n }, (_, i) => `${prefix} ${words[i % words.length]} ${words[(i * 5 + 3) % words.length]} ${i}`);
}
