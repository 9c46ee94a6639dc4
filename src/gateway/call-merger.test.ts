import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ModeldError } from '../errors/index.js';
import type { EmbedFrame, EmbedRequest } from '../runner/protocol.js';
import { CallMerger, type CallMergerOptions } from './call-merger.js';

const URL_A = 'http+unix://%2Ftmp%2Fa.sock';
const URL_B = 'http+unix://%2Ftmp%2Fb.sock';
const DIM = 3;

/**
 * A runner stand-in that answers when told to: each sent call waits until the test settles it.
 * Row i of a frame is [code(text), code(dataType), texts.length] and its token count is the
 * text's length, so a caller given someone else's rows, or rows embedded as another dataType, sees it.
 */
class Wire {
  readonly sent: Array<{ url: string; request: EmbedRequest; signal: AbortSignal | undefined; answer(): void; fail(err: unknown): void }> = [];

  send = (url: string, request: EmbedRequest, signal: AbortSignal | undefined): Promise<EmbedFrame> =>
    new Promise<EmbedFrame>((resolve, reject) => {
      this.sent.push({ url, request, signal, answer: () => resolve(frameOf(request.texts, request.dataType)), fail: reject });
    });
}

function frameOf(texts: string[], dataType: EmbedRequest['dataType']): EmbedFrame {
  const vectors = new Float32Array(texts.length * DIM);
  texts.forEach((t, i) => vectors.set([code(t), code(dataType ?? ''), texts.length], i * DIM));
  return { count: texts.length, dim: DIM, vectors, tokenCounts: Uint32Array.from(texts, (t) => t.length) };
}

function code(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) % 65_521;
  return h;
}

/** The frame's rows as [code(text), code(dataType), tokenCount]. */
function rows(frame: EmbedFrame): number[][] {
  return Array.from({ length: frame.count }, (_, i) => [frame.vectors[i * frame.dim]!, frame.vectors[i * frame.dim + 1]!, frame.tokenCounts[i]!]);
}

function expectedRows(texts: string[], dataType?: EmbedRequest['dataType']): number[][] {
  return texts.map((t) => [code(t), code(dataType ?? ''), t.length]);
}

function merger(options: Partial<CallMergerOptions> = {}) {
  const wire = new Wire();
  const m = new CallMerger(
    {
      maxCallsPerEndpoint: 1,
      maxTexts: 32,
      maxChars: 1 << 20,
      isInputFailure: (err) => err instanceof ModeldError && err.code === 'MODELD_ERR_VALIDATION',
      ...options,
    },
    wire.send,
  );
  return { m, wire };
}

async function state(p: Promise<unknown>): Promise<'resolved' | 'rejected' | 'pending'> {
  return Promise.race([p.then(() => 'resolved' as const, () => 'rejected' as const), new Promise<'pending'>((r) => setImmediate(() => r('pending')))]);
}

