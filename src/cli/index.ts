/** The `modeld` command line: commands -> src/client only (never the store or runtimes). */
export { runCli, buildProgram, EXIT_STOPPED } from './program.js';
export type { CliIo, OutputStream, StopSignal } from './io.js';
export { CliError, CliErrorCodes, StoppedWaiting, type CliErrorCode } from './cli-error.js';
export { renderDeploymentProgress, bar, ProgressLine, type ProgressRenderOptions } from './progress.js';
export { renderTable, modelsTable, deploymentsTable, eventsTable, embeddingSummary, formatError } from './format.js';
export { resolveCredentials, DEFAULT_CREDENTIALS_FILE, DEFAULT_URL, type Credentials, type GlobalOptions } from './context.js';
