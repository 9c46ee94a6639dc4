import { createHash, randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Deployment, DeploymentEvent, DeploymentState, Model, ModelState, TrainingMetrics, TrainingProgress, TrainModelRequest, Upload } from './types.js';

/**
 * A small real HTTP server on 127.0.0.1 speaking the parts of the modeld wire contract the
 * client's own behaviour depends on: the token endpoint (Basic auth, expiring JWT-shaped
 * tokens, revocation), the two error shapes, customer checks, deployments whose state advances
 * one step per read (with events), admin creation routes, an embedding route that validates
 * its body, uploads kept in memory, and trained models whose reads walk through scripted
 * training progress. Used by the client and CLI
 * tests to reach states (revoked tokens, scripted failures, 5xx) the real server cannot be made
 * to produce on demand. Not exported from index.ts.
 */
export interface TestServerOptions {
  clientId?: string;
  clientSecret?: string;
  customerId?: string;
  /** expires_in of issued tokens, seconds. */
  expiresInSeconds?: number;
}

export interface ScriptedStep {
  state: DeploymentState;
  ready?: number;
  desired?: number;
  failure?: { reason: string; message: string };
  /** Answer this read with an HTTP error instead of the deployment. */
  httpStatus?: number;
}

/** One read of a model in training: its state and progress (or an HTTP error instead). */
export interface TrainingStep {
  state: ModelState;
  progress?: TrainingProgress;
  errorMessage?: string;
  httpStatus?: number;
}

