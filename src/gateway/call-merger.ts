import type { EmbedFrame, EmbedRequest } from '../runner/protocol.js';

export interface CallMergerOptions {
  /**
   * Calls one endpoint may have on the wire at once (`gateway.maxCallsPerReplica`). Calls beyond
   * it wait here and leave together as one call when one returns. 0: every call goes at once, alone.
   */
  maxCallsPerEndpoint: number;
  /** Most texts in one merged call (`limits.maxBatchItems`); a single call larger than this still goes, alone. */
  maxTexts: number;
  /** Most UTF-16 code units of text in one merged call; the first call of a merge always goes. */
  maxChars: number;
  /**
   * Whether a merged call's failure may be particular to one of its inputs (the model failed on
   * it, the replica refused it): its calls are then sent again one by one, so that one request's
   * bad input never fails the requests it happened to travel with.
   */
  isInputFailure(err: unknown): boolean;
  /** Called for every call sent, with the number of calls merged into it (metrics). */
  onSend?(merged: number): void;
}

/** Sends one call to an endpoint (the runner client's POST /embed). */
export type SendEmbed = (url: string, request: EmbedRequest, signal: AbortSignal | undefined) => Promise<EmbedFrame>;

interface Member {
  readonly texts: string[];
  readonly dataType: EmbedRequest['dataType'];
  readonly chars: number;
  readonly signal: AbortSignal | undefined;
  readonly resolve: (frame: EmbedFrame) => void;
  readonly reject: (err: unknown) => void;
  /** Sent again on its own after a merged call failed on some input. */
  alone: boolean;
  settled: boolean;
  onAbort: (() => void) | null;
}

interface Lane {
  onWire: number;
  /** Calls waiting for room on the wire, oldest first. */
  waiting: Member[];
}

/**
 * Merges embedding calls to one runner. The gateway holds up to `maxInflightPerReplica` requests
 * on a replica; sending each as its own HTTP call makes the runner pay its per-call cost (a
 * request parsed, an answer written, a wake-up) for every one, though its batcher runs them in
 * the same engine call anyway. Here at most `maxCallsPerEndpoint` calls are on the wire to an
 * endpoint; the others wait, and when one returns, the waiting calls of the same dataType leave
 * as one call (up to `maxTexts` texts, oldest first), whose frame is split back into each call's
 * own rows. A lone call on an idle endpoint goes at once: nothing waits for company.
 *
 * Each call keeps its own signal: aborted while waiting, it leaves the queue; aborted on the
 * wire, it is answered at once with the signal's reason and the merged call is cancelled only
 * when none of its callers is left. A failure of a merged call reaches every call in it (so each
 * retries as the gateway decides), except a failure that may come from one input, after which
 * the calls are sent again one by one.
 */
export class CallMerger {
  readonly #options: CallMergerOptions;
  readonly #send: SendEmbed;
  readonly #lanes = new Map<string, Lane>();

  constructor(options: CallMergerOptions, send: SendEmbed) {
    this.#options = options;
    this.#send = send;
  }

