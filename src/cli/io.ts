/** What a text stream must offer the CLI: process.stdout / process.stderr, or a test capture. */
export interface OutputStream {
  write(chunk: string): unknown;
  /** True when a terminal is attached: tables, summaries and a redrawn progress line. */
  isTTY?: boolean;
  /** Terminal width, when known. */
  columns?: number;
}

export type StopSignal = 'SIGINT' | 'SIGTERM';

/** The environment variables the CLI reads (MODELD_URL, MODELD_HOST, MODELD_PORT, MODELD_DATA_DIR, MODELD_CONFIG (models install), MODELD_CREDENTIALS, MODELD_CLIENT_ID, MODELD_CLIENT_SECRET). */
export type CliEnv = Readonly<Record<string, string | undefined>>;

/**
 * The CLI's whole contact with its process, passed in so that commands run in-process in tests.
 * main.ts binds it to the real process.
 */
export interface CliIo {
  stdout: OutputStream;
  stderr: OutputStream;
  /** Relative paths (DIR, --credentials, --data-dir) resolve against it. */
  cwd: string;
  /** The environment; main.ts passes process.env, tests pass what they mean (the CLI reads no other). */
  env: CliEnv;
  /**
   * Calls `handler` on Ctrl-C or SIGTERM while registered; returns the function that
   * unregisters it. Outside such a window the signals keep their default effect (exit).
   */
  onStopSignal(handler: (signal: StopSignal) => void): () => void;
}