export interface TestServer {
  url: string;
  customerId: string;
  clientId: string;
  clientSecret: string;
  /** Tokens issued so far, in order (the server's own record). */
  readonly issued: Array<{ token: string; scope: string | null }>;
  /** Invalidates every token issued so far. */
  revokeAll(): void;
  /** While true, every bearer token is refused with 401. */
  refuseAllTokens: boolean;
  /** A deployment whose reads walk through `steps` (the last one repeats). */
  script(id: string, steps: ScriptedStep[]): void;
  /** Steps of the next deployment POST creates (default: DEPLOYED with minReplicas ready at once). */
  nextDeploymentSteps: ScriptedStep[] | null;
  /** Appends an event to a deployment's history. */
  addEvent(id: string, reason: string, message: string): void;
  /** Uploads by name: what the server stored. */
  readonly uploads: Map<string, Upload & { content: Buffer }>;
  /** Each upload PUT as it arrived: the name and the content-length header (absent when chunked). */
  readonly uploadRequests: Array<{ name: string; contentLength: string | undefined; bytes: number }>;
  /** Bodies of training M2 requests, in order. */
  readonly trainRequests: TrainModelRequest[];
  /** Steps of the next model a training M2 creates (default: AVAILABLE at the first read). */
  nextTrainingSteps: TrainingStep[] | null;
  /** The trainingMetrics trained models show once AVAILABLE (with ?metrics=true). */
  readonly trainingMetrics: TrainingMetrics;
  close(): Promise<void>;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const clientId = options.clientId ?? 'client-1';
  const clientSecret = options.clientSecret ?? 's3:cr+et %x';
  const customerId = options.customerId ?? '11111111-1111-4111-8111-111111111111';
  const expiresIn = options.expiresInSeconds ?? 3600;
  const valid = new Set<string>();
  const issued: Array<{ token: string; scope: string | null }> = [];
  interface Scripted {
    steps: ScriptedStep[];
    reads: number;
    createdAt: string;
    modelId: string;
    minReplicas: number;
    maxReplicas: number;
    config: Record<string, unknown>;
    events: DeploymentEvent[];
  }
  const scripts = new Map<string, Scripted>();
  let nextDeploymentSteps: ScriptedStep[] | null = null;
  let eventSeq = 0;
  const newScript = (steps: ScriptedStep[], spec: Partial<Pick<Scripted, 'modelId' | 'minReplicas' | 'maxReplicas' | 'config'>> = {}): Scripted => ({
    steps,
    reads: 0,
    createdAt: new Date().toISOString(),
    modelId: spec.modelId ?? 'custom-model-1',
    minReplicas: spec.minReplicas ?? steps[0]?.desired ?? 1,
    maxReplicas: spec.maxReplicas ?? steps[0]?.desired ?? 1,
    config: spec.config ?? {},
    events: [],
  });
  const addEvent = (id: string, reason: string, message: string) => {
    scripts.get(id)?.events.push({ id: ++eventSeq, type: 'Normal', reason, message, data: null, at: new Date().toISOString() });
  };
  const notFound = (id: string) => ({ message: `deployment ${id} not found`, code: 'MODELD_ERR_DEPLOYMENT_NOT_FOUND', details: { deploymentId: id } });
  /** The deployment a scripted step shows (steps with httpStatus are answered before this). */
  const render = (id: string, s: Scripted, step: ScriptedStep): Deployment => {
    const desired = step.desired ?? s.minReplicas;
    return {
      id,
      modelId: s.modelId,
      region: 'local',
      config: s.config,
      minReplicas: s.minReplicas,
      maxReplicas: s.maxReplicas,
      state: step.state,
      deployedAt: s.createdAt,
      createdBy: clientId,
      status: {
        replicas: step.ready ?? 0,
        readyReplicas: step.ready ?? 0,
        desiredReplicas: desired,
        conditions: [],
        failure: step.failure ? { ...step.failure, at: new Date().toISOString() } : null,
      },
    };
  };
  const app: FastifyInstance = Fastify({ logger: false });
  let refuseAllTokens = false;
  let seq = 0;

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.post('/oauth2/token', async (request, reply) => {
    const header = request.headers.authorization ?? '';
    const decoded = header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString('utf8') : '';
    const sep = decoded.indexOf(':');
    const formDecode = (v: string) => decodeURIComponent(v.replaceAll('+', ' '));
    if (sep < 0 || formDecode(decoded.slice(0, sep)) !== clientId || formDecode(decoded.slice(sep + 1)) !== clientSecret) {
      return reply.status(401).send({ error: 'invalid_client', error_description: 'client authentication failed' });
    }
    const form = (request.body ?? {}) as Record<string, string>;
    if (form.grant_type !== 'client_credentials') {
      return reply.status(400).send({ error: 'unsupported_grant_type', error_description: 'grant_type must be client_credentials' });
    }
    const scope = form.scope ?? null;
    const iat = Math.floor(Date.now() / 1000);
    const payload = { sub: clientId, cid: clientId, customerId, scp: (scope ?? 'machinelearning.model machinelearning.predict').split(' '), iat, exp: iat + expiresIn, jti: `t${++seq}` };
    const token = [b64url({ alg: 'none', typ: 'JWT' }), b64url(payload), 'sig'].join('.');
    valid.add(token);
    issued.push({ token, scope });
    return { access_token: token, token_type: 'Bearer', expires_in: expiresIn, scope: payload.scp.join(' ') };
  });

  function authorize(request: FastifyRequest): { status: number; body: unknown } | null {
    const header = request.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (refuseAllTokens || !valid.has(token)) return { status: 401, body: { message: 'invalid or expired token', code: 'MODELD_ERR_UNAUTHENTICATED' } };
    const params = request.params as Record<string, string>;
    if (params.C !== undefined && params.C !== customerId) {
      return { status: 403, body: { message: 'the token belongs to another customer than the path names', code: 'MODELD_ERR_FORBIDDEN_CUSTOMER' } };
    }
    return null;
  }

  app.addHook('preHandler', async (request, reply) => {
    if (request.url.startsWith('/oauth2/')) return;
    const denied = authorize(request);
    if (denied) return reply.status(denied.status).send(denied.body);
  });

