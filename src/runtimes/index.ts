/**
 * Replica runtimes ("drivers") behind one port (types.ts). `process` is the default: runner
 * processes on this machine. docs/runtimes.md describes the port, the replica directory, adoption
 * after a server restart and drain semantics.
 */
export type { ObservedReplica, ReplicaPhase, ReplicaSpec, Runtime } from './types.js';
export {
  ProcessRuntime,
  modelConfigEnv,
  predictiveUnitParameters,
  type ProcessRuntimeOptions,
  type RuntimeLogger,
  type ModelConfigEnv,
  type SeldonParameter,
  type SeldonParameterType,
} from './process/index.js';
