import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { ModeldClient } from '../client/index.js';
import { CliError, CliErrorCodes } from './cli-error.js';
import type { CliIo } from './io.js';

/** Where `modeld serve` writes the first admin client, relative to the working directory. */
export const DEFAULT_CREDENTIALS_FILE = './data/admin-credentials.json';
export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** The global options every command sees (commander merges env and defaults into them). */
export interface GlobalOptions {
  url: string;
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

  get url(): string {
    return this.globals.url;
  }

  /** The API client; reads the credentials on first call (throws CliError when there are none). */
  client(): ModeldClient {
    if (!this.#client) {
      const credentials = resolveCredentials(this.globals, this.io.cwd);
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

/**
 * Client credentials, in this order: `--client-id` and `--client-secret` (or MODELD_CLIENT_ID /
 * MODELD_CLIENT_SECRET, both or neither); else the JSON file `--credentials` names, by default
 * ./data/admin-credentials.json (`{clientId, clientSecret, customerId?}`, as `modeld serve`
 * writes it on first start). Throws CliError NO_CREDENTIALS saying what was tried.
 */
export function resolveCredentials(globals: GlobalOptions, cwd: string): Credentials {
  const { clientId, clientSecret } = globals;
  if (clientId && clientSecret) return { clientId, clientSecret };
  if (clientId || clientSecret) {
    throw new CliError(
      CliErrorCodes.NO_CREDENTIALS,
      `${clientId ? '--client-secret (or MODELD_CLIENT_SECRET)' : '--client-id (or MODELD_CLIENT_ID)'} is missing: give both the client id and the secret`,
    );
  }
  const given = globals.credentials ?? DEFAULT_CREDENTIALS_FILE;
  const file = path.resolve(cwd, given);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(err as Error).message})`;
    throw new CliError(
      CliErrorCodes.NO_CREDENTIALS,
      `no credentials: ${file} ${why}; pass --client-id and --client-secret (or MODELD_CLIENT_ID and MODELD_CLIENT_SECRET), ` +
        `or --credentials FILE (\`modeld serve\` writes <data-dir>/admin-credentials.json on first start)`,
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
