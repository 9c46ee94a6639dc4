/**
 * The composition root: builds every long-lived part once, wires them through constructors and
 * starts them in order (store, keys, catalog, runtimes, gateway, the leader lease, HTTP). The
 * controller and the training job manager run only while this instance holds the lease
 * (src/cluster, docs/cluster.md); alone, it holds it from the start. Nothing else in the code base
 * constructs these parts or reads the environment.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { ChunkingService } from './chunking/index.js';
import { buildApp, engineArtifacts, importFileLimits, Metrics, startMetricsServer, type ReplicaLister } from './api/index.js';
import { ensureAdminClient, issuerFor, loadOrCreateStoredKeys, TokenService } from './auth/index.js';
import { PretrainedCache, PretrainedDeployments, resolveArtifactFor } from './catalog/index.js';
import { ClusterMembers, EndpointFollower, LeaseLeadership, PublishingEndpoints } from './cluster/index.js';
import { dataPaths, loadConfig, type Config, type ConfigFlags } from './config/index.js';
import { Autoscaler, Controller } from './controller/index.js';
import { systemClock, type Clock } from './domain/index.js';
import { ensureShippedPretrained, importArtifact } from './engines/index.js';
import { ModeldError } from './errors/index.js';
import { createGatewayMetrics, EndpointRegistry, Gateway } from './gateway/index.js';
import { ProcessRuntime, type Runtime } from './runtimes/index.js';
import { openStore, type Store } from './store/index.js';
import { TrainingJobManager } from './training/jobs/index.js';
import { logsRequests, resolveLogFormat, startupSummary, terminalLogStream, type LogFormat } from './logging/index.js';

export interface RunningServer {
  /** Base URL the server listens on (`http://127.0.0.1:8080`). */
  url: string;
  /** How the log is written: `text` (a terminal: summary and short lines) or `json`. */
  logFormat: LogFormat;
  /** Base URL of the separate metrics listener (config metrics.listen), when there is one. */
  metricsUrl?: string;
  config: Readonly<Config>;
  logger: Logger;
  /**
   * Stops taking requests, stops the training workers (their jobs resume at the next start), the
   * controller and (by default) every replica of this machine, closes the store. `keepReplicas: true` leaves the replicas running to be adopted by the next
   * start, as after a crash.
   */
  close(options?: { keepReplicas?: boolean }): Promise<void>;
}

