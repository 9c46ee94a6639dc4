import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeEmbedCall, decodeError, encodeEmbedCall, encodeError, encodeFrame, encodeHello, encodeHelloOk, FRAME_MAGIC, FRAME_VERSION, FrameReader, FrameTypes } from './frames.js';

type DataType = 'query' | 'passage' | undefined;

/** An EMBED payload written by hand: dataType code, count, then [u32 length, bytes] per text. */
function payload(kind: number, count: number, parts: Array<number | Buffer>): Buffer {
  const head = Buffer.alloc(5);
  head[0] = kind;
  head.writeUInt32LE(count, 1);
  return Buffer.concat([head, ...parts.map((p) => (typeof p === 'number' ? u32(p) : p))]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
}

/** Cuts `bytes` at the given offsets (any order, duplicates allowed): fresh chunks, as a socket hands them over. */
function cut(bytes: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((o) => o % (bytes.byteLength + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...points, bytes.byteLength]) {
    chunks.push(Buffer.from(bytes.subarray(from, p)));
    from = p;
  }
  return chunks;
}

describe('frames', () => {
  it('EMBED calls concatenated and cut anywhere come out of a FrameReader as the same ids, texts and dataTypes', () => {
    const call = fc.record({
      id: fc.integer({ min: 0, max: 0xffffffff }),
      texts: fc.array(fc.oneof(fc.string({ unit: 'binary' }), fc.constant(''), fc.constantFrom('😀', '𝄞 clef', 'é\u0301', 'a\u0000b')), { minLength: 1, maxLength: 40 }),
      dataType: fc.constantFrom<DataType>(undefined, 'query', 'passage'),
    });
    fc.assert(
      fc.property(fc.array(call, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 30 }), (calls, offsets) => {
        const stream = Buffer.concat(calls.map((c) => encodeEmbedCall(c.id, c.texts, c.dataType)));
        const reader = new FrameReader(1 << 20);
        const frames = cut(stream, offsets).flatMap((chunk) => reader.push(chunk));
        assert.equal(reader.buffered, 0, 'nothing is left over once the last chunk is in');
        assert.deepEqual(
          frames.map((f) => ({ type: f.type, id: f.id, ...decodeEmbedCall(f.payload) })),
          calls.map((c) => ({ type: FrameTypes.EMBED, id: c.id, texts: c.texts, dataType: c.dataType })),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('encodeEmbedCall sizes the frame to its UTF-8 bytes (astral characters are 4 bytes, not 6)', () => {
    const frame = encodeEmbedCall(7, ['😀', ''], 'query');
    assert.equal(frame.byteLength, 9 + 5 + (4 + 4) + (4 + 0));
    assert.equal(frame.readUInt32LE(0), frame.byteLength - 4);
  });

  it('HELLO starts with the magic and carries the version; HELLO_OK carries the version', () => {
    const hello = encodeHello();
    assert.deepEqual(hello.subarray(0, 4), FRAME_MAGIC);
    const [h] = new FrameReader(64).push(hello.subarray(4));
    assert.deepEqual({ type: h!.type, id: h!.id, version: h!.payload.readUInt32LE(0), bytes: h!.payload.byteLength }, { type: FrameTypes.HELLO, id: 0, version: FRAME_VERSION, bytes: 4 });
    const [ok] = new FrameReader(64).push(encodeHelloOk());
    assert.deepEqual({ type: ok!.type, id: ok!.id, version: ok!.payload.readUInt32LE(0) }, { type: FrameTypes.HELLO_OK, id: 0, version: FRAME_VERSION });
  });

  describe('decodeEmbedCall refuses a malformed payload and names what is wrong', () => {
    const cases: Array<{ name: string; bytes: Buffer; error: RegExp }> = [
      { name: 'shorter than its header', bytes: Buffer.from([0, 1, 0]), error: /3 bytes, shorter than its header/ },
      { name: 'unknown dataType code', bytes: payload(3, 1, [1, Buffer.from('a')]), error: /^dataType: unknown code 3$/ },
      { name: 'count 0', bytes: payload(0, 0, []), error: /^texts: must be a non-empty array/ },
      { name: 'a count the payload cannot hold', bytes: payload(0, 3, [1, Buffer.from('a'), 0]), error: /^texts: 3 announced/ },
      { name: 'a length prefix cut short', bytes: payload(1, 2, [5, Buffer.from('hello'), Buffer.from([1, 0])]), error: /^texts\[1\]: truncated$/ },
      { name: 'a text shorter than its length', bytes: payload(2, 2, [3, Buffer.from('abc'), 10, Buffer.from('xy')]), error: /^texts\[1\]: truncated$/ },
      { name: 'the first text shorter than its length', bytes: payload(0, 1, [9, Buffer.from('abc')]), error: /^texts\[0\]: truncated$/ },
      { name: 'trailing bytes', bytes: payload(0, 1, [2, Buffer.from('ab'), Buffer.from([0, 0])]), error: /has 2 bytes after its texts/ },
    ];
    for (const c of cases) {
      it(c.name, () => assert.throws(() => decodeEmbedCall(c.bytes), { message: c.error }));
    }

    it('the hand-written payload decodes once it is well formed (the table above tests the decoder, not the helper)', () => {
      assert.deepEqual(decodeEmbedCall(payload(2, 2, [3, Buffer.from('abc'), 2, Buffer.from('xy')])), { texts: ['abc', 'xy'], dataType: 'passage' });
    });
  });

  describe('FrameReader', () => {
    it('throws on a length above its limit as soon as the length arrives, before the payload', () => {
      const reader = new FrameReader(100);
      const header = Buffer.alloc(4);
      header.writeUInt32LE(101, 0);
      assert.throws(() => reader.push(header), /frame of 101 bytes \(the limit is 100/);
    });

    it('throws on a length below 5 (no room for type and id), also when it arrives after a whole frame', () => {
      const whole = encodeFrame(FrameTypes.HELLO_OK, 1, Buffer.from([1, 0, 0, 0]));
      assert.throws(() => new FrameReader(100).push(Buffer.concat([whole, u32(4), Buffer.alloc(4)])), /frame of 4 bytes/);
      assert.throws(() => new FrameReader(100).push(u32(0)), /frame of 0 bytes/);
    });

    it('takes a frame of exactly its limit and one with an empty payload', () => {
      const big = encodeFrame(FrameTypes.EMBED_OK, 9, Buffer.alloc(95, 7));
      const empty = encodeFrame(FrameTypes.ERROR, 10, Buffer.alloc(0));
      const frames = new FrameReader(100).push(Buffer.concat([big, empty]));
      assert.deepEqual(
        frames.map((f) => [f.type, f.id, f.payload.byteLength]),
        [
          [FrameTypes.EMBED_OK, 9, 95],
          [FrameTypes.ERROR, 10, 0],
        ],
      );
    });

    it('holds a partial frame until it is whole, one byte at a time', () => {
      const frame = encodeEmbedCall(42, ['one', 'two'], undefined);
      const reader = new FrameReader(1000);
      for (let i = 0; i < frame.byteLength - 1; i++) {
        assert.deepEqual(reader.push(frame.subarray(i, i + 1)), []);
        assert.equal(reader.buffered, i + 1);
      }
      const [last] = reader.push(frame.subarray(frame.byteLength - 1));
      assert.equal(last!.id, 42);
      assert.deepEqual(decodeEmbedCall(last!.payload), { texts: ['one', 'two'], dataType: undefined });
    });
  });

  describe('ERROR frames', () => {
    it('round-trip status, code and message', () => {
      const error = { status: 503, code: 'draining', error: 'the replica is draining — «no» new work' };
      const [frame] = new FrameReader(1000).push(encodeError(77, error));
      assert.equal(frame!.type, FrameTypes.ERROR);
      assert.equal(frame!.id, 77);
      assert.deepEqual(decodeError(frame!.payload), error);
    });

    for (const [name, bytes] of [
      ['not JSON', Buffer.from([0xff, 0x00, 0x12])],
      ['JSON without a status', Buffer.from('{"code":"x","error":"y"}')],
      ['a status that is a string', Buffer.from('{"status":"503","code":"x","error":"y"}')],
      ['JSON null', Buffer.from('null')],
      ['empty', Buffer.alloc(0)],
    ] as const) {
      it(`decodeError gives null for ${name}`, () => assert.equal(decodeError(bytes), null));
    }
  });
});
