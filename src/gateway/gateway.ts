import type { Config } from '../config/index.js';
import { catalogueEntry, DeploymentStates, isoAt, notInstalledMessage, systemClock, type Clock, type PretrainedModel, type ServingModelInfo } from '../domain/index.js';
import { ModeldError } from '../errors/index.js';
import type { EmbedFrame } from '../runner/protocol.js';
import type { Store } from '../store/types.js';
import { Balancer, type Lease } from './balancer.js';
import type { EndpointRegistry } from './endpoint-registry.js';
import type { GatewayMetrics } from './metrics.js';
import {
  parseClassificationBody,
  parseEmbeddingBody,
  parseOipInferBody,
  parseTokenizationParams,
  type EmbeddingParams,
} from './requests.js';
import type {
  ClassificationPrediction,
  ClassificationResult,
  EmbeddingPrediction,
  EmbeddingResult,
  OipInferResult,
  OipModelMetadata,
  TokenizationResult,
  UseCase,
  UseCaseModel,
} from './responses.js';
import { isRetryElsewhere, RunnerClient } from './runner-client.js';
import { normalizedSlice, shapeVector } from './vectors.js';

/** The store methods the gateway reads (and the one it writes: lastUsedAt). */
export type GatewayStore = Pick<Store, 'getDeployment' | 'listDeployments' | 'getModel' | 'touchDeployment'>;

export interface GatewayDeps {
  config: Pick<Config, 'gateway' | 'limits'>;
  store: GatewayStore;
  /** Where the controller publishes ready endpoints (shared with the controller and autoscaler). */
  registry: EndpointRegistry;
  /**
   * The id of the (system) deployment serving a pre-trained model, starting it on first use;
   * null when no pre-trained model has that name.
   */
  resolvePretrained(name: string): Promise<string | null>;
  /** The installed pre-trained models (GET /ai/usecase, OIP metadata). */
  listPretrained(): Promise<readonly PretrainedModel[]> | readonly PretrainedModel[];
  metrics?: GatewayMetrics;
  clock?: Clock;
  /** How long a request waits for a deployment with no ready replica; default gateway.requestTimeoutMs. */
  readyWaitMs?: number;
  /** Where failures of background writes (lastUsedAt) are reported; default: ignored. */
  onBackgroundError?: (err: unknown) => void;
}

export interface CallOptions {
  /** Aborted when the client goes away: queued work is dropped, in-flight calls are cancelled. */
  signal?: AbortSignal;
}

export const DIM_REDUCTION_TOO_LARGE_MESSAGE =
  "The Matryoshka dimensionality reduction size is greater than the model's vector size. Please provide a valid reduction size.";

export const UseCases = { EMBEDDING: 'embedding', CLASSIFICATION: 'classification' } as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TOUCH_INTERVAL_MS = 1000;

interface Target {
  deploymentId: string;
  /** What the client called it (MODEL_ID). */
  name: string;
  /** The customer asking, when the deployment is shared by every customer (a pre-trained model): fair queueing. */
  tenant?: string;
}

/**
 * The prediction path, without HTTP: validates a request, resolves MODEL_ID to a deployment,
 * sends the inference to a ready replica (least loaded, bounded queue, retried on another replica
 * when one fails), and shapes the answer (Matryoshka truncation, quantization, classification).
 * Every failure is a ModeldError the routes turn into the documented status.
 */
export class Gateway {
  readonly registry: EndpointRegistry;
  readonly balancer: Balancer;
  readonly client: RunnerClient;
  readonly #deps: GatewayDeps;
  readonly #clock: Clock;
  readonly #lastTouch = new Map<string, number>();
  /**
   * Deployment id -> its customer, for deployments the registry publishes: while a deployment has
   * ready replicas, resolving it needs nothing else from the store (a deployment never changes
   * customer). Dropped when the registry removes the deployment (deleted), so it holds at most
   * the published deployments and a deleted deployment is looked up in the store again (404).
   */
  readonly #owners = new Map<string, string>();
  readonly #unsubscribe: () => void;
  #closed = false;

