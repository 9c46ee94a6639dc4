/**
 * The Kubernetes runtime: a region's replicas are pods of apps/v1 Deployments, one Deployment per
 * modeld deployment generation (objects.ts says why), made and read through the official
 * `@kubernetes/client-node`. docs/runtimes.md ("The Kubernetes runtime") describes it for operators.
 *
 * Replica identity. The controller names replicas; Kubernetes names pods. createReplica records
 * a claim for the replica id and raises the generation's `replicas` to claimed + waiting claims;
 * when the ReplicaSet's new pod appears, the runtime labels it `modeld.io/replica-id=<id>` (oldest
 * claim first). listReplicas reports claimed pods by replica id, waiting claims as `starting`,
 * and pods nobody claimed (a modeld restart lost its claims) under their pod name, so that the
 * controller adopts or removes them like any other replica.
 *
 * Observation comes from an informer (list + watch with bookmarks, re-listed on 410 Gone) on the
 * pods of this installation; ready pods are probed on `GET /health` for their in-flight count,
 * like process replicas. The gateway reaches a pod at `http://<podIP>:<runnerPort>` directly.
 *
 * Scale-down picks its pod: deleteReplica marks it `controller.kubernetes.io/pod-deletion-cost`
 * lowest, deletes that pod (the kubelet sends SIGTERM: the runner drains its in-flight requests
 * within terminationGracePeriodSeconds) and lowers `replicas`, so that the ReplicaSet controller
 * removes no other pod. The gateway stopped sending it work before (the controller unpublishes
 * first). When a generation has no replica left, its Deployment and Secret are deleted.
 *
 * Nothing without this installation's labels is read or touched.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type Informer,
  type ObjectCache,
  type V1Pod,
} from '@kubernetes/client-node';
import { ModeldError } from '../../errors/index.js';
import { httpJson } from '../process/os-process.js';
import type { ObservedReplica, ReplicaSpec, Runtime } from '../types.js';
import { buildDeployment, buildSecret, DELETION_COST, installationSelector, Labels, objectName, secretName, type ArtifactRef, type PodSettings } from './objects.js';
import { podVerdict } from './pod-status.js';

export interface KubernetesRuntimeOptions extends Omit<PodSettings, 'runnerPort' | 'batchWaitMs' | 'maxBatchItems' | 'terminationGracePeriodSeconds' | 'installation'> {
  installation?: string;
  runnerPort?: number;
  terminationGracePeriodSeconds?: number;
  runner?: { batchWaitMs: number; maxBatchItems: number };
  /** A kubeconfig file; absent: the in-cluster service account. */
  kubeconfig?: string;
  context?: string;
  /** Where artifact directories live: a replica's artifactDir must be inside one of them. */
  artifactRoots: { artifacts: string; models: string };
  /** Signs a token for one artifact (`artifacts/<id>` or `models/<name>`) lasting `ttlSeconds`. */
  artifactToken(artifact: string, ttlSeconds: number): Promise<string>;
  /** Artifact token lifetime (default 3600 s); Secrets are refreshed at a third of it. */
  artifactTokenTtlSeconds?: number;
  /** Timeout of a `/health` probe (default 1000 ms). */
  probeTimeoutMs?: number;
  logger?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

