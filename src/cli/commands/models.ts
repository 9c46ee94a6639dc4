import path from 'node:path';
import type { Command } from 'commander';
import { CommandContext } from '../context.js';
import { followOptions, followTraining } from '../following.js';
import { eventsTable, finalMetricsTable, modelsTable, trainingSummary } from '../format.js';
import type { CliIo } from '../io.js';
import { nonNegativeInt, positiveInt, seconds } from '../parse.js';
import { renderTrainingProgress } from '../progress.js';
import { modelFilesOf, uploadFolderFor, uploadWithProgress } from '../uploading.js';
import { CliError, CliErrorCodes } from '../cli-error.js';
import { isModeldClientError, UPLOAD_NAME_PATTERN, type Model } from '../../client/index.js';

/** `modeld models list|get|install|follow|events|import|delete`. */
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
    .command('install')
    .description(
      'install a Lucidworks pre-trained model (e5-small-v2, gte-small, bge-small, ...) from a Hugging Face export folder, on the server machine: ' +
        'writes <dataDir>/models/<name>, which the running server serves within 10 s (no API call: installing is an operator action)',
    )
    .argument('<name>', 'catalogue name (see docs/api.md, "Pre-trained catalogue")')
    .argument('<folder>', 'Hugging Face export: tokenizer.json, config.json, onnx/model.onnx')
    .option('--data-dir <dir>', "the server's data directory (default ./data, env MODELD_DATA_DIR)")
    .option('--config <file>', "the server's JSON config file (env MODELD_CONFIG)")
    .option('--replace', 'install again over an installed model of that name')
    .action(async (name: string, folder: string, opts: { dataDir?: string; config?: string; replace?: boolean }, command: Command) => {
      const ctx = new CommandContext(io, command);
      // Loaded here only: the other commands are API clients and start without the server's modules.
      const [{ loadConfig, dataPaths }, { installPretrained }] = await Promise.all([import('../../config/index.js'), import('../../engines/index.js')]);
      const flags: { dataDir?: string; configFile?: string } = {};
      if (opts.dataDir !== undefined) flags.dataDir = path.resolve(io.cwd, opts.dataDir);
      if (opts.config !== undefined) flags.configFile = path.resolve(io.cwd, opts.config);
      const modelsDir = dataPaths(loadConfig(flags, { ...io.env }, io.cwd)).models;
      let manifest;
      try {
        manifest = await installPretrained(modelsDir, name, path.resolve(io.cwd, folder), { replace: opts.replace === true });
      } catch (err) {
        throw new CliError(CliErrorCodes.INSTALL_FAILED, (err as Error).message, { cause: err });
      }
      const installed = { name, vectorSize: manifest.vectorSize, directory: path.join(modelsDir, name), prefixes: manifest.prefixes ?? {}, matryoshkaDims: manifest.matryoshkaDims ?? [] };
      if (ctx.json) ctx.outJson(installed);
      else ctx.out(`installed ${name} (${manifest.vectorSize}-d) in ${installed.directory}; a running server serves it within 10 s`);
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
    .description('import a model folder (a modeld artifact, or a Hugging Face export with tokenizer.json and onnx/model.onnx): its files are uploaded, then imported')
    .argument('<name>', 'model name')
    .argument('<dir>', 'local model folder; or file:///abs/dir, a folder the server imports from as is (under its importRoots)')
    .option('--description <text>', 'free-text description')
    .option('--upload-folder <folder>', 'upload folder to send the files to (default: made from the model name); replaced if it exists')
    .option('--keep-upload', 'keep the uploaded files after a successful import (by default they are deleted: the model has its own copy)')
    .action(async (name: string, dir: string, opts: { description?: string; uploadFolder?: string; keepUpload?: boolean }, command: Command) => {
      const ctx = new CommandContext(io, command);
      const client = ctx.client();
      const description = opts.description !== undefined ? { description: opts.description } : {};
      let model: Model;
      let from: string;
      if (dir.startsWith('file://')) {
        model = await importWithRetry(ctx, () => client.importModel({ name, uri: dir, ...description }));
        from = dir;
      } else {
        const local = path.resolve(io.cwd, dir);
        const files = await modelFilesOf(local);
        const folder = opts.uploadFolder ?? uploadFolderFor(name);
        if (!UPLOAD_NAME_PATTERN.test(folder)) throw new CliError(CliErrorCodes.USAGE, `--upload-folder ${JSON.stringify(folder)}: letters, digits, '.', '_', '-', starting with a letter or digit`);
        // A fresh folder: files of an earlier upload must not mix into this model.
        await client.deleteUpload(folder).catch((err: unknown) => {
          if (!(isModeldClientError(err) && err.status === 404)) throw err;
        });
        ctx.note(`uploading ${files.length} files of ${local} to upload folder ${folder}`);
        for (const f of files) await uploadWithProgress(ctx, path.join(local, ...f.split('/')), `${folder}/${f}`);
        model = await importWithRetry(ctx, () => client.importModel({ name, upload: folder, ...description }));
        if (!opts.keepUpload) await client.deleteUpload(folder);
        from = local;
      }
      if (ctx.json) ctx.outJson(model);
      else ctx.out(`imported model ${model.id} (${model.name}, ${model.state ?? 'AVAILABLE'}${model.vectorSize ? `, ${model.vectorSize}-d` : ''}) from ${from}`);
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

/**
 * Runs an import, waiting and retrying while the server answers 429 MODELD_ERR_OVERLOADED (it
 * admits a few imports at once), as long as its Retry-After says, at most 30 times; a note on
 * stderr each time.
 */
async function importWithRetry(ctx: CommandContext, run: () => Promise<Model>): Promise<Model> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (!(isModeldClientError(err) && err.status === 429) || attempt >= 30) throw err;
      const seconds = Number(err.details?.retryAfterSeconds);
      const waitS = Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 60) : 5;
      ctx.note(`the server is busy with other imports; retrying in ${waitS} s`);
      await new Promise((resolve) => setTimeout(resolve, waitS * 1000));
    }
  }
}