  constructor(deps: GatewayDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? systemClock;
    this.registry = deps.registry;
    const g = deps.config.gateway;
    this.balancer = new Balancer(deps.registry, {
      maxInflightPerReplica: g.maxInflightPerReplica,
      maxQueuePerDeployment: g.maxQueuePerDeployment,
      maxQueuedPerTenant: Math.max(1, Math.ceil(g.maxQueuePerDeployment * g.maxQueueSharePerCustomer)),
      readyWaitMs: deps.readyWaitMs ?? g.requestTimeoutMs,
      onShed: (deploymentId) => deps.metrics?.shedTotal.inc({ deployment: deploymentId }),
    });
    this.client = new RunnerClient({
      timeoutMs: g.requestTimeoutMs,
      connectionsPerReplica: g.maxInflightPerReplica,
      maxCallsPerReplica: g.maxCallsPerReplica,
      transport: g.runnerTransport,
      maxTextsPerCall: deps.config.limits.maxBatchItems,
      onEmbedSent: (merged) => {
        deps.metrics?.runnerCallsTotal.inc();
        if (merged > 1) deps.metrics?.mergedCallsTotal.inc(merged);
      },
    });
    this.#unsubscribe = deps.registry.subscribe((change) => {
      if (change.kind === 'endpoint-gone') void this.client.closeEndpoint(change.url);
      if (change.kind === 'removed') {
        this.#lastTouch.delete(change.deploymentId);
        this.#owners.delete(change.deploymentId);
      }
    });
  }

  get maxBatchItems(): number {
    return this.#deps.config.limits.maxBatchItems;
  }

  /** Longest text (characters) a prediction input or label may have (`limits.maxTextChars`). */
  get maxTextChars(): number {
    return this.#deps.config.limits.maxTextChars;
  }

  /** False once close() began (OIP server readiness). */
  get ready(): boolean {
    return !this.#closed;
  }

  /** POST /ai/prediction/embedding/{MODEL_ID}. */
  async embed(customerId: string, modelId: string, body: unknown, options: CallOptions = {}): Promise<EmbeddingResult> {
    const params = parseEmbeddingBody(body, this.maxBatchItems, this.maxTextChars);
    const target = await this.#resolve(customerId, modelId);
    const known = this.registry.modelOf(target.deploymentId);
    if (known) checkDimReduction(params, known.vectorSize);
    const { frame, model } = await this.#run(target, 'embedding', options, async (lease, signal) => {
      checkDimReduction(params, lease.model.vectorSize);
      // dataType defaults to query (API.md): the model's query prefix applies unless passage is asked.
      const request = { texts: params.texts, dataType: params.dataType ?? 'query' };
      return { frame: await this.client.embed(lease.endpoint.url, request, signal), model: lease.model };
    });
    checkDimReduction(params, frame.dim);
    const warning = matryoshkaWarning(params, frame.dim, model);
    const predictions: EmbeddingPrediction[] = [];
    for (let i = 0; i < frame.count; i++) {
      const p: EmbeddingPrediction = {
        tokensUsed: { inputTokens: frame.tokenCounts[i]! },
        vector: shapeVector(frame.vectors, frame.dim, i, { dimReductionSize: params.dimReductionSize, quantization: params.quantization }),
      };
      if (warning) p.warning = warning;
      predictions.push(p);
    }
    return { predictions };
  }

  /**
   * POST /ai/prediction/classification/{MODEL_ID}: embeds inputs and labels, scores each label by
   * cosine similarity, keeps those >= similarityCutoff, the best topK, best first.
   */
  async classify(customerId: string, modelId: string, body: unknown, options: CallOptions = {}): Promise<ClassificationResult> {
    const params = parseClassificationBody(body, this.maxBatchItems, this.maxTextChars);
    const target = await this.#resolve(customerId, modelId);
    const texts = [...params.texts, ...params.labels];
    // Each runner call carries at most maxBatchItems texts, like any other request.
    const chunks: string[][] = [];
    for (let i = 0; i < texts.length; i += this.maxBatchItems) chunks.push(texts.slice(i, i + this.maxBatchItems));
    const frames = await Promise.all(
      chunks.map((chunk) => this.#run(target, 'classification', options, (lease, signal) => this.client.embed(lease.endpoint.url, { texts: chunk }, signal))),
    );
    const all = concatFrames(frames);
    const dim = all.dim;
    const n = params.texts.length;
    const unit = new Float32Array(all.count * dim);
    for (let r = 0; r < all.count; r++) normalizedSlice(all.vectors, r * dim, dim, unit.subarray(r * dim, (r + 1) * dim));
    let labelsTokens = 0;
    for (let j = 0; j < params.labels.length; j++) labelsTokens += all.tokenCounts[n + j]!;
    const predictions: ClassificationPrediction[] = [];
    for (let i = 0; i < n; i++) {
      const scored: Array<[string, number]> = params.labels.map((label, j) => {
        let s = 0;
        for (let d = 0; d < dim; d++) s += unit[i * dim + d]! * unit[(n + j) * dim + d]!;
        return [label, s];
      });
      scored.sort((a, b) => b[1] - a[1]);
      const kept = scored.filter(([, s]) => params.similarityCutoff === undefined || s >= params.similarityCutoff);
      predictions.push({
        tokensUsed: { inputTokens: all.tokenCounts[i]!, labelsTokens },
        labels: params.topK === undefined ? kept : kept.slice(0, params.topK),
      });
    }
    return { predictions };
  }

  /** POST /ai/tokenization/{MODEL_ID}: the tokens of each input after truncation. */
  async tokenize(customerId: string, modelId: string, body: unknown, options: CallOptions = {}): Promise<TokenizationResult> {
    const { texts, dataType = 'query' } = parseTokenizationParams(body, this.maxBatchItems, this.maxTextChars);
    const target = await this.#resolve(customerId, modelId);
    // The tokens of the text the model sees: with the model's prefix for the dataType (default query), as embed applies it in the replica.
    const result = await this.#run(target, 'tokenization', options, (lease, signal) => {
      const prefix = lease.model.prefixes?.[dataType];
      return this.client.tokenize(lease.endpoint.url, prefix ? texts.map((t) => prefix + t) : texts, signal);
    });
    const inputTokens = result.tokens.reduce((n, t) => n + t.length, 0);
    return {
      generatedTokens: result.tokens.map((tokens) => ({ tokens })),
      tokensUsed: { inputTokens, promptTokens: inputTokens, completionTokens: 0, totalTokens: inputTokens },
    };
  }

  /**
   * GET /ai/usecase: pre-trained models, then the customer's DEPLOYED deployments (listed by
   * deployment id, the id predictions take), under each use case the gateway serves.
   */
  async usecases(customerId: string): Promise<UseCase[]> {
    const models: UseCaseModel[] = (await this.#deps.listPretrained()).map((p) => ({ id: p.id, name: p.name, modelType: p.modelType, vectorSize: p.vectorSize }));
    const deployments = await this.#deps.store.listDeployments(customerId);
    for (const d of deployments) {
      if (d.state !== DeploymentStates.DEPLOYED || d.deletionRequestedAt !== null) continue;
      const model = await this.#deps.store.getModel(customerId, d.modelId);
      const serving = this.registry.modelOf(d.id);
      const vectorSize = model?.vectorSize ?? serving?.vectorSize ?? null;
      // vectorSize is an integer on the wire (API.md); a model whose size is not known yet is not listed.
      if (vectorSize === null) continue;
      models.push({ id: d.id, name: model?.name ?? serving?.name ?? d.modelId, modelType: model?.modelType ?? serving?.modelType ?? 'unknown', vectorSize });
    }
    return Object.values(UseCases).map((useCase) => ({ useCase, models: models.map((m) => ({ ...m })) }));
  }

  /** OIP v2 POST /v2/models/{name}/infer: one BYTES input `text` -> one FP32 output `vector` [n, dim]. */
  async oipInfer(customerId: string, name: string, body: unknown, options: CallOptions = {}): Promise<OipInferResult> {
    const params = parseOipInferBody(body, this.maxBatchItems, this.maxTextChars);
    const target = await this.#resolve(customerId, name);
    const frame = await this.#run(target, 'oip-infer', options, (lease, signal) => this.client.embed(lease.endpoint.url, { texts: params.texts }, signal));
    const data = new Float32Array(frame.count * frame.dim);
    for (let r = 0; r < frame.count; r++) normalizedSlice(frame.vectors, r * frame.dim, frame.dim, data.subarray(r * frame.dim, (r + 1) * frame.dim));
    const result: OipInferResult = { model_name: name, outputs: [{ name: 'vector', shape: [frame.count, frame.dim], datatype: 'FP32', data }] };
    if (params.id !== undefined) result.id = params.id;
    return result;
  }

  /** OIP v2 GET /v2/models/{name}: metadata, without starting anything. 404 when unknown. */
  async oipModelMetadata(customerId: string, name: string): Promise<OipModelMetadata> {
    let vectorSize: number | null;
    if (UUID.test(name)) {
      const d = await this.#deps.store.getDeployment(customerId, name);
      if (!d) throw deploymentNotFound(name);
      vectorSize = this.registry.modelOf(d.id)?.vectorSize ?? (await this.#deps.store.getModel(customerId, d.modelId))?.vectorSize ?? null;
    } else {
      const p = (await this.#deps.listPretrained()).find((m) => m.id === name);
      if (!p) throw modelNotFound(name);
      vectorSize = p.vectorSize;
    }
    return {
      name,
      versions: [],
      platform: 'modeld',
      inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }],
      outputs: [{ name: 'vector', datatype: 'FP32', shape: [-1, vectorSize ?? -1] }],
    };
  }

  /** OIP v2 GET /v2/models/{name}/ready: true when a replica is ready (a pre-trained model is started by asking). 404 when unknown. */
  async oipModelReady(customerId: string, name: string): Promise<boolean> {
    if (UUID.test(name)) {
      const d = await this.#deps.store.getDeployment(customerId, name);
      if (!d) throw deploymentNotFound(name);
      return this.registry.readyCount(d.id) > 0;
    }
    const id = await this.#deps.resolvePretrained(name);
    if (!id) throw modelNotFound(name);
    return this.registry.readyCount(id) > 0;
  }

  /** Idempotent. Rejects queued requests and closes replica connections once calls in flight finish. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    this.balancer.close();
    await this.client.close();
  }

  /**
   * MODEL_ID -> deployment. A UUID is a deployment id of the caller's customer (another
   * customer's is as unknown as a made-up one: 404); a deployment that is not DEPLOYED and has no
   * ready replica answers 503 with its state. Anything else is a pre-trained model name.
   */
  async #resolve(customerId: string, modelId: string): Promise<Target> {
    if (this.#closed) throw new ModeldError('MODELD_ERR_UNAVAILABLE', 'the server is shutting down');
    if (UUID.test(modelId)) {
      // The hot path: a published deployment of this customer with a ready replica is served
      // whatever its state says, so the store has nothing to add (see #owners).
      if (this.#owners.get(modelId) === customerId && this.registry.readyCount(modelId) > 0) return { deploymentId: modelId, name: modelId };
      const d = await this.#deps.store.getDeployment(customerId, modelId);
      if (!d) throw deploymentNotFound(modelId);
      if (this.registry.modelOf(d.id) !== null) this.#owners.set(d.id, d.customerId);
      if (d.state !== DeploymentStates.DEPLOYED && this.registry.readyCount(d.id) === 0) {
        const reason = d.status.failure ? `: ${d.status.failure.reason}: ${d.status.failure.message}` : '';
        throw new ModeldError('MODELD_ERR_NO_READY_REPLICA', `deployment ${d.id} is ${d.state} and has no ready replica${reason}`, {
          details: { deploymentId: d.id, state: d.state },
        });
      }
      return { deploymentId: d.id, name: modelId };
    }
    const deploymentId = await this.#deps.resolvePretrained(modelId);
    if (!deploymentId) throw modelNotFound(modelId);
    return { deploymentId, name: modelId, tenant: customerId };
  }

  /**
   * Runs one replica call with the gateway's guarantees: a deadline of gateway.requestTimeoutMs
   * (queue wait included), the client's disconnect, least-loaded replica choice, and up to
   * gateway.retries more attempts on other replicas when a replica fails in a way that left no
   * result (connection refused or lost, draining, not ready). Other failures are final: a
   * timeout (the replica may still be working: retrying would double the load), a model error,
   * a refused input.
   */
  async #run<T>(target: Target, operation: string, options: CallOptions, work: (lease: Lease, signal: AbortSignal) => Promise<T>): Promise<T> {
    const { deploymentId } = target;
    const timeoutMs = this.#deps.config.gateway.requestTimeoutMs;
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new ModeldError('MODELD_ERR_UNAVAILABLE', `no answer from the model within ${timeoutMs} ms`, { details: { timeoutMs } })),
      timeoutMs,
    );
    const onClientGone = () => controller.abort(new ModeldError('MODELD_ERR_UNAVAILABLE', 'the client closed the connection'));
    if (options.signal?.aborted) onClientGone();
    else options.signal?.addEventListener('abort', onClientGone, { once: true });
    const signal = controller.signal;
    const started = this.#clock.now();
    const exclude = new Set<string>();
    try {
      for (let attempt = 0; ; attempt++) {
        let lease: Lease;
        try {
          lease = await this.balancer.acquire(deploymentId, { exclude, signal, admitted: attempt > 0, ...(target.tenant !== undefined && { tenant: target.tenant }) });
        } catch (err) {
          // The deadline passed while no replica was ready at all: say that, not "timeout".
          if (signal.aborted && err === signal.reason && this.registry.readyCount(deploymentId) === 0 && !options.signal?.aborted) {
            throw new ModeldError('MODELD_ERR_NO_READY_REPLICA', `deployment ${deploymentId} has no ready replica (waited ${timeoutMs} ms); retry shortly`, {
              details: { deploymentId, waitedMs: timeoutMs },
            });
          }
          throw err;
        }
        const callStarted = this.#clock.now();
        try {
          const result = await work(lease, signal);
          lease.release(this.#clock.now() - callStarted);
          this.#touch(deploymentId);
          this.#deps.metrics?.inferenceSeconds.observe({ deployment: deploymentId, operation }, (this.#clock.now() - started) / 1000);
          return result;
        } catch (err) {
          lease.release();
          if (!isRetryElsewhere(err) || signal.aborted) throw err;
          const failure = String((err as ModeldError).details?.failure);
          this.registry.markFailed(deploymentId, lease.endpoint.replicaId);
          if (attempt >= this.#deps.config.gateway.retries) {
            throw new ModeldError('MODELD_ERR_REPLICA_FAILED', `the model's replicas failed (${failure}) on ${attempt + 1} attempt(s); retry shortly`, {
              details: { deploymentId, failure, attempts: attempt + 1 },
              cause: err,
            });
          }
          exclude.add(lease.endpoint.replicaId);
          this.#deps.metrics?.retriesTotal.inc({ deployment: deploymentId, reason: failure });
        }
      }
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onClientGone);
    }
  }

  /** lastUsedAt, written at most once a second per deployment, in the background. */
  #touch(deploymentId: string): void {
    const now = this.#clock.now();
    const last = this.#lastTouch.get(deploymentId);
    if (last !== undefined && now - last < TOUCH_INTERVAL_MS) return;
    this.#lastTouch.set(deploymentId, now);
    this.#deps.store.touchDeployment(deploymentId, isoAt(now)).catch((err: unknown) => this.#deps.onBackgroundError?.(err));
  }
}

