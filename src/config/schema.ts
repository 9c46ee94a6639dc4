import { Type, type Static } from 'typebox';

/**
 * The one config schema. Units are in the names (`...Ms`, `...Bytes`). Defaults live in
 * defaults.ts; load.ts merges file, then env, then flags over them and validates the result here.
 */
const Region = Type.Union([
  Type.Object({ runtime: Type.Literal('process') }, { additionalProperties: false }),
  Type.Object(
    {
      runtime: Type.Literal('kubernetes'),
      context: Type.Optional(Type.String()),
      namespace: Type.String({ minLength: 1 }),
      image: Type.Optional(Type.String()),
    },
    { additionalProperties: false },
  ),
]);

export const ConfigSchema = Type.Object(
  {
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
    /** Where SQLite, keys, artifacts, models, replica state and uploads live. */
    dataDir: Type.String({ minLength: 1 }),
    /** Public base URL used as token issuer; defaults to http://host:port. */
    publicUrl: Type.Optional(Type.String()),
    logLevel: Type.Union([
      Type.Literal('fatal'),
      Type.Literal('error'),
      Type.Literal('warn'),
      Type.Literal('info'),
      Type.Literal('debug'),
      Type.Literal('trace'),
      Type.Literal('silent'),
    ]),
    /**
     * How the server's log reaches stdout: `json`, one JSON object per line (for log shippers);
     * `text`, a start-up summary and one short line per event, request lines only at logLevel
     * debug or trace; `auto`, text when stdout is a terminal, else json. Optional only so that
     * hand-built configs stay valid; the defaults set it (auto).
     */
    logFormat: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('json'), Type.Literal('text')])),
    store: Type.Object(
      {
        kind: Type.Union([Type.Literal('sqlite'), Type.Literal('postgres')]),
        /** SQLite file; relative paths are under dataDir. */
        sqliteFile: Type.String({ minLength: 1 }),
        postgresUrl: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
    /** Region name -> runtime that runs its replicas. */
    regions: Type.Record(Type.String({ pattern: '^[a-z0-9][a-z0-9-]*$' }), Region),
    limits: Type.Object(
      {
        /** Upper bound of maxReplicas (Lucidworks' UI caps at 12). */
        maxReplicas: Type.Integer({ minimum: 1, maximum: 1000 }),
        /** Largest request body accepted on JSON routes. */
        bodyLimitBytes: Type.Integer({ minimum: 1024 }),
        /** Largest upload (training data, artifacts). */
        uploadLimitBytes: Type.Integer({ minimum: 1024 }),
        /** Items per prediction batch (the API says 32). */
        maxBatchItems: Type.Integer({ minimum: 1, maximum: 1024 }),
        /** Input truncation, in tokens. */
        maxInputTokens: Type.Integer({ minimum: 1 }),
      },
      { additionalProperties: false },
    ),
    auth: Type.Object(
      {
        tokenTtlSeconds: Type.Integer({ minimum: 60 }),
        audience: Type.String(),
        /**
         * How long a client found enabled may be trusted without reading it again (docs/auth.md).
         * Admin changes made through this process take effect at once whatever the value; the TTL
         * bounds how late a change made by another server sharing the database is seen. 0: read
         * the client on every request. Optional only so that hand-built configs stay valid; the
         * defaults set it.
         */
        clientCacheTtlMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })),
        externalOidc: Type.Optional(
          Type.Object(
            {
              issuer: Type.String(),
              audience: Type.String(),
              jwksUrl: Type.String(),
              customerIdClaim: Type.String(),
              scopesClaim: Type.String(),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    controller: Type.Object(
      {
        /** Every deployment is reconciled at least this often, whatever happens. */
        resyncIntervalMs: Type.Integer({ minimum: 50 }),
        /** A deployment not fully ready this long after a change becomes DEPLOY_FAILED. */
        progressDeadlineMs: Type.Integer({ minimum: 100 }),
        /** Replica exits before all desired are ready that make a crash loop. */
        crashLoopRestarts: Type.Integer({ minimum: 1 }),
        restartBackoffBaseMs: Type.Integer({ minimum: 0 }),
        restartBackoffMaxMs: Type.Integer({ minimum: 0 }),
        /** How long a replica may take to finish in-flight requests when it leaves. */
        drainTimeoutMs: Type.Integer({ minimum: 0 }),
        /** How long deleting may take before DELETE_FAILED. */
        deleteDeadlineMs: Type.Integer({ minimum: 100 }),
        workers: Type.Integer({ minimum: 1, maximum: 64 }),
      },
      { additionalProperties: false },
    ),
    runner: Type.Object(
      {
        /** onnxruntime intra-op threads per replica; 0 = cores / maxReplicas of the deployment, at least 1. */
        intraOpThreads: Type.Integer({ minimum: 0 }),
        /** A replica that no controller has probed for this long exits by itself (no orphans). */
        orphanTimeoutMs: Type.Integer({ minimum: 1000 }),
        /** Bounded wait for dynamic batching inside the runner. */
        batchWaitMs: Type.Number({ minimum: 0 }),
        maxBatchItems: Type.Integer({ minimum: 1 }),
      },
      { additionalProperties: false },
    ),
    gateway: Type.Object(
      {
        requestTimeoutMs: Type.Integer({ minimum: 1 }),
        /** Extra attempts on another replica when one dies mid-request. */
        retries: Type.Integer({ minimum: 0, maximum: 10 }),
        maxInflightPerReplica: Type.Integer({ minimum: 1 }),
        /**
         * Embedding calls on the wire to one replica at once; the replica's other requests wait in
         * the gateway and go merged into one call when one returns. 0: every request is its own call.
         */
        maxCallsPerReplica: Type.Integer({ minimum: 0 }),
        /**
         * How embedding calls reach a replica: `frames`, one persistent framed connection per
         * replica (runner/frames.ts; a replica that does not speak frames is called over HTTP),
         * or `http`, POST /embed over keep-alive HTTP.
         */
        runnerTransport: Type.Union([Type.Literal('frames'), Type.Literal('http')]),
        /**
         * The embedding route served on the HTTP server in front of fastify (src/api/fast-embedding.ts):
         * the same answers with less work per request. false: fastify serves it like every route.
         */
        fastEmbeddingRoute: Type.Boolean(),
        /** Requests waiting for a replica, per deployment; beyond it 429 + Retry-After. */
        maxQueuePerDeployment: Type.Integer({ minimum: 0 }),
      },
      { additionalProperties: false },
    ),
    autoscale: Type.Object(
      {
        /** Concurrent requests (in flight + queued) one replica should carry; a deployment may override it. */
        targetConcurrencyPerReplica: Type.Number({ exclusiveMinimum: 0 }),
        /** A scale-down follows the highest recommendation of this window (no flapping). */
        scaleDownStabilizationMs: Type.Integer({ minimum: 0 }),
        /** Load within this fraction of the current capacity changes nothing. */
        tolerance: Type.Number({ minimum: 0, maximum: 1 }),
      },
      { additionalProperties: false },
    ),
    training: Type.Object(
      {
        /** Directories training data may be read from (file:// URIs outside them are refused). */
        dataRoots: Type.Array(Type.String()),
        concurrency: Type.Integer({ minimum: 1, maximum: 16 }),
      },
      { additionalProperties: false },
    ),
    /** Directories artifacts may be imported from; empty means anywhere the server user can read. */
    importRoots: Type.Array(Type.String()),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
export type RegionConfig = Config['regions'][string];
