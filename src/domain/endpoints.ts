/**
 * What the controller tells the gateway: which replicas of a deployment may take new requests,
 * and what the gateway measures back (load), read by the autoscaler. Pure types; the in-memory
 * registry implementing EndpointSink lives in gateway/.
 */

export interface ServingEndpoint {
  replicaId: string;
  /** Base URL of the runner (`http://127.0.0.1:PORT`), protocol in runner/protocol.ts. */
  url: string;
  generation: number;
}

export interface ServingModelInfo {
  /** Model id (UUID) for custom models, the name for pre-trained ones. */
  modelId: string;
  name: string;
  modelType: string;
  vectorSize: number;
  /** Dimensions the model was trained to truncate to (Matryoshka); null when none. */
  matryoshkaDims: number[] | null;
  /** What the model prepends for useCaseConfig.dataType (its manifest's `prefixes`); absent = none. */
  prefixes?: { query?: string; passage?: string };
}

export interface EndpointSink {
  /** Replaces the set of endpoints that may take new requests for a deployment (empty = none ready). */
  publish(deploymentId: string, model: ServingModelInfo, endpoints: ServingEndpoint[]): void;
  /** The deployment is gone: forget it. */
  remove(deploymentId: string): void;
}

/** Load of one deployment as the gateway saw it. */
export interface DeploymentLoad {
  /** Requests currently being served by replicas. */
  inflight: number;
  /** Requests waiting for a replica slot. */
  queued: number;
  /** Mean of inflight + queued over the sampling window. */
  meanConcurrency: number;
  /** Max of inflight + queued over the sampling window. */
  peakConcurrency: number;
  /** Requests answered 429 over the window. */
  shed: number;
  windowMs: number;
}

export interface LoadSource {
  loadOf(deploymentId: string): DeploymentLoad | null;
}
