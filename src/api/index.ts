export { buildApp, requestIdOf, type AppDeps } from './app.js';
export { Metrics, type MetricsOptions } from './metrics.js';
export { makeGuard, principalOf, type Guard } from './plugins/auth.js';
export { registerErrorHandling, translate } from './plugins/errors.js';
export { resolveImportDir } from './artifact-source.js';
export { renderModel, renderPretrained, renderDeployment, renderEvent, type ModelBody, type DeploymentBody, type EventBody } from './render.js';
export type { ModeldApp } from './routes/shared.js';
export type { ModelArtifacts, PretrainedCatalog } from './routes/models.js';
export type { DeploymentNotifier } from './routes/deployments.js';
