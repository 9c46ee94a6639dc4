import { Type } from 'typebox';
import { Scopes } from '../../domain/index.js';
import type { Store } from '../../store/index.js';
import type { DeploymentHistory } from '../deployment-history.js';
import { principalOf, type Guard } from '../plugins/auth.js';
import { DeploymentParams, errorResponses } from '../schemas.js';
import { deploymentNotFound } from './deployments.js';
import type { ModeldApp } from './shared.js';

/** One replica of a deployment as the console shows it (modeld extension). */
export interface ReplicaView {
  replicaId: string;
  generation: number;
  /** starting, ready, draining, exited (src/runtimes/types.ts ReplicaPhase). */
  phase: string;
  /** The runner process id (process regions), else null. */
  pid: number | null;
  /** The pod name (Kubernetes regions), else null. */
  pod: string | null;
  /** Null on a follower instance, which lists only what the leader published (docs/cluster.md). */
  startedAt: string | null;
  readyAt: string | null;
  exitCode: number | null;
  /** Requests the gateway sent to this replica and that are not answered yet (0 when it is not published). */
  inflight: number;
  /** Requests it answered since the gateway first published it (0 when not published). */
  served: number;
  /** Whether the gateway routes requests to it now. */
  routed: boolean;
  lastError: string | null;
  waitingReason: string | null;
}

/** Lists a deployment's replicas (every region's runtime, joined with the gateway's per-endpoint load). Built by main.ts. */
export type ReplicaLister = (deploymentId: string) => Promise<ReplicaView[]>;

export interface DeploymentInsightRouteDeps {
  store: Store;
  guard: Guard;
  replicas?: ReplicaLister;
  history?: DeploymentHistory;
}

const TAGS = ['Manage deployments'];
const SECURITY = [{ bearerAuth: [] }];

const ReplicaSchema = Type.Object({
  replicaId: Type.String(),
  generation: Type.Integer(),
  phase: Type.String(),
  pid: Type.Union([Type.Integer(), Type.Null()]),
  pod: Type.Union([Type.String(), Type.Null()]),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  readyAt: Type.Union([Type.String(), Type.Null()]),
  exitCode: Type.Union([Type.Integer(), Type.Null()]),
  inflight: Type.Integer(),
  served: Type.Integer(),
  routed: Type.Boolean(),
  lastError: Type.Union([Type.String(), Type.Null()]),
  waitingReason: Type.Union([Type.String(), Type.Null()]),
});

const num = Type.Union([Type.Number(), Type.Null()]);
const MetricsSchema = Type.Object({
  intervalSeconds: Type.Number(),
  capacity: Type.Integer(),
  samples: Type.Array(
    Type.Object({ at: Type.String(), requestsPerSecond: Type.Number(), latencyP50Ms: num, latencyP99Ms: num, readyReplicas: num, desiredReplicas: num }),
  ),
});

/**
 * Extensions for the console, scope `machinelearning.model`, same customer scoping as the other
 * deployment routes (another customer's deployment is a 404 like an unknown one):
 * `GET .../deployments/:id/replicas` (the replicas the runtimes observe now, with the gateway's
 * in-flight count per replica) and `GET .../deployments/:id/metrics` (the last hour of calls per
 * second, latency p50/p99 and replica counts, DeploymentHistory). Each is registered only when
 * its source is given.
 */
export function registerDeploymentInsightRoutes(app: ModeldApp, deps: DeploymentInsightRouteDeps): void {
  const guard = deps.guard(Scopes.MODEL);
  const base = '/customers/:CUSTOMER_ID/ai/deployments/:DEPLOYMENT_ID';

  async function own(customerId: string, id: string): Promise<string> {
    const d = await deps.store.getDeployment(customerId, id);
    if (!d) throw deploymentNotFound(id);
    return d.id;
  }

  const { replicas, history } = deps;
  if (replicas) {
    app.get(
      `${base}/replicas`,
      {
        onRequest: guard,
        schema: {
          tags: TAGS,
          security: SECURITY,
          summary: "Extension: the deployment's replicas now (phase, pid or pod, requests in flight)",
          params: DeploymentParams,
          response: { 200: Type.Array(ReplicaSchema), ...errorResponses(401, 403, 404) },
        },
      },
      async (request) => replicas(await own(principalOf(request).customerId, request.params.DEPLOYMENT_ID)),
    );
  }
  if (history) {
    app.get(
      `${base}/metrics`,
      {
        onRequest: guard,
        schema: {
          tags: TAGS,
          security: SECURITY,
          summary: 'Extension: calls per second, latency p50/p99 and replica counts over the last hour (10 s samples)',
          params: DeploymentParams,
          response: { 200: MetricsSchema, ...errorResponses(401, 403, 404) },
        },
      },
      async (request) => {
        const id = await own(principalOf(request).customerId, request.params.DEPLOYMENT_ID);
        return { intervalSeconds: history.intervalMs / 1000, capacity: history.capacity, samples: history.samples(id) };
      },
    );
  }
}
