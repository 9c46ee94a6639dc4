/**
 * The server's output for a person at a terminal: a start-up summary and one short line per log
 * event, instead of pino's JSON lines (which stay the output everywhere else: a pipe, a file, a
 * log shipper). Pure text functions plus one small stream adapter; no decision about where the
 * output goes is made here except resolveLogFormat's.
 */

export type LogFormatSetting = 'auto' | 'json' | 'text';
export type LogFormat = 'json' | 'text';

/** `auto` is text on a terminal (`isTTY`), json anywhere else; `json` and `text` are taken as given. */
export function resolveLogFormat(setting: LogFormatSetting | undefined, isTTY: boolean): LogFormat {
  if (setting === 'json' || setting === 'text') return setting;
  return isTTY ? 'text' : 'json';
}

const VERBOSE_LEVELS: ReadonlySet<string> = new Set(['debug', 'trace']);

/**
 * Whether fastify (and the embedding fast path) write a line per request: always in JSON, and on
 * a terminal only at `debug` or `trace`, where 220 request lines would otherwise bury the rest.
 */
export function logsRequests(format: LogFormat, level: string): boolean {
  return format === 'json' || VERBOSE_LEVELS.has(level);
}

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Keys every line carries, or that the line shows in its own place. */
const SHOWN_ELSEWHERE = new Set(['level', 'time', 'msg', 'service', 'pid', 'hostname', 'part', 'req', 'res', 'responseTime', 'err']);

/**
 * One pino JSON line as a terminal line: `10:51:31 WARN  controller  <msg>  key=value ...`
 * (local time; the level only when it is not INFO; the part when the logger has one). Request
 * lines read `GET /healthz` and `200 1.2 ms`; an error shows its message (and code), and its
 * stack on the following lines at ERROR and FATAL. A line that is not JSON is returned as is.
 */
export function formatLogLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const level = typeof entry.level === 'number' ? entry.level : 30;
  const levelName = LEVEL_NAMES[level] ?? String(entry.level);
  const parts: string[] = [clock(entry.time)];
  if (levelName !== 'INFO') parts.push(levelName.padEnd(5));
  if (typeof entry.part === 'string') parts.push(entry.part);
  if (typeof entry.msg === 'string' && entry.msg !== '') parts.push(entry.msg);

  const req = entry.req as { method?: string; url?: string } | undefined;
  if (req && typeof req === 'object') parts.push(`${req.method ?? ''} ${req.url ?? ''}`.trim());
  const res = entry.res as { statusCode?: number } | undefined;
  if (res && typeof res === 'object') {
    parts.push(`${res.statusCode ?? ''}${typeof entry.responseTime === 'number' ? ` ${entry.responseTime.toFixed(1)} ms` : ''}`);
  }
  const err = entry.err as { message?: string; code?: string; stack?: string } | undefined;
  if (err && typeof err === 'object') parts.push(`error: ${err.message ?? ''}${err.code ? ` (${err.code})` : ''}`);
  const msg = typeof entry.msg === 'string' ? entry.msg : '';
  for (const [key, value] of Object.entries(entry)) {
    if (SHOWN_ELSEWHERE.has(key) || value === undefined) continue;
    // A value the message already says (`written to <file>`, file=<file>) is not repeated.
    if (typeof value === 'string' && value.length > 3 && msg.includes(value)) continue;
    parts.push(`${key}=${valueText(value)}`);
  }
  let text = parts.join('  ');
  if (err?.stack && level >= 50) text += `\n${err.stack.replace(/^/gm, '    ')}`;
  return `${text}\n`;
}

function clock(time: unknown): string {
  const d = typeof time === 'number' || typeof time === 'string' ? new Date(time) : new Date();
  if (Number.isNaN(d.getTime())) return '--:--:--';
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

function valueText(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

/** What pino writes to: any object with `write(line)`. */
export interface LineSink {
  write(chunk: string): unknown;
}

/** A pino destination that writes each JSON line to `out` as formatLogLine renders it. */
export function terminalLogStream(out: LineSink): LineSink {
  return {
    write(chunk: string) {
      // pino writes one line per call; split anyway, in case a caller hands several.
      for (const line of chunk.split('\n')) if (line !== '') out.write(formatLogLine(line));
      return true;
    },
  };
}

/** What the start-up summary shows. */
export interface StartupFacts {
  url: string;
  dataDir: string;
  store: 'sqlite' | 'postgres';
  sqliteFile: string;
  adminCredentialsFile: string;
  /** Region name -> runtime kind (`local: process`). */
  regions: Readonly<Record<string, string>>;
  logLevel: string;
}

/**
 * The first screen of `modeld serve` on a terminal: where it listens and where everything is,
 * then how to get the lines this screen leaves out.
 *
 *   modeld serving on http://127.0.0.1:8080
 *     API docs     http://127.0.0.1:8080/docs
 *     data         /home/me/modeld/data (SQLite /home/me/modeld/data/modeld.sqlite)
 *     credentials  /home/me/modeld/data/admin-credentials.json (the admin client: modeld CLI, walkthrough)
 *     regions      local (process)
 *     log          level info; a line per request with --log-level debug; JSON lines with --log-format json
 *   Ctrl-C stops it.
 */
export function startupSummary(f: StartupFacts): string {
  const store = f.store === 'sqlite' ? `SQLite ${f.sqliteFile}` : 'PostgreSQL';
  const regions = Object.entries(f.regions)
    .map(([name, runtime]) => `${name} (${runtime})`)
    .join(', ');
  const requests = VERBOSE_LEVELS.has(f.logLevel) ? 'a line per request' : 'a line per request with --log-level debug';
  return [
    `modeld serving on ${f.url}`,
    `  API docs     ${f.url}/docs`,
    `  data         ${f.dataDir} (${store})`,
    `  credentials  ${f.adminCredentialsFile} (the admin client: modeld CLI, walkthrough)`,
    `  regions      ${regions}`,
    `  log          level ${f.logLevel}; ${requests}; JSON lines with --log-format json`,
    'Ctrl-C stops it.',
    '',
  ].join('\n');
}
