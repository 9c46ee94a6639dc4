import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { ClientErrorCodes, isModeldClientError, TrainableModelTypes, type TrainableModelType, type TrainModelRequest, type Upload } from '../../client/index.js';
import { CliError, CliErrorCodes } from '../cli-error.js';
import { CommandContext } from '../context.js';
import { followOptions, followTraining } from '../following.js';
import type { CliIo } from '../io.js';
import { oneOf, seconds, settings } from '../parse.js';
import { buildTrainingConfig, contentAddressedName, isUri } from '../training-config.js';
import { fileSize, sha256File, uploadWithProgress } from '../uploading.js';

interface TrainOptions {
  name: string;
  type: TrainableModelType;
  catalog: string;
  signals: string;
  region: string;
  set?: Array<[string, unknown]>;
  configFile?: string;
  follow?: boolean;
  timeout?: number;
  interval: number;
}

/**
 * `modeld train --name N --catalog C --signals S [...]`: uploads local data files, creates the
 * model (M2, state TRAINING) and, with `--follow`, follows it like `models follow`.
 */
export function registerTrain(program: Command, io: CliIo): void {
  program
    .command('train')
    .description('train a custom encoder from a catalog and query signals (local files are uploaded first)')
    .requiredOption('--name <name>', 'model name')
    .option('--type <type>', 'model type: ecommerce-rnn or general-rnn (sets dataset_config and trainer_config to mlp_ecommerce or mlp_general)', oneOf(Object.values(TrainableModelTypes)), TrainableModelTypes.ECOMMERCE_RNN)
    .requiredOption('--catalog <path|uri>', 'catalog (index) file: a local path (uploaded) or a file:// uri the server can read')
    .requiredOption('--signals <path|uri>', 'signals (queries) file: a local path (uploaded) or a file:// uri the server can read')
    .option('--region <region>', 'region of the model (a configured region)', 'local')
    .option('--set <key=value>', 'a training config key, e.g. trainer_config.num_epochs=3 (value parsed as JSON when it parses; repeatable)', settings)
    .option('--config-file <file>', 'a JSON object of training config keys; --set wins over it')
    .option('--follow', 'follow the training (progress on stderr) until AVAILABLE; exit 1 on TRAINING_FAILED, 130 on Ctrl-C (the training goes on)')
    .option('--timeout <seconds>', 'with --follow: give up following after this long (default: no limit)', seconds)
    .option('--interval <seconds>', 'with --follow: time between two reads of the model', seconds, 1)
    .action(async (opts: TrainOptions, command: Command) => {
      const ctx = new CommandContext(io, command);
      if (opts.timeout !== undefined && !opts.follow) throw new CliError(CliErrorCodes.USAGE, '--timeout needs --follow');
      const fileConfig = opts.configFile === undefined ? undefined : await readConfigFile(path.resolve(io.cwd, opts.configFile));
      const config = buildTrainingConfig(opts.type, fileConfig, opts.set ?? []);

      // Check both local files before sending either.
      const sources = { catalog: opts.catalog, signals: opts.signals };
      for (const value of Object.values(sources)) if (!isUri(value)) await fileSize(path.resolve(io.cwd, value));
      const uploads = new UploadCache(ctx);
      const trainingData = {
        catalog: await uploads.uriFor(opts.catalog),
        signals: await uploads.uriFor(opts.signals),
      };

      const request: TrainModelRequest = { name: opts.name, modelType: opts.type, region: opts.region, trainingData, config };
      const model = await ctx.client().trainModel(request);
      if (!opts.follow) {
        if (ctx.json) ctx.outJson(model);
        else {
          ctx.out(`model ${model.id} ${model.state ?? 'TRAINING'} (${model.name}, ${model.modelType})`);
          ctx.note(`follow it with: modeld models follow ${model.id}`);
        }
        return;
      }
      ctx.note(`model ${model.id} (${model.name}) is ${model.state ?? 'TRAINING'}; following it (Ctrl-C stops following, not the training)`);
      try {
        await followTraining(ctx, model.id, followOptions(opts));
      } catch (err) {
        // The server names the files it read, i.e. the uploads: say which local file each one is.
        if (isModeldClientError(err) && err.code === ClientErrorCodes.TRAINING_FAILED) {
          for (const [name, local] of uploads.uploaded) if (err.message.includes(name)) ctx.note(`(${name} is the upload of ${local})`);
        }
        throw err;
      }
    });
}

async function readConfigFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(CliErrorCodes.USAGE, `--config-file ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(CliErrorCodes.USAGE, `--config-file ${file} is not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

/**
 * Turns `--catalog` / `--signals` into the URIs M2 takes: a URI is passed on as it is; a local
 * file is uploaded under its content-addressed name (see contentAddressedName), unless an upload
 * of that name with the same SHA-256 is already there.
 */
class UploadCache {
  readonly #ctx: CommandContext;
  #existing: Promise<Upload[]> | null = null;
  /** Upload name -> the local path as the user gave it, for every file resolved here. */
  readonly uploaded = new Map<string, string>();

  constructor(ctx: CommandContext) {
    this.#ctx = ctx;
  }

  async uriFor(value: string): Promise<string> {
    if (isUri(value)) return value;
    const absolute = path.resolve(this.#ctx.io.cwd, value);
    const sha256 = await sha256File(absolute);
    const name = contentAddressedName(path.basename(absolute), sha256);
    this.#existing ??= this.#ctx.client().listUploads();
    this.uploaded.set(name, value);
    const same = (await this.#existing).find((u) => u.name === name && u.sha256 === sha256);
    if (same) {
      this.#ctx.note(`${value}: already uploaded as ${same.name}`);
      return same.uri;
    }
    const upload = await uploadWithProgress(this.#ctx, absolute, name);
    if (upload.sha256 !== sha256) {
      throw new CliError(CliErrorCodes.USAGE, `${pathToFileURL(absolute).href} changed while it was uploaded (sha256 ${sha256} before, ${upload.sha256} stored); upload it again`);
    }
    return upload.uri;
  }
}
