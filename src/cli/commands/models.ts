import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { CommandContext } from '../context.js';
import { modelsTable } from '../format.js';
import type { CliIo } from '../io.js';

/** `modeld models list|get|import|delete`. */
export function registerModels(program: Command, io: CliIo): void {
  const models = program.command('models').description('pre-trained and custom models');

  models
    .command('list')
    .description('list models: pre-trained first, then your custom ones')
    .action(async (_opts: unknown, command: Command) => {
      const ctx = new CommandContext(io, command);
      const list = await ctx.client().listModels();
      if (ctx.json) ctx.outJson(list);
      else ctx.out(modelsTable(list));
    });

  models
    .command('get')
    .description('show one model')
    .argument('<id>', 'model id (a pre-trained name or a UUID)')
    .option('--metrics', 'include training metrics')
    .action(async (id: string, opts: { metrics?: boolean }, command: Command) => {
      const ctx = new CommandContext(io, command);
      ctx.outJson(await ctx.client().getModel(id, { metrics: opts.metrics === true }));
    });

  models
    .command('import')
    .description('import a model artifact directory (manifest.json, model.onnx, tokenizer.json) the server can read')
    .argument('<name>', 'model name')
    .argument('<dir>', 'artifact directory; relative paths are made absolute here')
    .option('--description <text>', 'free-text description')
    .action(async (name: string, dir: string, opts: { description?: string }, command: Command) => {
      const ctx = new CommandContext(io, command);
      const uri = pathToFileURL(path.resolve(io.cwd, dir)).href;
      const model = await ctx.client().importModel({ name, uri, ...(opts.description !== undefined && { description: opts.description }) });
      if (ctx.json) ctx.outJson(model);
      else ctx.out(`imported model ${model.id} (${model.name}, ${model.state ?? 'AVAILABLE'}${model.vectorSize ? `, ${model.vectorSize}-d` : ''}) from ${uri}`);
    });

  models
    .command('delete')
    .description('delete a custom model (refused while it has deployments)')
    .argument('<id>', 'model id')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const ctx = new CommandContext(io, command);
      const model = await ctx.client().deleteModel(id);
      if (ctx.json) ctx.outJson(model ?? { id });
      else ctx.out(`deleted model ${id}${model?.state ? ` (${model.state})` : ''}`);
    });
}
