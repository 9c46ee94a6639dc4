import assert from 'node:assert/strict';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { runServer, type RunServerOptions } from '../../src/main.js';
import type { ConfigFlags } from '../../src/config/index.js';
import { makeTempDir } from '../fixtures/tmp.js';

/**
 * What the server prints, by where its output goes: the real composition root on 127.0.0.1 with
 * a destination that says it is a terminal (`isTTY`, as process.stdout does) or not.
 */

/** A destination that records what is written and says whether it is a terminal. */
function screen(isTTY: boolean): { out: NonNullable<RunServerOptions['logDestination']>; text: () => string } {
  let text = '';
  const out = Object.assign(
    new Writable({
      write(chunk, _enc, done) {
        text += String(chunk);
        done();
      },
    }),
    { isTTY },
  );
  return { out, text: () => text };
}

/** Starts a server on a fresh data dir, asks it two things, stops it; returns what it printed. */
async function session(flags: ConfigFlags, isTTY: boolean): Promise<{ text: string; url: string; dataDir: string }> {
  const tmp = await makeTempDir('modeld-terminal-');
  const { out, text } = screen(isTTY);
  try {
    const server = await runServer({ port: 0, host: '127.0.0.1', dataDir: tmp.dir, ...flags }, { logDestination: out });
    try {
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
      const missing = await fetch(`${server.url}/no-such-route`);
      assert.equal(missing.status, 404);
      await missing.arrayBuffer();
    } finally {
      await server.close();
    }
    return { text: text(), url: server.url, dataDir: tmp.dir };
  } finally {
    await tmp.cleanup();
  }
}

describe('the server on a terminal and off it', () => {
  it('on a terminal: the start-up summary, short text lines, no request lines at info', async () => {
    const { text, url, dataDir } = await session({ logLevel: 'info' }, true);
    assert.ok(text.includes(`modeld serving on ${url}\n`), text);
    assert.ok(text.includes(`  API docs     ${url}/docs\n`), text);
    assert.ok(text.includes(`  credentials  ${path.join(dataDir, 'admin-credentials.json')} `), text);
    assert.ok(text.includes('  regions      local (process)\n'), text);
    const lines = text.trimEnd().split('\n');
    assert.ok(!lines.some((l) => l.startsWith('{')), `no JSON line:\n${text}`);
    assert.ok(!text.includes('incoming request') && !text.includes('request completed') && !text.includes('/healthz'), text);
    // The first start's line, in text.
    assert.match(text, /^\d\d:\d\d:\d\d {2}first start: admin client credentials written to .*admin-credentials\.json \(mode 0600\)/m);
  });

  it('on a terminal at debug: a text line per request', async () => {
    const { text } = await session({ logLevel: 'debug' }, true);
    assert.match(text, /^\d\d:\d\d:\d\d {2}api {2}incoming request {2}GET \/healthz {2}reqId=/m);
    assert.match(text, /^\d\d:\d\d:\d\d {2}api {2}request completed {2}404 [\d.]+ ms/m);
    assert.ok(!text.trimEnd().split('\n').some((l) => l.startsWith('{')), text);
  });

  it('not a terminal, or --log-format json: JSON lines only, request lines included, no summary', async () => {
    for (const [flags, isTTY] of [
      [{ logLevel: 'info' }, false],
      [{ logLevel: 'info', logFormat: 'json' }, true],
    ] as const) {
      const { text, url } = await session(flags, isTTY);
      const entries = text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as { msg?: string; url?: string; req?: { url?: string } });
      assert.ok(entries.some((e) => e.msg === `modeld listening on ${url}` && e.url === url));
      assert.ok(entries.some((e) => e.msg === 'incoming request' && e.req?.url === '/healthz'));
      assert.ok(!text.includes('modeld serving on'));
    }
  });
});
