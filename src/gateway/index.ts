export { Gateway, DIM_REDUCTION_TOO_LARGE_MESSAGE, UseCases, matryoshkaWarning, type GatewayDeps, type GatewayStore, type CallOptions } from './gateway.js';
export { EndpointRegistry, type EndpointRegistryOptions, type EndpointState, type DeploymentSlots, type RegistryChange } from './endpoint-registry.js';
export { Balancer, type BalancerOptions, type AcquireOptions, type Lease } from './balancer.js';
export { RunnerClient, RunnerFailures, isRetryElsewhere, type RunnerClientOptions, type RunnerFailure } from './runner-client.js';
export { LoadWindow } from './load-window.js';
export { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
export { JsonWriter, formatFloat32 } from './json-writer.js';
export {
  encodeEmbeddingResult,
  encodeClassificationResult,
  encodeOipInferResult,
  type EmbeddingResult,
  type EmbeddingPrediction,
  type ClassificationResult,
  type ClassificationPrediction,
  type TokenizationResult,
  type UseCase,
  type UseCaseModel,
  type OipInferResult,
  type OipModelMetadata,
  type OipTensorMetadata,
} from './responses.js';
export {
  embeddingBodySchema,
  classificationBodySchema,
  tokenizationBodySchema,
  oipInferBodySchema,
  requestSchemas,
  parseEmbeddingBody,
  parseClassificationBody,
  parseTokenizationBody,
  parseTokenizationParams,
  parseOipInferBody,
  MAX_LABELS,
  type DataType,
  type EmbeddingParams,
  type ClassificationParams,
  type OipInferParams,
} from './requests.js';
export { QuantizationMethods, quantize, quantizeMinMax, quantizeMaxScale, normalizedSlice, shapeVector, type QuantizationMethod } from './vectors.js';