export interface RunServerOptions {
  clock?: Clock;
  /**
   * Where logs go (default stdout). With config logFormat `auto` (the default), its `isTTY`
   * decides: a terminal gets the start-up summary and short text lines, anything else JSON lines.
   */
  logDestination?: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * Starts modeld: loads the config (file, env, flags), prepares the data directory, opens and
 * migrates the store, installs the shipped pre-trained model, asks for the leader lease (the
 * leader starts the runtimes, which adopt replicas that survived a previous server, the
 * controller and the training jobs, and creates the admin client on first start, its credentials
 * written to `<dataDir>/admin-credentials.json`; a follower serves the endpoints the leader
 * publishes), and listens.
 * Once listening it logs `modeld listening on <url>` (JSON), or on a terminal writes the start-up
 * summary (URL, docs, data dir, credentials file, regions; logging/terminal.ts).
 * Rejects with a ModeldError when the config is invalid or a port is taken.
 */
export async function runServer(flags: ConfigFlags = {}, options: RunServerOptions = {}): Promise<RunningServer> {
  const config = loadConfig(flags);
  const clock = options.clock ?? systemClock;
  const destination = options.logDestination ?? process.stdout;
  const logFormat = resolveLogFormat(config.logFormat, destination.isTTY === true);
  const logger = pino(
    {
      level: config.logLevel,
      base: { service: 'modeld' },
      redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.clientSecret', 'clientSecret'], censor: '[redacted]' },
      serializers: { req: serializeRequest },
    },
    logFormat === 'text' ? terminalLogStream(destination) : destination,
  );
  const paths = dataPaths(config);
  // Everything under the data directory (SQLite and its WAL, keys, artifacts, uploads, replica
  // directories, logs and sockets, training jobs) is this user's alone: files 0600, directories
  // 0700, whoever creates them (replicas and training workers inherit the mask).
  process.umask(0o077);
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await chmod(config.dataDir, 0o700);
  for (const dir of [paths.artifacts, paths.models, paths.replicas, paths.uploads, paths.training]) await mkdir(dir, { recursive: true });

  const store = openStore(config);
  const stack: Array<() => Promise<void>> = [() => store.close()];
  const unwind = async () => {
    for (const step of stack.reverse()) await step().catch((err: unknown) => logger.error({ err }, 'shutdown step failed'));
  };
  try {
    await store.migrate();

    // In the store, so that every instance sharing it signs and verifies alike; key files of an
    // earlier modeld are imported once.
    const keys = await loadOrCreateStoredKeys(store, { importDir: paths.keys, clock });
    const tokens = new TokenService({ keys, store, auth: config.auth, issuer: issuerFor(config), clock });

    await ensureShippedPretrained(paths.models);
    const pretrained = new PretrainedCache(paths.models, clock);
    const listing = await pretrained.refresh();
    for (const skipped of listing.skipped) logger.warn({ model: skipped.id, reason: skipped.reason }, 'pre-trained model folder skipped');

    const metrics = new Metrics();
    const registry = new EndpointRegistry({ clock });
    // Several instances may share the store (docs/cluster.md): the leader's controller publishes
    // to this gateway and to the store, and the followers' gateways follow what it published.
    const instanceId = config.cluster.instanceId ?? `${os.hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
    const clusterLog = logger.child({ part: 'cluster', instanceId });
    const publishing = new PublishingEndpoints({ local: registry, store, clock, logger: clusterLog });
    const follower = new EndpointFollower({ store, local: registry, intervalMs: config.cluster.syncIntervalMs, logger: clusterLog });
    let leadership: LeaseLeadership | undefined;
    const members = new ClusterMembers({
      store,
      instanceId,
      local: registry,
      heartbeatMs: config.cluster.syncIntervalMs,
      isLeader: () => leadership?.isLeader ?? false,
      clock,
      logger: clusterLog,
    });
    const runtimes = await buildRuntimes(config, paths, logger, (artifact, ttlSeconds) => tokens.issueArtifactToken(artifact, ttlSeconds));
    const controller = new Controller({
      store,
      runtimes: (region) => runtimes.get(region),
      regions: [...runtimes.keys()],
      resolveArtifact: resolveArtifactFor({ store, artifactsRoot: paths.artifacts, pretrained }),
      endpoints: publishing,
      load: members,
      autoscaler: new Autoscaler({ clock, settings: config.autoscale }).decide,
      settings: config.controller,
      clock,
      logger: logger.child({ part: 'controller' }),
      intraOpThreads: config.runner.intraOpThreads,
      metrics,
    });

    // Training jobs: picked up again from the store (QUEUED and RUNNING ones resume from their checkpoints) by the leader.
    const training = new TrainingJobManager({
      store,
      clock,
      trainingDir: paths.training,
      modelsDir: paths.models,
      dataRoots: config.training.dataRoots,
      concurrency: config.training.concurrency,
      rescanIntervalMs: config.cluster.renewIntervalMs,
      importArtifact: async (dir, meta) => {
        const imported = await importArtifact(dir, paths.artifacts, meta);
        return { artifactId: imported.artifactId, vectorSize: imported.vectorSize };
      },
      logger: logger.child({ part: 'training' }),
      metrics,
    });

    const systemDeployments = new PretrainedDeployments({ store, pretrained, controller, clock, region: defaultRegion(config) });
    const gateway = new Gateway({
      config,
      store,
      registry,
      resolvePretrained: (name) => systemDeployments.ensure(name),
      listPretrained: () => pretrained.list(),
      metrics: createGatewayMetrics(metrics.registry),
      clock,
      onBackgroundError: (err) => logger.warn({ err }, 'background write failed'),
    });

    // Async chunking jobs: those SUBMITTED or RUNNING when the last server stopped start again from the beginning.
    const chunking = new ChunkingService({
      config,
      store,
      clock,
      embed: (customerId, modelId, body) => gateway.embed(customerId, modelId, body),
      logger: logger.child({ part: 'chunking' }),
    });
    stack.push(() => chunking.stop());
    await chunking.start({ resume: false });

    // Exactly one instance runs the controller and the training jobs: the lease holder. One
    // instance alone leads from its first attempt, before it serves.
    let closing = false;
    leadership = new LeaseLeadership({
      store,
      instanceId,
      ttlMs: config.cluster.leaseTtlMs,
      renewIntervalMs: config.cluster.renewIntervalMs,
      logger: clusterLog,
      lead: async () => {
        await follower.stop();
        publishing.reset();
        await controller.start();
        await training.start();
        await chunking.resume();
      },
      follow: async () => {
        // A leader that lost its lease stops at once: its training workers are killed (they
        // resume from their checkpoints on the new leader), its controller stops taking work.
        await training.stop(closing ? {} : { graceMs: 0 });
        await controller.stop();
        if (!closing) await follower.start();
      },
    });
    stack.push(async () => {
      closing = true;
      await leadership?.stop();
      await follower.stop();
    });
    await leadership.start();
    if (!config.publicUrl && config.store.kind === 'postgres') {
      clusterLog.info({}, 'cluster: no publicUrl set; with several instances set it (MODELD_PUBLIC_URL) to the URL clients use, so that every instance issues and accepts the same tokens');
    }
    if (leadership.isLeader) {
      const admin = await ensureAdminClient(store, paths, clock);
      if (admin.created) logger.info({ file: admin.file }, `first start: admin client credentials written to ${admin.file} (mode 0600)`);
    }

    const app = await buildApp({
      config,
      store,
      authenticator: tokens,
      tokens,
      controller,
      metrics,
      clock,
      logger: logger.child({ part: 'api' }),
      logRequests: logsRequests(logFormat, config.logLevel),
      artifacts: engineArtifacts({ store, artifactsRoot: paths.artifacts, limits: importFileLimits(config) }),
      pretrained,
      gateway,
      training,
      artifactRoots: { artifacts: paths.artifacts, models: paths.models },
      chunking,
      replicas: replicaLister(runtimes, registry, () => leadership?.isLeader ?? false),
      cluster: { instanceId, leader: () => leadership?.holder ?? null, heartbeatMs: config.cluster.syncIntervalMs },
    });
    stack.push(async () => {
      await app.close();
    });
    try {
      await app.listen({ port: config.port, host: config.host });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Said with what to do: the first thing a second `npm start` meets.
      const hint =
        code === 'EADDRINUSE'
          ? ' (the port is taken, perhaps by another modeld: stop it, or choose another port with --port or MODELD_PORT)'
          : code === 'EADDRNOTAVAIL'
            ? ' (no interface of this machine has that address: check --host or MODELD_HOST)'
            : '';
      throw new ModeldError('MODELD_ERR_UNAVAILABLE', `cannot listen on ${config.host}:${config.port}: ${code ?? (err as Error).message}${hint}`, { cause: err });
    }
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    stack.push(() => members.stop());
    await members.start(url);
    if (logFormat === 'text' && config.logLevel !== 'silent') {
      destination.write(
        startupSummary({
          url,
          dataDir: config.dataDir,
          store: config.store.kind,
          sqliteFile: config.store.sqliteFile,
          adminCredentialsFile: paths.adminCredentials,
          regions: Object.fromEntries(Object.entries(config.regions).map(([name, r]) => [name, r.runtime])),
          logLevel: config.logLevel,
        }),
      );
    } else {
      logger.info({ url, dataDir: config.dataDir, store: config.store.kind, regions: Object.keys(config.regions) }, `modeld listening on ${url}`);
    }
    const metricsServer = config.metrics.listen ? await startMetricsServer(metrics, config.metrics.listen) : null;
    if (metricsServer) {
      stack.push(() => metricsServer.close());
      logger.info({ metricsUrl: metricsServer.url }, `metrics served without a token on ${metricsServer.url}/metrics`);
    }

    let closed: Promise<void> | null = null;
    return {
      url,
      ...(metricsServer && { metricsUrl: metricsServer.url }),
      logFormat,
      config,
      logger,
      close(closeOptions = {}) {
        closed ??= (async () => {
          // Order: stop taking requests, stop reconciling, then the replicas, then the store.
          await app.close();
          await metricsServer?.close();
          await chunking.stop();
          await gateway.close();
          // Steps down (workers stop after their current step, their jobs stay RUNNING and resume
          // on the next leader; the controller stops) and releases the lease for another instance.
          closing = true;
          const wasLeader = leadership?.isLeader ?? false;
          await leadership?.stop();
          await follower.stop();
          await publishing.flush();
          const others = members.liveOthers().length;
          await members.stop();
          // Replicas on this machine stop with the server, unless another instance sharing the
          // store goes on (it adopts them); pods of a Kubernetes region outlive it (a rollout of
          // modeld itself must not take every deployment down): the next start adopts them.
          const stopReplicas = wasLeader && others === 0 && !closeOptions.keepReplicas;
          for (const runtime of runtimes.values()) await runtime.stop({ stopReplicas: runtime.kind === 'process' && stopReplicas });
          await store.close();
          logger.info('modeld stopped');
        })();
        return closed;
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/**
 * Request lines name method, URL and peer, never headers; values of query parameters that may
 * carry a secret (a client sending `client_secret` in the query string is refused, but its URL
 * would still be logged) are replaced.
 */
function serializeRequest(req: { method?: string; url?: string; socket?: { remoteAddress?: string } }): Record<string, unknown> {
  return { method: req.method, url: redactQuery(req.url ?? ''), remoteAddress: req.socket?.remoteAddress };
}

const SECRET_PARAMS = /([?&](?:client_secret|access_token|token|password)=)[^&#]*/gi;

export function redactQuery(url: string): string {
  return url.replace(SECRET_PARAMS, '$1[redacted]');
}

/**
 * One runtime per configured region. Process regions keep their replicas in a folder of their
 * own; Kubernetes regions make pods that fetch their artifact from this server with artifact tokens.
 */
async function buildRuntimes(
  config: Readonly<Config>,
  paths: ReturnType<typeof dataPaths>,
  logger: Logger,
  artifactToken: (artifact: string, ttlSeconds: number) => Promise<string>,
): Promise<Map<string, Runtime>> {
  const runtimes = new Map<string, Runtime>();
  const runner = { batchWaitMs: config.runner.batchWaitMs, maxBatchItems: config.runner.maxBatchItems };
  for (const [region, spec] of Object.entries(config.regions)) {
    const log = logger.child({ part: 'runtime', region });
    if (spec.runtime === 'process') {
      runtimes.set(
        region,
        new ProcessRuntime({
          replicasDir: path.join(paths.replicas, region),
          runner: { ...runner, orphanTimeoutMs: config.runner.orphanTimeoutMs },
          logger: log,
        }),
      );
    } else {
      const { runtime: _kind, ...settings } = spec;
      // Loaded only when a region needs it: @kubernetes/client-node costs start-up time.
      const { KubernetesRuntime } = await import('./runtimes/kubernetes/index.js');
      runtimes.set(
        region,
        new KubernetesRuntime({
          ...settings,
          region,
          runner,
          artifactRoots: { artifacts: paths.artifacts, models: paths.models },
          artifactToken,
          logger: log,
        }),
      );
    }
  }
  return runtimes;
}

/**
 * The console's replicas table (GET .../deployments/{id}/replicas): on the leader, what every
 * region's runtime observes of the deployment, joined by replica id with this gateway's endpoint
 * (in flight, served). A follower does not touch the runtimes (a Kubernetes runtime that starts
 * claims pods, which only the leader may do): it lists the ready replicas the leader published,
 * with its own gateway's counts.
 */
function replicaLister(runtimes: Map<string, Runtime>, registry: EndpointRegistry, isLeader: () => boolean): ReplicaLister {
  return async (deploymentId) => {
    const published = registry.get(deploymentId)?.endpoints ?? [];
    if (!isLeader()) {
      return published.map((e) => ({
        replicaId: e.replicaId,
        generation: e.generation,
        phase: 'ready',
        pid: null,
        pod: null,
        startedAt: null,
        readyAt: null,
        exitCode: null,
        inflight: e.inflight,
        served: e.served,
        routed: !e.failed,
        lastError: null,
        waitingReason: null,
      }));
    }
    const endpoints = new Map(published.map((e) => [e.replicaId, e]));
    const observed = (await Promise.all([...runtimes.values()].map((r) => r.listReplicas(deploymentId)))).flat();
    return observed.map((r) => {
      const e = endpoints.get(r.replicaId);
      return {
        replicaId: r.replicaId,
        generation: r.generation,
        phase: r.phase,
        pid: r.pid,
        pod: r.podName ?? null,
        startedAt: r.startedAt,
        readyAt: r.readyAt,
        exitCode: r.exitCode,
        inflight: e?.inflight ?? 0,
        served: e?.served ?? 0,
        routed: e !== undefined && !e.failed,
        lastError: r.lastError,
        waitingReason: r.waitingReason ?? null,
      };
    });
  };
}

/** Pre-trained models are served from the first region that runs on this machine. */
function defaultRegion(config: Readonly<Config>): string {
  const local = Object.entries(config.regions).find(([, r]) => r.runtime === 'process');
  return (local ?? Object.entries(config.regions)[0]!)[0];
}

export type { Store };