  app.get('/customers/:C/ai/models', async () => [
    { id: 'text-encoder', name: 'text-encoder', category: 'pre-trained (shared)', modelType: 'text-encoder', vectorSize: 4, state: 'AVAILABLE' },
  ]);
  const uploads = new Map<string, Upload & { content: Buffer }>();
  const uploadRequests: Array<{ name: string; contentLength: string | undefined; bytes: number }> = [];
  const trainRequests: TrainModelRequest[] = [];
  let nextTrainingSteps: TrainingStep[] | null = null;
  const trained = new Map<string, { request: TrainModelRequest; steps: TrainingStep[]; reads: number; createdAt: string; events: DeploymentEvent[] }>();
  const modelNotFound = (id: string) => ({ message: `model ${id} not found`, code: 'MODELD_ERR_MODEL_NOT_FOUND', details: { modelId: id } });
  const renderModel = (id: string, t: { request: TrainModelRequest; createdAt: string }, step: TrainingStep, metrics: boolean): Model => ({
    id,
    name: t.request.name,
    category: 'CUSTOM',
    modelType: t.request.modelType,
    region: t.request.region ?? null,
    vectorSize: step.state === 'AVAILABLE' ? TRAINING_METRICS.summary.vector_size : null,
    trainingData: t.request.trainingData,
    config: t.request.config,
    state: step.state,
    trainingStarted: t.createdAt,
    trainingCompleted: step.state === 'TRAINING' ? null : new Date().toISOString(),
    createdBy: clientId,
    ...(step.state === 'TRAINING' && { trainingProgress: step.progress ?? {} }),
    ...(step.state === 'TRAINING_FAILED' && { errorMessage: step.errorMessage ?? 'failed' }),
    ...(metrics && { trainingMetrics: step.state === 'AVAILABLE' ? TRAINING_METRICS : null }),
  });

  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: 256 * 1024 * 1024 }, (_req, body, done) => done(null, body));
  app.put('/customers/:C/ai/uploads/:name', async (request, reply) => {
    const { name } = request.params as { name: string };
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name)) {
      return reply.status(400).send({ message: `params.FILENAME: invalid file name ${JSON.stringify(name)}`, code: 'MODELD_ERR_VALIDATION' });
    }
    const content = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    uploadRequests.push({ name, contentLength: request.headers['content-length'], bytes: content.length });
    const upload = {
      name,
      uri: `file:///srv/modeld/uploads/${customerId}/${name}`,
      bytes: content.length,
      sha256: createHash('sha256').update(content).digest('hex'),
      uploadedAt: new Date().toISOString(),
    };
    uploads.set(name, { ...upload, content });
    return upload;
  });
  app.get('/customers/:C/ai/uploads', async () => [...uploads.values()].map(({ content: _content, ...u }) => u));
  app.delete('/customers/:C/ai/uploads/:name', async (request, reply) => {
    const { name } = request.params as { name: string };
    const u = uploads.get(name);
    if (!u) return reply.status(404).send({ message: `upload ${name} not found`, code: 'MODELD_ERR_UPLOAD_NOT_FOUND' });
    uploads.delete(name);
    const { content: _content, ...rest } = u;
    return rest;
  });
  app.post('/customers/:C/ai/models', async (request, reply) => {
    const body = request.body as TrainModelRequest;
    if (body?.modelType !== 'ecommerce-rnn' && body?.modelType !== 'general-rnn') {
      return reply.status(400).send({ message: `body.modelType: ${JSON.stringify(body?.modelType)} cannot be trained here`, code: 'MODELD_ERR_VALIDATION' });
    }
    if (body.region !== 'local') {
      return reply.status(400).send({ message: `body.region: required with modelType ${JSON.stringify(body.modelType)}; known regions: local`, code: 'MODELD_ERR_VALIDATION' });
    }
    if (typeof body.trainingData?.catalog !== 'string' || typeof body.trainingData.signals !== 'string') {
      return reply.status(400).send({ message: 'body.trainingData: needs catalog and signals', code: 'MODELD_ERR_VALIDATION' });
    }
    if (typeof body.config?.dataset_config !== 'string' || typeof body.config.trainer_config !== 'string') {
      return reply.status(400).send({ message: 'body.config.dataset_config: required', code: 'MODELD_ERR_TRAINING_CONFIG' });
    }
    trainRequests.push(body);
    const id = randomUUID();
    const t = { request: body, steps: nextTrainingSteps ?? [{ state: 'AVAILABLE' as const }], reads: 0, createdAt: new Date().toISOString(), events: [] as DeploymentEvent[] };
    nextTrainingSteps = null;
    trained.set(id, t);
    t.events.push({ id: ++eventSeq, type: 'Normal', reason: 'TrainingStarted', message: `training ${body.modelType} started`, data: null, at: t.createdAt });
    return renderModel(id, t, { state: 'TRAINING' }, false);
  });
  app.get('/customers/:C/ai/models/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    const t = trained.get(id);
    if (!t) return reply.status(404).send(modelNotFound(id));
    const step = t.steps[Math.min(t.reads, t.steps.length - 1)]!;
    t.reads++;
    if (step.httpStatus === 404) return reply.status(404).send(modelNotFound(id));
    if (step.httpStatus !== undefined) return reply.status(step.httpStatus).send({ message: 'temporarily unavailable', code: 'MODELD_ERR_UNAVAILABLE' });
    return renderModel(id, t, step, (request.query as { metrics?: string }).metrics === 'true');
  });
  app.get('/customers/:C/ai/models/:id/events', async (request, reply) => {
    const { id } = request.params as { id: string };
    const t = trained.get(id);
    if (!t) return reply.status(404).send(modelNotFound(id));
    const q = request.query as { afterId?: string; limit?: string };
    return t.events.filter((e) => e.id > Number(q.afterId ?? 0)).slice(0, Number(q.limit ?? 100));
  });
  app.get('/customers/:C/ai/deployments', async () =>
    [...scripts.entries()]
      .filter(([, s]) => s.steps[Math.min(s.reads, s.steps.length - 1)]!.httpStatus === undefined)
      .map(([id, s]) => render(id, s, s.steps[Math.min(s.reads, s.steps.length - 1)]!)),
  );
  app.post('/customers/:C/ai/deployments', async (request, reply) => {
    const body = request.body as { modelId?: string; region?: string; minReplicas?: number; maxReplicas?: number; config?: Record<string, unknown> };
    if (body.modelId !== 'custom-model-1') {
      return reply.status(404).send({ message: `body.modelId: model ${body.modelId} not found`, code: 'MODELD_ERR_MODEL_NOT_FOUND' });
    }
    const min = body.minReplicas ?? 1;
    const max = body.maxReplicas ?? 1;
    if (min > max) return reply.status(400).send({ message: `body.minReplicas: must be <= maxReplicas (${max}), got ${min}`, code: 'MODELD_ERR_VALIDATION' });
    const id = randomUUID();
    const steps = nextDeploymentSteps ?? [{ state: 'DEPLOYED', ready: min, desired: min }];
    nextDeploymentSteps = null;
    const s = newScript(steps, { modelId: body.modelId, minReplicas: min, maxReplicas: max, config: body.config ?? {} });
    scripts.set(id, s);
    addEvent(id, 'Created', `deploy model ${body.modelId} in ${body.region} with ${min}..${max} replicas`);
    return render(id, s, { state: 'DEPLOYING', ready: 0, desired: min });
  });
  app.get('/customers/:C/ai/deployments/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    const s = scripts.get(id);
    if (!s) return reply.status(404).send(notFound(id));
    const step = s.steps[Math.min(s.reads, s.steps.length - 1)]!;
    s.reads++;
    if (step.httpStatus === 404) return reply.status(404).send(notFound(id));
    if (step.httpStatus !== undefined) return reply.status(step.httpStatus).send({ message: 'temporarily unavailable', code: 'MODELD_ERR_UNAVAILABLE' });
    return render(id, s, step);
  });
  app.patch('/customers/:C/ai/deployments/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    const s = scripts.get(id);
    if (!s) return reply.status(404).send(notFound(id));
    const body = request.body as { minReplicas?: number; maxReplicas?: number };
    s.minReplicas = body.minReplicas ?? s.minReplicas;
    s.maxReplicas = body.maxReplicas ?? s.maxReplicas;
    addEvent(id, 'SpecChanged', `spec changed: ${Object.keys(body).join(', ')}`);
    return render(id, s, { state: 'DEPLOYING', ready: 0, desired: s.minReplicas });
  });
  app.delete('/customers/:C/ai/deployments/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    const s = scripts.get(id);
    if (!s) return reply.status(404).send(notFound(id));
    const ready = s.minReplicas;
    s.steps = [{ state: 'DELETING', ready }, { state: 'DELETING', ready: 0 }, { state: 'DELETING', httpStatus: 404 }];
    s.reads = 0;
    addEvent(id, 'DeletionRequested', 'deletion requested');
    return render(id, s, s.steps[0]!);
  });
  app.get('/customers/:C/ai/deployments/:id/events', async (request, reply) => {
    const { id } = request.params as { id: string };
    const s = scripts.get(id);
    if (!s || s.steps[Math.min(s.reads, s.steps.length - 1)]!.httpStatus === 404) return reply.status(404).send(notFound(id));
    const q = request.query as { afterId?: string; limit?: string };
    const afterId = Number(q.afterId ?? 0);
    return s.events.filter((e) => e.id > afterId).slice(0, Number(q.limit ?? 100));
  });
  app.post('/admin/customers', async (request) => ({ id: randomUUID(), name: (request.body as { name?: string }).name ?? null, createdAt: new Date().toISOString() }));
  app.post('/admin/customers/:id/clients', async (request) => ({
    clientId: randomUUID(),
    clientSecret: 'generated-secret',
    customerId: (request.params as { id: string }).id,
    scopes: (request.body as { scopes: string[] }).scopes,
    createdAt: new Date().toISOString(),
  }));
  app.post('/ai/prediction/embedding/:id', async (request, reply) => {
    const body = request.body as { batch?: Array<{ text?: unknown }>; modelConfig?: { dimReductionSize?: number; vectorQuantizationMethod?: string } };
    if (!Array.isArray(body?.batch) || body.batch.some((b) => typeof b.text !== 'string')) {
      return reply.status(400).send({ message: 'body.batch: must be an array of {text}', code: 'MODELD_ERR_VALIDATION', details: { field: 'body.batch' } });
    }
    const dim = body.modelConfig?.dimReductionSize ?? 4;
    if (dim > 4) {
      return reply.status(400).send({
        message: "The Matryoshka dimensionality reduction size is greater than the model's vector size. Please provide a valid reduction size.",
        code: 'MODELD_ERR_DIM_REDUCTION_TOO_LARGE',
      });
    }
    const quantized = body.modelConfig?.vectorQuantizationMethod === 'min-max';
    return {
      predictions: body.batch.map((b) => {
        const text = b.text as string;
        const raw = Array.from({ length: dim }, (_, i) => ((text.length + i) % 7) / 7);
        const norm = Math.hypot(...raw) || 1;
        return { tokensUsed: { inputTokens: text.split(/\s+/).length }, vector: raw.map((v) => (quantized ? Math.round((v / norm) * 255) : v / norm)) };
      }),
    };
  });

  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    customerId,
    clientId,
    clientSecret,
    issued,
    revokeAll: () => valid.clear(),
    get refuseAllTokens() {
      return refuseAllTokens;
    },
    set refuseAllTokens(v: boolean) {
      refuseAllTokens = v;
    },
    script: (id, steps) => void scripts.set(id, newScript(steps)),
    get nextDeploymentSteps() {
      return nextDeploymentSteps;
    },
    set nextDeploymentSteps(v: ScriptedStep[] | null) {
      nextDeploymentSteps = v;
    },
    addEvent,
    uploads,
    uploadRequests,
    trainRequests,
    get nextTrainingSteps() {
      return nextTrainingSteps;
    },
    set nextTrainingSteps(v: TrainingStep[] | null) {
      nextTrainingSteps = v;
    },
    trainingMetrics: TRAINING_METRICS,
    close: () => app.close(),
  };
}

const atK = (base: number) => ({ '1': base, '3': base + 0.1, '5': base + 0.15, '10': base + 0.2 });
/** What a trained model of the test server reports with ?metrics=true. */
const TRAINING_METRICS: TrainingMetrics = {
  summary: { best_epoch: 2, index_size: 200, vector_size: 32, training_time: 14.25, num_trn_queries: 540, num_val_queries: 60, num_unique_training_pairs: 590 },
  epoch_metrics: {
    hit: { trn: { '1': [0.1, 0.2], '3': [0.2, 0.3], '5': [0.3, 0.4], '10': [0.4, 0.5] }, val: { '1': [0.1, 0.3], '3': [0.2, 0.4], '5': [0.3, 0.45], '10': [0.4, 0.5] } },
  },
  final_metrics: {
    hit: { trn: atK(0.2), val: atK(0.3) },
    ndcg: { trn: atK(0.15), val: atK(0.25) },
  },
};

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
