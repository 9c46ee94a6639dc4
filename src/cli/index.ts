/** The `modeld` command line: commands -> src/client only (never the store or runtimes). */
export { runCli, buildProgram, EXIT_STOPPED } from './program.js';
export type { CliEnv, CliIo, OutputStream, StopSignal } from './io.js';
export { CliError, CliErrorCodes, StoppedWaiting, type CliErrorCode } from './cli-error.js';
export {
  renderDeploymentProgress,
  renderTrainingProgress,
  trainingProgressKey,
  renderUploadProgress,
  uploadProgressKey,
  formatDuration,
  formatBytes,
  bar,
  ProgressLine,
  type ProgressRenderOptions,
} from './progress.js';
export { renderTable, modelsTable, deploymentsTable, eventsTable, uploadsTable, finalMetricsTable, trainingSummary, embeddingSummary, formatError } from './format.js';
export { buildTrainingConfig, contentAddressedName, isUri, CONFIG_FAMILY } from './training-config.js';
export { resolveCredentials, resolveServerUrl, DEFAULT_CREDENTIALS_FILE, DEFAULT_URL, type Credentials, type GlobalOptions, type ServerTarget } from './context.js';
