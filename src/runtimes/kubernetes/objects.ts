/**
 * The Kubernetes objects of one modeld deployment generation, built from a ReplicaSpec and the
 * region's settings. Pure: no I/O, the same input gives the same objects (so they can be checked
 * against the Kubernetes schemas in tests, and read by an administrator with kubectl).
 *
 * - `apps/v1 Deployment` `mr-<8 hex of sha256(deploymentId)>-g<generation>`: modeld's desired
 *   count of that generation's replicas as `replicas`. One per generation because modeld's
 *   controller runs rollouts itself (surge, readiness-gated drain through the gateway); a single
 *   Deployment whose template changed would let Kubernetes' rolling update kill old pods on its
 *   own schedule while the gateway still sends them work.
 * - `v1 Secret` `<that name>-artifact`: the artifact token the pods' init container uses to fetch
 *   the artifact from modeld (refreshed by the runtime).
 */
import { createHash } from 'node:crypto';
import { modelConfigEnv } from '../process/model-env.js';
import type { ReplicaSpec } from '../types.js';

/** Labels and annotations modeld puts on what it creates (and selects by). */
export const Labels = {
  MANAGED_BY: 'app.kubernetes.io/managed-by',
  NAME: 'app.kubernetes.io/name',
  INSTALLATION: 'modeld.io/installation',
  REGION: 'modeld.io/region',
  CUSTOMER: 'modeld.io/customer',
  MODEL: 'modeld.io/model',
  DEPLOYMENT: 'modeld.io/deployment',
  GENERATION: 'modeld.io/generation',
  /** The modeld replica id a pod serves, set by the runtime when it claims the pod. */
  REPLICA: 'modeld.io/replica-id',
} as const;

export const DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';
export const ARTIFACT_DIR_IN_POD = '/var/lib/modeld/artifact';
export const DEFAULT_RUNNER_PORT = 8491;

export interface PodSettings {
  namespace: string;
  image: string;
  installation: string;
  region: string;
  /** Base URL pods reach modeld at (its Service), for the internal artifact endpoint. */
  artifactBaseUrl: string;
  runnerPort: number;
  resources?: Record<string, unknown>;
  nodeSelector?: Record<string, string>;
  tolerations?: Record<string, unknown>[];
  imagePullSecrets?: string[];
  terminationGracePeriodSeconds: number;
  /** A partial PodTemplateSpec merged last (maps merged, containers by name). */
  podTemplate?: Record<string, unknown>;
  batchWaitMs: number;
  maxBatchItems: number;
}

