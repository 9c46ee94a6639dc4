import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, Watch, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import { startFakeKubernetes, type FakeKubernetes } from './index.js';

const NS = 'replicas';
const IMAGE = 'fixture:1';
const root = new URL('.', import.meta.url).pathname; // this folder plays the image's /app

function deployment(name: string, replicas: number, env: Record<string, string> = {}, extra: Partial<V1Deployment['spec']> = {}): V1Deployment {
  const labels = { app: name };
  return {
    metadata: { name, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 5,
          containers: [
            {
              name: 'web',
              image: IMAGE,
              command: ['node', '/app/fixtures/http-health.mjs'],
              ports: [{ containerPort: 8080, name: 'http' }],
              env: [
                { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'PORT', value: '8080' },
                ...Object.entries(env).map(([n, value]) => ({ name: n, value })),
              ],
              readinessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 1 },
            },
          ],
        },
      },
      ...extra,
    },
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function statusOf(err: unknown): { code?: number; body?: { reason?: string; message?: string } } {
  const e = err as { code?: number; body?: string };
  return { code: e.code, body: typeof e.body === 'string' ? JSON.parse(e.body) : (e.body as never) };
}

describe('fake Kubernetes API, through @kubernetes/client-node', () => {
  let kube: FakeKubernetes;
  let apps: AppsV1Api;
  let core: CoreV1Api;
  let kc: KubeConfig;
  before(async () => {
    kube = await startFakeKubernetes({
      namespaces: [NS],
      images: { [IMAGE]: { root } },
      nodes: [{ name: 'node-a', cpu: '4', memory: '8Gi' }],
      rbac: { forbid: [{ verb: 'create', group: 'apps', resource: 'deployments', namespace: 'locked' }] },
      kubelet: { restartBackoffMs: 50, maxRestartBackoffMs: 200, probePeriodMs: 100 },
      watchHistory: 200,
    });
    kc = new KubeConfig();
    kc.loadFromFile(kube.kubeconfigPath);
    apps = kc.makeApiClient(AppsV1Api);
    core = kc.makeApiClient(CoreV1Api);
  });
  after(() => kube.close());

  test('errors in the real server’s shape: 404 namespace, 409, 422, 403, and dryRun stores nothing', async () => {
    await assert.rejects(apps.createNamespacedDeployment({ namespace: 'nope', body: deployment('a', 1) }), (err) => {
      const s = statusOf(err);
      return s.code === 404 && s.body?.message === 'namespaces "nope" not found';
    });
    const bad = deployment('bad', 1);
    bad.spec!.selector = { matchLabels: { app: 'other' } };
    await assert.rejects(apps.createNamespacedDeployment({ namespace: NS, body: bad }), (err) => statusOf(err).code === 422 && /selector` does not match template `labels/.test(statusOf(err).body!.message!));
    await assert.rejects(apps.createNamespacedDeployment({ namespace: 'locked', body: deployment('a', 1) }), (err) => {
      const s = statusOf(err);
      return s.code === 403 && /cannot create resource "deployments" in API group "apps" in the namespace "locked"/.test(s.body!.message!);
    });
    await apps.createNamespacedDeployment({ namespace: NS, body: deployment('dry', 1), dryRun: 'All' });
    assert.equal(kube.get('Deployment', NS, 'dry'), undefined);
    await apps.createNamespacedDeployment({ namespace: NS, body: deployment('twice', 0) });
    await assert.rejects(apps.createNamespacedDeployment({ namespace: NS, body: deployment('twice', 0) }), (err) => statusOf(err).code === 409 && statusOf(err).body!.reason === 'AlreadyExists');
    await assert.rejects(apps.readNamespacedDeployment({ namespace: NS, name: 'ghost' }), (err) => statusOf(err).body?.message === 'deployments.apps "ghost" not found');
    await apps.deleteNamespacedDeployment({ namespace: NS, name: 'twice' });
  });

  test('a Deployment’s pods run as real processes on their own loopback address and become ready; scale-down removes the cheapest pod; delete removes all', async () => {
    await apps.createNamespacedDeployment({ namespace: NS, body: deployment('web', 3) });
    const pods = await until('3 ready pods', async () => {
      const list = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=web' });
      const ready = list.items.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      return ready.length === 3 && ready;
    });
    const ips = new Set(pods.map((p) => p.status!.podIP));
    assert.equal(ips.size, 3);
    for (const p of pods) {
      const res = await fetch(`http://${p.status!.podIP}:8080/health`);
      assert.equal(await res.text(), p.metadata!.name, 'the process answers with its own pod name');
    }
    const d = await until('deployment status', async () => {
      const dep = await apps.readNamespacedDeployment({ namespace: NS, name: 'web' });
      return dep.status?.readyReplicas === 3 && dep;
    });
    assert.equal(d.status!.observedGeneration, d.metadata!.generation);

    // The pod with the lowest deletion cost goes first, whatever its age.
    const chosen = pods[1]!.metadata!.name!;
    await core.patchNamespacedPod(
      { namespace: NS, name: chosen, body: { metadata: { annotations: { 'controller.kubernetes.io/pod-deletion-cost': '-100' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await apps.patchNamespacedDeployment({ namespace: NS, name: 'web', body: { spec: { replicas: 2 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await until('the chosen pod gone', () => kube.get('Pod', NS, chosen) === undefined);
    const left = kube.list('Pod', NS, 'app=web').map((p) => p.metadata.name);
    assert.deepEqual(left.sort(), pods.map((p) => p.metadata!.name!).filter((n) => n !== chosen).sort());
    await assert.rejects(fetch(`http://${pods[1]!.status!.podIP}:8080/health`), 'its process is gone');

    await apps.deleteNamespacedDeployment({ namespace: NS, name: 'web', propagationPolicy: 'Foreground' });
    await until('everything removed', () => kube.list('Pod', NS, 'app=web').length === 0 && kube.list('ReplicaSet', NS, 'app=web').length === 0);
    for (const p of pods) await assert.rejects(fetch(`http://${p.status!.podIP}:8080/health`));
  });

  test('watch: events from a resourceVersion, bookmarks, and 410 Gone for a version no longer kept', async () => {
    const list = await core.listNamespacedSecret({ namespace: NS });
    const seen: string[] = [];
    const watch = new Watch(kc);
    const controller = await watch.watch(
      `/api/v1/namespaces/${NS}/secrets`,
      { resourceVersion: list.metadata!.resourceVersion, allowWatchBookmarks: true },
      (type, obj) => seen.push(`${type} ${obj.metadata?.name ?? ''}`),
      () => {},
    );
    await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 's1' }, data: { token: Buffer.from('x').toString('base64') } } });
    await core.patchNamespacedSecret({ namespace: NS, name: 's1', body: { metadata: { labels: { a: 'b' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await core.deleteNamespacedSecret({ namespace: NS, name: 's1' });
    await until('events and a bookmark', () => seen.includes('DELETED s1') && seen.some((s) => s.startsWith('BOOKMARK')), 5000);
    assert.deepEqual(seen.filter((s) => !s.startsWith('BOOKMARK')), ['ADDED s1', 'MODIFIED s1', 'DELETED s1']);
    controller.abort();

    // Enough changes that resourceVersion 1 is no longer kept (watchHistory 200).
    for (let i = 0; i < 210; i++) await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: `churn-${i}` } } });
    const errors: unknown[] = [];
    const gone: string[] = [];
    await new Promise<void>((resolve) => {
      void watch.watch(`/api/v1/namespaces/${NS}/secrets`, { resourceVersion: '1' }, (type, obj) => gone.push(`${type} ${obj.code}`), (err) => {
        errors.push(err);
        resolve();
      });
    });
    assert.deepEqual(gone, ['ERROR 410']);
  });

  test('failures the kubelet and scheduler report: unschedulable, image pull error, crash loop, eviction', async () => {
    const big = deployment('big', 1);
    big.spec!.template.spec!.containers[0]!.resources = { requests: { cpu: '16' } };
    await apps.createNamespacedDeployment({ namespace: NS, body: big });
    const unschedulable = await until('an unschedulable pod', () => {
      const p = kube.list('Pod', NS, 'app=big')[0];
      return p?.status?.conditions?.find((c: { type: string; reason?: string }) => c.type === 'PodScheduled' && c.reason === 'Unschedulable');
    });
    assert.match(unschedulable.message, /^0\/1 nodes are available: 1 Insufficient cpu\./);

    kube.setImagePullError('missing:1');
    const pull = deployment('pull', 1);
    pull.spec!.template.spec!.containers[0]!.image = 'missing:1';
    await apps.createNamespacedDeployment({ namespace: NS, body: pull });
    const waiting = await until('ImagePullBackOff', () => kube.list('Pod', NS, 'app=pull')[0]?.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff' && kube.list('Pod', NS, 'app=pull')[0]!.status.containerStatuses[0].state.waiting);
    assert.equal(waiting.message, 'Back-off pulling image "missing:1"');

    await apps.createNamespacedDeployment({ namespace: NS, body: deployment('crash', 1, { EXIT_CODE: '3', LAST_WORDS: 'model cannot be loaded' }) });
    const crashed = await until('CrashLoopBackOff', () => {
      const c = kube.list('Pod', NS, 'app=crash')[0]?.status?.containerStatuses?.[0];
      return c?.state?.waiting?.reason === 'CrashLoopBackOff' && c.restartCount >= 2 && c;
    });
    assert.equal(crashed.lastState.terminated.exitCode, 3);
    assert.equal(crashed.lastState.terminated.message, 'model cannot be loaded');

    await apps.createNamespacedDeployment({ namespace: NS, body: deployment('evict', 1) });
    const victim = await until('a ready pod', () => kube.list('Pod', NS, 'app=evict').find((p) => p.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True')));
    kube.evictPod(NS, victim.metadata.name, 'The node was low on resource: memory.');
    const evicted = await until('evicted', () => {
      const p = kube.get('Pod', NS, victim.metadata.name) as V1Pod | undefined;
      return p?.status?.phase === 'Failed' && p;
    });
    assert.equal(evicted.status!.reason, 'Evicted');
    await until('a replacement', () => kube.list('Pod', NS, 'app=evict').some((p) => p.metadata.name !== victim.metadata.name && p.status?.phase === 'Running'));
    for (const name of ['big', 'pull', 'crash', 'evict']) await apps.deleteNamespacedDeployment({ namespace: NS, name });
    await until('all gone', () => kube.list('Pod', NS).length === 0);
  });
});
