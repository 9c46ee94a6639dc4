/**
 * The models a deployment can serve: the pre-trained catalog (`PretrainedCache`), the system
 * deployments that serve pre-trained models by name (`PretrainedDeployments`), and the
 * controller's artifact resolution (`resolveArtifactFor`).
 */
export { PretrainedCache } from './pretrained-cache.js';
export { PretrainedDeployments, SYSTEM_CUSTOMER_ID, systemDeploymentId, type PretrainedDeploymentsOptions } from './system-deployments.js';
export { resolveArtifactFor, type ResolveArtifactOptions } from './resolve-artifact.js';
