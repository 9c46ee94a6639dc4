import { Type, type Static } from 'typebox';

/**
 * The one config schema. Units are in the names (`...Ms`, `...Bytes`). Defaults live in
 * defaults.ts; load.ts merges file, then env, then flags over them and validates the result here.
 */
const Region = Type.Union([
  Type.Object({ runtime: Type.Literal('process') }, { additionalProperties: false }),
  /**
   * Replicas as pods of one apps/v1 Deployment per deployment generation (runtimes/kubernetes,
   * docs/runtimes.md). Without `kubeconfig`, the in-cluster service account.
   */
  Type.Object(
    {
      runtime: Type.Literal('kubernetes'),
      namespace: Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }),
      /** The runner image (modeld's own image: server and runner are one). */
      image: Type.String({ minLength: 1 }),
      /** Base URL replica pods reach modeld at (its Service), for their artifact. */
      artifactBaseUrl: Type.String({ pattern: '^https?://' }),
      kubeconfig: Type.Optional(Type.String({ minLength: 1 })),
      context: Type.Optional(Type.String({ minLength: 1 })),
      /** Label value that tells this modeld's objects from another's in the same namespace (default "modeld"). */
      installation: Type.Optional(Type.String({ minLength: 1, maxLength: 63, pattern: '^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$' })),
      runnerPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
      resources: Type.Optional(
        Type.Object(
          {
            requests: Type.Optional(Type.Record(Type.String(), Type.String())),
            limits: Type.Optional(Type.Record(Type.String(), Type.String())),
          },
          { additionalProperties: false },
        ),
      ),
      nodeSelector: Type.Optional(Type.Record(Type.String(), Type.String())),
      tolerations: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()))),
      imagePullSecrets: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
      terminationGracePeriodSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 })),
      /** A partial PodTemplateSpec merged over modeld's (maps merged, containers/env/volumes by name). */
      podTemplate: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    },
    { additionalProperties: false },
  ),
]);

