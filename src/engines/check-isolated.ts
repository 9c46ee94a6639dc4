import { spawn } from 'node:child_process';
import { rm, writeFile, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModeldError } from '../errors/index.js';
import type { FileLimits } from './safe-files.js';
import type { ModelImportMeta } from './import-artifact.js';
import type { ArtifactManifest } from './types.js';

/** Absolute path of the child entry point. */
export const CHECK_MAIN = fileURLToPath(new URL('./check-main.ts', import.meta.url));

const STDERR_TAIL_BYTES = 2000;
/** Longest reason from the child shown to a user. */
const REASON_CHARS = 600;
const DEFAULT_TIMEOUT_MS = 120_000;

export interface CheckOptions {
  /** Kill the child and fail after this long (default 120 s: large models take a while to load). */
  timeoutMs?: number;
  /** Caps on each file of an import (see FileLimits); absent: none. */
  limits?: FileLimits;
}

/**
 * What a failed check tells the operator and not the user: the child's stderr tail (which may
 * hold host paths, stack traces, onnxruntime's own log lines), its exit status and the folder.
 * Carried as the `cause` of the MODELD_ERR_ARTIFACT_INVALID the user sees; read it with
 * operatorDetailOf and write it to the server log.
 */
export class CheckFailureDetail extends Error {
  constructor(readonly detail: { dir: string; exitCode: number | null; signal: string | null; stderrTail: string }) {
    super('artifact check process failed');
    this.name = 'CheckFailureDetail';
  }
}

/** The operator-only facts of a failed import or check (see CheckFailureDetail), or undefined. */
export function operatorDetailOf(err: unknown): Record<string, unknown> | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof CheckFailureDetail) return { ...e.detail };
  }
  return undefined;
}

/**
 * The environment of the check child: only what node needs to start (PATH, and TMPDIR when set,
 * where tsx keeps its cache). No server configuration, credentials or tokens pass to a process
 * that runs untrusted model files.
 */
export function checkChildEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = { PATH: env.PATH ?? '/usr/local/bin:/usr/bin:/bin' };
  if (env.TMPDIR) out.TMPDIR = env.TMPDIR;
  return out;
}

/**
 * Loads the artifact (manifest and checksums included) and runs one inference in a short-lived
 * child process (`node --import tsx check-main.ts <dir>`), so that a model which crashes
 * onnxruntime (segfault, abort) or hangs cannot take the calling server down. Returns the vector
 * size the model produced. A crash, a non-zero exit or a timeout is MODELD_ERR_ARTIFACT_INVALID
 * with a reason free of host paths; the child's stderr is only in its operator detail.
 */
export async function checkArtifactIsolated(artifactDir: string, options: CheckOptions = {}): Promise<{ vectorSize: number }> {
  const result = await runCheckChild([path.resolve(artifactDir)], path.resolve(artifactDir), options);
  return { vectorSize: result.vectorSize };
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
    const result = await runCheckChild([path.resolve(dir), '--probe', file], path.resolve(dir), options);
    return { vectorSize: result.vectorSize };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * The import of an untrusted folder, all of it in the child: reading and checking manifest.json or
 * the Hugging Face files (each within `options.limits`, each inside `sourceDir`), copying the
 * model's files into `destDir` (an empty folder), writing the final manifest there, loading the
 * copy and running one inference. Resolves to the copy's content address and vector size; the
 * server parses none of the folder's files.
 */
export async function prepareImportIsolated(
  sourceDir: string,
  destDir: string,
  meta: ModelImportMeta,
  options: CheckOptions = {},
): Promise<{ vectorSize: number; artifactId: string }> {
  const job = JSON.stringify({ meta, limits: options.limits ?? {} });
  const result = await runCheckChild([path.resolve(sourceDir), '--import', path.resolve(destDir), job], path.resolve(sourceDir), options);
  if (typeof result.artifactId !== 'string' || !/^[0-9a-f]{64}$/.test(result.artifactId)) {
    throw new ModeldError('MODELD_ERR_INTERNAL', 'the artifact check process gave no artifact id');
  }
  return { vectorSize: result.vectorSize, artifactId: result.artifactId };
}

function runCheckChild(args: string[], dir: string, options: CheckOptions): Promise<{ vectorSize: number; artifactId?: unknown }> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const tsx = import.meta.resolve('tsx');
  return new Promise((resolve, reject) => {
    // Only stdio is shared: node opens every other descriptor close-on-exec, so the child gets
    // none of the server's files or sockets; and it gets a minimal environment (checkChildEnv).
    const child = spawn(process.execPath, ['--import', tsx, CHECK_MAIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: checkChildEnv(),
      cwd: os.tmpdir(),
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout = (stdout + d).slice(-64 * 1024);
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
      const cause = new CheckFailureDetail({ dir, exitCode: code, signal, stderrTail: stderr.trim().slice(-STDERR_TAIL_BYTES) });
      const last = lastJsonLine(stdout);
      if (timedOut) {
        reject(new ModeldError('MODELD_ERR_ARTIFACT_INVALID', `loading the model and running one inference did not finish within ${timeoutMs} ms`, { details: { timeoutMs }, cause }));
        return;
      }
      if (signal || code !== 0) {
        const reason = typeof last?.error === 'string' ? last.error.slice(0, REASON_CHARS) : null;
        const how = reason ?? (signal ? `the model crashed the inference process (signal ${signal})` : `the model failed the check (exit code ${code})`);
        reject(new ModeldError('MODELD_ERR_ARTIFACT_INVALID', how, { details: { exitCode: code, signal }, cause }));
        return;
      }
      const vectorSize = last?.vectorSize;
      if (typeof vectorSize !== 'number' || !Number.isInteger(vectorSize) || vectorSize < 1) {
        reject(new ModeldError('MODELD_ERR_INTERNAL', 'the artifact check process gave no result', { cause }));
        return;
      }
      resolve({ vectorSize, artifactId: last?.artifactId });
    });
  });
}

/** The child's result: the last line of its stdout as a JSON object, or null. */
function lastJsonLine(stdout: string): { vectorSize?: unknown; artifactId?: unknown; error?: unknown } | null {
  try {
    const v: unknown = JSON.parse(stdout.trim().split('\n').at(-1) ?? '');
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
