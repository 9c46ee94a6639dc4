import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { CommandContext } from '../context.js';
import { followOptions, followTraining } from '../following.js';
import { eventsTable, finalMetricsTable, modelsTable, trainingSummary } from '../format.js';
import type { CliIo } from '../io.js';
import { nonNegativeInt, positiveInt, seconds } from '../parse.js';
import { renderTrainingProgress } from '../progress.js';

/** `modeld models list|get|follow|events|import|delete`. */
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
    .option('--metrics', 'training summary and the best epoch\'s metrics as a table (with --json: the model with trainingMetrics)')
    .action(async (id: string, opts: { metrics?: boolean }, command: Command) => {
      const ctx = new CommandContext(io, command);
      const model = await ctx.client().getModel(id, { metrics: opts.metrics === true });
      if (!opts.metrics || ctx.json) {
        ctx.outJson(model);
        return;
      }
      ctx.out(trainingSummary(model));
      if (model.trainingMetrics) ctx.out(finalMetricsTable(model.trainingMetrics, ['val', 'trn']));
      else if (model.state === 'TRAINING') ctx.out(`no metrics yet: ${renderTrainingProgress(model)}`);
      else if (model.state === 'TRAINING_FAILED') ctx.out(`no metrics: training failed: ${model.errorMessage ?? 'no error message'}`);
      else ctx.out('no training metrics: only models trained by modeld have them');
    });

  models
    .command('follow')
    .description('follow a model in training until it is AVAILABLE (progress on stderr), then print its metrics; Ctrl-C stops following, not the training')
    .argument('<id>', 'model id')
    .option('--timeout <seconds>', 'give up following after this long (default: no limit)', seconds)
    .option('--interval <seconds>', 'time between two reads of the model', seconds, 1)
    .action(async (id: string, opts: { timeout?: number; interval: number }, command: Command) => {
      const ctx = new CommandContext(io, command);
      await followTraining(ctx, id, followOptions(opts));
    });

  models
    .command('events')
    .description('what happened to a model (training started, epochs, outcome), oldest first')
    .argument('<id>', 'model id')
    .option('--after <event-id>', 'only events after this id', nonNegativeInt)
    .option('--limit <n>', 'at most this many events', positiveInt)
    .action(async (id: string, opts: { after?: number; limit?: number }, command: Command) => {
      const ctx = new CommandContext(io, command);
      const events = await ctx.client().listModelEvents(id, { afterId: opts.after, limit: opts.limit });
      if (ctx.json) ctx.outJson(events);
      else ctx.out(eventsTable(events));
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
