/**
 * The runtime contract against the fake runtime (src/runtimes/fake), on a real-time clock: the
 * fake's endpoints serve nothing, so the protocol-level checks are skipped; a replica of a broken
 * artifact fails to load with a reason in the contract's terms.
 */
import { FakeRuntime, FakeWorld } from '../../src/runtimes/fake/index.js';
import { runtimeContract, type ContractArtifacts } from './runtime.contract.js';

const realClock = {
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number): unknown => setTimeout(fn, ms),
  clearTimeout: (handle: unknown): void => clearTimeout(handle as NodeJS.Timeout),
};

const artifacts: ContractArtifacts = {
  model: { dir: '/fake/artifacts/good', vectorSize: 32 },
  broken: [{ name: 'broken', dir: '/fake/artifacts/broken', reason: /checksum mismatch/ }],
};

runtimeContract(
  'fake',
  async () => {
    const world = new FakeWorld();
    const make = () =>
      new FakeRuntime({
        clock: realClock,
        world,
        behaviour: (spec) =>
          spec.artifactDir === '/fake/artifacts/broken'
            ? { kind: 'loadFails', afterMs: 50, error: 'tokenizer.json: checksum mismatch' }
            : { kind: 'ready', afterMs: 50 },
      });
    const runtime = make();
    return {
      runtime,
      serves: false,
      reopen: async () => make(),
      kill: async (replica) => runtime.kill(replica.replicaId),
      cleanup: () => runtime.stop({ stopReplicas: true }),
    };
  },
  async () => artifacts,
);
