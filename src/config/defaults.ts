import type { Config } from './schema.js';

/** Defaults: one machine, SQLite, region `local` on child processes. */
export function defaultConfig(): Config {
  return {
    host: '127.0.0.1',
    port: 8080,
    dataDir: './data',
    logLevel: 'info',
    logFormat: 'auto',
    store: { kind: 'sqlite', sqliteFile: 'modeld.sqlite' },
    regions: { local: { runtime: 'process' } },
    limits: {
      maxReplicas: 12,
      bodyLimitBytes: 1024 * 1024,
      uploadLimitBytes: 512 * 1024 * 1024,
      maxBatchItems: 32,
      maxInputTokens: 512,
    },
    auth: { tokenTtlSeconds: 3600, audience: 'modeld', clientCacheTtlMs: 1000 },
    controller: {
      resyncIntervalMs: 2000,
      progressDeadlineMs: 120_000,
      crashLoopRestarts: 5,
      restartBackoffBaseMs: 250,
      restartBackoffMaxMs: 10_000,
      drainTimeoutMs: 30_000,
      deleteDeadlineMs: 60_000,
      workers: 4,
    },
    runner: { intraOpThreads: 0, orphanTimeoutMs: 300_000, batchWaitMs: 1, maxBatchItems: 32 },
    gateway: { requestTimeoutMs: 30_000, retries: 2, maxInflightPerReplica: 8, maxCallsPerReplica: 2, runnerTransport: 'frames', fastEmbeddingRoute: true, maxQueuePerDeployment: 256 },
    autoscale: { targetConcurrencyPerReplica: 4, scaleDownStabilizationMs: 300_000, tolerance: 0.1 },
    training: { dataRoots: [], concurrency: 1 },
    importRoots: [],
  };
}