interface Claim {
  replicaId: string;
  deploymentId: string;
  generation: number;
  createdAt: string;
}

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export class KubernetesRuntime implements Runtime {
  readonly kind = 'kubernetes' as const;
  readonly #o: KubernetesRuntimeOptions;
  readonly #settings: PodSettings;
  readonly #selector: string;
  #kc: KubeConfig | null = null;
  #apps!: AppsV1Api;
  #core!: CoreV1Api;
  #pods: (Informer<V1Pod> & ObjectCache<V1Pod>) | null = null;
  #started: Promise<void> | null = null;
  /** Waiting claims per generation object name, oldest first. */
  readonly #claims = new Map<string, Claim[]>();
  /** Pods being deleted by deleteReplica (by replica id): not counted, not claimable. */
  readonly #leaving = new Set<string>();
  /** Generation objects whose specs this runtime knows (for token refresh). */
  readonly #secrets = new Map<string, { spec: ReplicaSpec; artifact: string }>();
  readonly #locks = new Map<string, Promise<void>>();
  /** Pods this runtime labelled with a replica id, before the watch shows the label. */
  readonly #assigned = new Map<string, string>();
  #claiming: Promise<void> = Promise.resolve();
  #refreshTimer: NodeJS.Timeout | null = null;
  #restartTimer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(options: KubernetesRuntimeOptions) {
    this.#o = options;
    this.#settings = {
      namespace: options.namespace,
      image: options.image,
      installation: options.installation ?? 'modeld',
      region: options.region,
      artifactBaseUrl: options.artifactBaseUrl,
      runnerPort: options.runnerPort ?? 8491,
      ...(options.resources && { resources: options.resources }),
      ...(options.nodeSelector && { nodeSelector: options.nodeSelector }),
      ...(options.tolerations && { tolerations: options.tolerations }),
      ...(options.imagePullSecrets && { imagePullSecrets: options.imagePullSecrets }),
      ...(options.podTemplate && { podTemplate: options.podTemplate }),
      terminationGracePeriodSeconds: options.terminationGracePeriodSeconds ?? 60,
      batchWaitMs: options.runner?.batchWaitMs ?? 1,
      maxBatchItems: options.runner?.maxBatchItems ?? 32,
    };
    this.#selector = installationSelector(this.#settings.installation);
  }

  /**
   * Connects, checks that the namespace exists and that this service account may create what it
   * needs there (a dry-run create of a Deployment and a Secret: nothing is stored), then starts
   * watching this installation's pods, which adopts the ones that exist. Rejects with a
   * MODELD_ERR_UNAVAILABLE naming what is missing.
   */
  start(): Promise<void> {
    this.#stopped = false;
    this.#started ??= this.#start().catch((err: unknown) => {
      this.#started = null;
      throw err;
    });
    return this.#started;
  }

  async #start(): Promise<void> {
    const kc = new KubeConfig();
    if (this.#o.kubeconfig) {
      kc.loadFromFile(this.#o.kubeconfig);
      if (this.#o.context) kc.setCurrentContext(this.#o.context);
    } else {
      kc.loadFromCluster();
    }
    this.#kc = kc;
    this.#apps = kc.makeApiClient(AppsV1Api);
    this.#core = kc.makeApiClient(CoreV1Api);
    await this.#preflight();
    const ns = this.#settings.namespace;
    const informer = makeInformer<V1Pod>(kc, `/api/v1/namespaces/${ns}/pods`, () => this.#core.listNamespacedPod({ namespace: ns, labelSelector: this.#selector }), this.#selector);
    informer.on('add', () => void this.#claimPods());
    informer.on('update', () => void this.#claimPods());
    informer.on('error', (err) => {
      // The watch ended with an error (API server restart, network): start it again shortly;
      // the informer re-lists, so nothing is missed.
      if (this.#stopped) return;
      this.#o.logger?.warn({ err }, 'kubernetes pod watch failed; restarting it');
      this.#restartTimer = setTimeout(() => void informer.start().catch(() => {}), 1000);
    });
    await informer.start();
    this.#pods = informer;
    this.#refreshTimer = setInterval(() => void this.#refreshTokens(), ((this.#o.artifactTokenTtlSeconds ?? 3600) * 1000) / 3);
    this.#refreshTimer.unref();
  }

  async #preflight(): Promise<void> {
    const ns = this.#settings.namespace;
    const probe: ReplicaSpec = { replicaId: 'preflight', deploymentId: 'preflight', customerId: 'preflight', generation: 0, modelId: 'preflight', artifactDir: '/', config: {}, intraOpThreads: 1 };
    const deployment = buildDeployment(probe, { ref: 'models/preflight', manifestSha256: '0'.repeat(64) }, this.#settings, 0);
    deployment.metadata.name = 'modeld-preflight';
    const secret = buildSecret(probe, this.#settings, 'preflight');
    secret.metadata.name = 'modeld-preflight';
    try {
      await this.#apps.createNamespacedDeployment({ namespace: ns, body: deployment as never, dryRun: 'All' });
      await this.#core.createNamespacedSecret({ namespace: ns, body: secret as never, dryRun: 'All' });
    } catch (err) {
      const status = kubeStatus(err);
      if (status?.code === 409) return; // a leftover preflight object: the namespace and the rights are there
      if (status?.code === 404) throw new ModeldError('MODELD_ERR_UNAVAILABLE', `kubernetes region ${this.#settings.region}: namespace "${ns}" does not exist (${status.message})`, { cause: err });
      if (status?.code === 403) {
        throw new ModeldError('MODELD_ERR_UNAVAILABLE', `kubernetes region ${this.#settings.region}: the service account may not create what replicas need in namespace "${ns}" (RBAC): ${status.message}`, { cause: err });
      }
      throw new ModeldError('MODELD_ERR_UNAVAILABLE', `kubernetes region ${this.#settings.region}: cannot reach the Kubernetes API: ${status?.message ?? (err as Error).message}`, { cause: err });
    }
  }

  async stop(options: { stopReplicas?: boolean } = {}): Promise<void> {
    if (!this.#started) return;
    try {
      await this.#started;
    } catch {
      return;
    }
    this.#stopped = true;
    if (this.#refreshTimer) clearInterval(this.#refreshTimer);
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    if (options.stopReplicas) {
      const ns = this.#settings.namespace;
      const deployments = await this.#apps.listNamespacedDeployment({ namespace: ns, labelSelector: this.#selector });
      for (const d of deployments.items) await this.#deleteGeneration(d.metadata!.name!);
      await waitFor(() => (this.#pods?.list() ?? []).length === 0, 5000 + this.#settings.terminationGracePeriodSeconds * 1000);
    }
    await this.#pods?.stop();
    this.#pods = null;
    this.#started = null;
    this.#claims.clear();
  }

  async createReplica(spec: ReplicaSpec): Promise<void> {
    await this.start();
    if (this.#findPod(spec.replicaId) || [...this.#claims.values()].some((cs) => cs.some((c) => c.replicaId === spec.replicaId))) {
      throw new ModeldError('MODELD_ERR_CONFLICT', `replica ${spec.replicaId} already exists`);
    }
    const name = objectName(spec.deploymentId, spec.generation);
    const artifact = await this.#artifactOf(spec);
    await this.#locked(name, async () => {
      await this.#ensureSecret(spec, artifact.ref);
      const claims = this.#claims.get(name) ?? [];
      claims.push({ replicaId: spec.replicaId, deploymentId: spec.deploymentId, generation: spec.generation, createdAt: new Date().toISOString() });
      this.#claims.set(name, claims);
      try {
        await this.#ensureDeployment(spec, artifact, this.#wanted(name));
      } catch (err) {
        this.#claims.set(name, (this.#claims.get(name) ?? []).filter((c) => c.replicaId !== spec.replicaId));
        throw this.#apiError(err, `create the Deployment of replica ${spec.replicaId}`);
      }
    });
    await this.#claimPods();
  }

  async listReplicas(deploymentId?: string): Promise<ObservedReplica[]> {
    await this.start();
    const pods = (this.#pods?.list() ?? []).filter((p) => deploymentId === undefined || annotationOf(p, 'modeld.io/deployment-id') === deploymentId);
    const out: ObservedReplica[] = [];
    const claimedIds = new Set<string>();
    await Promise.all(
      pods.map(async (pod) => {
        const replicaId = this.#replicaIdOf(pod);
        claimedIds.add(replicaId);
        out.push(await this.#observe(pod, replicaId));
      }),
    );
    for (const claims of this.#claims.values()) {
      for (const c of claims) {
        if ((deploymentId !== undefined && c.deploymentId !== deploymentId) || claimedIds.has(c.replicaId)) continue;
        out.push({
          replicaId: c.replicaId,
          deploymentId: c.deploymentId,
          generation: c.generation,
          phase: 'starting',
          endpoint: null,
          pid: null,
          startedAt: c.createdAt,
          readyAt: null,
          exitCode: null,
          lastError: null,
          loadFailed: false,
          inflight: 0,
          waitingReason: 'waiting for the ReplicaSet to create a pod',
        });
      }
    }
    return out.sort((a, b) => a.replicaId.localeCompare(b.replicaId));
  }

  async #observe(pod: V1Pod, replicaId: string): Promise<ObservedReplica> {
    const verdict = podVerdict(pod as Obj);
    const ip = pod.status?.podIP;
    const endpoint = ip ? `http://${ip.includes(':') ? `[${ip}]` : ip}:${this.#settings.runnerPort}` : null;
    const base: ObservedReplica = {
      replicaId,
      deploymentId: annotationOf(pod, 'modeld.io/deployment-id') ?? '',
      generation: Number(pod.metadata?.labels?.[Labels.GENERATION] ?? 0),
      phase: this.#leaving.has(replicaId) ? 'draining' : verdict.phase,
      endpoint: verdict.phase === 'exited' ? null : endpoint,
      pid: null,
      startedAt: toIso(pod.metadata?.creationTimestamp) ?? new Date(0).toISOString(),
      readyAt: verdict.readyAt ? toIso(verdict.readyAt) : null,
      exitCode: verdict.exitCode,
      lastError: verdict.lastError,
      loadFailed: verdict.loadFailed,
      inflight: 0,
      waitingReason: verdict.waitingReason,
      podName: pod.metadata?.name ?? null,
    };
    if ((base.phase === 'ready' || base.phase === 'draining') && endpoint) {
      try {
        const health = await httpJson('GET', endpoint, '/health', this.#o.probeTimeoutMs ?? 1000);
        const body = health.body as { phase?: string; inflight?: number };
        if (base.phase === 'ready' && !(health.status === 200 && body.phase === 'ready')) base.phase = body.phase === 'starting' ? 'starting' : 'draining';
        base.inflight = typeof body.inflight === 'number' ? body.inflight : 0;
      } catch {
        // Kubernetes says ready but the runner does not answer us: not routable until it does.
        if (base.phase === 'ready') base.phase = 'starting';
      }
    }
    return base;
  }

  async deleteReplica(replicaId: string, options: { graceMs: number }): Promise<void> {
    await this.start();
    for (const [name, claims] of this.#claims) {
      if (claims.some((c) => c.replicaId === replicaId)) {
        await this.#locked(name, async () => {
          this.#claims.set(name, (this.#claims.get(name) ?? []).filter((c) => c.replicaId !== replicaId));
          await this.#setReplicas(name);
        });
        if (!this.#findPod(replicaId)) return;
      }
    }
    const pod = this.#findPod(replicaId);
    if (!pod) return; // already gone
    const ns = this.#settings.namespace;
    const podName = pod.metadata!.name!;
    const name = ownerGeneration(pod);
    this.#leaving.add(replicaId);
    try {
      await this.#locked(name, async () => {
        // The lowest deletion cost, then the lower `replicas`: the ReplicaSet controller removes
        // this very pod (it ranks pods by readiness first, then by deletion cost, so only a pod
        // that is not ready yet could go before it). Then the pod is deleted by name as well:
        // a no-op when the ReplicaSet already chose it, and the chosen pod goes in any case.
        // (Deleting first would make the ReplicaSet create a replacement until it sees the lower count.)
        await this.#core.patchNamespacedPod({ namespace: ns, name: podName, body: { metadata: { annotations: { [DELETION_COST]: '-2147483648' } } } }, MERGE).catch(ignoreNotFound);
        await this.#setReplicas(name);
        const graceSeconds = Math.max(1, Math.ceil(options.graceMs / 1000));
        await this.#core.deleteNamespacedPod({ namespace: ns, name: podName, gracePeriodSeconds: graceSeconds }).catch(ignoreNotFound);
      });
      // The kubelet drains it (SIGTERM): wait until the pod object is gone, or give up after the grace.
      const gone = await waitFor(() => !(this.#pods?.list() ?? []).some((p) => p.metadata?.name === podName), options.graceMs + 10_000);
      if (!gone) throw new ModeldError('MODELD_ERR_UNAVAILABLE', `pod ${podName} of replica ${replicaId} is still terminating`);
      await this.#locked(name, async () => {
        if (this.#wanted(name) === 0 && !(this.#pods?.list() ?? []).some((p) => ownerGeneration(p) === name)) await this.#deleteGeneration(name);
      });
    } finally {
      this.#leaving.delete(replicaId);
    }
  }

  /**
   * The generation's `replicas`: its pods alive (not leaving, not failed; claimed or adopted under
   * their name) plus the waiting claims that no unclaimed pod will satisfy.
   */
  #wanted(name: string): number {
    let alive = 0;
    let unclaimed = 0;
    for (const p of this.#pods?.list() ?? []) {
      if (ownerGeneration(p) !== name || p.metadata?.deletionTimestamp || p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded') continue;
      const id = this.#replicaIdOf(p);
      if (this.#leaving.has(id)) continue;
      alive += 1;
      if (id === p.metadata?.name) unclaimed += 1;
    }
    return alive + Math.max(0, (this.#claims.get(name)?.length ?? 0) - unclaimed);
  }

  async #setReplicas(name: string): Promise<void> {
    const ns = this.#settings.namespace;
    await this.#apps.patchNamespacedDeployment({ namespace: ns, name, body: { spec: { replicas: this.#wanted(name) } } }, MERGE).catch(ignoreNotFound);
  }

  async #ensureSecret(spec: ReplicaSpec, artifact: string): Promise<void> {
    const name = objectName(spec.deploymentId, spec.generation);
    this.#secrets.set(name, { spec, artifact });
    const token = await this.#o.artifactToken(artifact, this.#o.artifactTokenTtlSeconds ?? 3600);
    const ns = this.#settings.namespace;
    try {
      await this.#core.createNamespacedSecret({ namespace: ns, body: buildSecret(spec, this.#settings, token) as never });
    } catch (err) {
      if (kubeStatus(err)?.code !== 409) throw this.#apiError(err, `create Secret ${secretName(spec.deploymentId, spec.generation)}`);
      await this.#core.patchNamespacedSecret({ namespace: ns, name: secretName(spec.deploymentId, spec.generation), body: { data: { token: Buffer.from(token).toString('base64') } } }, MERGE);
    }
  }

  async #ensureDeployment(spec: ReplicaSpec, artifact: ArtifactRef, replicas: number): Promise<void> {
    const ns = this.#settings.namespace;
    const name = objectName(spec.deploymentId, spec.generation);
    try {
      await this.#apps.createNamespacedDeployment({ namespace: ns, body: buildDeployment(spec, artifact, this.#settings, replicas) as never });
    } catch (err) {
      if (kubeStatus(err)?.code !== 409) throw err;
      await this.#apps.patchNamespacedDeployment({ namespace: ns, name, body: { spec: { replicas } } }, MERGE);
    }
  }

  async #deleteGeneration(name: string): Promise<void> {
    const ns = this.#settings.namespace;
    await this.#apps.deleteNamespacedDeployment({ namespace: ns, name, propagationPolicy: 'Foreground' }).catch(ignoreNotFound);
    await this.#core.deleteNamespacedSecret({ namespace: ns, name: `${name}-artifact` }).catch(ignoreNotFound);
    this.#secrets.delete(name);
    this.#claims.delete(name);
  }

  /** Gives waiting claims the pods nobody claimed yet, oldest pod to oldest claim; one pass at a time. */
  #claimPods(): Promise<void> {
    this.#claiming = this.#claiming.then(() => this.#claimPass()).catch((err: unknown) => this.#o.logger?.warn({ err }, 'claiming pods failed'));
    return this.#claiming;
  }

  async #claimPass(): Promise<void> {
    if (!this.#pods) return;
    const ns = this.#settings.namespace;
    for (const [name, claims] of this.#claims) {
      if (claims.length === 0) continue;
      const free = this.#pods
        .list()
        .filter((p) => ownerGeneration(p) === name && this.#replicaIdOf(p) === p.metadata?.name && !p.metadata?.deletionTimestamp && p.status?.phase !== 'Failed')
        .sort((a, b) => String(a.metadata?.creationTimestamp).localeCompare(String(b.metadata?.creationTimestamp)));
      for (const pod of free) {
        const claim = claims.shift();
        if (!claim) break;
        try {
          this.#assigned.set(pod.metadata!.name!, claim.replicaId);
          await this.#core.patchNamespacedPod({ namespace: ns, name: pod.metadata!.name!, body: { metadata: { labels: { [Labels.REPLICA]: claim.replicaId } } } }, MERGE);
        } catch (err) {
          this.#assigned.delete(pod.metadata!.name!);
          claims.unshift(claim);
          if (kubeStatus(err)?.code !== 404) this.#o.logger?.warn({ err, pod: pod.metadata?.name }, 'could not claim a pod');
        }
      }
    }
  }

  async #refreshTokens(): Promise<void> {
    for (const { spec, artifact } of this.#secrets.values()) {
      try {
        await this.#ensureSecret(spec, artifact);
      } catch (err) {
        this.#o.logger?.warn({ err, deploymentId: spec.deploymentId }, 'could not refresh an artifact token');
      }
    }
  }

  #findPod(replicaId: string): V1Pod | undefined {
    return (this.#pods?.list() ?? []).find((p) => this.#replicaIdOf(p) === replicaId);
  }

  /** The replica id a pod serves: its label, the claim being written, or (unclaimed) its name. */
  #replicaIdOf(pod: V1Pod): string {
    const name = pod.metadata!.name!;
    const labelled = pod.metadata?.labels?.[Labels.REPLICA];
    if (labelled !== undefined) {
      this.#assigned.delete(name);
      return labelled;
    }
    return this.#assigned.get(name) ?? name;
  }

  /** `artifacts/<id>` or `models/<name>` and the sha256 of its manifest.json, from the server's own copy. */
  async #artifactOf(spec: ReplicaSpec): Promise<ArtifactRef> {
    const dir = path.resolve(spec.artifactDir);
    const roots = this.#o.artifactRoots;
    let ref: string | null = null;
    if (path.dirname(dir) === path.resolve(roots.artifacts)) ref = `artifacts/${path.basename(dir)}`;
    else if (path.dirname(dir) === path.resolve(roots.models)) ref = `models/${path.basename(dir)}`;
    if (ref === null) throw new ModeldError('MODELD_ERR_VALIDATION', `replica ${spec.replicaId}: its artifact is not in the artifact store, so pods cannot fetch it`);
    // A manifest that cannot be read gives no checksum to expect: the pods are made anyway, and
    // their init container says what is wrong (the same way a process replica reports it).
    const bytes = await readFile(path.join(dir, 'manifest.json')).catch(() => Buffer.alloc(0));
    return { ref, manifestSha256: createHash('sha256').update(bytes).digest('hex') };
  }

  #apiError(err: unknown, what: string): ModeldError {
    if (err instanceof ModeldError) return err;
    const status = kubeStatus(err);
    const ns = this.#settings.namespace;
    if (status?.code === 404 && /namespaces? ".*" not found/.test(status.message)) {
      return new ModeldError('MODELD_ERR_UNAVAILABLE', `kubernetes region ${this.#settings.region}: namespace "${ns}" does not exist`, { cause: err });
    }
    if (status?.code === 403) return new ModeldError('MODELD_ERR_UNAVAILABLE', `kubernetes region ${this.#settings.region}: forbidden by RBAC: ${status.message}`, { cause: err });
    return new ModeldError('MODELD_ERR_UNAVAILABLE', `kubernetes region ${this.#settings.region}: cannot ${what}: ${status?.message ?? (err as Error).message}`, { cause: err });
  }

  /** Runs `fn` after every earlier call for the same generation object (no lost `replicas` updates). */
  async #locked(name: string, fn: () => Promise<void>): Promise<void> {
    const previous = this.#locks.get(name) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => {});
    this.#locks.set(name, tail);
    try {
      await run;
    } finally {
      if (this.#locks.get(name) === tail) this.#locks.delete(name);
    }
  }
}

/** The Status a Kubernetes API error carried (client-node's ApiException: `code` and a JSON `body`). */
export function kubeStatus(err: unknown): { code: number; reason: string; message: string } | null {
  const e = err as { code?: unknown; body?: unknown };
  if (typeof e?.code !== 'number') return null;
  let body: Obj = {};
  try {
    body = typeof e.body === 'string' ? (JSON.parse(e.body) as Obj) : ((e.body as Obj) ?? {});
  } catch {
    body = { message: String(e.body) };
  }
  return { code: e.code, reason: String(body.reason ?? ''), message: String(body.message ?? (err as Error).message ?? '') };
}

function ignoreNotFound(err: unknown): void {
  if (kubeStatus(err)?.code !== 404) throw err;
}

function annotationOf(pod: V1Pod, key: string): string | undefined {
  return pod.metadata?.annotations?.[key];
}

/** The generation object (Deployment) name a pod belongs to, from its labels. */
function ownerGeneration(pod: V1Pod): string {
  const id = annotationOf(pod, 'modeld.io/deployment-id') ?? '';
  return objectName(id, Number(pod.metadata?.labels?.[Labels.GENERATION] ?? 0));
}

function toIso(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  const d = v instanceof Date ? v : new Date(String(v));
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}