/** Where the artifact is (`artifacts/<id>` or `models/<name>`) and the sha256 of its manifest.json bytes. */
export interface ArtifactRef {
  ref: string;
  manifestSha256: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

export function objectName(deploymentId: string, generation: number): string {
  return `mr-${createHash('sha256').update(deploymentId).digest('hex').slice(0, 8)}-g${generation}`;
}

export function secretName(deploymentId: string, generation: number): string {
  return `${objectName(deploymentId, generation)}-artifact`;
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** A label value for an id: itself when valid, else a hash (the full id is in an annotation). */
export function labelValue(id: string): string {
  return id.length <= 63 && LABEL_VALUE.test(id) ? id : `h-${createHash('sha256').update(id).digest('hex').slice(0, 40)}`;
}

export function commonLabels(spec: Pick<ReplicaSpec, 'customerId' | 'modelId' | 'deploymentId' | 'generation'>, settings: Pick<PodSettings, 'installation' | 'region'>): Record<string, string> {
  return {
    [Labels.MANAGED_BY]: 'modeld',
    [Labels.NAME]: 'modeld-runner',
    [Labels.INSTALLATION]: labelValue(settings.installation),
    [Labels.REGION]: labelValue(settings.region),
    [Labels.CUSTOMER]: labelValue(spec.customerId),
    [Labels.MODEL]: labelValue(spec.modelId),
    [Labels.DEPLOYMENT]: labelValue(spec.deploymentId),
    [Labels.GENERATION]: String(spec.generation),
  };
}

/** The label selector of everything one installation of modeld created. */
export function installationSelector(installation: string): string {
  return `${Labels.MANAGED_BY}=modeld,${Labels.INSTALLATION}=${labelValue(installation)}`;
}

function fullIds(spec: ReplicaSpec): Record<string, string> {
  return { 'modeld.io/deployment-id': spec.deploymentId, 'modeld.io/customer-id': spec.customerId, 'modeld.io/model-id': spec.modelId };
}

/** The Deployment of one generation, with `replicas` replicas. */
export function buildDeployment(spec: ReplicaSpec, artifact: ArtifactRef, settings: PodSettings, replicas: number): Obj {
  const name = objectName(spec.deploymentId, spec.generation);
  const labels = commonLabels(spec, settings);
  const selector = { [Labels.INSTALLATION]: labels[Labels.INSTALLATION]!, [Labels.DEPLOYMENT]: labels[Labels.DEPLOYMENT]!, [Labels.GENERATION]: labels[Labels.GENERATION]! };
  const modelEnv = modelConfigEnv(spec.config);
  const securityContext = { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
  const mounts = [
    { name: 'artifact', mountPath: ARTIFACT_DIR_IN_POD },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  let podSpec: Obj = {
    terminationGracePeriodSeconds: settings.terminationGracePeriodSeconds,
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001 },
    initContainers: [
      {
        name: 'fetch-artifact',
        image: settings.image,
        command: ['node', '--import', 'tsx', '/app/src/runner/fetch-artifact-main.ts'],
        env: [
          { name: 'MODELD_ARTIFACT_URL', value: `${settings.artifactBaseUrl.replace(/\/+$/, '')}/internal/artifacts/${artifact.ref}` },
          { name: 'MODELD_ARTIFACT_SHA256', value: artifact.manifestSha256 },
          { name: 'MODELD_ARTIFACT_DIR', value: ARTIFACT_DIR_IN_POD },
          { name: 'MODELD_ARTIFACT_TOKEN', valueFrom: { secretKeyRef: { name: secretName(spec.deploymentId, spec.generation), key: 'token' } } },
        ],
        volumeMounts: mounts,
        securityContext,
        terminationMessagePolicy: 'FallbackToLogsOnError',
      },
    ],
    containers: [
      {
        name: 'runner',
        image: settings.image,
        command: ['node', '--import', 'tsx', '/app/src/runner/pod-main.ts'],
        ports: [{ name: 'runner', containerPort: settings.runnerPort, protocol: 'TCP' }],
        env: [
          { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'MODELD_RUNNER_PORT', value: String(settings.runnerPort) },
          { name: 'MODELD_ARTIFACT_DIR', value: ARTIFACT_DIR_IN_POD },
          { name: 'MODELD_DEPLOYMENT_ID', value: spec.deploymentId },
          { name: 'MODELD_CUSTOMER_ID', value: spec.customerId },
          { name: 'MODELD_MODEL_ID', value: spec.modelId },
          { name: 'MODELD_GENERATION', value: String(spec.generation) },
          { name: 'MODELD_INTRA_OP_THREADS', value: String(spec.intraOpThreads) },
          { name: 'MODELD_BATCH_WAIT_MS', value: String(settings.batchWaitMs) },
          { name: 'MODELD_MAX_BATCH_ITEMS', value: String(settings.maxBatchItems) },
          { name: 'MODELD_TERMINATION_LOG', value: '/dev/termination-log' },
          // The same two variables a process replica gets (process/model-env.ts).
          { name: 'MODEL_CONFIG_JSON', value: modelEnv.MODEL_CONFIG_JSON },
          { name: 'PREDICTIVE_UNIT_PARAMETERS', value: modelEnv.PREDICTIVE_UNIT_PARAMETERS },
        ],
        readinessProbe: { httpGet: { path: '/health', port: 'runner' }, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 1, successThreshold: 1 },
        ...(settings.resources ? { resources: settings.resources } : {}),
        volumeMounts: mounts,
        securityContext,
        terminationMessagePolicy: 'FallbackToLogsOnError',
      },
    ],
    volumes: [
      { name: 'artifact', emptyDir: {} },
      { name: 'tmp', emptyDir: {} },
    ],
    ...(settings.nodeSelector && Object.keys(settings.nodeSelector).length > 0 ? { nodeSelector: settings.nodeSelector } : {}),
    ...(settings.tolerations && settings.tolerations.length > 0 ? { tolerations: settings.tolerations } : {}),
    ...(settings.imagePullSecrets && settings.imagePullSecrets.length > 0 ? { imagePullSecrets: settings.imagePullSecrets.map((n) => ({ name: n })) } : {}),
  };
  let templateMeta: Obj = { labels, annotations: fullIds(spec) };
  if (settings.podTemplate) {
    const overlay = settings.podTemplate as Obj;
    if (overlay.metadata) templateMeta = mergeTemplate(templateMeta, overlay.metadata, '') as Obj;
    if (overlay.spec) podSpec = mergeTemplate(podSpec, overlay.spec, '') as Obj;
    // The selector's labels are modeld's: an overlay cannot take them away.
    templateMeta.labels = { ...templateMeta.labels, ...labels };
  }
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: settings.namespace, labels, annotations: fullIds(spec) },
    spec: {
      replicas,
      selector: { matchLabels: selector },
      // modeld's controller decides when pods come and go; Kubernetes only keeps the count.
      strategy: { type: 'Recreate' },
      revisionHistoryLimit: 0,
      template: { metadata: templateMeta, spec: podSpec },
    },
  };
}

/** The Secret holding the artifact token of one generation's pods. */
export function buildSecret(spec: ReplicaSpec, settings: PodSettings, token: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: secretName(spec.deploymentId, spec.generation), namespace: settings.namespace, labels: commonLabels(spec, settings), annotations: fullIds(spec) },
    data: { token: Buffer.from(token).toString('base64') },
  };
}

const BY_NAME = new Set(['containers', 'initContainers', 'env', 'volumes', 'volumeMounts', 'ports', 'imagePullSecrets']);

/** Strategic-merge-like overlay: maps merged, lists of named items merged by name, other lists replaced. */
function mergeTemplate(base: unknown, overlay: unknown, field: string): unknown {
  if (Array.isArray(overlay) && Array.isArray(base) && BY_NAME.has(field)) {
    const key = field === 'volumeMounts' ? 'mountPath' : field === 'ports' ? 'containerPort' : 'name';
    const out = [...base] as Obj[];
    for (const item of overlay as Obj[]) {
      const i = out.findIndex((o) => o[key] === item[key]);
      if (i >= 0) out[i] = mergeTemplate(out[i], item, '') as Obj;
      else out.push(item);
    }
    return out;
  }
  if (overlay === null || typeof overlay !== 'object' || Array.isArray(overlay) || base === null || typeof base !== 'object' || Array.isArray(base)) return overlay;
  const out: Obj = { ...(base as Obj) };
  for (const [k, v] of Object.entries(overlay as Obj)) out[k] = mergeTemplate(out[k], v, k);
  return out;
}
