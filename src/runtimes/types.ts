/**
 * The replica execution port ("driver"). A runtime starts, observes and stops replicas: runner
 * processes, pods or containers. It never touches the store: what it knows about its replicas it
 * re-derives from the world (pid files and health probes, the Kubernetes API, the Docker API), so
 * that after a server restart `listReplicas()` finds the replicas that survived and they are
 * adopted. Implementations: process/ (default), kubernetes/ (pods through the Kubernetes API), fake/
 * (tests only, for states a real one can't reach).
 */

export interface ReplicaSpec {
  replicaId: string;
  deploymentId: string;
  customerId: string;
  /** Deployment generation this replica serves; older generations are rolled over. */
  generation: number;
  modelId: string;
  /** Absolute path of the verified artifact directory to load. */
  artifactDir: string;
  /** The deployment's `config`, verbatim. Reaches the runner as MODEL_CONFIG_JSON and PREDICTIVE_UNIT_PARAMETERS. */
  config: Record<string, unknown>;
  /** onnxruntime intra-op threads for this replica. */
  intraOpThreads: number;
}

export type ReplicaPhase =
  /** Spawned, loading the model or warming up. */
  | 'starting'
  /** Model loaded and the warm-up inference passed; takes requests. */
  | 'ready'
  /** Asked to leave: takes no new requests, finishing those in flight. */
  | 'draining'
  /** Gone: exited or crashed (see exitCode / lastError). Reported once, then forgotten after deleteReplica. */
  | 'exited';

export interface ObservedReplica {
  replicaId: string;
  deploymentId: string;
  generation: number;
  phase: ReplicaPhase;
  /** Base URL of the runner's inference endpoint (`http+unix://<socket>` or `http://127.0.0.1:PORT` for process replicas, see runner/protocol.ts runnerEndpoint), null until it listens. */
  endpoint: string | null;
  pid: number | null;
  startedAt: string;
  readyAt: string | null;
  exitCode: number | null;
  /**
   * The runner's last error (load failure, crash) as customers may see it (it goes into events
   * and deployment status): the runner's reason with host paths cut, or how the process ended.
   * Never log lines or stderr.
   */
  lastError: string | null;
  /** Operator-only facts about an exit (the runner's last log lines); never shown to customers. */
  operatorDetail?: string | null;
  /** True when the runner reported a model load failure (not worth restarting with the same artifact). */
  loadFailed: boolean;
  /** Requests in flight on the replica when it was last probed. */
  inflight: number;
  /**
   * Why a `starting` replica is not starting yet, when the runtime knows (Kubernetes: `Unschedulable:
   * 0/3 nodes are available: 3 Insufficient cpu.`). The controller names it when the progress
   * deadline fails the deployment.
   */
  waitingReason?: string | null;
  /** The pod's name (Kubernetes runtime); absent for process replicas. */
  podName?: string | null;
}

export interface Runtime {
  readonly kind: 'process' | 'kubernetes' | 'container' | 'fake';
  /** Idempotent. Discovers replicas that survived a restart of the server. */
  start(): Promise<void>;
  /**
   * Idempotent. `stopReplicas` true stops every replica (graceful shutdown of a single-machine
   * server); false leaves them running to be adopted by the next start.
   */
  stop(options?: { stopReplicas?: boolean }): Promise<void>;
  /** Spawns a replica and returns once it exists; readiness shows later in listReplicas(). */
  createReplica(spec: ReplicaSpec): Promise<void>;
  /** What runs now (fresh observation), optionally for one deployment. Includes exited replicas not yet deleted. */
  listReplicas(deploymentId?: string): Promise<ObservedReplica[]>;
  /** Asks the replica to drain (no new work), waits up to graceMs for in-flight work, then stops it and forgets it. */
  deleteReplica(replicaId: string, options: { graceMs: number }): Promise<void>;
}
