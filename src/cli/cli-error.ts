/** Codes of failures the CLI detects itself, before or without asking the server. */
export const CliErrorCodes = {
  /** An argument or option value the CLI cannot use. */
  USAGE: 'MODELD_CLI_ERR_USAGE',
  /** No client id/secret given and no readable credentials file. */
  NO_CREDENTIALS: 'MODELD_CLI_ERR_NO_CREDENTIALS',
  /** `serve` could not load or start the server. */
  SERVE_FAILED: 'MODELD_CLI_ERR_SERVE_FAILED',
  /** `models install` refused the folder or the name (the message says why). */
  INSTALL_FAILED: 'MODELD_CLI_ERR_INSTALL_FAILED',
} as const;
export type CliErrorCode = (typeof CliErrorCodes)[keyof typeof CliErrorCodes];

/** A failure of the CLI itself; printed like server errors: `error: <message> (<code>)`. */
export class CliError extends Error {
  readonly code: CliErrorCode;

  constructor(code: CliErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = code;
  }
}

/** Thrown when Ctrl-C (or SIGTERM) ends a wait; the CLI prints its message and exits 130. Nothing was deleted. */
export class StoppedWaiting extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoppedWaiting';
  }
}
