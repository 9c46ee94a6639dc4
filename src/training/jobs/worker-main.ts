/**
 * The training worker process: `node --import tsx/esm worker-main.ts <jobDir>`, spawned by the
 * TrainingJobManager with an IPC channel. It reads `<jobDir>/input.json` ({input}),
 * runs `runTrainingJob` (../job.ts, imported dynamically so that a failure to load the engine is
 * reported like any other) and reports over IPC:
 *
 *   {type: 'progress', progress}   every TrainingProgress the run emits
 *   {type: 'done', result}         the TrainingJobResult, then exit 0
 *   {type: 'failed', message, code} the run threw (data problem, bug), then exit 1
 *
 * SIGTERM, or the parent going away (IPC disconnect: the server stopped or was killed), aborts
 * the run between two steps and the process exits with WORKER_EXIT_ABORTED; the checkpoint of the
 * last finished epoch stays in `<jobDir>` for the next attempt.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TrainingJobHooks, TrainingJobInput, TrainingJobResult } from '../job-types.js';
import { WORKER_EXIT_ABORTED, type WorkerInputFile, type WorkerMessage } from './protocol.js';

type RunTrainingJob = (input: TrainingJobInput, hooks: TrainingJobHooks) => Promise<TrainingJobResult>;

/** If the run does not stop within this long after an abort, exit anyway (the checkpoint is already on disk). */
const ABORT_GRACE_MS = 10_000;

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) {
      resolve();
      return;
    }
    process.send(message, undefined, {}, () => resolve());
  });
}

async function main(): Promise<void> {
  const jobDir = process.argv[2];
  if (!jobDir) {
    process.stderr.write('usage: worker-main.ts <jobDir>\n');
    process.exit(2);
  }
  const file = JSON.parse(readFileSync(path.join(jobDir, 'input.json'), 'utf8')) as WorkerInputFile;
  const controller = new AbortController();
  const abort = (why: string) => {
    if (controller.signal.aborted) return;
    process.stderr.write(`training worker: ${why}; stopping after the current step\n`);
    controller.abort();
    setTimeout(() => process.exit(WORKER_EXIT_ABORTED), ABORT_GRACE_MS).unref();
  };
  process.on('SIGTERM', () => abort('SIGTERM'));
  process.on('disconnect', () => abort('the server went away'));

  let run: RunTrainingJob;
  try {
    const mod = (await import('../job.js')) as { runTrainingJob?: RunTrainingJob };
    if (typeof mod.runTrainingJob !== 'function') throw new Error('the module exports no runTrainingJob');
    run = mod.runTrainingJob;
  } catch (err) {
    await send({ type: 'failed', message: `the training engine could not be loaded: ${(err as Error).message}`, code: 'MODELD_ERR_INTERNAL' });
    process.exit(1);
  }

  try {
    const result = await run(file.input, {
      signal: controller.signal,
      onProgress: (progress) => {
        if (process.connected) process.send?.({ type: 'progress', progress } satisfies WorkerMessage);
      },
    });
    await send({ type: 'done', result });
    process.exit(0);
  } catch (err) {
    if (controller.signal.aborted) process.exit(WORKER_EXIT_ABORTED);
    const e = err as { message?: unknown; code?: unknown; stack?: unknown };
    const message = typeof e.message === 'string' && e.message !== '' ? e.message : String(err);
    if (typeof e.code !== 'string' || !e.code.startsWith('MODELD_ERR_')) process.stderr.write(`${String(e.stack ?? message)}\n`);
    await send({ type: 'failed', message, code: typeof e.code === 'string' ? e.code : null });
    process.exit(1);
  }
}

void main();
