/**
 * What the Kubernetes runtime's two test files share (runtime-kubernetes.test.ts, the contract;
 * runtime-kubernetes-specifics.test.ts): the fake Kubernetes API whose simulated kubelet runs each
 * pod's init container and runner as real processes, a real modeld API on loopback the init
 * containers fetch their artifact from, the contract's artifacts, and a harness per runtime. With
 * MODELD_TEST_KUBECONFIG set (npm run test:kubernetes), a real cluster instead of the fake.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubernetesRuntime, Labels, type KubernetesRuntimeOptions } from '../../src/runtimes/kubernetes/index.js';
import { startFakeKubernetes, type FakeKubernetes } from '../../src/runtimes/kubernetes/fake/index.js';
import { artifactWithModel, makeBrokenArtifacts, makeModeldArtifact } from '../fixtures/models.js';
import { makeTempDir, type TempDir } from '../fixtures/tmp.js';
import { startApi, type ApiHarness } from '../integration/api-harness.js';
import type { ContractArtifacts, RuntimeHarness } from './runtime.contract.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const NS = 'modeld-replicas';
export const IMAGE = 'modeld:test';
/** A real cluster's kubeconfig (npm run test:kubernetes), else the fake is used. */
export const real = process.env.MODELD_TEST_KUBECONFIG;

let tmp: TempDir;
let api: ApiHarness;
let apiUrl: string;
let kube: FakeKubernetes | null = null;
let artifacts: ContractArtifacts;
let roots: { artifacts: string; models: string };

/**
 * Starts what both Kubernetes runtime test files need, in their `before`: the artifacts, the
 * modeld API the pods fetch them from, and the fake Kubernetes API (unless a real cluster is named).
 */
export async function startKubernetesFixture(): Promise<void> {
  tmp = await makeTempDir('modeld-kube-runtime');
  roots = { artifacts: path.join(tmp.dir, 'artifacts'), models: path.join(tmp.dir, 'models') };
  const tiny = await makeModeldArtifact(path.join(roots.artifacts, 'tiny'));
  const broken = await makeBrokenArtifacts(roots.artifacts);
  const sessionFails = await artifactWithModel(path.join(roots.artifacts, 'session-fails'), path.join(broken.failsAtLoad, 'onnx', 'model.onnx'));
  artifacts = {
    model: { dir: tiny, vectorSize: 32 },
    broken: [
      { name: 'wrong checksum', dir: broken.badChecksum, reason: /tokenizer\.json: checksum mismatch/ },
      { name: 'fails at session creation', dir: sessionFails, reason: /onnxruntime cannot load the model/ },
      { name: 'no manifest', dir: broken.missingTokenizer, reason: /manifest\.json: cannot read/ },
    ],
  };
  // The modeld API the pods fetch their artifact from (a real one, on loopback).
  api = await startApi({ artifactRoots: roots });
  // A real cluster's pods must reach this API: MODELD_TEST_KUBE_ARTIFACT_URL says how (this
  // machine's address as the pods see it); the API then listens on every interface.
  const listened = await api.app.listen({ port: real ? Number(process.env.MODELD_TEST_KUBE_ARTIFACT_PORT ?? 0) : 0, host: real ? '0.0.0.0' : '127.0.0.1' });
  apiUrl = real ? (process.env.MODELD_TEST_KUBE_ARTIFACT_URL ?? listened) : listened;
  if (!real) kube = await startFakeKubernetes({ namespaces: [NS], images: { [IMAGE]: { root: repoRoot } }, kubelet: { restartBackoffMs: 100, maxRestartBackoffMs: 1000, probePeriodMs: 100 } });
}

/** Stops what startKubernetesFixture started (their `after`). */
export async function stopKubernetesFixture(): Promise<void> {
  await kube?.close();
  await api?.close();
  await tmp?.cleanup();
}

/** The fake (null against a real cluster), the API, the artifacts: read after startKubernetesFixture. */
export const fixture = {
  get kube(): FakeKubernetes | null {
    return kube;
  },
  get api(): ApiHarness {
    return api;
  },
  get artifacts(): ContractArtifacts {
    return artifacts;
  },
};

export function options(overrides: Partial<KubernetesRuntimeOptions> = {}): KubernetesRuntimeOptions {
  return {
    region: 'cluster',
    namespace: real ? (process.env.MODELD_TEST_KUBE_NAMESPACE ?? 'modeld-test') : NS,
    image: real ? (process.env.MODELD_TEST_KUBE_IMAGE ?? 'modeld:0.1.0') : IMAGE,
    kubeconfig: real ?? kube!.kubeconfigPath,
    ...(real && process.env.MODELD_TEST_KUBE_CONTEXT ? { context: process.env.MODELD_TEST_KUBE_CONTEXT } : {}),
    artifactBaseUrl: apiUrl,
    installation: `contract-${process.pid}`,
    terminationGracePeriodSeconds: 30,
    artifactRoots: roots,
    artifactToken: (artifact, ttl) => api.tokens.issueArtifactToken(artifact, ttl),
    probeTimeoutMs: 2000,
    ...overrides,
  };
}

let harnessCount = 0;

/** A runtime of its own installation (label), so that tests do not see each other's pods; reopen() keeps it. */
export function kubernetesHarness(overrides: Partial<KubernetesRuntimeOptions> = {}): RuntimeHarness {
  const made: KubernetesRuntime[] = [];
  const installation = `contract-${process.pid}-${++harnessCount}`;
  const make = () => {
    const rt = new KubernetesRuntime(options({ installation, ...overrides }));
    made.push(rt);
    return rt;
  };
  const runtime = make();
  return {
    runtime,
    runnerKnowsReplicaId: false,
    reopen: async () => make(),
    kill: async (replica) => {
      if (!kube) throw new Error('killing a container needs the fake (a real cluster: kubectl exec kill)');
      const pod = kube.list('Pod', NS, `${Labels.REPLICA}=${replica.replicaId}`)[0];
      assert.ok(pod, `a pod for ${replica.replicaId}`);
      assert.ok(kube.killContainer(NS, pod.metadata.name, 'runner', 'SIGKILL'));
    },
    cleanup: async () => {
      await runtime.stop({ stopReplicas: true }).catch(() => {});
      for (const rt of made.slice(1)) await rt.stop().catch(() => {});
    },
  };
}

