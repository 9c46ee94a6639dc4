/**
 * What only the Kubernetes runtime has (its contract run is runtime-kubernetes.test.ts; two files
 * so that each stays within the test runner's per-file timeout): the objects it makes (checked
 * against the Kubernetes schemas), failures Kubernetes reports, RBAC and a missing namespace,
 * scale-down of the chosen pod, and objects modeld did not make.
 *
 * Against the fake Kubernetes API (src/runtimes/kubernetes/fake: no API server can run on these
 * machines) whose simulated kubelet runs each pod's init container and runner as real processes;
 * the init container fetches the artifact from a real modeld API (internal artifact endpoint).
 * With MODELD_TEST_KUBECONFIG set (npm run test:kubernetes), the contract runs against that
 * cluster instead: see docs/kubernetes.md.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Secret } from 'kubernetes-models/v1/Secret';
import { buildDeployment, buildSecret, KubernetesRuntime, Labels, objectName, type KubernetesRuntimeOptions } from '../../src/runtimes/kubernetes/index.js';
import { startFakeKubernetes } from '../../src/runtimes/kubernetes/fake/index.js';
import { fixture, IMAGE, kubernetesHarness, NS, options, real, startKubernetesFixture, stopKubernetesFixture } from './kubernetes-fixture.js';
import { replicaSpec, waitForReplica, waitReady, type RuntimeHarness } from './runtime.contract.js';

before(startKubernetesFixture);
after(stopKubernetesFixture);

describe('kubernetes runtime specifics', { skip: real ? 'these use the fake’s failure injection' : false }, () => {
  const harnesses: RuntimeHarness[] = [];
  after(async () => {
    for (const h of harnesses) await h.cleanup();
  });
  async function fresh(overrides: Partial<KubernetesRuntimeOptions> = {}): Promise<KubernetesRuntime> {
    const h = kubernetesHarness(overrides);
    harnesses.push(h);
    await h.runtime.start();
    return h.runtime as KubernetesRuntime;
  }

  test('the objects it makes pass the Kubernetes schemas, carry the labels, the config and no privilege', async () => {
    const spec = replicaSpec(fixture.artifacts.model.dir, { config: { threads: 2, label: 'x' }, generation: 4 });
    const settings = {
      namespace: NS,
      image: IMAGE,
      installation: 'modeld',
      region: 'cluster',
      artifactBaseUrl: 'http://modeld.modeld.svc:8080',
      runnerPort: 8491,
      terminationGracePeriodSeconds: 60,
      batchWaitMs: 1,
      maxBatchItems: 32,
      resources: { requests: { cpu: '500m', memory: '512Mi' }, limits: { memory: '1Gi' } },
      nodeSelector: { pool: 'inference' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'inference', effect: 'NoSchedule' }],
      imagePullSecrets: ['registry'],
      podTemplate: { metadata: { annotations: { 'team.example/owner': 'search' } }, spec: { priorityClassName: 'inference', containers: [{ name: 'runner', env: [{ name: 'EXTRA', value: '1' }] }] } },
    };
    const d = buildDeployment(spec, { ref: 'artifacts/tiny', manifestSha256: 'a'.repeat(64) }, settings, 2);
    new Deployment(d as never).validate();
    new Secret(buildSecret(spec, settings, 'token') as never).validate();
    assert.equal(d.metadata.name, objectName(spec.deploymentId, 4));
    assert.equal(d.spec.replicas, 2);
    for (const key of [Labels.CUSTOMER, Labels.MODEL, Labels.DEPLOYMENT, Labels.GENERATION, Labels.INSTALLATION]) assert.ok(d.spec.template.metadata.labels[key], key);
    const runner = d.spec.template.spec.containers.find((c: { name: string }) => c.name === 'runner');
    const env = Object.fromEntries(runner.env.filter((e: { value?: string }) => e.value !== undefined).map((e: { name: string; value: string }) => [e.name, e.value]));
    assert.deepEqual(JSON.parse(env.MODEL_CONFIG_JSON), spec.config);
    assert.deepEqual(JSON.parse(env.PREDICTIVE_UNIT_PARAMETERS), [
      { name: 'threads', value: '2', type: 'INT' },
      { name: 'label', value: 'x', type: 'STRING' },
    ]);
    assert.equal(env.EXTRA, '1', 'the podTemplate overlay merges containers by name');
    assert.equal(d.spec.template.spec.priorityClassName, 'inference');
    assert.equal(d.spec.template.metadata.annotations['team.example/owner'], 'search');
    assert.equal(runner.securityContext.readOnlyRootFilesystem, true);
    assert.equal(runner.securityContext.allowPrivilegeEscalation, false);
    assert.equal(d.spec.template.spec.automountServiceAccountToken, false, 'replica pods get no API credentials');
    assert.deepEqual(runner.readinessProbe.httpGet, { path: '/health', port: 'runner' });
  });

  test('a missing namespace and a forbidden create are clear errors at start, naming what is missing', async () => {
    await assert.rejects(new KubernetesRuntime(options({ namespace: 'nowhere' })).start(), (err: Error & { code?: string }) => err.code === 'MODELD_ERR_UNAVAILABLE' && /namespace "nowhere" does not exist/.test(err.message));
    const locked = await startFakeKubernetes({ namespaces: [NS], rbac: { forbid: [{ verb: 'create', group: 'apps', resource: 'deployments' }] } });
    try {
      await assert.rejects(new KubernetesRuntime(options({ kubeconfig: locked.kubeconfigPath })).start(), (err: Error) => /may not create .* \(RBAC\).*cannot create resource "deployments" in API group "apps"/.test(err.message));
    } finally {
      await locked.close();
    }
  });

  test('an image that cannot be pulled: exited, loadFailed, with Kubernetes’ reason', async () => {
    fixture.kube!.setImagePullError('modeld:missing');
    const runtime = await fresh({ image: 'modeld:missing' });
    const spec = replicaSpec(fixture.artifacts.model.dir);
    await runtime.createReplica(spec);
    const failed = await waitForReplica(runtime, spec.replicaId, (r) => r.phase === 'exited', 'exited');
    assert.equal(failed.loadFailed, true);
    assert.match(failed.lastError ?? '', /^(ErrImagePull|ImagePullBackOff): /);
    await runtime.deleteReplica(spec.replicaId, { graceMs: 1000 });
  });

  test('an unschedulable pod stays starting with the scheduler’s message as its waiting reason', async () => {
    const runtime = await fresh({ resources: { requests: { cpu: '1000' } } });
    const spec = replicaSpec(fixture.artifacts.model.dir);
    await runtime.createReplica(spec);
    const waiting = await waitForReplica(runtime, spec.replicaId, (r) => /Unschedulable/.test(r.waitingReason ?? ''), 'unschedulable');
    assert.equal(waiting.phase, 'starting');
    assert.match(waiting.waitingReason!, /^Unschedulable: 0\/1 nodes are available: 1 Insufficient cpu\./);
    await runtime.deleteReplica(spec.replicaId, { graceMs: 1000 });
  });

  test('an evicted pod is reported exited with the eviction message', async () => {
    const runtime = await fresh();
    const spec = replicaSpec(fixture.artifacts.model.dir);
    await runtime.createReplica(spec);
    await waitReady(runtime, spec.replicaId);
    const pod = fixture.kube!.list('Pod', NS, `${Labels.REPLICA}=${spec.replicaId}`)[0]!;
    fixture.kube!.evictPod(NS, pod.metadata.name, 'The node was low on resource: memory.');
    const exited = await waitForReplica(runtime, spec.replicaId, (r) => r.phase === 'exited', 'exited');
    assert.equal(exited.lastError, 'Evicted: The node was low on resource: memory.');
    await runtime.deleteReplica(spec.replicaId, { graceMs: 1000 });
  });

  test('scale-down removes the chosen replica’s pod and no other; the last one takes the Deployment and Secret along; foreign objects stay', async () => {
    const foreign = fixture.kube!.create('Deployment', NS, {
      metadata: { name: 'not-ours', labels: { app: 'not-ours' } },
      spec: { replicas: 0, selector: { matchLabels: { app: 'not-ours' } }, template: { metadata: { labels: { app: 'not-ours' } }, spec: { containers: [{ name: 'x', image: 'other:1' }] } } },
    });
    const runtime = await fresh();
    const a = replicaSpec(fixture.artifacts.model.dir);
    const b = replicaSpec(fixture.artifacts.model.dir, { deploymentId: a.deploymentId });
    const c = replicaSpec(fixture.artifacts.model.dir, { deploymentId: a.deploymentId });
    for (const s of [a, b, c]) await runtime.createReplica(s);
    for (const s of [a, b, c]) await waitReady(runtime, s.replicaId);
    const name = objectName(a.deploymentId, a.generation);
    assert.equal(fixture.kube!.get('Deployment', NS, name)?.spec.replicas, 3);
    const podOf = (id: string) => fixture.kube!.list('Pod', NS, `${Labels.REPLICA}=${id}`)[0]?.metadata.name as string;
    const [pa, pc] = [podOf(a.replicaId), podOf(c.replicaId)];

    await runtime.deleteReplica(b.replicaId, { graceMs: 5000 });
    assert.equal(fixture.kube!.get('Deployment', NS, name)?.spec.replicas, 2);
    assert.deepEqual((await runtime.listReplicas(a.deploymentId)).map((r) => r.replicaId).sort(), [a.replicaId, c.replicaId].sort());
    assert.equal(podOf(a.replicaId), pa, 'the other pods are the same pods');
    assert.equal(podOf(c.replicaId), pc);

    await runtime.deleteReplica(a.replicaId, { graceMs: 5000 });
    await runtime.deleteReplica(c.replicaId, { graceMs: 5000 });
    assert.equal(fixture.kube!.get('Deployment', NS, name), undefined);
    assert.equal(fixture.kube!.get('Secret', NS, `${name}-artifact`), undefined);
    assert.ok(fixture.kube!.get('Deployment', NS, 'not-ours'), 'a Deployment modeld did not make is untouched');
    await runtime.stop({ stopReplicas: true });
    assert.equal(fixture.kube!.get('Deployment', NS, 'not-ours')?.metadata.uid, foreign.metadata.uid);
  });
});