describe('CallMerger', () => {
  it('sends a lone call at once and answers it with the frame', async () => {
    const { m, wire } = merger();
    const p = m.embed(URL_A, { texts: ['red shoes'] });
    assert.equal(wire.sent.length, 1, 'an idle endpoint does not wait for company');
    assert.deepEqual(wire.sent[0]!.request, { texts: ['red shoes'] });
    wire.sent[0]!.answer();
    assert.deepEqual(rows(await p), expectedRows(['red shoes']));
  });

  it('merges the calls that waited for the wire into one call and gives each its own rows', async () => {
    const { m, wire } = merger();
    const first = m.embed(URL_A, { texts: ['a'] });
    const waiting = [m.embed(URL_A, { texts: ['b', 'cc'] }), m.embed(URL_A, { texts: ['ddd'] }), m.embed(URL_A, { texts: ['e'] })];
    assert.equal(wire.sent.length, 1, 'one call on the wire; the others wait');
    wire.sent[0]!.answer();
    await first;
    assert.equal(wire.sent.length, 2);
    assert.deepEqual(wire.sent[1]!.request, { texts: ['b', 'cc', 'ddd', 'e'] });
    wire.sent[1]!.answer();
    const [b, d, e] = await Promise.all(waiting);
    assert.deepEqual(rows(b!), expectedRows(['b', 'cc']));
    assert.deepEqual(rows(d!), expectedRows(['ddd']));
    assert.deepEqual(rows(e!), expectedRows(['e']));
    assert.equal(wire.sent.length, 2, 'four calls went out as two');
  });

  it('merges only calls of the same dataType, oldest first, and never above maxTexts', async () => {
    const { m, wire } = merger({ maxTexts: 4 });
    const first = m.embed(URL_A, { texts: ['x'] });
    const q1 = m.embed(URL_A, { texts: ['q1', 'q1b'], dataType: 'query' });
    const p1 = m.embed(URL_A, { texts: ['p1'], dataType: 'passage' });
    const q2 = m.embed(URL_A, { texts: ['q2'], dataType: 'query' });
    const q3 = m.embed(URL_A, { texts: ['q3', 'q3b'], dataType: 'query' }); // 2 + 1 + 2 > 4
    wire.sent[0]!.answer();
    await first;
    assert.deepEqual(wire.sent[1]!.request, { texts: ['q1', 'q1b', 'q2'], dataType: 'query' });
    wire.sent[1]!.answer();
    await Promise.all([q1, q2]);
    assert.deepEqual(wire.sent[2]!.request, { texts: ['p1'], dataType: 'passage' }, 'the oldest waiting call leads the next merge');
    wire.sent[2]!.answer();
    await p1;
    assert.deepEqual(wire.sent[3]!.request, { texts: ['q3', 'q3b'], dataType: 'query' });
    wire.sent[3]!.answer();
    assert.deepEqual(rows(await q3), expectedRows(['q3', 'q3b'], 'query'));
    assert.deepEqual(rows(await q1), expectedRows(['q1', 'q1b'], 'query'));
    assert.deepEqual(rows(await p1), expectedRows(['p1'], 'passage'));
  });

  it('keeps up to maxCallsPerEndpoint calls on the wire per endpoint, endpoints apart', async () => {
    const { m, wire } = merger({ maxCallsPerEndpoint: 2 });
    const calls = [m.embed(URL_A, { texts: ['1'] }), m.embed(URL_A, { texts: ['2'] }), m.embed(URL_B, { texts: ['3'] }), m.embed(URL_A, { texts: ['4'] })];
    assert.deepEqual(
      wire.sent.map((s) => [s.url, s.request.texts]),
      [
        [URL_A, ['1']],
        [URL_A, ['2']],
        [URL_B, ['3']],
      ],
    );
    for (const s of [...wire.sent]) s.answer();
    await Promise.all(calls.slice(0, 3));
    assert.deepEqual(wire.sent[3]!.request.texts, ['4']);
    wire.sent[3]!.answer();
    await calls[3];
  });

  it('sends every call at once and alone with maxCallsPerEndpoint 0', async () => {
    const { m, wire } = merger({ maxCallsPerEndpoint: 0 });
    const calls = [1, 2, 3].map((i) => m.embed(URL_A, { texts: [`t${i}`] }));
    assert.equal(wire.sent.length, 3);
    for (const s of wire.sent) s.answer();
    for (const [i, c] of calls.entries()) assert.deepEqual(rows(await c), expectedRows([`t${i + 1}`]));
  });

  it('drops a waiting call whose caller has gone, and never sends it', async () => {
    const { m, wire } = merger();
    const first = m.embed(URL_A, { texts: ['a'] });
    const gone = new AbortController();
    const left = m.embed(URL_A, { texts: ['left'] }, gone.signal);
    const stays = m.embed(URL_A, { texts: ['stays'] });
    gone.abort(new Error('client closed'));
    await assert.rejects(left, /client closed/);
    wire.sent[0]!.answer();
    await first;
    assert.deepEqual(wire.sent[1]!.request.texts, ['stays']);
    wire.sent[1]!.answer();
    await stays;
    await assert.rejects(m.embed(URL_A, { texts: ['late'] }, gone.signal), /client closed/, 'an already-aborted call is refused');
  });

  it('sends a lone call with its caller\'s own signal, and answers an abort on the wire with the signal\'s reason', async () => {
    const { m, wire } = merger();
    const caller = new AbortController();
    const p = m.embed(URL_A, { texts: ['alone'] }, caller.signal);
    assert.equal(wire.sent[0]!.signal, caller.signal, 'no controller of the merger in between');
    caller.abort(new Error('client closed'));
    wire.sent[0]!.fail(new Error('the sender saw the abort'));
    await assert.rejects(p, /client closed/);
    const next = m.embed(URL_A, { texts: ['next'] });
    assert.equal(wire.sent.length, 2, 'the slot was given back');
    wire.sent[1]!.answer();
    assert.deepEqual(rows(await next), expectedRows(['next']));
  });

  it('answers a caller that leaves a merged call at once, and cancels the call only when all have left', async () => {
    const { m, wire } = merger();
    const first = m.embed(URL_A, { texts: ['a'] });
    const c1 = new AbortController();
    const c2 = new AbortController();
    const p1 = m.embed(URL_A, { texts: ['one'] }, c1.signal);
    const p2 = m.embed(URL_A, { texts: ['two'] }, c2.signal);
    wire.sent[0]!.answer();
    await first;
    const merged = wire.sent[1]!;
    const mergedSignal = merged.signal!;
    assert.deepEqual(merged.request.texts, ['one', 'two']);
    c1.abort(new Error('one left'));
    await assert.rejects(p1, /one left/);
    assert.equal(mergedSignal.aborted, false, 'the other caller still waits for it');
    c2.abort(new Error('two left'));
    await assert.rejects(p2, /two left/);
    assert.equal(mergedSignal.aborted, true);
    merged.fail(mergedSignal.reason);
    await new Promise((r) => setImmediate(r));
    assert.equal(wire.sent.length, 2, 'nothing is sent again for callers that left');
  });

  it('sends the calls of a merged call again one by one when it fails on an input, so only the bad one fails', async () => {
    const { m, wire } = merger();
    const first = m.embed(URL_A, { texts: ['a'] });
    const good1 = m.embed(URL_A, { texts: ['good1'] });
    const bad = m.embed(URL_A, { texts: ['bad'] });
    bad.catch(() => undefined); // judged below, after the loop
    const good2 = m.embed(URL_A, { texts: ['good2'] });
    wire.sent[0]!.answer();
    await first;
    const refused = () => new ModeldError('MODELD_ERR_VALIDATION', 'the model refused the input: bad');
    wire.sent[1]!.fail(refused());
    for (let i = 2; i < 5; i++) {
      await new Promise((r) => setImmediate(r));
      const s = wire.sent[i]!;
      assert.equal(s.request.texts.length, 1, 'each call goes alone');
      if (s.request.texts[0] === 'bad') s.fail(refused());
      else s.answer();
    }
    assert.deepEqual(rows(await good1), expectedRows(['good1']));
    assert.deepEqual(rows(await good2), expectedRows(['good2']));
    await assert.rejects(bad, /refused the input/);
  });

  it('fails every call of a merged call with a transport failure, sent once', async () => {
    const { m, wire } = merger();
    const first = m.embed(URL_A, { texts: ['a'] });
    const p1 = m.embed(URL_A, { texts: ['one'] });
    const p2 = m.embed(URL_A, { texts: ['two'] });
    p2.catch(() => undefined); // judged below
    wire.sent[0]!.answer();
    await first;
    const lost = new ModeldError('MODELD_ERR_REPLICA_FAILED', 'connection lost', { details: { failure: 'reset' } });
    wire.sent[1]!.fail(lost);
    await assert.rejects(p1, (err) => err === lost);
    await assert.rejects(p2, (err) => err === lost);
    assert.equal(wire.sent.length, 2, 'the gateway decides where to retry, not the merger');
    assert.equal(await state(m.embed(URL_A, { texts: ['next'] })), 'pending');
    assert.equal(wire.sent.length, 3, 'the endpoint is free again');
  });

  it('fails the calls waiting for an endpoint that is gone, and leaves those on the wire and other endpoints alone', async () => {
    const { m, wire } = merger();
    const onWire = m.embed(URL_A, { texts: ['on the wire'] });
    const waiting = m.embed(URL_A, { texts: ['waiting'] });
    const elsewhere = m.embed(URL_B, { texts: ['elsewhere'] });
    const gone = new ModeldError('MODELD_ERR_REPLICA_FAILED', 'replica is no longer published', { details: { failure: 'connect' } });
    m.failWaiting(URL_A, gone);
    await assert.rejects(waiting, (err) => err === gone);
    for (const s of wire.sent) s.answer();
    assert.deepEqual(rows(await onWire), expectedRows(['on the wire']));
    assert.deepEqual(rows(await elsewhere), expectedRows(['elsewhere']));
    assert.equal(wire.sent.length, 2, 'the failed call was never sent');
  });

  it('property: whatever the arrivals, sizes, dataTypes and answer order, each caller gets exactly its own rows', async () => {
    const call = fc.record({
      url: fc.constantFrom(URL_A, URL_B),
      texts: fc.array(fc.string({ minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 9 }),
      dataType: fc.constantFrom(undefined, 'query' as const, 'passage' as const),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 16 }), fc.infiniteStream(fc.nat()), async (calls, maxCalls, maxTexts, picks) => {
        const { m, wire } = merger({ maxCallsPerEndpoint: maxCalls, maxTexts });
        const results = calls.map((c) => m.embed(c.url, c.dataType ? { texts: c.texts, dataType: c.dataType } : { texts: c.texts }));
        let answered = 0;
        const pick = picks[Symbol.iterator]();
        while (answered < wire.sent.length) {
          const open = wire.sent.slice(answered);
          for (const url of [URL_A, URL_B]) {
            assert.ok(open.filter((x) => x.url === url).length <= maxCalls, 'never more than maxCallsPerEndpoint on the wire to one endpoint');
          }
          // Answer any one of the calls on the wire.
          const i = answered + ((pick.next().value as number) % open.length);
          [wire.sent[answered], wire.sent[i]] = [wire.sent[i]!, wire.sent[answered]!];
          const s = wire.sent[answered]!;
          assert.ok(s.request.texts.length <= maxTexts || calls.some((c) => c.texts === s.request.texts), 'a merged call holds at most maxTexts texts');
          s.answer();
          answered++;
          await new Promise((r) => setImmediate(r));
        }
        const frames = await Promise.all(results);
        frames.forEach((f, i) => assert.deepEqual(rows(f), expectedRows(calls[i]!.texts, calls[i]!.dataType)));
        assert.ok(wire.sent.length <= calls.length);
      }),
      { numRuns: 150 },
    );
  });
});
