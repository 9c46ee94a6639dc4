/**
 * The job layer of training: a queue of training jobs (store-backed, resumed after a restart), each
 * run in a worker child process (worker-main.ts) that calls runTrainingJob. docs/training.md,
 * section Jobs, describes the lifecycle.
 */
export { TrainingJobManager, type TrainingJobManagerOptions, type TrainingJobMetrics, type JobLogger } from './manager.js';
export { initialProgress, applyProgress, type TrainingProgressView } from './progress.js';
export { WORKER_ENTRY, WORKER_EXIT_ABORTED, JobFiles, type WorkerMessage, type WorkerInputFile } from './protocol.js';
