export { FakeRuntime, FakeWorld, type FakeBehaviour, type FakeClock, type FakeRuntimeOptions } from './fake-runtime.js';
export { ManualClock } from './manual-clock.js';
