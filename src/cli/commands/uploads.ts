import path from 'node:path';
import type { Command } from 'commander';
import { CommandContext } from '../context.js';
import { uploadsTable } from '../format.js';
import type { CliIo } from '../io.js';
import { formatBytes } from '../progress.js';
import { uploadWithProgress } from '../uploading.js';

/** `modeld upload FILE [--name N]`: sends a training data file; prints its `file://` uri. */
export function registerUpload(program: Command, io: CliIo): void {
  program
    .command('upload')
    .description('upload a training data file (CSV, JSON Lines, Parquet); prints the file:// uri to give `train`')
    .argument('<file>', 'local file')
    .option('--name <name>', 'name on the server (default: the file name); an upload of the same name is replaced')
    .action(async (file: string, opts: { name?: string }, command: Command) => {
      const ctx = new CommandContext(io, command);
      const upload = await uploadWithProgress(ctx, file, opts.name ?? path.basename(file));
      if (ctx.json) {
        ctx.outJson(upload);
        return;
      }
      ctx.note(`uploaded ${upload.name}: ${formatBytes(upload.bytes)}, sha256 ${upload.sha256}`);
      ctx.out(upload.uri);
    });
}

/** `modeld uploads list|delete`. */
export function registerUploads(program: Command, io: CliIo): void {
  const uploads = program.command('uploads').description('uploaded training data files');

  uploads
    .command('list')
    .description('list uploaded files')
    .action(async (_opts: unknown, command: Command) => {
      const ctx = new CommandContext(io, command);
      const list = await ctx.client().listUploads();
      if (ctx.json) ctx.outJson(list);
      else ctx.out(uploadsTable(list));
    });

  uploads
    .command('delete')
    .description('delete an uploaded file, or an upload folder with all its files')
    .argument('<name>', 'upload name')
    .action(async (name: string, _opts: unknown, command: Command) => {
      const ctx = new CommandContext(io, command);
      await ctx.client().deleteUpload(name);
      if (ctx.json) ctx.outJson({ name, deleted: true });
      else ctx.out(`deleted upload ${name}`);
    });
}
