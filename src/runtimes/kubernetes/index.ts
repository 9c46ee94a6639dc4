/**
 * The Kubernetes runtime (docs/runtimes.md, "The Kubernetes runtime"): replicas as pods of one
 * apps/v1 Deployment per deployment generation, through @kubernetes/client-node. fake/ is an
 * in-process Kubernetes API with a simulated kubelet, for tests only.
 */
export { KubernetesRuntime, kubeStatus, type KubernetesRuntimeOptions } from './kubernetes-runtime.js';
export { buildDeployment, buildSecret, commonLabels, installationSelector, Labels, objectName, secretName, DEFAULT_RUNNER_PORT, type PodSettings, type ArtifactRef } from './objects.js';
export { podVerdict, type PodVerdict } from './pod-status.js';
