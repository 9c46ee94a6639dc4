/**
 * modeld end to end on a Kubernetes region: the server (runServer, its real controller, gateway
 * and API) with a region of runtime "kubernetes" pointed at the fake Kubernetes API, whose
 * simulated kubelet runs the pods' init container (fetching the artifact from this server's
 * internal endpoint) and runner as real processes. Deploy -> pods ready -> vectors through the
 * prediction API; an image that cannot be pulled -> DEPLOY_FAILED with Kubernetes' reason;
 * delete -> no object left.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { adminCredentials, api, freePort, importModel, repoRoot, token } from '../../bench/lib.js';
import { runServer, type RunningServer } from '../../src/main.js';
import { startFakeKubernetes, type FakeKubernetes } from '../../src/runtimes/kubernetes/fake/index.js';
import { makeModeldArtifact } from '../fixtures/models.js';
import { makeTempDir, type TempDir } from '../fixtures/tmp.js';

const NS = 'modeld-replicas';

interface DeploymentView {
  id: string;
  state: string;
  status: { readyReplicas: number; failure: { reason: string; message: string } | null };
}

describe('modeld on a Kubernetes region (fake API, simulated kubelet)', () => {
  let tmp: TempDir;
  let kube: FakeKubernetes;
  let server: RunningServer;
  let tok: string;
  let customerId: string;
  let modelId: string;

  before(async () => {
    tmp = await makeTempDir('modeld-kube-server');
    kube = await startFakeKubernetes({ namespaces: [NS], images: { 'modeld:test': { root: repoRoot }, 'modeld:gone': { root: repoRoot } }, kubelet: { restartBackoffMs: 100, probePeriodMs: 100 } });
    kube.setImagePullError('modeld:gone', 'rpc error: code = NotFound desc = failed to pull and unpack image "modeld:gone": not found');
    const port = await freePort();
    const region = { runtime: 'kubernetes', namespace: NS, kubeconfig: kube.kubeconfigPath, artifactBaseUrl: `http://127.0.0.1:${port}`, installation: 'e2e' };
    const configFile = path.join(tmp.dir, 'config.json');
    await writeFile(
      configFile,
      JSON.stringify({
        regions: { local: { runtime: 'process' }, cluster: { ...region, image: 'modeld:test' }, broken: { ...region, image: 'modeld:gone', installation: 'e2e-broken' } },
        controller: { progressDeadlineMs: 120_000 },
      }),
    );
    server = await runServer({ port, host: '127.0.0.1', dataDir: path.join(tmp.dir, 'data'), logLevel: 'silent', configFile });
    const admin = await adminCredentials(path.join(tmp.dir, 'data'));
    tok = await token(server.url, admin);
    customerId = admin.customerId;
    const artifact = await makeModeldArtifact(path.join(tmp.dir, 'tiny'));
    modelId = await importModel(server.url, tok, customerId, 'tiny', artifact);
  });

  after(async () => {
    await server?.close();
    await kube?.close();
    await tmp?.cleanup();
  });

  async function waitFor(id: string, done: (d: DeploymentView) => boolean): Promise<DeploymentView> {
    const end = Date.now() + 150_000;
    for (;;) {
      const d = await api<DeploymentView>(server.url, tok, 'GET', `/customers/${customerId}/ai/deployments/${id}`);
      if (done(d)) return d;
      if (Date.now() > end) throw new Error(`deployment ${id} stuck in ${d.state}: ${JSON.stringify(d.status)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  test('deploy: two pods of one Deployment become ready and serve vectors through the prediction API; delete removes every object', async () => {
    const created = await api<DeploymentView>(server.url, tok, 'POST', `/customers/${customerId}/ai/deployments`, { modelId, region: 'cluster', minReplicas: 2, maxReplicas: 2, config: { team: 'search' } });
    const deployed = await waitFor(created.id, (d) => d.state === 'DEPLOYED' || d.state === 'DEPLOY_FAILED');
    assert.equal(deployed.state, 'DEPLOYED', JSON.stringify(deployed.status));
    assert.equal(deployed.status.readyReplicas, 2);

    const deployments = kube.list('Deployment', NS, 'modeld.io/installation=e2e');
    assert.equal(deployments.length, 1, deployments.map((d) => d.metadata.name).join(', '));
    assert.equal(deployments[0]!.spec.replicas, 2);
    assert.equal(deployments[0]!.metadata.annotations['modeld.io/deployment-id'], created.id);
    // Pods still being deleted (a ReplicaSet's extra pod) do not serve.
    const pods = kube.list('Pod', NS, `modeld.io/deployment=${created.id}`).filter((p) => !p.metadata.deletionTimestamp);
    assert.equal(pods.length, 2, JSON.stringify(pods.map((p) => [p.metadata.name, p.metadata.labels['modeld.io/replica-id'], p.status?.phase])));
    assert.ok(pods.every((p) => p.metadata.labels['modeld.io/replica-id']), 'every pod is claimed by a replica id');

    const res = await fetch(`${server.url}/ai/prediction/embedding/${created.id}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' },
      body: JSON.stringify({ batch: [{ text: 'red running shoes' }, { text: 'blue denim jacket' }] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { predictions: Array<{ vector: number[] }> };
    assert.equal(body.predictions.length, 2);
    assert.equal(body.predictions[0]!.vector.length, 32);

    await api(server.url, tok, 'DELETE', `/customers/${customerId}/ai/deployments/${created.id}`);
    const end = Date.now() + 60_000;
    while (kube.list('Pod', NS, `modeld.io/deployment=${created.id}`).length > 0 || kube.list('Deployment', NS, 'modeld.io/installation=e2e').length > 0) {
      assert.ok(Date.now() < end, 'pods and Deployment removed');
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(kube.list('Secret', NS, 'modeld.io/installation=e2e'), []);
  });

  test('an image that cannot be pulled: DEPLOY_FAILED with Kubernetes’ own reason and message', async () => {
    const created = await api<DeploymentView>(server.url, tok, 'POST', `/customers/${customerId}/ai/deployments`, { modelId, region: 'broken', minReplicas: 1, maxReplicas: 1 });
    const failed = await waitFor(created.id, (d) => d.state === 'DEPLOY_FAILED' || d.state === 'DEPLOYED');
    assert.equal(failed.state, 'DEPLOY_FAILED');
    assert.equal(failed.status.failure?.reason, 'ModelLoadFailed');
    assert.match(failed.status.failure?.message ?? '', /(ErrImagePull|ImagePullBackOff): .*modeld:gone/);
    await api(server.url, tok, 'DELETE', `/customers/${customerId}/ai/deployments/${created.id}`);
  });
});
