import { fileURLToPath } from 'node:url';
import type { TrainingJobInput, TrainingJobResult, TrainingProgress } from '../job-types.js';

/** Absolute path of the worker entry point (spawned with the tsx loader). */
export const WORKER_ENTRY = fileURLToPath(new URL('./worker-main.ts', import.meta.url));

/** Exit code of a worker that stopped because it was asked to (SIGTERM, the server went away). */
export const WORKER_EXIT_ABORTED = 3;

/** `<jobDir>/input.json`, written by the manager before it spawns the worker. */
export interface WorkerInputFile {
  input: TrainingJobInput;
}

/** What a worker sends over IPC. */
export type WorkerMessage =
  | { type: 'progress'; progress: TrainingProgress }
  | { type: 'done'; result: TrainingJobResult }
  | { type: 'failed'; message: string; code: string | null };

/** Files of a job directory besides what runTrainingJob writes (`checkpoint/`, `artifact/`). */
export const JobFiles = {
  input: 'input.json',
  pid: 'worker.pid',
  log: 'worker.log',
} as const;
