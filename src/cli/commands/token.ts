import type { Command } from 'commander';
import { CommandContext } from '../context.js';
import type { CliIo } from '../io.js';
import { listOf } from '../parse.js';

/** `modeld token [--scope ...]`: asks for a fresh access token and prints it (the whole answer with --json). */
export function registerToken(program: Command, io: CliIo): void {
  program
    .command('token')
    .description('print a new access token (for curl: -H "Authorization: Bearer $(modeld token)")')
    .option('--scope <scopes...>', "scopes to ask for, space or comma separated (default: all the client's scopes)", listOf)
    .action(async (opts: { scope?: string[] }, command: Command) => {
      const ctx = new CommandContext(io, command);
      const token = await ctx.client().issueToken(opts.scope);
      if (ctx.json) ctx.outJson(token);
      else ctx.out(token.access_token);
    });
}
