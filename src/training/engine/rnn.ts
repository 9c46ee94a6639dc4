import type { GraphBuilder } from './graph-builder.js';

/**
 * Bidirectional GRU / LSTM layers as ONNX subgraphs: the forward pass is onnxruntime's own fused
 * GRU / LSTM op (with `sequence_lens`, so padding never reaches the state), and the backward pass
 * is written out here, unrolled over the (fixed) sequence length.
 *
 * The backward pass does as little as possible step by step. Knowing every hidden state from the
 * forward op, the gates of all time steps are recomputed at once (two big MatMuls), and so are the
 * coefficients that turn the gradient of a step's output into the gradients of its
 * pre-activations. Only the gradient carried from step to step is sequential: per step one
 * [batch, gates*H] x [gates*H, H] MatMul and a few element-wise ops. The weight gradients are then
 * again two big MatMuls over all steps.
 *
 * Conventions are ONNX's: GRU gates `zrh` with `linear_before_reset = 1` (PyTorch's GRU), LSTM
 * gates `iofc`; W [2, g*H, I], R [2, g*H, H], B [2, 2*g*H] (input biases, then recurrent biases);
 * Y [T, 2, batch, H]; direction 0 is forward, 1 is reverse. Tensors are time-major.
 */

export type CellKind = 'gru' | 'lstm';

export const GATES: Record<CellKind, number> = { gru: 3, lstm: 4 };

export interface LayerWeights {
  W: string;
  R: string;
  B: string;
}

export interface RnnForward {
  /** [T, 2, batch, H] (zeros past each sequence's length). */
  Y: string;
  /** [T, batch, 2H]: the two directions side by side, the next layer's input. */
  out: string;
}

/** Runs the fused op. `lens` is int32 [batch]. */
export function rnnForward(g: GraphBuilder, cell: CellKind, X: string, lens: string, w: LayerWeights, units: number): RnnForward {
  const attrs = { hidden_size: units, direction: 'bidirectional', ...(cell === 'gru' ? { linear_before_reset: 1 } : {}) };
  const Y = g.op(cell === 'gru' ? 'GRU' : 'LSTM', [X, w.W, w.R, w.B, lens], attrs);
  const out = g.reshape(g.transpose(Y, [0, 2, 1, 3]), [0, 0, 2 * units]);
  return { Y, out };
}

export interface RnnBackwardInput {
  cell: CellKind;
  /** Layer input [T, batch, I]. */
  X: string;
  inputSize: number;
  units: number;
  /** Sequence length T (static: the backward pass is unrolled). */
  steps: number;
  fwd: RnnForward;
  /** Float mask [T, batch, 1]: 1 inside the sequence, 0 on padding. */
  mask: string;
  w: LayerWeights;
  /** Gradient of the loss w.r.t. `fwd.out`, [T, batch, 2H]. */
  dOut: string;
}

export interface RnnGradients {
  dW: string;
  dR: string;
  dB: string;
  /** [T, batch, I]. */
  dX: string;
}

/** Gradients of a bidirectional layer (the two directions are independent given dOut). */
export function rnnBackward(g: GraphBuilder, a: RnnBackwardInput): RnnGradients {
  const H = a.units;
  const dOut4 = g.reshape(a.dOut, [0, 0, 2, H]);
  const [dYf, dYr] = g.split(dOut4, 2, 2).map((t) => g.squeeze(t, [2]));
  const [Yf, Yr] = g.split(a.fwd.Y, 1, 2).map((t) => g.squeeze(t, [1]));
  const perDir = [0, 1].map((d) => {
    const pick = (t: string) => g.squeeze(g.op('Gather', [t, g.ints([d], [1])], { axis: 0 }), [0]);
    const W = pick(a.w.W);
    const R = pick(a.w.R);
    const [bW, bR] = g.split(pick(a.w.B), 0, 2);
    const dir = { reverse: d === 1, W: W, R: R, bW: bW!, bR: bR!, Y: d === 0 ? Yf! : Yr!, dY: d === 0 ? dYf! : dYr! };
    return a.cell === 'gru' ? gruDirectionBackward(g, a, dir) : lstmDirectionBackward(g, a, dir);
  });
  const stack = (k: 'dW' | 'dR' | 'dB') => g.concat([g.unsqueeze(perDir[0]![k], [0]), g.unsqueeze(perDir[1]![k], [0])], 0);
  return { dW: stack('dW'), dR: stack('dR'), dB: stack('dB'), dX: g.add(perDir[0]!.dX, perDir[1]!.dX) };
}