/** 400 with API.md's exact message when the reduction size exceeds the model's vector size. */
function checkDimReduction(params: EmbeddingParams, vectorSize: number): void {
  if (params.dimReductionSize !== undefined && params.dimReductionSize > vectorSize) {
    throw new ModeldError('MODELD_ERR_DIM_REDUCTION_TOO_LARGE', DIM_REDUCTION_TOO_LARGE_MESSAGE, {
      details: { field: 'body.modelConfig.dimReductionSize', dimReductionSize: params.dimReductionSize, vectorSize },
    });
  }
}

/** The warning each prediction carries when the model was not trained to be truncated to that size. */
export function matryoshkaWarning(params: Pick<EmbeddingParams, 'dimReductionSize'>, dim: number, model: Pick<ServingModelInfo, 'matryoshkaDims'>): string | null {
  const d = params.dimReductionSize;
  if (d === undefined || d >= dim || model.matryoshkaDims?.includes(d)) return null;
  const trained = model.matryoshkaDims?.length ? ` (trained sizes: ${model.matryoshkaDims.join(', ')})` : '';
  return `The model was not trained for Matryoshka dimensionality reduction to ${d} dimensions${trained}; the reduced vectors may be less accurate.`;
}

function concatFrames(frames: EmbedFrame[]): EmbedFrame {
  if (frames.length === 1) return frames[0]!;
  const dim = frames[0]!.dim;
  if (frames.some((f) => f.dim !== dim)) throw new ModeldError('MODELD_ERR_REPLICA_FAILED', 'replicas of the deployment answered vectors of different sizes', { details: { failure: 'protocol' } });
  const count = frames.reduce((n, f) => n + f.count, 0);
  const vectors = new Float32Array(count * dim);
  const tokenCounts = new Uint32Array(count);
  let row = 0;
  for (const f of frames) {
    vectors.set(f.vectors, row * dim);
    tokenCounts.set(f.tokenCounts, row);
    row += f.count;
  }
  return { count, dim, vectors, tokenCounts };
}

function deploymentNotFound(id: string): ModeldError {
  return new ModeldError('MODELD_ERR_DEPLOYMENT_NOT_FOUND', `no deployment ${id}`, { details: { modelId: id } });
}

function modelNotFound(name: string): ModeldError {
  // A Lucidworks catalogue name that is not installed: say how to install it (not a bare 404).
  const known = catalogueEntry(name);
  return new ModeldError('MODELD_ERR_MODEL_NOT_FOUND', known ? notInstalledMessage(known) : `no model named ${name}`, { details: { modelId: name } });
}
