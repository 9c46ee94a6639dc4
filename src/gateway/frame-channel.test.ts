import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTempDir, type TempDir } from '../../test/fixtures/tmp.js';
import { ModeldError } from '../errors/index.js';
import { decodeEmbedCall, encodeError, encodeFrame, encodeHelloOk, FRAME_MAGIC, FrameReader, FrameTypes, type FrameError } from '../runner/frames.js';
import { EMBED_CONTENT_TYPE, encodeEmbedFrame, runnerEndpoint, type EmbedFrame, type EmbedRequest } from '../runner/protocol.js';
import { ChannelError, FrameChannel } from './frame-channel.js';
import { isRetryElsewhere, RunnerClient, type RunnerClientOptions } from './runner-client.js';

type DataType = EmbedRequest['dataType'];
const DIM = 3;

/**
 * What the stand-in runners answer for texts: row i is [code(text), code(dataType), texts.length]
 * and the token count is the text's length, so a caller handed another call's rows sees it.
 */
function stubFrame(texts: string[], dataType: DataType): Buffer {
  const vectors = new Float32Array(texts.length * DIM);
  texts.forEach((t, i) => vectors.set([code(t), code(dataType ?? ''), texts.length], i * DIM));
  return encodeEmbedFrame(vectors, DIM, texts.map((t) => t.length));
}

function code(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) % 65_521;
  return h;
}

function rows(frame: EmbedFrame): number[][] {
  return Array.from({ length: frame.count }, (_, i) => [frame.vectors[i * frame.dim]!, frame.vectors[i * frame.dim + 1]!, frame.vectors[i * frame.dim + 2]!, frame.tokenCounts[i]!]);
}

function expectedRows(texts: string[], dataType?: DataType): number[][] {
  return texts.map((t) => [code(t), code(dataType ?? ''), texts.length, t.length]);
}

/** Runner answers the error stand-ins give when a call's first text names one (both transports). */
const ERROR_ANSWERS: Record<string, FrameError> = {
  draining: { status: 503, code: 'draining', error: 'the replica is draining and takes no new work' },
  not_ready: { status: 503, code: 'not_ready', error: 'the model is still loading' },
  bad_request: { status: 400, code: 'bad_request', error: 'texts[0]: too long' },
  engine_error: { status: 500, code: 'engine_error', error: 'onnxruntime: out of memory' },
  bad_gateway: { status: 502, code: 'whatever', error: 'something else' },
};

interface FramedCall {
  id: number;
  texts: string[];
  dataType: DataType;
  socket: net.Socket;
  /** Answers EMBED_OK with the stand-in rows. */
  ok(): void;
  fail(error: FrameError): void;
}

interface StubServer {
  url: string;
  /** Connections accepted. */
  connections: number;
  /** Framed connections that said HELLO (frames stand-in) or that the HTTP parser refused (HTTP stand-in). */
  framedAttempts: number;
  /** HTTP requests served (HTTP stand-in). */
  httpRequests: number;
}