interface Direction {
  reverse: boolean;
  /** [g*H, I], [g*H, H], [g*H], [g*H]. */
  W: string;
  R: string;
  bW: string;
  bR: string;
  /** This direction's hidden states [T, batch, H] and the gradient reaching them. */
  Y: string;
  dY: string;
}

/** The state each step started from: the previous step's output in this direction's order, zeros first. */
function previousStates(g: GraphBuilder, Y: string, steps: number, reverse: boolean): string {
  const zero = g.mul(g.op('Slice', [Y, g.ints([0]), g.ints([1]), g.ints([0])]), g.scalar(0));
  if (steps === 1) return zero;
  return reverse
    ? g.concat([g.op('Slice', [Y, g.ints([1]), g.ints([steps]), g.ints([0])]), zero], 0)
    : g.concat([zero, g.op('Slice', [Y, g.ints([0]), g.ints([steps - 1]), g.ints([0])])], 0);
}

/** Step order of the backward pass: the reverse of the direction's own order. */
function backwardOrder(steps: number, reverse: boolean): number[] {
  const order = Array.from({ length: steps }, (_, i) => i);
  return reverse ? order : order.reverse();
}

/** Sum over time and batch of dG^T x for dG [T, B, G], x [T, B, K] -> [G, K]. */
function outerSum(g: GraphBuilder, dG: string, x: string, gSize: number, kSize: number): string {
  return g.op('Gemm', [g.reshape(dG, [-1, gSize]), g.reshape(x, [-1, kSize])], { transA: 1 });
}

function finish(g: GraphBuilder, a: RnnBackwardInput, dir: Direction, dGX: string, dGH: string, Hprev: string, G: number): RnnGradients {
  const dW = outerSum(g, dGX, a.X, G, a.inputSize);
  const dR = outerSum(g, dGH, Hprev, G, a.units);
  const dB = g.concat([g.reduceSum(g.reshape(dGX, [-1, G]), [0]), g.reduceSum(g.reshape(dGH, [-1, G]), [0])], 0);
  const dX = g.matmul(dGX, dir.W);
  return { dW, dR, dB, dX };
}

function gruDirectionBackward(g: GraphBuilder, a: RnnBackwardInput, dir: Direction): RnnGradients {
  const H = a.units;
  const T = a.steps;
  const Hprev = previousStates(g, dir.Y, T, dir.reverse);
  // Gates of every step at once, one MatMul per gate (slicing the small weights, not the big products).
  const gate = (w: string, k: number) => g.transpose(g.op('Slice', [w, g.ints([k * H]), g.ints([(k + 1) * H]), g.ints([0])]), [1, 0]);
  const bias = (b: string, k: number) => g.op('Slice', [b, g.ints([k * H]), g.ints([(k + 1) * H]), g.ints([0])]);
  const pre = (k: number) => g.add(g.add(g.matmul(a.X, gate(dir.W, k)), g.matmul(Hprev, gate(dir.R, k))), g.add(bias(dir.bW, k), bias(dir.bR, k)));
  const z = g.sigmoid(pre(0));
  const r = g.sigmoid(pre(1));
  const hn = g.add(g.matmul(Hprev, gate(dir.R, 2)), bias(dir.bR, 2));
  const n = g.tanh(g.add(g.add(g.matmul(a.X, gate(dir.W, 2)), bias(dir.bW, 2)), g.mul(r, hn)));
  // h = (1 - z) n + z h_prev. Per unit of dh: dz_pre = A, dn_pre = Bc, dr_pre = C, dhn = Bc r.
  // The mask enters through (1 - z) and z, so every coefficient is 0 on padding.
  const m = a.mask;
  const omz = g.mul(g.oneMinus(z), m);
  const Zm = g.mul(z, m);
  const A = g.mul(g.sub(Hprev, n), g.mul(z, omz));
  const Bc = g.mul(omz, g.oneMinus(g.mul(n, n)));
  const C = g.mul(g.mul(Bc, hn), g.sub(r, g.mul(r, r)));
  const Kx = g.concat([A, C, Bc], 2);
  const Kh = g.concat([A, C, g.mul(Bc, r)], 2);
  // The sequential part: dh_t = dY_t + (carry from the step after, in this direction's order).
  const dYs = g.split(dir.dY, 0, T).map((t) => g.squeeze(t, [0]));
  const Khs = g.split(g.reshape(Kh, [T, -1, 3, H]), 0, T).map((t) => g.squeeze(t, [0]));
  const Zms = g.split(Zm, 0, T).map((t) => g.squeeze(t, [0]));
  const dh: string[] = new Array(T);
  let carry: string | null = null;
  for (const t of backwardOrder(T, dir.reverse)) {
    const dht: string = carry === null ? dYs[t]! : g.add(dYs[t]!, carry);
    dh[t] = dht;
    const dGHt = g.reshape(g.mul(g.unsqueeze(dht, [1]), Khs[t]!), [-1, 3 * H]);
    carry = g.add(g.mul(dht, Zms[t]!), g.matmul(dGHt, dir.R));
  }
  const DH = g.reshape(g.concat(dh.map((t) => g.unsqueeze(t, [0])), 0), [T, -1, 1, H]);
  const dGX = g.reshape(g.mul(DH, g.reshape(Kx, [T, -1, 3, H])), [T, -1, 3 * H]);
  const dGH = g.reshape(g.mul(DH, g.reshape(Kh, [T, -1, 3, H])), [T, -1, 3 * H]);
  return finish(g, a, dir, dGX, dGH, Hprev, 3 * H);
}

