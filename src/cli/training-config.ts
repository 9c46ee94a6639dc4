import { TrainableModelTypes, UPLOAD_NAME_PATTERN, type TrainableModelType } from '../client/index.js';
import { CliError, CliErrorCodes } from './cli-error.js';

/**
 * Pure pieces of `modeld train`: the config it sends and how it tells a local path from a URI.
 * The server compiles and checks the config (docs/training.md); the CLI only assembles it.
 */

/** `dataset_config` and `trainer_config` (both required by M2) for each model type. */
export const CONFIG_FAMILY: Readonly<Record<TrainableModelType, string>> = {
  [TrainableModelTypes.ECOMMERCE_RNN]: 'mlp_ecommerce',
  [TrainableModelTypes.GENERAL_RNN]: 'mlp_general',
};

/**
 * The flat training config (Lucidworks' form, keys like `"trainer_config.num_epochs"`) from,
 * lowest precedence first: `dataset_config` and `trainer_config` for the model type, the
 * `--config-file` object, then each `--set` in order (a later one wins). Throws CliError USAGE
 * when the file's content is not a JSON object.
 */
export function buildTrainingConfig(
  modelType: TrainableModelType,
  fileConfig: unknown,
  sets: ReadonlyArray<readonly [string, unknown]>,
): Record<string, unknown> {
  if (fileConfig !== undefined && (typeof fileConfig !== 'object' || fileConfig === null || Array.isArray(fileConfig))) {
    throw new CliError(CliErrorCodes.USAGE, '--config-file must hold a JSON object of config keys, e.g. {"trainer_config.num_epochs": 3}');
  }
  const family = CONFIG_FAMILY[modelType];
  const config: Record<string, unknown> = { dataset_config: family, trainer_config: family, ...(fileConfig as Record<string, unknown> | undefined) };
  for (const [key, value] of sets) config[key] = value;
  return config;
}

/**
 * True when `value` names a URI for the server (`file:///...`, or another scheme such as `gs://`
 * that the server will judge), false when it is a local path the CLI must upload first. A
 * Windows drive (`C:\data`) is a path.
 */
export function isUri(value: string): boolean {
  return /^[a-z][a-z0-9+.-]+:\/\//i.test(value);
}

/**
 * The name a local file is uploaded under by `train`: its base name with the first 12 hex digits
 * of its SHA-256 before the extension (`catalog.csv` -> `catalog-3f2a9c01d4e5.csv`). Same
 * content, same name: a file uploaded before is not sent again, and a later upload of another
 * `catalog.csv` cannot change the data of a model in training. Characters the server refuses
 * become `_`; the stem is cut so that the name stays within 128 characters.
 */
export function contentAddressedName(baseName: string, sha256Hex: string): string {
  const dot = baseName.lastIndexOf('.');
  const hasExt = dot > 0 && dot < baseName.length - 1;
  const clean = (s: string) => s.replaceAll(/[^A-Za-z0-9._-]/g, '_');
  let ext = hasExt ? clean(baseName.slice(dot)) : '';
  if (ext.length > 16) ext = '';
  let stem = clean(hasExt ? baseName.slice(0, dot) : baseName).replace(/^[^A-Za-z0-9]+/, '');
  if (stem === '') stem = 'data';
  const suffix = `-${sha256Hex.slice(0, 12)}${ext}`;
  stem = stem.slice(0, 128 - suffix.length);
  const name = `${stem}${suffix}`;
  if (!UPLOAD_NAME_PATTERN.test(name)) throw new Error(`contentAddressedName: built an invalid name ${JSON.stringify(name)}`);
  return name;
}
