import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Value } from 'typebox/value';
import { ModeldError } from '../errors/index.js';
import { defaultConfig } from './defaults.js';
import { ConfigSchema, type Config } from './schema.js';

/** Overrides from the command line, already parsed (`serve --port 9000 --data-dir x`). */
export interface ConfigFlags {
  configFile?: string;
  port?: number;
  host?: string;
  dataDir?: string;
  logLevel?: string;
  databaseUrl?: string;
  /** `auto`, `json` or `text` (see ConfigSchema logFormat). */
  logFormat?: string;
}

type Env = Record<string, string | undefined>;

/**
 * Builds the one Config: defaults, then the JSON file (flag `configFile` or env MODELD_CONFIG),
 * then env (MODELD_HOST, MODELD_PORT, MODELD_DATA_DIR, MODELD_LOG_LEVEL, MODELD_LOG_FORMAT, MODELD_DATABASE_URL),
 * then flags. Paths become absolute, dataRoots default to `<dataDir>/uploads`, the result is
 * validated against ConfigSchema and deep-frozen. Throws a ModeldError naming the bad key.
 * This is the only module that reads process.env (through the `env` argument).
 */
export function loadConfig(flags: ConfigFlags = {}, env: Env = process.env, cwd = process.cwd()): Readonly<Config> {
  let merged: Record<string, unknown> = defaultConfig() as unknown as Record<string, unknown>;
  const file = flags.configFile ?? env.MODELD_CONFIG;
  if (file) merged = deepMerge(merged, readJsonFile(path.resolve(cwd, file)));

  const fromEnv: Record<string, unknown> = {};
  if (env.MODELD_HOST) fromEnv.host = env.MODELD_HOST;
  if (env.MODELD_PORT) fromEnv.port = parsePort(env.MODELD_PORT, 'MODELD_PORT');
  if (env.MODELD_DATA_DIR) fromEnv.dataDir = env.MODELD_DATA_DIR;
  if (env.MODELD_LOG_LEVEL) fromEnv.logLevel = env.MODELD_LOG_LEVEL;
  if (env.MODELD_LOG_FORMAT) fromEnv.logFormat = env.MODELD_LOG_FORMAT;
  if (env.MODELD_DATABASE_URL) fromEnv.store = { kind: 'postgres', postgresUrl: env.MODELD_DATABASE_URL };
  // The Kubernetes manifests set it from the pod's name (downward API).
  if (env.MODELD_PUBLIC_URL) fromEnv.publicUrl = env.MODELD_PUBLIC_URL;
  if (env.MODELD_INSTANCE_ID) fromEnv.cluster = { instanceId: env.MODELD_INSTANCE_ID };
  merged = deepMerge(merged, fromEnv);

  const fromFlags: Record<string, unknown> = {};
  if (flags.host !== undefined) fromFlags.host = flags.host;
  if (flags.port !== undefined) fromFlags.port = flags.port;
  if (flags.dataDir !== undefined) fromFlags.dataDir = flags.dataDir;
  if (flags.logLevel !== undefined) fromFlags.logLevel = flags.logLevel;
  if (flags.logFormat !== undefined) fromFlags.logFormat = flags.logFormat;
  if (flags.databaseUrl !== undefined) fromFlags.store = { kind: 'postgres', postgresUrl: flags.databaseUrl };
  merged = deepMerge(merged, fromFlags);

  return compileConfig(merged, cwd);
}

/** Validates a whole config object (defaults already applied), resolves paths, freezes it. */
export function compileConfig(raw: unknown, cwd = process.cwd()): Readonly<Config> {
  if (!Value.Check(ConfigSchema, raw)) {
    const first = [...Value.Errors(ConfigSchema, raw)].find((e) => e.keyword !== 'boolean') ?? [...Value.Errors(ConfigSchema, raw)][0];
    const where = first?.instancePath ? first.instancePath.slice(1).replaceAll('/', '.') : '(root)';
    const extra = first?.keyword === 'additionalProperties' ? ` ${JSON.stringify(first.params)}` : '';
    throw new ModeldError('MODELD_ERR_VALIDATION', `config ${where}: ${first?.message ?? 'invalid'}${extra}`, {
      details: { field: where },
    });
  }
  const config = structuredClone(raw) as Config;
  config.dataDir = path.resolve(cwd, config.dataDir);
  config.store.sqliteFile = path.resolve(config.dataDir, config.store.sqliteFile);
  if (config.store.kind === 'postgres' && !config.store.postgresUrl) {
    throw new ModeldError('MODELD_ERR_VALIDATION', 'config store.postgresUrl: required when store.kind is postgres', {
      details: { field: 'store.postgresUrl' },
    });
  }
  if (config.cluster.renewIntervalMs * 2 >= config.cluster.leaseTtlMs) {
    throw new ModeldError(
      'MODELD_ERR_VALIDATION',
      `config cluster.renewIntervalMs: must be less than half of cluster.leaseTtlMs (${config.cluster.leaseTtlMs}), got ${config.cluster.renewIntervalMs}`,
      { details: { field: 'cluster.renewIntervalMs' } },
    );
  }
  if (Object.keys(config.regions).length === 0) {
    throw new ModeldError('MODELD_ERR_VALIDATION', 'config regions: at least one region is required', { details: { field: 'regions' } });
  }
  config.training.dataRoots = (config.training.dataRoots.length > 0 ? config.training.dataRoots : [path.join(config.dataDir, 'uploads')]).map((p) =>
    path.resolve(cwd, p),
  );
  config.importRoots = config.importRoots.map((p) => path.resolve(cwd, p));
  return deepFreeze(config);
}

/** Well-known places under dataDir. */
export function dataPaths(config: Pick<Config, 'dataDir'>) {
  const d = config.dataDir;
  return {
    artifacts: path.join(d, 'artifacts'),
    models: path.join(d, 'models'),
    replicas: path.join(d, 'replicas'),
    keys: path.join(d, 'keys'),
    uploads: path.join(d, 'uploads'),
    training: path.join(d, 'training'),
    adminCredentials: path.join(d, 'admin-credentials.json'),
  } as const;
}

function parsePort(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new ModeldError('MODELD_ERR_VALIDATION', `${name}: must be an integer port (0-65535), got ${JSON.stringify(value)}`, {
      details: { field: name },
    });
  }
  return n;
}

function readJsonFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ModeldError('MODELD_ERR_VALIDATION', `config file ${file}: cannot read (${(err as Error).message})`, { cause: err });
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('top level must be an object');
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new ModeldError('MODELD_ERR_VALIDATION', `config file ${file}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Objects merge key by key; arrays and scalars replace. `regions` replaces whole when given. */
function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>, topLevel = true): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (topLevel && k === 'regions') out[k] = v;
    else if (isPlainObject(v) && isPlainObject(out[k])) out[k] = deepMerge(out[k] as Record<string, unknown>, v, false);
    else out[k] = v;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