function lstmDirectionBackward(g: GraphBuilder, a: RnnBackwardInput, dir: Direction): RnnGradients {
  const H = a.units;
  const T = a.steps;
  const m = a.mask;
  const Hprev = previousStates(g, dir.Y, T, dir.reverse);
  const G = g.add(g.add(g.matmul(a.X, g.transpose(dir.W, [1, 0])), dir.bW), g.add(g.matmul(Hprev, g.transpose(dir.R, [1, 0])), dir.bR));
  const [gi, go, gf, gc] = g.split(G, 2, 4);
  const i = g.sigmoid(gi!);
  const o = g.sigmoid(go!);
  const f = g.sigmoid(gf!);
  const c = g.tanh(gc!);
  // Cell states are not an output of the LSTM op: rebuild them (element-wise, step by step).
  const ics = g.split(g.mul(g.mul(i, c), m), 0, T);
  const fms = g.split(g.mul(f, m), 0, T);
  const C: string[] = new Array(T);
  let prev: string | null = null;
  for (const t of dir.reverse ? [...Array(T).keys()].reverse() : [...Array(T).keys()]) {
    C[t] = prev === null ? ics[t]! : g.add(g.mul(fms[t]!, prev), ics[t]!);
    prev = C[t]!;
  }
  const Call = g.concat(C, 0);
  const Cprev = previousStates(g, Call, T, dir.reverse);
  const tc = g.tanh(Call);
  const sig = (x: string) => g.mul(x, g.oneMinus(x));
  // dC_t = carry_c + dh_t * P1; dG = [dC*Ki, dh*Ko, dC*Kf, dC*Kc]; carry_c = dC * f.
  const P1 = g.mul(g.mul(o, g.oneMinus(g.mul(tc, tc))), m);
  const Ki = g.mul(c, sig(i));
  const Ko = g.mul(tc, sig(o));
  const Kf = g.mul(Cprev, sig(f));
  const Kc = g.mul(i, g.oneMinus(g.mul(c, c)));
  const K = g.mul(g.concat([Ki, Ko, Kf, Kc], 2), m);
  const dYs = g.split(dir.dY, 0, T).map((t) => g.squeeze(t, [0]));
  const P1s = g.split(P1, 0, T).map((t) => g.squeeze(t, [0]));
  const Ks = g.split(K, 0, T).map((t) => g.squeeze(t, [0]));
  const Fs = fms.map((t) => g.squeeze(t, [0]));
  const dG: string[] = new Array(T);
  let carryH: string | null = null;
  let carryC: string | null = null;
  for (const t of backwardOrder(T, dir.reverse)) {
    const dh: string = carryH === null ? dYs[t]! : g.add(dYs[t]!, carryH);
    const fromH = g.mul(dh, P1s[t]!);
    const dC: string = carryC === null ? fromH : g.add(carryC, fromH);
    dG[t] = g.mul(g.concat([dC, dh, dC, dC], 1), Ks[t]!);
    carryH = g.matmul(dG[t]!, dir.R);
    carryC = g.mul(dC, Fs[t]!);
  }
  const dGall = g.concat(dG.map((t) => g.unsqueeze(t, [0])), 0);
  return finish(g, a, dir, dGall, dGall, Hprev, 4 * H);
}
