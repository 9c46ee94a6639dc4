import { spawn } from 'node:child_process';
import { rm, writeFile, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModeldError } from '../errors/index.js';
import type { ArtifactManifest } from './types.js';

/** Absolute path of the child entry point. */
export const CHECK_MAIN = fileURLToPath(new URL('./check-main.ts', import.meta.url));

const STDERR_TAIL_BYTES = 2000;
const DEFAULT_TIMEOUT_MS = 120_000;

export interface CheckOptions {
  /** Kill the child and fail after this long (default 120 s: large models take a while to load). */
  timeoutMs?: number;
}

/**
 * Loads the artifact (manifest and checksums included) and runs one inference in a short-lived
 * child process (`node --import tsx check-main.ts <dir>`), so that a model which crashes
 * onnxruntime (segfault, abort) or hangs cannot take the calling server down. Returns the vector
 * size the model produced. A crash, a non-zero exit or a timeout is MODELD_ERR_ARTIFACT_INVALID
 * carrying the tail of the child's stderr.
 */
export async function checkArtifactIsolated(artifactDir: string, options: CheckOptions = {}): Promise<{ vectorSize: number }> {
  return runCheckChild([path.resolve(artifactDir)], options);
}

/**
 * Like checkArtifactIsolated for an artifact whose manifest is not written yet: the child opens
 * `dir` with `manifest` (whose vectorSize is a placeholder) and reports the size the graph outputs.
 */
export async function probeVectorSizeIsolated(dir: string, manifest: ArtifactManifest, options: CheckOptions = {}): Promise<{ vectorSize: number }> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'modeld-probe-'));
  try {
    const file = path.join(tmp, 'manifest.json');
    await writeFile(file, JSON.stringify(manifest));
    return await runCheckChild([path.resolve(dir), '--probe', file], options);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

function runCheckChild(args: string[], options: CheckOptions): Promise<{ vectorSize: number }> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const tsx = import.meta.resolve('tsx');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', tsx, CHECK_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-STDERR_TAIL_BYTES * 2);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new ModeldError('MODELD_ERR_INTERNAL', `cannot start the artifact check process (${err.message})`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const tail = stderr.trim().slice(-STDERR_TAIL_BYTES);
      const where = args[0]!;
      if (timedOut) {
        reject(new ModeldError('MODELD_ERR_ARTIFACT_INVALID', `${where}: loading the model and running one inference did not finish within ${timeoutMs} ms`, { details: { timeoutMs } }));
        return;
      }
      if (signal || code !== 0) {
        const how = signal ? `crashed the inference process (signal ${signal})` : `failed the check (exit code ${code})`;
        reject(new ModeldError('MODELD_ERR_ARTIFACT_INVALID', `${where}: the model ${how}${tail ? `: ${tail}` : ''}`, { details: { exitCode: code, signal, stderrTail: tail } }));
        return;
      }
      try {
        const parsed = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as { vectorSize?: unknown };
        if (typeof parsed.vectorSize !== 'number' || !Number.isInteger(parsed.vectorSize) || parsed.vectorSize < 1) throw new Error('no vectorSize');
        resolve({ vectorSize: parsed.vectorSize });
      } catch {
        reject(new ModeldError('MODELD_ERR_INTERNAL', `artifact check process gave no result (stdout: ${stdout.slice(-300)})`));
      }
    });
  });
}
