import { ClientErrorCodes, ModeldClientError, errorFromResponse, errorFromTransport } from './errors.js';
import { decodeJwtPayload } from './jwt.js';
import type {
  AdminCustomerQuotas,
  ClassificationResponse,
  ClassifyOptions,
  ClientCredentials,
  ClientInfo,
  ClusterView,
  CreateDeploymentRequest,
  Customer,
  CustomerQuotas,
  Deployment,
  DeploymentEvent,
  DeploymentMetrics,
  EmbedOptions,
  EmbeddingResponse,
  EventsQuery,
  Model,
  ModelDeploymentRef,
  ModelEvent,
  PatchDeploymentRequest,
  QuotaOverrides,
  Replica,
  TokenClaims,
  TokenResponse,
  TokenizationResponse,
  TrainModelRequest,
  Upload,
  UseCase,
} from './types.js';
import { isUploadPath, MAX_UPLOAD_DEPTH } from './types.js';
import { pollDeployment, pollModel, type ModelWaitOptions, type WaitOptions } from './wait.js';

export interface ModeldClientOptions {
  /** Server base URL, e.g. `http://127.0.0.1:8080` (a trailing slash is ignored). */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  /** Customer of the `/customers/{C}/...` routes; default: the token's `customerId` claim. */
  customerId?: string;
  /** Scopes asked for when the client fetches its own token; default: none named (the server grants the client's scopes). */
  scopes?: readonly string[];
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** Per-request timeout. Default 30 000 ms. */
  requestTimeoutMs?: number;
  /**
   * A cached token is replaced this long before it expires, so that no request leaves with a
   * token about to expire in flight. Default 60 000 ms, capped at half the token's lifetime.
   */
  tokenRefreshMarginMs?: number;
  /** Milliseconds since the epoch; injected by tests. Default Date.now. */
  now?: () => number;
  /**
   * How the token request carries the client's credentials: `basic` (HTTP Basic, the default)
   * or `post` (client_id and client_secret in the form body, RFC 6749 2.3.1). Browsers use
   * `post`: a refused Basic attempt is answered with a challenge that makes them show a login dialog.
   */
  clientAuth?: 'basic' | 'post';
}

export interface RequestOptions {
  signal?: AbortSignal;
}

/** What `uploadFile` can send. Buffers and Blobs can be sent twice (after a 401); a stream only once. */
export type UploadBody = Uint8Array | ArrayBuffer | Blob | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

export interface UploadProgress {
  /** Bytes handed to the connection so far. */
  sentBytes: number;
  /** The size when known (buffers, Blobs, or `size` given), else null. */
  totalBytes: number | null;
}

export interface UploadOptions extends RequestOptions {
  /** Size of a stream body, for progress only (buffers and Blobs know theirs). */
  size?: number;
  /** Called as the body is read, chunk by chunk (at most every 64 KiB for buffers). */
  onProgress?: (progress: UploadProgress) => void;
}

interface CachedToken {
  accessToken: string;
  claims: TokenClaims | null;
  /** When the client stops using it (expiry minus the refresh margin). */
  refreshAtMs: number;
}

interface SendOptions extends RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  /** Default true: send the bearer token, re-authenticate once on 401. */
  auth?: boolean;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_REFRESH_MARGIN_MS = 60_000;

/**
 * Typed client of the modeld HTTP API: the only way cli/ and web/ talk to the server.
 *
 * Authentication is OAuth2 client credentials. The token is fetched on first use, cached, and
 * replaced shortly before it expires; concurrent calls share one token request. When the server
 * answers 401 to a request (token revoked, server keys rotated), the client drops its token,
 * fetches a new one and repeats the request once; a second 401 is thrown.
 *
 * Every method throws ModeldClientError (status 0 when no HTTP answer arrived).
 */
