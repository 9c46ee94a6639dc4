/**
 * An in-process fake of a Kubernetes cluster, for tests and benchmarks only.
 *
 * Why: no Kubernetes API server can be installed on the machines modeld is developed and tested
 * on, yet the Kubernetes runtime must be tested end to end. So this is a real HTTP server on
 * 127.0.0.1 speaking the kube-apiserver's REST protocol for the resources the runtime uses
 * (core/v1 namespaces, pods, secrets, events; apps/v1 deployments, replicasets;
 * authorization.k8s.io/v1 selfsubjectaccessreviews): list with resourceVersion, watch with
 * bookmarks and 410 Gone, merge / strategic merge / JSON patches, dryRun, Status errors with the
 * real codes, reasons and messages (api-server.ts). The official `@kubernetes/client-node` talks
 * to it unchanged through a kubeconfig file. Behind it run a simulated Deployment/ReplicaSet
 * controller and garbage collector (controllers.ts) and a simulated scheduler and kubelet that
 * run pods as real processes on loopback (kubelet.ts), and can play the failures a cluster
 * reports: image pull errors, crash loops, unschedulable pods, evictions, RBAC refusals.
 *
 * What it is not: an API server with admission, quotas, the full schema validation (only the
 * checks listed in api-server.ts plus kubernetes-models' schemas for Deployments and Secrets),
 * server-side apply, or more than the fields modeld reads. `npm run test:kubernetes` runs the same
 * runtime tests against a real cluster.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeApiServer, RESOURCES, type Forbidden } from './api-server.js';
import { FakeControllers } from './controllers.js';
import { FakeKubelet, type FakeNode } from './kubelet.js';
import { ObjectStore, parseLabelSelector, type KubeObject } from './object-store.js';

export interface FakeKubernetesOptions {
  /** Namespaces that exist from the start. */
  namespaces?: string[];
  /** Image name -> local directory that plays the image's `/app` (the repository checkout). */
  images?: Record<string, { root: string }>;
  /** Nodes and their allocatable cpu/memory. Default one node with 64 cpu and 256Gi. */
  nodes?: FakeNode[];
  /** Verbs the service account may not use (plays RBAC: 403 Forbidden, and SSAR allowed false). */
  rbac?: { forbid?: Forbidden[] };
  kubelet?: { restartBackoffMs?: number; maxRestartBackoffMs?: number; probePeriodMs?: number };
  /** Changes a watch can replay (default 5000); older resourceVersions are 410 Gone, as after etcd compaction. */
  watchHistory?: number;
}

export interface FakeKubernetes {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** A kubeconfig file (context `fake`, bearer token) for KubeConfig.loadFromFile. */
  kubeconfigPath: string;
  get(kind: string, namespace: string, name: string): KubeObject | undefined;
  list(kind: string, namespace?: string, labelSelector?: string): KubeObject[];
  /** Creates an object as a cluster user would (kubectl create), e.g. a Deployment modeld did not make. */
  create(kind: string, namespace: string, object: KubeObject): KubeObject;
  evictPod(namespace: string, name: string, message?: string): void;
  /** Kills a container's process (a crash or the OOM killer); the kubelet restarts it. */
  killContainer(namespace: string, pod: string, container: string, signal?: NodeJS.Signals): boolean;
  setImagePullError(image: string, message?: string): void;
  deleteNamespace(namespace: string): void;
  close(): Promise<void>;
}

export async function startFakeKubernetes(options: FakeKubernetesOptions = {}): Promise<FakeKubernetes> {
  const store = new ObjectStore(options.watchHistory);
  const token = randomBytes(16).toString('hex');
  let controllers: FakeControllers | null = null;
  let kubelet: FakeKubelet | null = null;
  const api = new FakeApiServer({
    store,
    token,
    forbid: options.rbac?.forbid ?? [],
    hooks: {
      deletePod: (ns, name, grace) => kubelet?.deletePod(ns, name, grace),
      changed: () => {
        controllers?.kick();
        kubelet?.kick();
      },
    },
  });
  controllers = new FakeControllers(store, api);
  kubelet = new FakeKubelet(store, {
    images: options.images ?? {},
    nodes: options.nodes ?? [{ name: 'node-a', cpu: '64', memory: '256Gi' }],
    restartBackoffMs: options.kubelet?.restartBackoffMs ?? 200,
    maxRestartBackoffMs: options.kubelet?.maxRestartBackoffMs ?? 2000,
    probePeriodMs: options.kubelet?.probePeriodMs ?? 250,
    baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  // Status writes by the controllers and the kubelet go straight to the store: both look again.
  store.onChange(() => {
    controllers?.kick();
    kubelet?.kick();
  });
  for (const ns of options.namespaces ?? []) store.create('Namespace', '', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns }, status: { phase: 'Active' } });
  const url = await api.listen();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modeld-fake-kube-'));
  const kubeconfigPath = path.join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfigPath,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // Plain HTTP on loopback: @kubernetes/client-node allows it only with insecure-skip-tls-verify
      // (a real cluster's kubeconfig carries its CA instead).
      clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'fake', user: { token } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
      'current-context': 'fake',
    }),
    { mode: 0o600 },
  );
  const info = (kind: string) => {
    const found = RESOURCES.find((r) => r.kind === kind);
    if (!found) throw new Error(`the fake does not serve kind ${kind}`);
    return found;
  };
  return {
    url,
    kubeconfigPath,
    get: (kind, ns, name) => store.get(kind, info(kind).namespaced ? ns : '', name),
    list: (kind, ns, selector) => {
      const matches = parseLabelSelector(selector);
      return store.list(kind, ns).filter((o) => matches(o.metadata.labels));
    },
    create: (kind, ns, object) => api.create(info(kind), ns, object),
    evictPod: (ns, name, message) => kubelet!.evictPod(ns, name, message),
    killContainer: (ns, pod, container, signal) => kubelet!.killContainer(ns, pod, container, signal),
    setImagePullError: (image, message) => kubelet!.setImagePullError(image, message),
    deleteNamespace: (ns) => {
      for (const r of RESOURCES) if (r.namespaced) for (const o of store.list(r.kind, ns)) r.kind === 'Pod' ? kubelet!.deletePod(ns, o.metadata.name, 0) : store.delete(r.kind, ns, o.metadata.name);
      store.delete('Namespace', '', ns);
    },
    async close() {
      controllers!.close();
      await kubelet!.close();
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { rankForDeletion } from './controllers.js';
export type { KubeObject } from './object-store.js';
export type { Forbidden } from './api-server.js';
export type { FakeNode } from './kubelet.js';
