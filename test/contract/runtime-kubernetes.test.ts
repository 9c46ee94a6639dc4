/**
 * The runtime contract against the Kubernetes runtime (what only Kubernetes has is in
 * runtime-kubernetes-specifics.test.ts).
 *
 * Against the fake Kubernetes API (src/runtimes/kubernetes/fake: no API server can run on these
 * machines) whose simulated kubelet runs each pod's init container and runner as real processes;
 * the init container fetches the artifact from a real modeld API (internal artifact endpoint).
 * With MODELD_TEST_KUBECONFIG set (npm run test:kubernetes), the contract runs against that
 * cluster instead: see docs/kubernetes.md.
 */
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readManifest, writeManifest } from '../../src/engines/index.js';
import { KubernetesRuntime, Labels, type KubernetesRuntimeOptions } from '../../src/runtimes/kubernetes/index.js';
import { startFakeKubernetes, type FakeKubernetes } from '../../src/runtimes/kubernetes/fake/index.js';
import { makeBrokenArtifacts, makeModeldArtifact } from '../fixtures/models.js';
import { makeTempDir, type TempDir } from '../fixtures/tmp.js';
import { startApi, type ApiHarness } from '../integration/api-harness.js';
import { runtimeContract, type ContractArtifacts, type RuntimeHarness } from './runtime.contract.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NS = 'modeld-replicas';
const IMAGE = 'modeld:test';
const real = process.env.MODELD_TEST_KUBECONFIG;

let tmp: TempDir;
let api: ApiHarness;
let apiUrl: string;
let kube: FakeKubernetes | null = null;
let artifacts: ContractArtifacts;
let roots: { artifacts: string; models: string };

async function artifactWithModel(dir: string, onnxFile: string): Promise<string> {
  await makeModeldArtifact(dir);
  const manifest = await readManifest(dir);
  await copyFile(onnxFile, path.join(dir, 'model.onnx'));
  const { formatVersion: _v, files: _f, ...draft } = manifest;
  await writeManifest(dir, draft, Object.keys(manifest.files));
  return dir;
}

before(async () => {
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
});

after(async () => {
  await kube?.close();
  await api?.close();
  await tmp?.cleanup();
});

function options(overrides: Partial<KubernetesRuntimeOptions> = {}): KubernetesRuntimeOptions {
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
function kubernetesHarness(overrides: Partial<KubernetesRuntimeOptions> = {}): RuntimeHarness {
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

runtimeContract('kubernetes (fake API, simulated kubelet)', async () => kubernetesHarness(), async () => artifacts);

