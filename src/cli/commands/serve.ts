import path from 'node:path';
import { Option, type Command } from 'commander';
import { CliError, CliErrorCodes } from '../cli-error.js';
import type { CliIo } from '../io.js';
import { port } from '../parse.js';

/** The flags `runServer` takes (ConfigFlags in src/config/load.ts, restated: cli/ imports no server folder statically). */
interface ServeFlags {
  configFile?: string;
  port?: number;
  host?: string;
  dataDir?: string;
  logLevel?: string;
  logFormat?: string;
}


const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const LOG_FORMATS = ['auto', 'json', 'text'] as const;

/**
 * `modeld serve`: the one command that is not an API client. It loads the composition root
 * (src/main.ts) on demand, so that every other command starts without loading the server, and
 * runs it until SIGINT/SIGTERM, which close it (in-flight requests finish, replicas are left
 * to be adopted by the next start). A second signal while closing has the default effect (exit).
 * What it prints is the server's: on a terminal a start-up summary and short log lines, else
 * JSON log lines (the `modeld listening on <url>` line says where it listens).
 */
export function registerServe(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description('run the modeld server in the foreground (Ctrl-C stops it)')
    .option('--port <port>', 'listen port (default 8080, env MODELD_PORT)', port)
    .option('--host <host>', 'listen address (default 127.0.0.1, env MODELD_HOST)')
    .option('--data-dir <dir>', 'where the database, keys, models and replicas live (default ./data, env MODELD_DATA_DIR)')
    .option('--config <file>', 'JSON config file (env MODELD_CONFIG)')
    .addOption(new Option('--log-level <level>', 'log level (default info, env MODELD_LOG_LEVEL); request lines on a terminal at debug').choices(LOG_LEVELS))
    .addOption(
      new Option('--log-format <format>', 'auto: a summary and short lines on a terminal, JSON lines otherwise (default auto, env MODELD_LOG_FORMAT)').choices(
        LOG_FORMATS,
      ),
    )
    .action(async (opts: { port?: number; host?: string; dataDir?: string; config?: string; logLevel?: string; logFormat?: string }) => {
      const flags: ServeFlags = {};
      if (opts.port !== undefined) flags.port = opts.port;
      if (opts.host !== undefined) flags.host = opts.host;
      if (opts.dataDir !== undefined) flags.dataDir = path.resolve(io.cwd, opts.dataDir);
      if (opts.config !== undefined) flags.configFile = path.resolve(io.cwd, opts.config);
      if (opts.logLevel !== undefined) flags.logLevel = opts.logLevel;
      if (opts.logFormat !== undefined) flags.logFormat = opts.logFormat;

      // Loaded here only: the other commands start without loading the server.
      let server: typeof import('../../main.js');
      try {
        server = await import('../../main.js');
      } catch (err) {
        throw new CliError(CliErrorCodes.SERVE_FAILED, `cannot load the server (src/main.ts): ${(err as Error).message}`, { cause: err });
      }

      let stopRequested: (signal: string) => void = () => {};
      const stopped = new Promise<string>((resolve) => {
        stopRequested = resolve;
      });
      // Registered before starting, so that a Ctrl-C during start-up still closes cleanly.
      const unregister = io.onStopSignal((signal) => {
        unregister();
        stopRequested(signal);
      });
      let running: Awaited<ReturnType<typeof server.runServer>>;
      try {
        running = await server.runServer(flags);
      } catch (err) {
        unregister();
        throw err;
      }
      const signal = await stopped;
      io.stderr.write(`${signal}: stopping modeld (again to force)\n`);
      await running.close();
      io.stderr.write('modeld stopped\n');
    });
}
