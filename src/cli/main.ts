/**
 * Entry point of the `modeld` command (loaded by bin/modeld.js through tsx): binds the CLI to
 * this process and sets the exit status. Stop signals are only intercepted while a command
 * asks for them (waits, serve); otherwise Ctrl-C keeps its default effect.
 */
import type { CliIo, StopSignal } from './io.js';
import { runCli } from './program.js';

const io: CliIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
  env: process.env,
  onStopSignal(handler) {
    const onSignal = (signal: StopSignal) => handler(signal);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    return () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };
  },
};

process.exitCode = await runCli(process.argv.slice(2), io);