  embed(url: string, request: EmbedRequest, signal?: AbortSignal): Promise<EmbedFrame> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<EmbedFrame>((resolve, reject) => {
      let chars = 0;
      for (const t of request.texts) chars += t.length;
      const member: Member = { texts: request.texts, dataType: request.dataType, chars, signal, resolve, reject, alone: false, settled: false, onAbort: null };
      const lane = this.#lane(url);
      lane.waiting.push(member);
      this.#watchWhileWaiting(url, lane, member);
      this.#pump(url, lane);
    });
  }

  /** A call aborted while it waits leaves the queue at once, answered with the signal's reason. */
  #watchWhileWaiting(url: string, lane: Lane, m: Member): void {
    if (!m.signal) return;
    if (m.onAbort) m.signal.removeEventListener('abort', m.onAbort);
    const signal = m.signal;
    m.onAbort = () => {
      const i = lane.waiting.indexOf(m);
      if (i >= 0) lane.waiting.splice(i, 1);
      this.#settle(m, null, signal.reason);
      this.#forgetIfIdle(url, lane);
    };
    signal.addEventListener('abort', m.onAbort, { once: true });
  }

  /**
   * Answers every call still waiting for `url` with `err` (the endpoint is gone: they retry
   * elsewhere at once instead of finding it gone on the wire). Calls on the wire are left to finish.
   */
  failWaiting(url: string, err: unknown): void {
    const lane = this.#lanes.get(url);
    if (!lane) return;
    for (const m of lane.waiting.splice(0)) this.#settle(m, null, err);
    this.#forgetIfIdle(url, lane);
  }

  #lane(url: string): Lane {
    let lane = this.#lanes.get(url);
    if (!lane) {
      lane = { onWire: 0, waiting: [] };
      this.#lanes.set(url, lane);
    }
    return lane;
  }

  #forgetIfIdle(url: string, lane: Lane): void {
    if (lane.onWire === 0 && lane.waiting.length === 0 && this.#lanes.get(url) === lane) this.#lanes.delete(url);
  }

  #pump(url: string, lane: Lane): void {
    const limit = this.#options.maxCallsPerEndpoint;
    while (lane.waiting.length > 0 && (limit === 0 || lane.onWire < limit)) {
      const group = limit === 0 ? [lane.waiting.shift()!] : this.#takeGroup(lane);
      void this.#dispatch(url, lane, group);
    }
  }

  /** The oldest waiting call, and after it the waiting calls of its dataType that fit. */
  #takeGroup(lane: Lane): Member[] {
    const first = lane.waiting.shift()!;
    const group = [first];
    if (first.alone) return group;
    let texts = first.texts.length;
    let chars = first.chars;
    for (let i = 0; i < lane.waiting.length; ) {
      const m = lane.waiting[i]!;
      if (m.alone || m.dataType !== first.dataType || texts + m.texts.length > this.#options.maxTexts || chars + m.chars > this.#options.maxChars) {
        i++;
        continue;
      }
      lane.waiting.splice(i, 1);
      group.push(m);
      texts += m.texts.length;
      chars += m.chars;
      if (texts >= this.#options.maxTexts) break;
    }
    return group;
  }

  async #dispatch(url: string, lane: Lane, group: Member[]): Promise<void> {
    lane.onWire++;
    this.#options.onSend?.(group.length);
    if (group.length === 1) return this.#dispatchAlone(url, lane, group[0]!);
    const controller = new AbortController();
    // The call is cancelled only when every caller in it has gone.
    const onMemberGone = () => {
      if (group.every((m) => m.settled)) controller.abort(new Error('every caller of the merged call has gone'));
    };
    for (const m of group) {
      if (!m.signal) continue;
      if (m.onAbort) m.signal.removeEventListener('abort', m.onAbort);
      m.onAbort = () => {
        this.#settle(m, null, m.signal!.reason);
        onMemberGone();
      };
      m.signal.addEventListener('abort', m.onAbort, { once: true });
    }
    const texts = group.flatMap((m) => m.texts);
    const request: EmbedRequest = group[0]!.dataType ? { texts, dataType: group[0]!.dataType } : { texts };
    try {
      const frame = await this.#send(url, request, controller.signal);
      split(frame, group, (m, part) => this.#settle(m, part, null));
    } catch (err) {
      const live = group.filter((m) => !m.settled);
      if (live.length > 1 && this.#options.isInputFailure(err)) {
        // Which input failed is unknown: each call goes again on its own, ahead of newer calls.
        for (const m of live) {
          m.alone = true;
          this.#watchWhileWaiting(url, lane, m);
        }
        lane.waiting.unshift(...live);
      } else {
        for (const m of live) this.#settle(m, null, err);
      }
    } finally {
      lane.onWire--;
      this.#pump(url, lane);
      this.#forgetIfIdle(url, lane);
    }
  }

  /**
   * A call that travels alone goes with its caller's own signal (an abort rejects the send with
   * the signal's reason): no controller or listener of its own, which at concurrency 1 is most calls.
   */
  async #dispatchAlone(url: string, lane: Lane, m: Member): Promise<void> {
    if (m.onAbort && m.signal) m.signal.removeEventListener('abort', m.onAbort);
    m.onAbort = null;
    const request: EmbedRequest = m.dataType ? { texts: m.texts, dataType: m.dataType } : { texts: m.texts };
    try {
      this.#settle(m, await this.#send(url, request, m.signal), null);
    } catch (err) {
      this.#settle(m, null, m.signal?.aborted ? m.signal.reason : err);
    } finally {
      lane.onWire--;
      this.#pump(url, lane);
      this.#forgetIfIdle(url, lane);
    }
  }

  #settle(m: Member, frame: EmbedFrame | null, err: unknown): void {
    if (m.settled) return;
    m.settled = true;
    if (m.onAbort && m.signal) m.signal.removeEventListener('abort', m.onAbort);
    m.onAbort = null;
    if (frame) m.resolve(frame);
    else m.reject(err);
  }
}

/** Each member's rows of a merged frame, as views (no copy). */
function split(frame: EmbedFrame, group: Member[], give: (m: Member, part: EmbedFrame) => void): void {
  let row = 0;
  for (const m of group) {
    const n = m.texts.length;
    give(m, {
      count: n,
      dim: frame.dim,
      tokenCounts: frame.tokenCounts.subarray(row, row + n),
      vectors: frame.vectors.subarray(row * frame.dim, (row + n) * frame.dim),
    });
    row += n;
  }
}
