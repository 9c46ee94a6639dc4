// Worker-thread entry: loader hooks registered with --import do not reach worker threads on
// Node 20, so the worker registers tsx itself before loading the TypeScript body.
import { register } from 'tsx/esm/api';

register();
await import('./token-flood-worker.ts');
