/**
 * Deploy-to-DEPLOYED through the Kubernetes runtime, on the fake Kubernetes API (no API server
 * can run here; the simulated kubelet runs each pod's init container and runner as real
 * processes), next to the same deployment on the process runtime in the same run (the anchor).
 *
 *   npm run bench:kube-deploy -- [--runs 3] [--replicas 2]      (BENCH_LOG=info: the server's log on stdout)
 *
 * Prints the median and each run, and the machine. The difference between the two is what the
 * pod path adds here: one more process per replica (the init container that fetches and checks
 * the artifact over HTTP) and the readiness probe period; a real cluster adds scheduling and
 * image pulls on top.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runServer } from '../src/main.js';
import { startFakeKubernetes } from '../src/runtimes/kubernetes/fake/index.js';
import { makeModeldArtifact } from '../test/fixtures/models.js';
import { makeTempDir } from '../test/fixtures/tmp.js';
import { adminCredentials, api, fmt, freePort, importModel, machineLine, repoRoot, token, waitForState } from './lib.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, replicas: { type: 'string', default: '2' } } });
const runs = Number(values.runs);
const replicas = Number(values.replicas);
const NS = 'modeld-replicas';

const tmp = await makeTempDir('modeld-bench-kube');
const kube = await startFakeKubernetes({ namespaces: [NS], images: { 'modeld:bench': { root: repoRoot } }, kubelet: { probePeriodMs: 100 } });
const port = await freePort();
const configFile = path.join(tmp.dir, 'config.json');
await writeFile(
  configFile,
  JSON.stringify({
    regions: {
      local: { runtime: 'process' },
      cluster: { runtime: 'kubernetes', namespace: NS, image: 'modeld:bench', kubeconfig: kube.kubeconfigPath, artifactBaseUrl: `http://127.0.0.1:${port}` },
    },
  }),
);
const server = await runServer({ port, host: '127.0.0.1', dataDir: path.join(tmp.dir, 'data'), logLevel: process.env.BENCH_LOG ?? 'silent', configFile });
try {
  const admin = await adminCredentials(path.join(tmp.dir, 'data'));
  const tok = await token(server.url, admin);
  const base = `/customers/${admin.customerId}/ai`;
  const modelId = await importModel(server.url, tok, admin.customerId, 'bench', await makeModeldArtifact(path.join(tmp.dir, 'model')));
  const times: Record<string, number[]> = { local: [], cluster: [] };
  for (let i = 0; i < runs; i++) {
    for (const region of ['local', 'cluster']) {
      const t0 = performance.now();
      const d = await api<{ id: string }>(server.url, tok, 'POST', `${base}/deployments`, { modelId, region, minReplicas: replicas, maxReplicas: replicas });
      await waitForState(server.url, tok, admin.customerId, d.id, 'DEPLOYED');
      times[region]!.push(performance.now() - t0);
      await api(server.url, tok, 'DELETE', `${base}/deployments/${d.id}`);
      // Wait until its replicas are gone, so that runs do not overlap.
      for (;;) {
        const r = await fetch(`${server.url}${base}/deployments/${d.id}`, { headers: { authorization: `Bearer ${tok}` } });
        if (r.status === 404) break;
        await new Promise((res) => setTimeout(res, 100));
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(machineLine());
  console.log(`deploy-to-DEPLOYED, ${replicas} replicas, ${runs} runs (median; each run)`);
  console.log(`  process runtime (anchor):           ${fmt(median(times.local!))} ms  (${times.local!.map((t) => fmt(t)).join(', ')})`);
  console.log(`  kubernetes runtime, fake API:       ${fmt(median(times.cluster!))} ms  (${times.cluster!.map((t) => fmt(t)).join(', ')})`);
  console.log(`  ratio kubernetes / process:         ${(median(times.cluster!) / median(times.local!)).toFixed(2)}`);
} finally {
  await server.close();
  await kube.close();
  await tmp.cleanup();
}