export class ModeldClient {
  readonly baseUrl: string;
  readonly #clientId: string;
  readonly #clientSecret: string;
  readonly #customerId: string | undefined;
  readonly #scopes: readonly string[] | undefined;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #refreshMarginMs: number;
  readonly #now: () => number;
  readonly #clientAuth: 'basic' | 'post';
  /** Uploads of Blobs go through XMLHttpRequest where it exists and no fetch was injected. */
  readonly #xhr: boolean;
  #token: CachedToken | null = null;
  #pendingToken: Promise<CachedToken> | null = null;

  constructor(options: ModeldClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#clientId = options.clientId;
    this.#clientSecret = options.clientSecret;
    this.#customerId = options.customerId;
    this.#scopes = options.scopes;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#timeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#refreshMarginMs = options.tokenRefreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
    this.#now = options.now ?? Date.now;
    this.#xhr = options.fetch === undefined;
    this.#clientAuth = options.clientAuth ?? 'basic';
  }

  // ---- auth ------------------------------------------------------------------------------

  /**
   * Asks the token endpoint for a new token (never cached, never reused by this client).
   * `scopes` default to the client's configured scopes, else none named.
   */
  async issueToken(scopes: readonly string[] | undefined = this.#scopes, options: RequestOptions = {}): Promise<TokenResponse> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (scopes && scopes.length > 0) form.set('scope', scopes.join(' '));
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (this.#clientAuth === 'post') {
      form.set('client_id', this.#clientId);
      form.set('client_secret', this.#clientSecret);
    } else {
      headers.authorization = `Basic ${base64Utf8(`${formEncode(this.#clientId)}:${formEncode(this.#clientSecret)}`)}`;
    }
    const url = `${this.baseUrl}/oauth2/token`;
    const response = await this.#fetchOnce(url, {
      method: 'POST',
      headers,
      body: form.toString(),
      signal: options.signal,
    });
    const body = await readBody<TokenResponse>(response, url);
    if (typeof body?.access_token !== 'string' || typeof body.expires_in !== 'number') {
      throw new ModeldClientError(response.status, ClientErrorCodes.BAD_RESPONSE, `token endpoint ${url} answered without access_token/expires_in`);
    }
    return body;
  }

  /** The cached access token, fetching or refreshing it when needed. */
  async accessToken(options: RequestOptions = {}): Promise<string> {
    return (await this.#validToken(options)).accessToken;
  }

  /** The customer the `/customers/{C}` routes use: the configured one, else the token's `customerId` claim. */
  async customerId(options: RequestOptions = {}): Promise<string> {
    if (this.#customerId) return this.#customerId;
    const claim = (await this.#validToken(options)).claims?.customerId;
    if (typeof claim !== 'string' || claim === '') {
      throw new ModeldClientError(0, ClientErrorCodes.NO_CUSTOMER, 'the token has no customerId claim; pass customerId to the client');
    }
    return claim;
  }

  // ---- models ----------------------------------------------------------------------------

  /** M1: pre-trained models first, then the customer's custom models. */
  async listModels(options: RequestOptions = {}): Promise<Model[]> {
    return this.#send('GET', await this.#customerPath('/models', options), options);
  }

  /** M3. With `metrics: true` the model carries `trainingMetrics`. */
  async getModel(modelId: string, options: RequestOptions & { metrics?: boolean } = {}): Promise<Model> {
    const query = options.metrics ? { metrics: true } : undefined;
    return this.#send('GET', await this.#customerPath(`/models/${enc(modelId)}`, options), { ...options, query });
  }

  /** M4: the deployments of one model. */
  async listModelDeployments(modelId: string, options: RequestOptions = {}): Promise<ModelDeploymentRef[]> {
    return this.#send('GET', await this.#customerPath(`/models/${enc(modelId)}/deployments`, options), options);
  }

  /** M2: creates a model and starts training it; answers with `state: "TRAINING"`. */
  async trainModel(request: TrainModelRequest, options: RequestOptions = {}): Promise<Model> {
    return this.#send('POST', await this.#customerPath('/models', options), { ...options, body: request });
  }

  /**
   * Imports a model folder as a custom model of type `imported`: `upload`, the name of one of
   * the customer's upload folders (files sent with uploadFile as `<folder>/<path>`), or `uri`, a
   * `file:///abs/dir` URI of an upload folder or of a folder under the server's importRoots.
   * Give exactly one. The server admits a few imports at once: beyond, 429 MODELD_ERR_OVERLOADED
   * with `details.retryAfterSeconds`.
   */
  async importModel(request: { name: string; uri?: string; upload?: string; description?: string }, options: RequestOptions = {}): Promise<Model> {
    const artifact = request.upload !== undefined ? { upload: request.upload } : { uri: request.uri };
    const body: Record<string, unknown> = { name: request.name, modelType: 'imported', artifact };
    if (request.description !== undefined) body.description = request.description;
    return this.#send('POST', await this.#customerPath('/models', options), { ...options, body });
  }

  /** Deletes a custom model; 409 MODELD_ERR_MODEL_HAS_DEPLOYMENTS while it is deployed. Null when the server answers without a body. */
  async deleteModel(modelId: string, options: RequestOptions = {}): Promise<Model | null> {
    return (await this.#send<Model | undefined>('DELETE', await this.#customerPath(`/models/${enc(modelId)}`, options), options)) ?? null;
  }

  /** Events of a model (training started, epochs, outcome), oldest first; page with `afterId`. */
  async listModelEvents(modelId: string, query: EventsQuery = {}, options: RequestOptions = {}): Promise<ModelEvent[]> {
    return this.#send('GET', await this.#customerPath(`/models/${enc(modelId)}/events`, options), {
      ...options,
      query: { afterId: query.afterId, limit: query.limit },
    });
  }

  /**
   * Polls a training model (`GET ...?metrics=true`, so the answer carries `trainingMetrics` once
   * it is done) until it is AVAILABLE (resolves with it) or TRAINING_FAILED (rejects with
   * MODELD_CLIENT_ERR_TRAINING_FAILED, details `{modelId, errorMessage}`). Transient failures (no
   * answer, 429, 5xx) are retried, so that a server restart does not end the wait. No time limit
   * unless `timeoutMs` (then MODELD_CLIENT_ERR_TIMEOUT); MODELD_CLIENT_ERR_ABORTED when `signal`
   * fires (the training goes on); the server's 404 when the model is deleted. Calls `onProgress`
   * with every model read.
   */
  async waitForModel(modelId: string, options: ModelWaitOptions = {}): Promise<Model> {
    return pollModel(modelId, (signal) => this.getModel(modelId, { signal, metrics: true }), options, this.#now);
  }

  // ---- uploads ---------------------------------------------------------------------------

  /**
   * `PUT /customers/{C}/ai/uploads/{name}`: streams `body` to the server, which stores it under
   * `name` (replacing a previous upload of that name) and answers with its `file://` uri, size
   * and SHA-256. `body` may be a function returning a new body each time it is called, so that
   * the upload can be repeated once after a 401 even for streams; a stream given directly is
   * sent once (a 401 is then thrown). Instead of the 30 s request timeout, the upload fails with
   * MODELD_CLIENT_ERR_TIMEOUT when no byte moves for that long (large files take as long as they
   * take). `name` may be a path of a few names (`my-encoder/onnx/model.onnx`: a file inside an
   * upload folder). Throws MODELD_CLIENT_ERR_INVALID_ARGUMENT, before sending, for a name the
   * server refuses (isUploadPath: each name `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`, at most 8).
   */
  async uploadFile(name: string, body: UploadBody | (() => UploadBody), options: UploadOptions = {}): Promise<Upload> {
    if (!isUploadPath(name)) {
      throw new ModeldClientError(
        0,
        ClientErrorCodes.INVALID_ARGUMENT,
        `upload name ${JSON.stringify(name)} is not accepted: letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128 characters (a file in an upload folder: up to ${MAX_UPLOAD_DEPTH} such names joined by '/')`,
        { details: { field: 'name', name } },
      );
    }
    const url = this.baseUrl + (await this.#customerPath(`/uploads/${encPath(name)}`, options));
    const replayable = typeof body === 'function' || body instanceof Uint8Array || body instanceof ArrayBuffer || isBlob(body);
    for (let attempt = 0; ; attempt++) {
      const token = await this.#validToken(options);
      const source = typeof body === 'function' ? body() : body;
      // An idle timeout rather than a total one: every chunk read restarts it, and after the last
      // chunk it bounds the wait for the answer.
      const idle = new AbortController();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const touch = () => {
        clearTimeout(timer);
        timer = setTimeout(() => idle.abort(new DOMException(`no upload progress for ${this.#timeoutMs} ms`, 'TimeoutError')), this.#timeoutMs);
      };
      touch();
      const stream = countingStream(source, options.size, (progress) => {
        touch();
        options.onProgress?.(progress);
      });
      const signal = options.signal ? AbortSignal.any([options.signal, idle.signal]) : idle.signal;
      const headers: Record<string, string> = { authorization: `Bearer ${token.accessToken}`, 'content-type': 'application/octet-stream', accept: 'application/json' };
      // A known length lets the server refuse an upload over its limit before a byte is read
      // (browsers drop this header; Node's fetch sends it and fails if the body disagrees).
      const length = knownSize(source, options.size);
      if (length !== null) headers['content-length'] = String(length);
      let response: Response;
      try {
        // Browsers stream a fetch body only over HTTP/2, so in a browser a Blob goes through
        // XMLHttpRequest, whose upload events give the progress.
        if (isBlob(source) && browserXhr() && this.#xhr) {
          response = await xhrPut(url, headers, source, signal, options.onProgress, touch, this.baseUrl);
          if (response.status === 401 && attempt === 0 && replayable) {
            if (this.#token === token) this.#token = null;
            continue;
          }
          return await readBody<Upload>(response, url);
        }
        response = await this.#fetchOnce(
          url,
          {
            method: 'PUT',
            headers,
            body: stream,
            signal,
            duplex: 'half',
          } as RequestInit & { signal: AbortSignal },
          { timeout: false },
        );
        if (response.status === 401 && attempt === 0 && replayable) {
          await response.arrayBuffer();
          if (this.#token === token) this.#token = null;
          continue;
        }
        return await readBody<Upload>(response, url);
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /** `GET /customers/{C}/ai/uploads`: the customer's uploaded files. */
  async listUploads(options: RequestOptions = {}): Promise<Upload[]> {
    const body = await this.#send<{ uploads: Upload[] } | Upload[]>('GET', await this.#customerPath('/uploads', options), options);
    return Array.isArray(body) ? body : (body?.uploads ?? []);
  }

  /** `DELETE /customers/{C}/ai/uploads/{name}` (a file, or an upload folder with all its files); the server's 404 when there is neither. */
  async deleteUpload(name: string, options: RequestOptions = {}): Promise<void> {
    await this.#send('DELETE', await this.#customerPath(`/uploads/${encPath(name)}`, options), options);
  }

  // ---- deployments -----------------------------------------------------------------------

  /** D1. */
  async listDeployments(options: RequestOptions = {}): Promise<Deployment[]> {
    return this.#send('GET', await this.#customerPath('/deployments', options), options);
  }

  async getDeployment(deploymentId: string, options: RequestOptions = {}): Promise<Deployment> {
    return this.#send('GET', await this.#customerPath(`/deployments/${enc(deploymentId)}`, options), options);
  }

  /** D2: answers at once with `state: "DEPLOYING"`; see waitForDeployment. */
  async createDeployment(request: CreateDeploymentRequest, options: RequestOptions = {}): Promise<Deployment> {
    return this.#send('POST', await this.#customerPath('/deployments', options), { ...options, body: request });
  }

  /** Changes replicas, config or model; the server rolls replicas without dropping requests. */
  async patchDeployment(deploymentId: string, patch: PatchDeploymentRequest, options: RequestOptions = {}): Promise<Deployment> {
    return this.#send('PATCH', await this.#customerPath(`/deployments/${enc(deploymentId)}`, options), { ...options, body: patch });
  }

  /** D3: answers with `state: "DELETING"`; the record disappears once replicas are gone. */
  async deleteDeployment(deploymentId: string, options: RequestOptions = {}): Promise<Deployment> {
    return this.#send('DELETE', await this.#customerPath(`/deployments/${enc(deploymentId)}`, options), options);
  }

  /** Events of a deployment, oldest first; page with `afterId` (the last id seen). */
  async listDeploymentEvents(deploymentId: string, query: EventsQuery = {}, options: RequestOptions = {}): Promise<DeploymentEvent[]> {
    return this.#send('GET', await this.#customerPath(`/deployments/${enc(deploymentId)}/events`, options), {
      ...options,
      query: { afterId: query.afterId, limit: query.limit },
    });
  }

  /** Extension: the deployment's replicas now (phase, pid or pod, requests in flight). */
  async listReplicas(deploymentId: string, options: RequestOptions = {}): Promise<Replica[]> {
    return this.#send('GET', await this.#customerPath(`/deployments/${enc(deploymentId)}/replicas`, options), options);
  }

  /** Extension: calls per second, latency p50/p99 and replica counts over the last hour, oldest sample first. */
  async getDeploymentMetrics(deploymentId: string, options: RequestOptions = {}): Promise<DeploymentMetrics> {
    return this.#send('GET', await this.#customerPath(`/deployments/${enc(deploymentId)}/metrics`, options), options);
  }

  /**
   * Polls a deployment until it is DEPLOYED (resolves with it) or DEPLOY_FAILED (rejects with
   * MODELD_CLIENT_ERR_DEPLOY_FAILED, details `{reason, message}` from `status.failure`).
   * Transient failures (no answer, 429, 5xx) are retried until the deadline, so that a server
   * restart does not end the wait. Rejects with MODELD_CLIENT_ERR_TIMEOUT after `timeoutMs`
   * (default 10 min), MODELD_CLIENT_ERR_ABORTED when `signal` fires, and with the server's 404
   * when the deployment disappears. Calls `onProgress` with every deployment read.
   */
  async waitForDeployment(deploymentId: string, options: WaitOptions = {}): Promise<Deployment> {
    return pollDeployment('deployed', deploymentId, (signal) => this.getDeployment(deploymentId, { signal }), options, this.#now);
  }

  /**
   * Polls a deleted deployment until the server no longer knows it (resolves), or DELETE_FAILED
   * (rejects with MODELD_CLIENT_ERR_DELETE_FAILED). Same timeout, abort and retry rules as
   * waitForDeployment.
   */
  async waitForDeploymentDeleted(deploymentId: string, options: WaitOptions = {}): Promise<void> {
    await pollDeployment('deleted', deploymentId, (signal) => this.getDeployment(deploymentId, { signal }), options, this.#now);
  }

  // ---- predictions -----------------------------------------------------------------------

  /** One vector per text, in order. `modelId` is a pre-trained model name or a deployment id. */
  async embed(modelId: string, texts: readonly string[], embedOptions: EmbedOptions = {}, options: RequestOptions = {}): Promise<EmbeddingResponse> {
    const body: Record<string, unknown> = { batch: texts.map((text) => ({ text })) };
    if (embedOptions.dataType !== undefined) body.useCaseConfig = { dataType: embedOptions.dataType };
    const modelConfig: Record<string, unknown> = {};
    if (embedOptions.quantize !== undefined) modelConfig.vectorQuantizationMethod = embedOptions.quantize;
    if (embedOptions.dimReductionSize !== undefined) modelConfig.dimReductionSize = embedOptions.dimReductionSize;
    if (Object.keys(modelConfig).length > 0) body.modelConfig = modelConfig;
    return this.#send('POST', `/ai/prediction/embedding/${enc(modelId)}`, { ...options, body });
  }

  /** Ranks `labels` by similarity to each text. */
  async classify(modelId: string, texts: readonly string[], classify: ClassifyOptions, options: RequestOptions = {}): Promise<ClassificationResponse> {
    const useCaseConfig: Record<string, unknown> = { labels: classify.labels };
    if (classify.topK !== undefined) useCaseConfig.topK = classify.topK;
    if (classify.similarityCutoff !== undefined) useCaseConfig.similarityCutoff = classify.similarityCutoff;
    return this.#send('POST', `/ai/prediction/classification/${enc(modelId)}`, {
      ...options,
      body: { batch: texts.map((text) => ({ text })), useCaseConfig },
    });
  }

  /** The tokens the model's tokenizer produces for each text. */
  async tokenize(modelId: string, texts: readonly string[], options: RequestOptions = {}): Promise<TokenizationResponse> {
    return this.#send('POST', `/ai/tokenization/${enc(modelId)}`, { ...options, body: { batch: texts.map((text) => ({ text })) } });
  }

  /** Use cases and the models (custom ones by deployment id) that serve them. */
  async listUseCases(options: RequestOptions = {}): Promise<UseCase[]> {
    return this.#send('GET', '/ai/usecase', options);
  }

  /** `GET /v2/health/ready` (no token): true on 200, false on any other answer; throws only when no answer arrives. */
  async isReady(options: RequestOptions = {}): Promise<boolean> {
    const url = `${this.baseUrl}/v2/health/ready`;
    const response = await this.#fetchOnce(url, { method: 'GET', signal: options.signal });
    await response.arrayBuffer();
    return response.status === 200;
  }

  /** `GET /customers/{C}/ai/quotas`: every quota of the customer, with its limit and usage. */
  async getQuotas(options: RequestOptions = {}): Promise<CustomerQuotas> {
    return this.#send('GET', await this.#customerPath('/quotas', options), options);
  }

  // ---- admin (scope modeld.admin) --------------------------------------------------------

  /** A customer's quotas and the overrides set for it. */
  async getCustomerQuotas(customerId: string, options: RequestOptions = {}): Promise<AdminCustomerQuotas> {
    return this.#send('GET', `/admin/customers/${enc(customerId)}/quotas`, options);
  }

  /** Replaces a customer's quota overrides (`{}` removes them all); answers as getCustomerQuotas. */
  async setCustomerQuotas(customerId: string, overrides: QuotaOverrides, options: RequestOptions = {}): Promise<AdminCustomerQuotas> {
    return this.#send('PUT', `/admin/customers/${enc(customerId)}/quotas`, { ...options, body: overrides });
  }

  async listCustomers(options: RequestOptions = {}): Promise<Customer[]> {
    return this.#send('GET', '/admin/customers', options);
  }

  /** A customer's API clients, disabled ones included (never their secrets). */
  async listClients(customerId: string, options: RequestOptions = {}): Promise<ClientInfo[]> {
    return this.#send('GET', `/admin/customers/${enc(customerId)}/clients`, options);
  }

  /** Disables a client: its secret and every token it holds stop working at once (idempotent). */
  async disableClient(customerId: string, clientId: string, options: RequestOptions = {}): Promise<ClientInfo> {
    return this.#send('DELETE', `/admin/customers/${enc(customerId)}/clients/${enc(clientId)}`, options);
  }

  /** The modeld instances sharing the server's store and which one leads (scope modeld.admin). */
  async getCluster(options: RequestOptions = {}): Promise<ClusterView> {
    return this.#send('GET', '/admin/cluster', options);
  }

  async createCustomer(name: string, options: RequestOptions = {}): Promise<Customer> {
    return this.#send('POST', '/admin/customers', { ...options, body: { name } });
  }

  /** Creates an API client of a customer; the secret in the answer is never shown again. */
  async createClient(customerId: string, scopes: readonly string[], options: RequestOptions = {}): Promise<ClientCredentials> {
    return this.#send('POST', `/admin/customers/${enc(customerId)}/clients`, { ...options, body: { scopes } });
  }

  // ---- plumbing --------------------------------------------------------------------------

  async #customerPath(rest: string, options: RequestOptions): Promise<string> {
    return `/customers/${enc(await this.customerId(options))}/ai${rest}`;
  }

  async #validToken(options: RequestOptions): Promise<CachedToken> {
    if (this.#token && this.#now() < this.#token.refreshAtMs) return this.#token;
    // One token request at a time; concurrent callers share it. The signal of the caller that
    // started it is not passed on: aborting one call must not fail the others waiting on it.
    if (!this.#pendingToken) {
      const issuedAtMs = this.#now();
      this.#pendingToken = this.issueToken()
        .then((t) => {
          const lifetimeMs = t.expires_in * 1000;
          const margin = Math.min(this.#refreshMarginMs, lifetimeMs / 2);
          const cached: CachedToken = { accessToken: t.access_token, claims: decodeJwtPayload(t.access_token), refreshAtMs: issuedAtMs + lifetimeMs - margin };
          this.#token = cached;
          return cached;
        })
        .finally(() => {
          this.#pendingToken = null;
        });
    }
    return abortable(this.#pendingToken, options.signal);
  }

  async #send<T>(method: string, path: string, options: SendOptions = {}): Promise<T> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json' };
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] = 'application/json';
    const auth = options.auth ?? true;

    for (let attempt = 0; ; attempt++) {
      let token: CachedToken | null = null;
      if (auth) {
        token = await this.#validToken(options);
        headers.authorization = `Bearer ${token.accessToken}`;
      }
      const response = await this.#fetchOnce(url.href, { method, headers, body, signal: options.signal });
      if (response.status === 401 && auth && attempt === 0) {
        // The token was refused (revoked, keys rotated, clock skew): drop it unless another call
        // already replaced it, then repeat the request once with a fresh one.
        await response.arrayBuffer();
        if (this.#token === token) this.#token = null;
        continue;
      }
      return readBody<T>(response, url.href);
    }
  }

  /** One fetch; `timeout: false` leaves the time limit to the caller's signal (uploads). */
  async #fetchOnce(url: string, init: RequestInit & { signal?: AbortSignal | undefined }, how: { timeout?: boolean } = {}): Promise<Response> {
    let signal = init.signal ?? undefined;
    if (how.timeout !== false) {
      const timeout = AbortSignal.timeout(this.#timeoutMs);
      signal = signal ? AbortSignal.any([signal, timeout]) : timeout;
    }
    try {
      return await this.#fetch(url, { ...init, signal });
    } catch (err) {
      // An abort carries its reason: a TimeoutError reason (the upload's idle timer) is a timeout.
      throw errorFromTransport(signal?.aborted && isTimeoutReason(signal.reason) ? signal.reason : err, this.baseUrl);
    }
  }
}

/** The part of a browser's XMLHttpRequest that xhrPut uses (the Node typings have no DOM). */
interface XhrLike {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: Blob): void;
  abort(): void;
  readonly status: number;
  readonly statusText: string;
  readonly responseText: string;
  upload: { onprogress: ((e: { loaded: number }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}

function browserXhr(): (new () => XhrLike) | undefined {
  return (globalThis as { XMLHttpRequest?: new () => XhrLike }).XMLHttpRequest;
}

/**
 * PUT of a Blob with XMLHttpRequest (browsers): reports upload progress and answers a Response.
 * `content-length` is set by the browser itself. Transport failures and aborts throw as fetch's do.
 */
function xhrPut(
  url: string,
  headers: Record<string, string>,
  body: Blob,
  signal: AbortSignal,
  onProgress: ((p: UploadProgress) => void) | undefined,
  touch: () => void,
  baseUrl: string,
): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const Xhr = browserXhr();
    if (!Xhr) throw new ModeldClientError(0, ClientErrorCodes.NETWORK, 'no XMLHttpRequest here');
    const xhr = new Xhr();
    xhr.open('PUT', url);
    for (const [k, v] of Object.entries(headers)) if (k !== 'content-length') xhr.setRequestHeader(k, v);
    onProgress?.({ sentBytes: 0, totalBytes: body.size });
    xhr.upload.onprogress = (e) => {
      touch();
      onProgress?.({ sentBytes: e.loaded, totalBytes: body.size });
    };
    const onAbort = () => xhr.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const done = () => signal.removeEventListener('abort', onAbort);
    xhr.onload = () => {
      done();
      resolve(new Response(xhr.responseText, { status: xhr.status, statusText: xhr.statusText }));
    };
    xhr.onerror = () => {
      done();
      reject(errorFromTransport(new TypeError('network error'), baseUrl));
    };
    xhr.onabort = () => {
      done();
      const reason: unknown = signal.reason;
      reject(errorFromTransport(isTimeoutReason(reason) ? reason : new DOMException('aborted', 'AbortError'), baseUrl));
    };
    xhr.send(body);
  });
}

/** Reads a 2xx JSON body (undefined when empty) or throws the error the body describes. */
async function readBody<T>(response: Response, url: string): Promise<T> {
  const text = await response.text();
  if (!response.ok) throw errorFromResponse(response.status, response.statusText, text);
  if (text === '') return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ModeldClientError(response.status, ClientErrorCodes.BAD_RESPONSE, `${url} answered ${response.status} with a body that is not JSON`);
  }
}

const UPLOAD_CHUNK_BYTES = 64 * 1024;

function isBlob(value: unknown): value is Blob {
  return typeof Blob !== 'undefined' && value instanceof Blob;
}

function isTimeoutReason(reason: unknown): boolean {
  return (reason as { name?: unknown } | null)?.name === 'TimeoutError';
}

/**
 * The body as a ReadableStream that reports the bytes read from it. The stream is pulled by
 * fetch as the connection takes data, so the count follows what was sent (give or take the
 * socket's buffers). Buffers are cut into 64 KiB chunks so that progress moves smoothly.
 */
function countingStream(source: UploadBody, size: number | undefined, onProgress: (p: UploadProgress) => void): ReadableStream<Uint8Array> {
  const totalBytes = knownSize(source, size);
  let chunks: AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
    const bytes = source instanceof Uint8Array ? source : new Uint8Array(source);
    chunks = (function* () {
      for (let i = 0; i < bytes.byteLength; i += UPLOAD_CHUNK_BYTES) yield bytes.subarray(i, i + UPLOAD_CHUNK_BYTES);
    })();
  } else if (isBlob(source)) {
    chunks = iterateStream(source.stream() as ReadableStream<Uint8Array>);
  } else if (source instanceof ReadableStream) {
    chunks = iterateStream(source);
  } else {
    chunks = source[Symbol.asyncIterator]();
  }
  let sentBytes = 0;
  onProgress({ sentBytes, totalBytes });
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next();
      if (next.done) {
        controller.close();
        return;
      }
      // Node streams yield Buffers (Uint8Array subclasses); strings are not bytes.
      const chunk = typeof next.value === 'string' ? new TextEncoder().encode(next.value) : next.value;
      sentBytes += chunk.byteLength;
      controller.enqueue(chunk);
      onProgress({ sentBytes, totalBytes });
    },
    cancel(reason) {
      // Not awaited: a source stuck in a read (the reason for an idle timeout) would hold the
      // cancellation, and with it the caller's error, forever.
      void Promise.resolve(chunks.return?.(reason)).catch(() => {});
    },
  });
}

/** Bytes of a buffer or Blob; the caller's `size` for a stream; null when unknown. */
function knownSize(source: UploadBody, size: number | undefined): number | null {
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) return source.byteLength;
  if (isBlob(source)) return source.size;
  return size ?? null;
}

async function* iterateStream(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

/** An upload path: each name encoded, the '/' between them kept. */
function encPath(name: string): string {
  return name.split('/').map(enc).join('/');
}

/** RFC 6749 2.3.1: id and secret are form-urlencoded before they are joined for HTTP Basic. */
function formEncode(value: string): string {
  return encodeURIComponent(value).replaceAll('%20', '+');
}

function base64Utf8(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** Lets one caller stop waiting on a shared promise without cancelling it for the others. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new ModeldClientError(0, ClientErrorCodes.ABORTED, 'aborted', { cause: signal.reason }));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new ModeldClientError(0, ClientErrorCodes.ABORTED, 'aborted', { cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
