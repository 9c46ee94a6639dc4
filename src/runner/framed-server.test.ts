import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadEngine, type EmbeddingEngine } from '../engines/index.js';
import { makeModeldArtifact } from '../../test/fixtures/models.js';
import { makeTempDir, type TempDir } from '../../test/fixtures/tmp.js';
import { embedVia, healthOf } from '../../test/contract/runtime.contract.js';
import { decodeError, encodeEmbedCall, encodeFrame, encodeHello, FRAME_MAGIC, FrameReader, FrameTypes, type Frame } from './frames.js';
import { decodeEmbedFrame, type EmbedFrame } from './protocol.js';
import { DEFAULT_RUNNER_SETTINGS, RunnerExitCodes, type RunnerSpec } from './replica-dir.js';
import { Runner, type EngineLoader } from './runner.js';

/** Longest wait for one frame or for a connection to end before the test fails instead of hanging. */
const WAIT_MS = 10_000;

/**
 * A gateway written by hand: a raw connection to the runner's socket that sends bytes as told and
 * hands back the runner's frames one at a time, or 'closed' once the runner ended the connection.
 */
class Peer {
  readonly #socket: net.Socket;
  readonly #reader = new FrameReader(1 << 24);
  readonly #frames: Frame[] = [];
  #ended = false;
  #wake: (() => void) | null = null;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#frames.push(...this.#reader.push(chunk));
      this.#wake?.();
    });
    socket.on('close', () => {
      this.#ended = true;
      this.#wake?.();
    });
    socket.on('error', () => {});
  }

  static async open(socketPath: string): Promise<Peer> {
    const socket = net.connect(socketPath);
    await once(socket, 'connect');
    return new Peer(socket);
  }

  /** Opens a connection and does the HELLO exchange; fails the test unless the runner answers HELLO_OK. */
  static async greeted(socketPath: string): Promise<Peer> {
    const peer = await Peer.open(socketPath);
    peer.send(encodeHello());
    const ok = arrived(await peer.next(), 'HELLO_OK');
    assert.equal(ok.type, FrameTypes.HELLO_OK);
    return peer;
  }

  send(bytes: Buffer): void {
    this.#socket.write(bytes);
  }

  /** The runner's next frame, or 'closed' when the connection ended before one came. */
  async next(): Promise<Frame | 'closed'> {
    const deadline = Date.now() + WAIT_MS;
    while (this.#frames.length === 0 && !this.#ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame and no close within ${WAIT_MS} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
    return this.#frames.shift() ?? 'closed';
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

/** The frame, failing the test if the connection ended instead. */
function arrived(frame: Frame | 'closed', what: string): Frame {
  if (frame === 'closed') assert.fail(`${what}: the connection ended instead`);
  return frame;
}

function embedded(next: Frame | 'closed', id: number): EmbedFrame {
  const frame = arrived(next, `the answer to call ${id}`);
  assert.equal(frame.id, id);
  assert.equal(frame.type, FrameTypes.EMBED_OK, `call ${id}: frame type ${frame.type}: ${frame.payload.toString('utf8')}`);
  return decodeEmbedFrame(frame.payload);
}

function errorOf(next: Frame | 'closed', id: number) {
  const frame = arrived(next, `the ERROR frame for call ${id}`);
  assert.equal(frame.type, FrameTypes.ERROR);
  assert.equal(frame.id, id);
  const error = decodeError(frame.payload);
  assert.ok(error, 'an ERROR frame holds {status, code, error}');
  return error;
}

/** Same count, dim and token counts, and vectors equal to float32 rounding (texts batched with others are padded differently). */
function assertSameEmbedding(actual: EmbedFrame, expected: EmbedFrame): void {
  assert.deepEqual({ count: actual.count, dim: actual.dim, tokenCounts: [...actual.tokenCounts] }, { count: expected.count, dim: expected.dim, tokenCounts: [...expected.tokenCounts] });
  assert.ok(expected.vectors.some((v) => v !== 0), 'the expected vectors are not all zero');
  for (let i = 0; i < expected.vectors.length; i++) {
    assert.ok(Math.abs(actual.vectors[i]! - expected.vectors[i]!) < 1e-5, `value ${i}: ${actual.vectors[i]} != ${expected.vectors[i]}`);
  }
}

/** The real engine, but an embed can be held at the door until the test lets it through (a call kept in flight). */
function holdingLoader(): { load: EngineLoader; holdNext(): { entered: Promise<void>; release(): void } } {
  let hold: { entered(): void; released: Promise<void> } | null = null;
  const load: EngineLoader = async (dir, options) => {
    const engine = await loadEngine(dir, options);
    const held: EmbeddingEngine = {
      manifest: engine.manifest,
      vectorSize: engine.vectorSize,
      tokenize: (texts) => engine.tokenize(texts),
      close: () => engine.close(),
      async embed(texts, embedOptions) {
        const h = hold;
        hold = null;
        if (h) {
          h.entered();
          await h.released;
        }
        return engine.embed(texts, embedOptions);
      },
    };
    return held;
  };
  return {
    load,
    holdNext() {
      let entered!: () => void;
      let release!: () => void;
      const enteredP = new Promise<void>((r) => (entered = r));
      const released = new Promise<void>((r) => (release = r));
      hold = { entered, released };
      return { entered: enteredP, release };
    },
  };
}

describe('Runner framed protocol (in process, real engine, Unix socket)', () => {
  let tmp: TempDir;
  let tiny: string;
  const runners: Runner[] = [];
  const peers: Peer[] = [];
  let n = 0;

  before(async () => {
    tmp = await makeTempDir('modeld-framed');
    tiny = await makeModeldArtifact(path.join(tmp.dir, 'tiny'));
  });
  after(async () => {
    for (const p of peers) p.destroy();
    for (const r of runners) r.drain('test cleanup');
    await Promise.all(runners.map((r) => r.done));
    await tmp?.cleanup();
  });

  async function startRunner(load: EngineLoader = loadEngine): Promise<{ runner: Runner; socketPath: string; endpoint: string }> {
    const dir = path.join(tmp.dir, `replica-${++n}`);
    await mkdir(dir);
    const socketPath = path.join(dir, 'r.sock');
    const spec: RunnerSpec = {
      replicaId: `r${n}`,
      deploymentId: 'd1',
      customerId: 'c1',
      generation: 1,
      modelId: 'm1',
      artifactDir: tiny,
      config: {},
      intraOpThreads: 1,
      ...DEFAULT_RUNNER_SETTINGS,
      createdAt: new Date().toISOString(),
      socketPath,
    };
    const runner = new Runner({ replicaDir: dir, spec, loadEngine: load });
    runners.push(runner);
    await runner.start();
    assert.equal(runner.phase, 'ready');
    return { runner, socketPath, endpoint: runner.endpoint! };
  }

  async function peer(socketPath: string, greeted = true): Promise<Peer> {
    const p = greeted ? await Peer.greeted(socketPath) : await Peer.open(socketPath);
    peers.push(p);
    return p;
  }

  describe('one ready runner', () => {
    let socketPath: string;
    let endpoint: string;

    before(async () => {
      ({ socketPath, endpoint } = await startRunner());
    });

    test('HELLO is answered HELLO_OK, id 0, version 1', async () => {
      const p = await peer(socketPath, false);
      p.send(encodeHello());
      const ok = arrived(await p.next(), 'HELLO_OK');
      assert.deepEqual({ type: ok.type, id: ok.id, payload: [...ok.payload] }, { type: FrameTypes.HELLO_OK, id: 0, payload: [1, 0, 0, 0] });
    });

    test('an EMBED of 3 texts is answered with the vectors POST /embed gives for them on the same socket', async () => {
      const texts = ['red shoes', 'a blue 😀 hat', ''];
      const p = await peer(socketPath);
      p.send(encodeEmbedCall(11, texts, undefined));
      const framed = embedded(await p.next(), 11);
      assert.equal(framed.count, 3);
      assert.equal(framed.dim, 32);
      assertSameEmbedding(framed, await embedVia(endpoint, texts));
    });

    test('the dataType travels: a query call matches POST /embed with dataType query', async () => {
      const p = await peer(socketPath);
      p.send(encodeEmbedCall(3, ['what is a shoe'], 'query'));
      assertSameEmbedding(embedded(await p.next(), 3), await embedVia(endpoint, ['what is a shoe'], 'query'));
    });

    test('two calls written back to back on one connection are each answered under their own id', async () => {
      const p = await peer(socketPath);
      p.send(Buffer.concat([encodeEmbedCall(0xfffffffe, ['first call', 'of two'], undefined), encodeEmbedCall(5, ['second'], 'passage')]));
      const answers = new Map<number, Frame>();
      for (let i = 0; i < 2; i++) {
        const f = arrived(await p.next(), `answer ${i}`);
        answers.set(f.id, f);
      }
      assert.deepEqual([...answers.keys()].sort((a, b) => a - b), [5, 0xfffffffe]);
      assertSameEmbedding(embedded(answers.get(0xfffffffe)!, 0xfffffffe), await embedVia(endpoint, ['first call', 'of two']));
      assertSameEmbedding(embedded(answers.get(5)!, 5), await embedVia(endpoint, ['second'], 'passage'));
    });

    test('HTTP and a framed connection share the socket: GET /health is served while a framed connection is half-way through its HELLO', async () => {
      const p = await peer(socketPath, false);
      const hello = encodeHello();
      p.send(hello.subarray(0, 2)); // 'MD': the runner cannot tell the protocol yet
      const health = await healthOf(endpoint);
      assert.equal(health.status, 200);
      assert.equal(health.health.phase, 'ready');
      p.send(hello.subarray(2));
      const ok = arrived(await p.next(), 'HELLO_OK');
      assert.equal(ok.type, FrameTypes.HELLO_OK);
      p.send(encodeEmbedCall(1, ['still framed'], undefined));
      const [framed, http] = await Promise.all([p.next(), embedVia(endpoint, ['still framed'])]);
      assertSameEmbedding(embedded(framed, 1), http);
    });

    test('a first frame that is not HELLO is answered ERROR 400 under its id, and the connection is closed', async () => {
      const p = await peer(socketPath, false);
      p.send(Buffer.concat([FRAME_MAGIC, encodeEmbedCall(9, ['too soon'], undefined)]));
      const error = errorOf(await p.next(), 9);
      assert.equal(error.status, 400);
      assert.equal(error.code, 'bad_request');
      assert.match(error.error, /first frame must be HELLO/);
      assert.equal(await p.next(), 'closed');
    });

    test('a HELLO with another version is answered ERROR 400, and the connection is closed', async () => {
      const p = await peer(socketPath, false);
      p.send(Buffer.concat([FRAME_MAGIC, encodeFrame(FrameTypes.HELLO, 0, Buffer.from([2, 0, 0, 0]))]));
      const error = errorOf(await p.next(), 0);
      assert.equal(error.status, 400);
      assert.match(error.error, /HELLO version 1/);
      assert.equal(await p.next(), 'closed');
    });

    test('a malformed EMBED (count 0) is answered ERROR 400 bad_request and the connection takes the next call', async () => {
      const p = await peer(socketPath);
      const countZero = encodeFrame(FrameTypes.EMBED, 21, Buffer.from([0, 0, 0, 0, 0]));
      p.send(countZero);
      const error = errorOf(await p.next(), 21);
      assert.deepEqual({ status: error.status, code: error.code }, { status: 400, code: 'bad_request' });
      assert.match(error.error, /^texts: /);
      p.send(encodeEmbedCall(22, ['after the bad one'], undefined));
      assertSameEmbedding(embedded(await p.next(), 22), await embedVia(endpoint, ['after the bad one']));
      assert.equal((await healthOf(endpoint)).health.inflight, 0, 'the refused call was released');
    });

    test('a frame announcing more than the runner reads cuts the connection without an answer', async () => {
      const p = await peer(socketPath);
      const header = Buffer.alloc(4);
      header.writeUInt32LE(0xffffffff, 0);
      p.send(header);
      assert.equal(await p.next(), 'closed');
      assert.equal((await healthOf(endpoint)).status, 200, 'the runner serves on');
    });
  });

  test('a drain: a call in flight is still answered, a new call gets ERROR 503 draining, then every framed connection is ended and the runner stops', async () => {
    const gate = holdingLoader();
    const { runner, socketPath } = await startRunner(gate.load);
    const busy = await peer(socketPath);
    const idle = await peer(socketPath);
    const held = gate.holdNext();
    busy.send(encodeEmbedCall(1, ['held in the engine'], undefined));
    await held.entered;

    runner.drain('test drain');
    busy.send(encodeEmbedCall(2, ['after the drain'], undefined));
    const refusal = errorOf(await busy.next(), 2);
    assert.deepEqual({ status: refusal.status, code: refusal.code }, { status: 503, code: 'draining' });
    idle.send(encodeEmbedCall(3, ['after the drain, other connection'], undefined));
    assert.deepEqual(errorOf(await idle.next(), 3).code, 'draining');
    // A connection opened during the drain is still greeted (the socket listens until the work is done), and refused work.
    const late = await peer(socketPath);
    late.send(encodeEmbedCall(4, ['late'], 'query'));
    assert.equal(errorOf(await late.next(), 4).code, 'draining');

    held.release();
    const answer = embedded(await busy.next(), 1);
    assert.equal(answer.count, 1);
    assert.equal(answer.dim, 32);
    assert.deepEqual(await Promise.all([busy.next(), idle.next(), late.next()]), ['closed', 'closed', 'closed']);
    assert.deepEqual(await runner.done, { exitCode: RunnerExitCodes.stopped, phase: 'stopped', reason: 'test drain', error: null });
  });

  test('a drain with nothing in flight ends an idle framed connection after the linger, without waiting for the grace period that cuts busy ones', async () => {
    const { runner, socketPath } = await startRunner();
    const p = await peer(socketPath);
    const t0 = performance.now();
    runner.drain('idle drain');
    assert.equal(await p.next(), 'closed');
    const closedAfterMs = performance.now() - t0;
    assert.ok(closedAfterMs < 900, `closed after ${Math.round(closedAfterMs)} ms: treated as busy, cut only at the 1 s grace`);
    assert.equal((await runner.done).exitCode, RunnerExitCodes.stopped);
  });
});
