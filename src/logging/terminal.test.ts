import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatLogLine, logsRequests, resolveLogFormat, startupSummary, terminalLogStream } from './terminal.js';

test('resolveLogFormat: auto is text on a terminal and JSON elsewhere; json and text are taken as given', () => {
  assert.equal(resolveLogFormat('auto', true), 'text');
  assert.equal(resolveLogFormat('auto', false), 'json');
  assert.equal(resolveLogFormat(undefined, true), 'text');
  assert.equal(resolveLogFormat('json', true), 'json');
  assert.equal(resolveLogFormat('text', false), 'text');
});

test('request lines: always in JSON, on a terminal only at debug and trace', () => {
  assert.equal(logsRequests('json', 'info'), true);
  assert.equal(logsRequests('text', 'info'), false);
  assert.equal(logsRequests('text', 'warn'), false);
  assert.equal(logsRequests('text', 'debug'), true);
  assert.equal(logsRequests('text', 'trace'), true);
});

const at = new Date(2026, 11, 6, 10, 51, 31).getTime();

test('formatLogLine: time, level unless INFO, part, message, then the other fields', () => {
  assert.equal(
    formatLogLine(JSON.stringify({ level: 30, time: at, service: 'modeld', part: 'controller', msg: 'deployment scaled', deploymentId: 'd-1', replicas: 2 })),
    '10:51:31  controller  deployment scaled  deploymentId=d-1  replicas=2\n',
  );
  assert.equal(
    formatLogLine(JSON.stringify({ level: 40, time: at, service: 'modeld', msg: 'pre-trained model folder skipped', model: 'x', reason: 'no config.json here' })),
    '10:51:31  WARN   pre-trained model folder skipped  model=x  reason="no config.json here"\n',
  );
});

test('formatLogLine: request lines read as method and path, then status and time', () => {
  assert.equal(
    formatLogLine(JSON.stringify({ level: 30, time: at, part: 'api', reqId: 'r1', req: { method: 'GET', url: '/healthz', remoteAddress: '127.0.0.1' }, msg: 'incoming request' })),
    '10:51:31  api  incoming request  GET /healthz  reqId=r1\n',
  );
  assert.equal(
    formatLogLine(JSON.stringify({ level: 30, time: at, part: 'api', reqId: 'r1', res: { statusCode: 200 }, responseTime: 1.234, msg: 'request completed' })),
    '10:51:31  api  request completed  200 1.2 ms  reqId=r1\n',
  );
});

test('formatLogLine: an error shows its message and code, and its stack at ERROR', () => {
  const err = { type: 'Error', message: 'disk full', code: 'ENOSPC', stack: 'Error: disk full\n    at write (x.js:1:1)' };
  assert.equal(formatLogLine(JSON.stringify({ level: 40, time: at, msg: 'background write failed', err })), '10:51:31  WARN   background write failed  error: disk full (ENOSPC)\n');
  assert.equal(
    formatLogLine(JSON.stringify({ level: 50, time: at, msg: 'shutdown step failed', err })),
    '10:51:31  ERROR  shutdown step failed  error: disk full (ENOSPC)\n    Error: disk full\n        at write (x.js:1:1)\n',
  );
  assert.equal(formatLogLine('not json'), 'not json\n');
});

test('terminalLogStream writes each JSON line it is given as a text line', () => {
  let out = '';
  const stream = terminalLogStream({ write: (s: string) => (out += s) });
  stream.write(`${JSON.stringify({ level: 30, time: at, msg: 'one' })}\n`);
  stream.write(`${JSON.stringify({ level: 30, time: at, msg: 'two' })}\n`);
  assert.equal(out, '10:51:31  one\n10:51:31  two\n');
});

test('startupSummary names the URL, the docs, the data, the credentials file and the regions, and how to see more', () => {
  const text = startupSummary({
    url: 'http://127.0.0.1:8080',
    dataDir: '/srv/modeld/data',
    store: 'sqlite',
    sqliteFile: '/srv/modeld/data/modeld.sqlite',
    adminCredentialsFile: '/srv/modeld/data/admin-credentials.json',
    regions: { local: 'process' },
    logLevel: 'info',
  });
  assert.equal(
    text,
    [
      'modeld serving on http://127.0.0.1:8080',
      '  API docs     http://127.0.0.1:8080/docs',
      '  data         /srv/modeld/data (SQLite /srv/modeld/data/modeld.sqlite)',
      '  credentials  /srv/modeld/data/admin-credentials.json (the admin client: modeld CLI, walkthrough)',
      '  regions      local (process)',
      '  log          level info; a line per request with --log-level debug; JSON lines with --log-format json',
      'Ctrl-C stops it.',
      '',
    ].join('\n'),
  );
  const postgres = startupSummary({
    url: 'http://h:1',
    dataDir: '/d',
    store: 'postgres',
    sqliteFile: '/d/modeld.sqlite',
    adminCredentialsFile: '/d/admin-credentials.json',
    regions: { local: 'process', 'us-east': 'kubernetes' },
    logLevel: 'debug',
  });
  assert.match(postgres, /data {9}\/d \(PostgreSQL\)\n/);
  assert.match(postgres, /regions {6}local \(process\), us-east \(kubernetes\)\n/);
  assert.match(postgres, /log {10}level debug; a line per request; /);
});
