import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Deployment, DeploymentState } from './types.js';

/**
 * A small real HTTP server on 127.0.0.1 speaking the parts of the modeld wire contract the
 * client's own behaviour depends on: the token endpoint (Basic auth, expiring JWT-shaped
 * tokens, revocation), the two error shapes, customer checks, deployments whose state advances
 * one step per read, and an embedding route that validates its body. Used by the client and CLI
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
  close(): Promise<void>;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const clientId = options.clientId ?? 'client-1';
  const clientSecret = options.clientSecret ?? 's3:cr+et %x';
  const customerId = options.customerId ?? '11111111-1111-4111-8111-111111111111';
  const expiresIn = options.expiresInSeconds ?? 3600;
  const valid = new Set<string>();
  const issued: Array<{ token: string; scope: string | null }> = [];
  const scripts = new Map<string, { steps: ScriptedStep[]; reads: number; createdAt: string }>();
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
  app.get('/customers/:C/ai/models/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    return reply.status(404).send({ message: `model ${id} not found`, code: 'MODELD_ERR_MODEL_NOT_FOUND', details: { modelId: id } });
  });
  app.get('/customers/:C/ai/deployments/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    const s = scripts.get(id);
    if (!s) return reply.status(404).send({ message: `deployment ${id} not found`, code: 'MODELD_ERR_DEPLOYMENT_NOT_FOUND' });
    const step = s.steps[Math.min(s.reads, s.steps.length - 1)]!;
    s.reads++;
    if (step.httpStatus === 404) return reply.status(404).send({ message: `deployment ${id} not found`, code: 'MODELD_ERR_DEPLOYMENT_NOT_FOUND' });
    if (step.httpStatus !== undefined) return reply.status(step.httpStatus).send({ message: 'temporarily unavailable', code: 'MODELD_ERR_UNAVAILABLE' });
    const desired = step.desired ?? 1;
    const deployment: Deployment = {
      id,
      modelId: 'text-encoder',
      region: 'local',
      config: {},
      minReplicas: desired,
      maxReplicas: desired,
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
    return deployment;
  });
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
    script: (id, steps) => scripts.set(id, { steps, reads: 0, createdAt: new Date().toISOString() }),
    close: () => app.close(),
  };
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
