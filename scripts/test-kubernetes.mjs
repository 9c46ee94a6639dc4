#!/usr/bin/env node
// `npm run test:kubernetes`: the runtime contract against a real cluster. Needs
// MODELD_TEST_KUBECONFIG (and MODELD_TEST_KUBE_NAMESPACE, an existing namespace the kubeconfig's
// user may create Deployments, Secrets and pods in; MODELD_TEST_KUBE_IMAGE, modeld's image,
// pullable by the cluster; optional MODELD_TEST_KUBE_CONTEXT). The pods fetch their artifact from
// this machine: the cluster must reach it (docs/kubernetes.md). Without the variable it says so
// and runs the same tests against the fake API instead.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
if (!process.env.MODELD_TEST_KUBECONFIG) {
  console.log('test:kubernetes: MODELD_TEST_KUBECONFIG is not set, so no real cluster is used: running the suite against the fake Kubernetes API');
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', 'test/contract/runtime-kubernetes.test.ts'], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
