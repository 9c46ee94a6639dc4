/** How the server's log and start-up summary read on a terminal (JSON lines stay pino's own). */
export {
  resolveLogFormat,
  logsRequests,
  formatLogLine,
  terminalLogStream,
  startupSummary,
  type LogFormat,
  type LogFormatSetting,
  type LineSink,
  type StartupFacts,
} from './terminal.js';
