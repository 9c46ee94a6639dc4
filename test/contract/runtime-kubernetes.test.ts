/**
 * The runtime contract against the Kubernetes runtime (what only Kubernetes has is in
 * runtime-kubernetes-specifics.test.ts; the setup both share is kubernetes-fixture.ts).
 *
 * Against the fake Kubernetes API (src/runtimes/kubernetes/fake: no API server can run on these
 * machines) whose simulated kubelet runs each pod's init container and runner as real processes;
 * the init container fetches the artifact from a real modeld API (internal artifact endpoint).
 * With MODELD_TEST_KUBECONFIG set (npm run test:kubernetes), the contract runs against that
 * cluster instead: see docs/kubernetes.md.
 */
import { after, before } from 'node:test';
import { fixture, kubernetesHarness, startKubernetesFixture, stopKubernetesFixture } from './kubernetes-fixture.js';
import { runtimeContract } from './runtime.contract.js';

before(startKubernetesFixture);
after(stopKubernetesFixture);

runtimeContract('kubernetes (fake API, simulated kubelet)', async () => kubernetesHarness(), async () => fixture.artifacts);