describe('gateway framed transport (FrameChannel, RunnerClient) against stand-in runners', () => {
  let tmp: TempDir;
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  const clients: RunnerClient[] = [];
  const channels: FrameChannel[] = [];
  let n = 0;

  before(async () => {
    tmp = await makeTempDir('modeld-frame-channel');
  });
  after(async () => {
    for (const c of channels) c.destroy();
    for (const s of sockets) s.destroy();
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    await tmp?.cleanup();
  });

  function socketPath(): string {
    return path.join(tmp.dir, `s${++n}.sock`);
  }

  async function listen(server: net.Server): Promise<string> {
    const where = socketPath();
    servers.push(server);
    server.on('connection', (s: net.Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    server.listen(where);
    await once(server, 'listening');
    return runnerEndpoint({ socketPath: where, port: null })!;
  }

  /** A runner that speaks frames only: HELLO_OK to a HELLO (unless `greet` is false), then every EMBED goes to `onCall`. */
  async function framesRunner(onCall: (call: FramedCall) => void, greet = true): Promise<StubServer> {
    const stub: StubServer = { url: '', connections: 0, framedAttempts: 0, httpRequests: 0 };
    const server = net.createServer((socket) => {
      stub.connections++;
      const reader = new FrameReader(1 << 20);
      let magic: Buffer | null = Buffer.alloc(0);
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => {
        if (magic !== null) {
          magic = Buffer.concat([magic, chunk]);
          if (magic.byteLength < 4) return;
          assert.deepEqual(magic.subarray(0, 4), FRAME_MAGIC);
          chunk = magic.subarray(4);
          magic = null;
        }
        for (const frame of reader.push(chunk)) {
          if (frame.type === FrameTypes.HELLO) {
            stub.framedAttempts++;
            if (greet) socket.write(encodeHelloOk());
            continue;
          }
          assert.equal(frame.type, FrameTypes.EMBED);
          const { texts, dataType } = decodeEmbedCall(frame.payload);
          onCall({
            id: frame.id,
            texts,
            dataType,
            socket,
            ok: () => socket.write(encodeFrame(FrameTypes.EMBED_OK, frame.id, stubFrame(texts, dataType))),
            fail: (error) => socket.write(encodeError(frame.id, error)),
          });
        }
      });
    });
    stub.url = await listen(server);
    return stub;
  }

  /**
   * A runner that speaks HTTP only, as one started by a modeld from before frames: POST /embed
   * answers the stand-in rows (or an ERROR_ANSWERS entry as JSON). The HTTP parser's refusal of
   * `MDF1` is counted and answered the way node:http does by default (400, then close).
   */
  async function httpRunner(): Promise<StubServer> {
    const stub: StubServer = { url: '', connections: 0, framedAttempts: 0, httpRequests: 0 };
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        stub.httpRequests++;
        assert.equal(req.url, '/embed');
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as EmbedRequest;
        const refusal = ERROR_ANSWERS[body.texts[0]!];
        if (refusal) {
          res.writeHead(refusal.status, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ code: refusal.code, error: refusal.error }));
          return;
        }
        res.writeHead(200, { 'content-type': EMBED_CONTENT_TYPE });
        res.end(stubFrame(body.texts, body.dataType));
      });
    });
    server.on('connection', () => stub.connections++);
    server.on('clientError', (_err, socket: net.Socket) => {
      stub.framedAttempts++;
      if (socket.writable) socket.write('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      socket.destroy();
    });
    stub.url = await listen(server);
    return stub;
  }

  function client(options: Partial<RunnerClientOptions> = {}): RunnerClient {
    const c = new RunnerClient({ timeoutMs: 5_000, connectionsPerReplica: 1, ...options });
    clients.push(c);
    return c;
  }

  function channel(url: string, timeoutMs = 5_000, connectTimeoutMs = 5_000): FrameChannel {
    const socket = decodeURIComponent(url.slice('http+unix://'.length));
    const c = new FrameChannel({ connect: { path: socket }, timeoutMs, connectTimeoutMs, maxFrameBytes: 1 << 20 });
    channels.push(c);
    return c;
  }

  /** The ModeldError a call rejects with, as {code, failure}. */
  async function failureOf(p: Promise<unknown>): Promise<{ code: string; failure: unknown; retryElsewhere: boolean }> {
    const err = await p.then(
      () => assert.fail('the call succeeded'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ModeldError, `not a ModeldError: ${String(err)}`);
    return { code: err.code, failure: err.details?.failure, retryElsewhere: isRetryElsewhere(err) };
  }

  test('a runner that speaks HTTP only: the first call falls back to POST /embed, later calls go straight to HTTP', async () => {
    const runner = await httpRunner();
    const c = client();
    assert.deepEqual(rows(await c.embed(runner.url, { texts: ['red shoes', ''] })), expectedRows(['red shoes', '']));
    assert.deepEqual(rows(await c.embed(runner.url, { texts: ['blue'], dataType: 'query' })), expectedRows(['blue'], 'query'));
    assert.deepEqual(rows(await c.embed(runner.url, { texts: ['green'] })), expectedRows(['green']));
    assert.deepEqual(
      { framedAttempts: runner.framedAttempts, httpRequests: runner.httpRequests, connections: runner.connections },
      { framedAttempts: 1, httpRequests: 3, connections: 2 },
      'one HELLO refused by the HTTP parser, then one keep-alive HTTP connection',
    );
  });

  test('calls made together before the HTTP-only answer all fall back and get their own rows', async () => {
    const runner = await httpRunner();
    const c = client({ connectionsPerReplica: 4 });
    const texts = [['a'], ['bb', 'c'], ['dddd']];
    const frames = await Promise.all(texts.map((t) => c.embed(runner.url, { texts: t })));
    assert.deepEqual(frames.map(rows), texts.map((t) => expectedRows(t)));
    assert.equal(runner.framedAttempts, 1, 'the calls shared one framed connection attempt');
    assert.equal(runner.httpRequests, 3);
  });

  test('FrameChannel: an HTTP answer to the HELLO is ChannelError unsupported', async () => {
    const runner = await httpRunner();
    const err = await channel(runner.url)
      .embed({ texts: ['x'] })
      .then(
        () => assert.fail('the call succeeded'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof ChannelError);
    assert.equal(err.failure, 'unsupported');
    assert.match(err.message, /HTTP\/1\.1 4/);
  });

  test('transport http never opens a framed connection', async () => {
    const runner = await httpRunner();
    const c = client({ transport: 'http' });
    for (const t of ['one', 'two', 'three']) assert.deepEqual(rows(await c.embed(runner.url, { texts: [t] })), expectedRows([t]));
    assert.deepEqual({ framedAttempts: runner.framedAttempts, httpRequests: runner.httpRequests }, { framedAttempts: 0, httpRequests: 3 });
  });

  test('answers that come back out of order reach their own callers, on one connection', async () => {
    const waiting: FramedCall[] = [];
    const runner = await framesRunner((call) => {
      waiting.push(call);
      if (waiting.length === 3) for (const w of [waiting[2]!, waiting[0]!, waiting[1]!]) w.ok();
    });
    const c = client();
    const requests: EmbedRequest[] = [{ texts: ['first', 'call'] }, { texts: ['second'], dataType: 'query' }, { texts: ['third', 'of', 'three'], dataType: 'passage' }];
    const frames = await Promise.all(requests.map((r) => c.embed(runner.url, r)));
    assert.deepEqual(frames.map(rows), requests.map((r) => expectedRows(r.texts, r.dataType)));
    assert.equal(new Set(waiting.map((w) => w.id)).size, 3, 'each call had its own id');
    assert.equal(runner.connections, 1);
    assert.equal(runner.framedAttempts, 1);
  });

  test('an answer that never comes fails as timeout after timeoutMs; the connection serves on', async () => {
    const calls: FramedCall[] = [];
    const runner = await framesRunner((call) => {
      calls.push(call);
      if (call.texts[0] !== 'never answered') call.ok();
    });
    const c = client({ timeoutMs: 200 });
    const t0 = performance.now();
    const failed = await failureOf(c.embed(runner.url, { texts: ['never answered'] }));
    const elapsed = performance.now() - t0;
    assert.deepEqual(failed, { code: 'MODELD_ERR_REPLICA_FAILED', failure: 'timeout', retryElsewhere: false });
    assert.ok(elapsed >= 190 && elapsed < 2_000, `timed out after ${Math.round(elapsed)} ms`);
    // The late answer to the timed-out call is dropped; the next call is answered with its own rows.
    calls[0]!.ok();
    assert.deepEqual(rows(await c.embed(runner.url, { texts: ['answered'] })), expectedRows(['answered']));
    assert.equal(runner.connections, 1);
  });

  test('an AbortSignal aborted mid-call rejects with its reason at once', async () => {
    let received!: () => void;
    const arrived = new Promise<void>((r) => (received = r));
    const runner = await framesRunner(() => received());
    const c = client({ timeoutMs: 10_000 });
    const controller = new AbortController();
    const call = c.embed(runner.url, { texts: ['abandoned'] }, controller.signal);
    await arrived;
    const reason = new Error('the client went away');
    const t0 = performance.now();
    controller.abort(reason);
    await assert.rejects(call, (err) => err === reason);
    assert.ok(performance.now() - t0 < 1_000, 'rejected at once, not at the timeout');
  });

  test('FrameChannel: an abort mid-call forgets the call, and its late answer is dropped', async () => {
    const calls: FramedCall[] = [];
    const runner = await framesRunner((call) => calls.push(call));
    const ch = channel(runner.url);
    const controller = new AbortController();
    const aborted = ch.embed({ texts: ['gone'] }, controller.signal);
    const kept = ch.embed({ texts: ['kept'] });
    while (calls.length < 2) await new Promise((r) => setImmediate(r));
    controller.abort('bye');
    await assert.rejects(aborted, (err) => err === 'bye');
    assert.equal(ch.inflight, 1);
    calls[0]!.ok();
    calls[1]!.ok();
    assert.deepEqual(rows(await kept), expectedRows(['kept']));
    assert.equal(ch.inflight, 0);
  });

  test('a runner that closes the connection after reading an EMBED: failure reset (retried elsewhere)', async () => {
    const runner = await framesRunner((call) => call.socket.end());
    assert.deepEqual(await failureOf(client().embed(runner.url, { texts: ['x'] })), { code: 'MODELD_ERR_REPLICA_FAILED', failure: 'reset', retryElsewhere: true });
  });

  test('a runner that closes the connection before answering HELLO: failure connect', async () => {
    const url = await listen(net.createServer((s) => s.once('data', () => s.end())));
    assert.deepEqual(await failureOf(client().embed(url, { texts: ['x'] })), { code: 'MODELD_ERR_REPLICA_FAILED', failure: 'connect', retryElsewhere: true });
  });

  test('FrameChannel: a runner that takes the connection but never answers HELLO fails the call as connect after connectTimeoutMs', async () => {
    const runner = await framesRunner(() => assert.fail('no call may be sent before HELLO_OK'), false);
    const started = performance.now();
    const err = await channel(runner.url, 5_000, 150)
      .embed({ texts: ['x'] })
      .then(
        () => assert.fail('the call succeeded'),
        (e: unknown) => e,
      );
    const waited = performance.now() - started;
    assert.ok(err instanceof ChannelError);
    assert.equal(err.failure, 'connect');
    assert.ok(waited >= 140 && waited < 2_000, `failed after ${waited.toFixed(0)} ms`);
    assert.equal(runner.framedAttempts, 1);
  });

  test('a runner on loopback TCP (http://127.0.0.1:port) is called over frames too', async () => {
    const calls: FramedCall[] = [];
    const runner = await framesRunner((call) => {
      calls.push(call);
      call.ok();
    });
    // The same stand-in, listening on TCP as well: frames do not depend on the socket kind.
    const standIn = servers.at(-1)!;
    const tcp = net.createServer((socket) => standIn.emit('connection', socket));
    servers.push(tcp);
    tcp.listen(0, '127.0.0.1');
    await once(tcp, 'listening');
    const url = `http://127.0.0.1:${(tcp.address() as net.AddressInfo).port}`;
    const c = client();
    assert.deepEqual(rows(await c.embed(url, { texts: ['over', 'tcp'], dataType: 'passage' })), expectedRows(['over', 'tcp'], 'passage'));
    assert.equal(calls.length, 1);
    assert.equal(runner.framedAttempts, 1);
  });

  test('FrameChannel.close() cuts a runner that never ends its side of the connection, after a second', async () => {
    // allowHalfOpen: the stand-in keeps its side open after the gateway ends its own, like a hung runner.
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      socket.on('error', () => {});
      socket.once('data', () => socket.write(encodeHelloOk()));
    });
    const url = await listen(server);
    const c = channel(url);
    await new Promise((r) => setTimeout(r, 50)); // HELLO, HELLO_OK
    const started = performance.now();
    await Promise.race([c.close(), new Promise((_, reject) => setTimeout(() => reject(new Error('close() still waits after 5 s')), 5_000))]);
    const waited = performance.now() - started;
    assert.ok(waited >= 900, `closed after ${waited.toFixed(0)} ms: before the grace, though the runner kept its side open`);
    assert.equal(c.closed, true);
  });

  test('a socket path where nothing listens: failure connect, for the next call too', async () => {
    const url = runnerEndpoint({ socketPath: path.join(tmp.dir, 'nobody-here.sock'), port: null })!;
    const c = client();
    assert.deepEqual(await failureOf(c.embed(url, { texts: ['x'] })), { code: 'MODELD_ERR_REPLICA_FAILED', failure: 'connect', retryElsewhere: true });
    assert.deepEqual(await failureOf(c.embed(url, { texts: ['y'] })), { code: 'MODELD_ERR_REPLICA_FAILED', failure: 'connect', retryElsewhere: true });
  });

  describe('runner error answers mean the same over frames and over HTTP', () => {
    const table: Array<{ answer: keyof typeof ERROR_ANSWERS; expected: { code: string; failure: unknown; retryElsewhere: boolean } }> = [
      { answer: 'draining', expected: { code: 'MODELD_ERR_REPLICA_FAILED', failure: 'draining', retryElsewhere: true } },
      { answer: 'not_ready', expected: { code: 'MODELD_ERR_REPLICA_FAILED', failure: 'not_ready', retryElsewhere: true } },
      { answer: 'bad_request', expected: { code: 'MODELD_ERR_VALIDATION', failure: undefined, retryElsewhere: false } },
      { answer: 'engine_error', expected: { code: 'MODELD_ERR_REPLICA_FAILED', failure: 'engine', retryElsewhere: false } },
      { answer: 'bad_gateway', expected: { code: 'MODELD_ERR_REPLICA_FAILED', failure: 'protocol', retryElsewhere: false } },
    ];
    let frames: StubServer;
    let overHttp: StubServer;
    before(async () => {
      frames = await framesRunner((call) => {
        const refusal = ERROR_ANSWERS[call.texts[0]!];
        if (refusal) call.fail(refusal);
        else call.ok();
      });
      overHttp = await httpRunner();
    });

    for (const { answer, expected } of table) {
      test(`${ERROR_ANSWERS[answer]!.status} ${ERROR_ANSWERS[answer]!.code}`, async () => {
        const c = client();
        assert.deepEqual(await failureOf(c.embed(frames.url, { texts: [answer] })), expected, 'over frames');
        assert.deepEqual(await failureOf(client({ transport: 'http' }).embed(overHttp.url, { texts: [answer] })), expected, 'over HTTP');
        // An ERROR answer ends only its call: the connection takes the next one.
        assert.deepEqual(rows(await c.embed(frames.url, { texts: ['fine'] })), expectedRows(['fine']));
      });
    }

    test('every answer above came over one framed connection per client, and none went over HTTP', () => {
      assert.equal(frames.framedAttempts, table.length);
      assert.equal(frames.connections, table.length);
      assert.equal(overHttp.framedAttempts, 0);
    });
  });
});
