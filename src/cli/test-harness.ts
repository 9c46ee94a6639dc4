import type { CliIo, StopSignal } from './io.js';
import { runCli } from './program.js';

/**
 * Runs the CLI in this process with captured streams, for tests. `onStderr` / `onStdout` see the
 * stream as it grows and may call `stop()` (a simulated Ctrl-C) at the moment a given line
 * appears, so tests need no sleeps. Not exported from index.ts.
 */
export interface RunOptions {
  cwd?: string;
  /** The CLI's environment (default: none, whatever this process has). */
  env?: Record<string, string>;
  stdoutTTY?: boolean;
  stderrTTY?: boolean;
  onStderr?: (text: string, stop: () => void) => void;
  onStdout?: (text: string, stop: () => void) => void;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCaptured(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const handlers = new Set<(signal: StopSignal) => void>();
  const stop = () => {
    for (const h of [...handlers]) h('SIGINT');
  };
  const io: CliIo = {
    stdout: {
      write: (s: string) => {
        stdout += s;
        options.onStdout?.(stdout, stop);
        return true;
      },
      isTTY: options.stdoutTTY ?? false,
      columns: 120,
    },
    stderr: {
      write: (s: string) => {
        stderr += s;
        options.onStderr?.(stderr, stop);
        return true;
      },
      isTTY: options.stderrTTY ?? false,
      columns: 120,
    },
    cwd: options.cwd ?? process.cwd(),
    env: options.env ?? {},
    onStopSignal(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}
