import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { ModeldClient } from '../client/index.js';
import { CliError, CliErrorCodes } from './cli-error.js';
import type { CliEnv, CliIo } from './io.js';
import { baseUrl } from './parse.js';

/** Where `modeld serve` writes the first admin client, relative to the working directory. */
export const DEFAULT_CREDENTIALS_FILE = './data/admin-credentials.json';
/** The server's defaults (src/config/defaults.ts: host 127.0.0.1, port 8080), restated: cli/ loads no server module. */
export const DEFAULT_URL = 'http://127.0.0.1:8080';
const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_PORT = 8080;

/** The global options every command sees, as given on the command line (environment not merged). */
export interface GlobalOptions {
  url?: string;
  clientId?: string;
  clientSecret?: string;
  credentials?: string;
  json?: boolean;
}

export interface Credentials {
  clientId: string;
  clientSecret: string;
  customerId?: string;
}

/** What a command's action works with: the io, the output mode, and a client built on first use. */
export class CommandContext {
  readonly io: CliIo;
  readonly globals: GlobalOptions;
  #client: ModeldClient | null = null;

  constructor(io: CliIo, command: Command) {
    this.io = io;
    this.globals = command.optsWithGlobals<GlobalOptions>();
  }

  get json(): boolean {
    return this.globals.json === true;
  }

  /** The server's base URL (see resolveServerUrl); throws CliError USAGE when the environment names a bad one. */
  get url(): string {
    return resolveServerUrl(this.globals, this.io.env).url;
  }

  /** The API client; reads the credentials on first call (throws CliError when there are none). */
  client(): ModeldClient {
    if (!this.#client) {
      const credentials = resolveCredentials(this.globals, this.io.cwd, this.io.env);
      this.#client = new ModeldClient({ baseUrl: this.url, ...credentials });
    }
    return this.#client;
  }

  /** Writes text to stdout (a newline is added when missing). */
  out(text: string): void {
    this.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Writes a value as indented JSON to stdout. */
  outJson(value: unknown): void {
    this.out(JSON.stringify(value, null, 2));
  }

  /** Writes a note to stderr (never mixed into machine output). */
  note(text: string): void {
    this.io.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  }
}

/** The server the CLI talks to, and what chose it (named in the "cannot connect" message). */
export interface ServerTarget {
  url: string;
  /** `--url`, `MODELD_URL`, `MODELD_HOST/MODELD_PORT` or `default`. */
  from: string;
}

/**
 * The server's base URL, in this order: `--url`; else MODELD_URL; else the address the server
 * itself listens on, from the variables `modeld serve` reads: MODELD_HOST (default 127.0.0.1; a
 * wildcard address 0.0.0.0 or :: is reached on loopback) and MODELD_PORT (default 8080); else
 * http://127.0.0.1:8080. Throws CliError USAGE naming the variable when one is malformed.
 */
export function resolveServerUrl(globals: Pick<GlobalOptions, 'url'>, env: CliEnv): ServerTarget {
  if (globals.url !== undefined) return { url: globals.url, from: '--url' };
  const fromEnv = nonEmpty(env.MODELD_URL);
  if (fromEnv !== undefined) {
    try {
      return { url: baseUrl(fromEnv), from: 'MODELD_URL' };
    } catch (err) {
      throw new CliError(CliErrorCodes.USAGE, `MODELD_URL ${JSON.stringify(fromEnv)}: ${(err as Error).message}`, { cause: err });
    }
  }
  const hostVar = nonEmpty(env.MODELD_HOST);
  const portVar = nonEmpty(env.MODELD_PORT);
  if (hostVar === undefined && portVar === undefined) return { url: DEFAULT_URL, from: 'default' };
  let port = DEFAULT_PORT;
  if (portVar !== undefined) {
    port = Number(portVar);
    if (!/^\d+$/.test(portVar.trim()) || port < 1 || port > 65535) {
      throw new CliError(CliErrorCodes.USAGE, `MODELD_PORT ${JSON.stringify(portVar)}: must be a port number (1-65535)`);
    }
  }
  let host = hostVar ?? DEFAULT_HOST;
  if (host === '0.0.0.0') host = '127.0.0.1';
  else if (host === '::' || host === '[::]') host = '::1';
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  const from = [hostVar !== undefined ? 'MODELD_HOST' : null, portVar !== undefined ? 'MODELD_PORT' : null].filter(Boolean).join('/');
  return { url: `http://${host}:${port}`, from };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/**
 * Client credentials, in this order: `--client-id` and `--client-secret` (or MODELD_CLIENT_ID /
 * MODELD_CLIENT_SECRET, both or neither); else the JSON file `--credentials` (or MODELD_CREDENTIALS)
 * names, by default `<MODELD_DATA_DIR>/admin-credentials.json` with MODELD_DATA_DIR defaulting to
 * ./data as for the server (`{clientId, clientSecret, customerId?}`, as `modeld serve` writes it
 * on first start). Relative paths resolve against `cwd`. Throws CliError NO_CREDENTIALS saying
 * what was tried.
 */
export function resolveCredentials(globals: GlobalOptions, cwd: string, env: CliEnv = {}): Credentials {
  const clientId = globals.clientId ?? nonEmpty(env.MODELD_CLIENT_ID);
  const clientSecret = globals.clientSecret ?? nonEmpty(env.MODELD_CLIENT_SECRET);
  if (clientId && clientSecret) return { clientId, clientSecret };
  if (clientId || clientSecret) {
    throw new CliError(
      CliErrorCodes.NO_CREDENTIALS,
      `${clientId ? '--client-secret (or MODELD_CLIENT_SECRET)' : '--client-id (or MODELD_CLIENT_ID)'} is missing: give both the client id and the secret`,
    );
  }
  const dataDir = nonEmpty(env.MODELD_DATA_DIR);
  const given =
    globals.credentials ?? nonEmpty(env.MODELD_CREDENTIALS) ?? (dataDir !== undefined ? path.join(dataDir, 'admin-credentials.json') : DEFAULT_CREDENTIALS_FILE);
  const file = path.resolve(cwd, given);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(err as Error).message})`;
    throw new CliError(
      CliErrorCodes.NO_CREDENTIALS,
      `no credentials: ${file} ${why}; pass --client-id and --client-secret (or MODELD_CLIENT_ID and MODELD_CLIENT_SECRET), ` +
        `or --credentials FILE (or MODELD_CREDENTIALS; \`modeld serve\` writes <data-dir>/admin-credentials.json on first start)`,
      { cause: err },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CliError(CliErrorCodes.NO_CREDENTIALS, `credentials file ${file} is not valid JSON`, { cause: err });
  }
  const c = parsed as Partial<Record<keyof Credentials, unknown>> | null;
  if (typeof c?.clientId !== 'string' || typeof c.clientSecret !== 'string') {
    throw new CliError(CliErrorCodes.NO_CREDENTIALS, `credentials file ${file} lacks clientId and clientSecret`);
  }
  const out: Credentials = { clientId: c.clientId, clientSecret: c.clientSecret };
  if (typeof c.customerId === 'string' && c.customerId !== '') out.customerId = c.customerId;
  return out;
}
