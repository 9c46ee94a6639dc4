import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { StoppedWaiting } from './cli-error.js';
import { registerAdmin } from './commands/admin.js';
import { registerQuotas } from './commands/quotas.js';
import { registerDeploy, registerDeployments } from './commands/deployments.js';
import { registerEmbed } from './commands/embed.js';
import { registerModels } from './commands/models.js';
import { registerServe } from './commands/serve.js';
import { registerToken } from './commands/token.js';
import { registerTrain } from './commands/train.js';
import { registerUpload, registerUploads } from './commands/uploads.js';
import { DEFAULT_CREDENTIALS_FILE, DEFAULT_URL, resolveServerUrl, type ServerTarget } from './context.js';
import { formatError } from './format.js';
import type { CliIo } from './io.js';
import { baseUrl } from './parse.js';

/** Exit status when Ctrl-C ends a wait (128 + SIGINT), the shell convention. */
export const EXIT_STOPPED = 130;

/**
 * Builds the `modeld` command tree. Output goes through `io`; commander's own errors (unknown
 * option, missing argument) are written to io.stderr and thrown as CommanderError instead of
 * exiting, so that runCli decides the exit status.
 */
export function buildProgram(io: CliIo): Command {
  const program = new Command('modeld')
    .description('deploy and serve embedding models behind the Lucidworks AI API')
    .version(packageVersion(), '-V, --version')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      getOutHelpWidth: () => io.stdout.columns ?? 80,
      getErrHelpWidth: () => io.stderr.columns ?? 80,
    })
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    // Environment variables are read from io.env by context.ts (resolveServerUrl, resolveCredentials), not by commander.
    .addOption(
      new Option('--url <url>', `server base URL (env MODELD_URL; else http://MODELD_HOST:MODELD_PORT, the variables \`modeld serve\` reads; default ${DEFAULT_URL})`).argParser(
        baseUrl,
      ),
    )
    .option('--client-id <id>', 'API client id (env MODELD_CLIENT_ID)')
    .option('--client-secret <secret>', 'API client secret (env MODELD_CLIENT_SECRET)')
    .option(
      '--credentials <file>',
      `JSON file {clientId, clientSecret, customerId} used when no client id/secret is given (env MODELD_CREDENTIALS; default <MODELD_DATA_DIR>/admin-credentials.json, i.e. ${DEFAULT_CREDENTIALS_FILE})`,
    )
    .option('--json', 'machine-readable JSON output');

  registerServe(program, io);
  registerToken(program, io);
  registerModels(program, io);
  registerUpload(program, io);
  registerUploads(program, io);
  registerTrain(program, io);
  registerDeploy(program, io);
  registerDeployments(program, io);
  registerEmbed(program, io);
  registerAdmin(program, io);
  registerQuotas(program, io);
  return program;
}

/**
 * Runs one `modeld` invocation and returns its exit status: 0 on success, 1 on any error
 * (printed as `error: <message> (<code>)` on stderr), 130 when Ctrl-C ended a wait, and
 * commander's own status for usage errors, help and version.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof StoppedWaiting) {
      io.stderr.write(`${err.message}\n`);
      return EXIT_STOPPED;
    }
    let target: ServerTarget;
    try {
      target = resolveServerUrl(program.opts() as { url?: string }, io.env);
    } catch {
      target = { url: DEFAULT_URL, from: 'default' };
    }
    io.stderr.write(`${formatError(err, target)}\n`);
    return 1;
  }
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