/** Asymmetric JWS algorithms an external issuer may sign with (auth.externalOidc.algorithms). */
const ExternalAlgorithm = Type.Union(
  ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'].map((a) => Type.Literal(a)),
);

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
        /** Longest prediction text or label, in characters, before anything tokenizes it (400 beyond). */
        maxTextChars: Type.Integer({ minimum: 1 }),
        /** Deepest nesting of arrays and objects in a JSON body (400 beyond; nothing deeper is parsed into routes). */
        maxJsonDepth: Type.Integer({ minimum: 2, maximum: 1000 }),
        /** Largest deployment `config` as JSON (it travels to replicas in environment variables). */
        deploymentConfigBytes: Type.Integer({ minimum: 2, maximum: 100_000 }),
        /** A JSON body must arrive whole within this long after the request began (408 beyond). */
        bodyTimeoutMs: Type.Integer({ minimum: 100 }),
        /** Any request, uploads included, must arrive whole within this long (node's requestTimeout; 408). */
        requestTimeoutMs: Type.Integer({ minimum: 1000 }),
        /** The request line and headers must arrive within this long (node's headersTimeout; 408). */
        headersTimeoutMs: Type.Integer({ minimum: 1000 }),
        /** A connection with no byte either way for this long is closed. */
        socketIdleTimeoutMs: Type.Integer({ minimum: 1000 }),
        /** Largest request line plus headers (431 beyond). */
        maxHeaderBytes: Type.Integer({ minimum: 1024, maximum: 1024 * 1024 }),
        /** Open client connections at once; more are closed on arrival. */
        maxConnections: Type.Integer({ minimum: 1 }),
        /** Open client connections from one address at once (0: no per-address limit); more are closed on arrival. */
        maxConnectionsPerAddress: Type.Integer({ minimum: 0 }),
        /**
         * Imports (M2 modelType "imported", docs/api.md): largest JSON file of an imported model
         * (manifest.json, tokenizer.json, config.json, tokenizer_config.json) and largest other
         * file (model.onnx, its external data). Checked before a file is opened; 400 beyond.
         * Optional only so that hand-built configs stay valid; the defaults set them.
         */
        importJsonFileBytes: Type.Optional(Type.Integer({ minimum: 1024 })),
        importModelFileBytes: Type.Optional(Type.Integer({ minimum: 1024 })),
        /** Imports checked at once on this server, and per customer; beyond them 429 + Retry-After. */
        concurrentImports: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
        concurrentImportsPerCustomer: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
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
        /**
         * The token endpoint under a flood of bad credentials (docs/auth.md "Failed attempts").
         * Optional only so that hand-built configs stay valid; the defaults set it.
         */
        tokenEndpoint: Type.Optional(
          Type.Object(
            {
              /** Failed attempts per client id (as sent) per failureWindowMs before 429; 0: no limit. */
              failuresPerClientId: Type.Integer({ minimum: 0 }),
              /** Failed attempts per client address (IPv6: per /64) per failureWindowMs before 429; 0: no limit. */
              failuresPerAddress: Type.Integer({ minimum: 0 }),
              failureWindowMs: Type.Integer({ minimum: 1000, maximum: 86_400_000 }),
              /** Client ids and addresses remembered by each limit; beyond it the least recently seen is forgotten. */
              maxTrackedSources: Type.Integer({ minimum: 100, maximum: 1_000_000 }),
              /** Peers (IPs or CIDRs) whose X-Forwarded-For is believed; empty: the socket's peer is the address. */
              trustedProxies: Type.Array(Type.String({ minLength: 1 })),
              /** Secret hashes (scrypt) computed at once; 0: no bound. */
              maxConcurrentSecretChecks: Type.Integer({ minimum: 0, maximum: 64 }),
              /** Of those, checks for a client id or address with recent failures. */
              maxConcurrentSuspectChecks: Type.Integer({ minimum: 1, maximum: 64 }),
              /** Checks waiting for a slot; beyond it 429. */
              maxQueuedSecretChecks: Type.Integer({ minimum: 0 }),
              /** How long a verified secret is remembered (as an HMAC) so that its client skips scrypt; 0: never. */
              rememberedSecretTtlMs: Type.Integer({ minimum: 0, maximum: 86_400_000 }),
            },
            { additionalProperties: false },
          ),
        ),
        externalOidc: Type.Optional(
          Type.Object(
            {
              issuer: Type.String(),
              audience: Type.String(),
              jwksUrl: Type.String(),
              customerIdClaim: Type.String(),
              scopesClaim: Type.String(),
              /** Signing algorithms accepted (asymmetric only; never `none` or HS*). Default RS256, ES256. */
              algorithms: Type.Optional(Type.Array(ExternalAlgorithm, { minItems: 1 })),
              /** Scopes an external token may carry; others are dropped. Default: machinelearning.model, machinelearning.predict. */
              allowedScopes: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
              /** Customer ids an external token may not name (the system customer is always refused). Default none. */
              deniedCustomerIds: Type.Optional(Type.Array(Type.String())),
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
        /**
         * On a shared pre-trained model, the fraction of maxQueuePerDeployment one customer may fill
         * (beyond it that customer gets 429); freed slots go to the customer with the fewest calls in flight.
         */
        maxQueueSharePerCustomer: Type.Number({ exclusiveMinimum: 0, maximum: 1 }),
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
    /**
     * Several instances on one store (src/cluster, docs/cluster.md). Every instance takes part;
     * one alone simply always leads.
     */
    cluster: Type.Object(
      {
        /** This instance's name in the lease and the instances table (default: host name, pid and a random suffix). */
        instanceId: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9._:-]+$' })),
        /** How long a renewal holds the leader's lease: a dead leader is replaced within this plus one renewal. */
        leaseTtlMs: Type.Integer({ minimum: 1000 }),
        /** How often every instance asks for the lease (the leader renews it); less than half of leaseTtlMs. */
        renewIntervalMs: Type.Integer({ minimum: 100 }),
        /** How often a follower reads the endpoints the leader published, and every instance reports its load. */
        syncIntervalMs: Type.Integer({ minimum: 50 }),
      },
      { additionalProperties: false },
    ),
    /** The Async Chunking API (src/chunking, docs/api.md "Async chunking"). */
    chunking: Type.Object(
      {
        /** How long a job and its result are kept after submission; then its id answers 404. */
        resultTtlMs: Type.Integer({ minimum: 1000 }),
        /** Most UTF-8 bytes of text one request may submit (the sum over `batch`); 413 beyond. */
        maxInputBytes: Type.Integer({ minimum: 1024 }),
        /** Jobs worked on at once by this server. */
        concurrency: Type.Integer({ minimum: 1, maximum: 64 }),
        /** How long one regex-splitter split may run before its job ends in ERROR. */
        regexTimeoutMs: Type.Integer({ minimum: 10 }),
      },
      { additionalProperties: false },
    ),
    /**
     * `GET /metrics`: on the main port behind a token with scope modeld.ops or modeld.admin
     * (`token`), or open (`public`); and, with `listen`, also served without a token on a
     * separate address meant for a private network (docs/api.md "Metrics").
     */
    metrics: Type.Object(
      {
        access: Type.Union([Type.Literal('token'), Type.Literal('public')]),
        listen: Type.Optional(Type.Object({ host: Type.String({ minLength: 1 }), port: Type.Integer({ minimum: 0, maximum: 65535 }) }, { additionalProperties: false })),
      },
      { additionalProperties: false },
    ),
    /**
     * Directories (shared by all customers) models may be imported from, besides each customer's
     * own uploads. Empty (the default): only uploads. Never reaches into the data directory.
     */
    importRoots: Type.Array(Type.String()),
    /**
     * Per-customer quotas (docs/api.md "Quotas"): the default of every customer; the admin API
     * (PUT /admin/customers/{id}/quotas) overrides any of them for one customer. Pre-trained
     * system deployments count against no customer. 0 refuses every create of that kind.
     */
    quotas: Type.Object(
      {
        /** Deployments of one customer, those being deleted included until their record is removed. */
        deployments: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
        /** Sum of maxReplicas over the customer's deployments (the most replica processes it can have). */
        replicas: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
        /** Custom models of one customer, in any state (trained, imported, failed). */
        models: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
        /** Training jobs QUEUED or RUNNING of one customer. */
        trainingJobs: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
        /** Files in the customer's upload folder (every file, nested ones included). */
        uploadFiles: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
        /** Total bytes of those files. */
        uploadBytes: Type.Integer({ minimum: 0 }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
export type RegionConfig = Config['regions'][string];
