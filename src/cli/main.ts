/**
 * Entry point of the `modeld` command (loaded by bin/modeld.js through tsx): binds the CLI to
 * this process and sets the exit status. Stop signals are only intercepted while a command
 * asks for them (waits, serve); otherwise Ctrl-C keeps its default effect. A closed stdout
 * (EPIPE) ends the process with status 0.
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

// A reader that left (`modeld embed ... | head -n 1`) closes the pipe: the next write fails with
// EPIPE. The CLI then ends at once, quietly and with status 0, as Unix filters do: there is no
// one left to tell anything, and the reader got what it asked for. Other write errors stay fatal.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

process.exitCode = await runCli(process.argv.slice(2), io);
