import type { ForwardCase, GradCase, OpSpec } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import type { Tensor } from '../../tensor.js';
import { add } from '../elementwise/binary.js';
import { causalAttention, type CausalAttentionOptions } from './causal-attention.js';
import { engineGradient, inputs, referenceGradient } from '../../testing/reference-grad.js';
import { setArenaBudget } from '../../backends/cpu/wasm.js';

interface Case {
  name: string;
  B: number; H: number; T: number; S: number; dk: number; dv: number;
  scale?: number; offset?: number;
  keyMask?: number[];
  /** Values and the leading dims of the block mask ([B or 1, H or 1]). */
  blockMask?: { values: number[]; lead: [number, number] };
}

/** The naive float64 definition: masked scores are −∞, softmax per query row, a row with no visible key is all zeros. */
function reference(c: Case, q: number[], k: number[], v: number[]): { out: number[]; probs: number[] } {
  const { B, H, T, S, dk, dv } = c;
  const scale = c.scale ?? 1 / Math.sqrt(dk), offset = c.offset ?? S - T;
  const out: number[] = [], probs: number[] = [];
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < T; i++) {
    const scores: number[] = [];
    for (let j = 0; j < S; j++) {
      let visible = j <= i + offset && (c.keyMask?.[b * S + j] ?? 1) !== 0;
      if (c.blockMask) {
        const [lb, lh] = c.blockMask.lead;
        visible &&= c.blockMask.values[(((lb === 1 ? 0 : b) * lh + (lh === 1 ? 0 : h)) * T + i) * S + j] !== 0;
      }
      let dot = 0;
      for (let e = 0; e < dk; e++) dot += q[((b * H + h) * T + i) * dk + e]! * k[((b * H + h) * S + j) * dk + e]!;
      scores.push(visible ? dot * scale : -Infinity);
    }
    const m = Math.max(...scores);
    const ex = scores.map((s) => (m === -Infinity ? 0 : Math.exp(s - m)));
    const z = ex.reduce((a, b) => a + b, 0);
    const p = ex.map((e) => (z === 0 ? 0 : e / z));
    probs.push(...p);
    for (let e = 0; e < dv; e++) out.push(p.reduce((acc, pj, j) => acc + pj * v[((b * H + h) * S + j) * dv + e]!, 0));
  }
  return { out, probs };
}

const cases: Case[] = [
  { name: 'T=S causal', B: 1, H: 2, T: 4, S: 4, dk: 3, dv: 3 },
  { name: 'T<S (default offset S-T), dv≠dh, B=2', B: 2, H: 1, T: 2, S: 5, dk: 4, dv: 2 },
  { name: 'left padding keyMask, fully masked first query', B: 2, H: 2, T: 3, S: 3, dk: 2, dv: 3, keyMask: [0, 1, 1, 1, 1, 1] },
  { name: 'blockMask [B,H,T,S] and explicit scale', B: 1, H: 2, T: 3, S: 3, dk: 2, dv: 2, scale: 0.7, blockMask: { values: [1, 0, 0, 0, 1, 0, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1], lead: [1, 2] } },
  { name: 'blockMask [1,1,T,S] with keyMask, offset 0 on T<S', B: 2, H: 2, T: 2, S: 3, dk: 3, dv: 3, offset: 0, keyMask: [1, 1, 1, 0, 1, 1], blockMask: { values: [1, 1, 1, 1, 0, 1], lead: [1, 1] } },
  { name: 'blockMask [B,1,T,S]', B: 2, H: 2, T: 2, S: 2, dk: 3, dv: 2, blockMask: { values: [1, 0, 0, 1, 1, 0, 1, 1], lead: [2, 1] } },
  { name: 'offset past every key (no causal mask)', B: 1, H: 1, T: 3, S: 3, dk: 2, dv: 3, offset: 5 },
];

function data(c: Case, seed: number): number[][] {
  return [inputs(c.B * c.H * c.T * c.dk, seed), inputs(c.B * c.H * c.S * c.dk, seed + 1), inputs(c.B * c.H * c.S * c.dv, seed + 2)];
}
const shapesOf = (c: Case) => [[c.B, c.H, c.T, c.dk], [c.B, c.H, c.S, c.dk], [c.B, c.H, c.S, c.dv]];
function options(c: Case): CausalAttentionOptions {
  return {
    scale: c.scale, offset: c.offset,
    keyMask: c.keyMask ? tensor(c.keyMask, [c.B, c.S]) : undefined,
    blockMask: c.blockMask ? tensor(c.blockMask.values, [...c.blockMask.lead, c.T, c.S]) : undefined,
  };
}

/** What gradients are taken of: out, probs, or both at once (dv = S makes them addable). */
type Output = 'out' | 'probs' | 'both';
function attnOutput(which: Output, c: Case) {
  return (q: Tensor, k: Tensor, v: Tensor): Tensor => {
    const [out, probs] = causalAttention(q, k, v, options(c));
    if (which === 'out') { probs.dispose(); return out; }
    if (which === 'probs') { out.dispose(); return probs; }
    const sum = add(out, probs);
    out.dispose(); probs.dispose();
    return sum;
  };
}
function referenceOutput(which: Output, c: Case) {
  return ([q, k, v]: number[][]): number[] => {
    const { out, probs } = reference(c, q!, k!, v!);
    return which === 'out' ? out : which === 'probs' ? probs : out.map((o, i) => o + probs[i]!);
  };
}
/** Grad cases need dv = S for 'both'; the others keep their own shapes. */
const gradCases: [Output, Case][] = [
  ...cases.slice(0, 5).map((c): [Output, Case] => ['out', c]),
  ...cases.slice(2, 5).map((c): [Output, Case] => ['probs', c]),
  ['both', { ...cases[2]!, dv: cases[2]!.S }], ['both', { ...cases[4]!, dv: cases[4]!.S }],
];

const forward: ForwardCase[] = [
  {
    op: 'causalAttention', name: 'hand values',
    // scale 1, q = 1, k = [0, ln 3]: query 0 sees key 0 alone; query 1 weighs the keys 1:3.
    run() {
      const [out, probs] = causalAttention(tensor([1, 1], [1, 1, 2, 1]), tensor([0, Math.log(3)], [1, 1, 2, 1]), tensor([10, 20], [1, 1, 2, 1]), { scale: 1 });
      return { actual: [out, probs], expected: [[10, 17.5], [1, 0, 0.25, 0.75]], shapes: [[1, 1, 2, 1], [1, 1, 2, 2]] };
    },
  },
  {
    op: 'causalAttention', name: 'every key masked gives zeros, not NaN',
    run() {
      const [out, probs] = causalAttention(tensor([1, 2, 3, 4], [1, 1, 2, 2]), tensor([1, 1, 1, 1], [1, 1, 2, 2]), tensor([5, 6, 7, 8], [1, 1, 2, 2]), { keyMask: tensor([[0, 0]]) });
      return { actual: [out, probs], expected: [[0, 0, 0, 0], [0, 0, 0, 0]] };
    },
  },
  ...cases.map((c, n): ForwardCase => ({
    op: 'causalAttention', name: `naive loop: ${c.name}`,
    run() {
      const [q, k, v] = data(c, 10 + 10 * n);
      const ref = reference(c, q!, k!, v!);
      const s = shapesOf(c);
      return { actual: causalAttention(tensor(q!, s[0]), tensor(k!, s[1]), tensor(v!, s[2]), options(c)), expected: [ref.out, ref.probs], shapes: [[c.B, c.H, c.T, c.dv], [c.B, c.H, c.T, c.S]] };
    },
  })),
  ...gradCases.map(([which, c], n): ForwardCase => ({
    op: 'causalAttention', name: `backward (${which}) equals float64 differences of the naive loop: ${c.name}`,
    run() {
      const xs = data(c, 100 + 10 * n), w = inputs(c.B * c.H * c.T * (which === 'probs' ? c.S : c.dv), 200 + n);
      return { actual: engineGradient(attnOutput(which, c), xs, shapesOf(c), w), expected: referenceGradient(referenceOutput(which, c), xs, w), atol: 1e-5, rtol: 1e-4 };
    },
  })),
];

// Enough (batch, head) pairs that the CPU kernels split them over threads, where the machine has several.
const wide: Case = { name: 'B·H split over threads', B: 4, H: 20, T: 16, S: 16, dk: 12, dv: 16, keyMask: [...Array(16).fill(1), 0, 0, ...Array(46).fill(1)] };

forward.push(
  {
    op: 'causalAttention', name: `naive loop: ${wide.name}`,
    run() {
      const [q, k, v] = data(wide, 900);
      const ref = reference(wide, q!, k!, v!);
      const s = shapesOf(wide);
      return { actual: causalAttention(tensor(q!, s[0]), tensor(k!, s[1]), tensor(v!, s[2]), options(wide)), expected: [ref.out, ref.probs] };
    },
  },
  ...[cases[4]!, cases[5]!].map((c, n): ForwardCase => ({
    // The CPU backend cuts the batch into row chunks that fit its kernel arena; 1 KiB holds one row here.
    op: 'causalAttention', name: `batch cut into row chunks, forward and backward: ${c.name}`,
    run() {
      // A third batch row whose masks differ from the first two, so that a chunk reading the wrong rows shows.
      const d: Case = { ...c, B: 3, dv: c.S, keyMask: c.keyMask ? [...c.keyMask, 1, 0, 1] : undefined,
        blockMask: c.blockMask?.lead[0] === 2 ? { lead: [3, 1], values: [...c.blockMask.values, 1, 1, 0, 1] } : c.blockMask };
      const xs = data(d, 950 + n), w = inputs(d.B * d.H * d.T * d.S, 960 + n);
      const ref = reference(d, xs[0]!, xs[1]!, xs[2]!);
      setArenaBudget(1024);
      try {
        const s = shapesOf(d);
        const [out, probs] = causalAttention(tensor(xs[0]!, s[0]), tensor(xs[1]!, s[1]), tensor(xs[2]!, s[2]), options(d));
        const g = engineGradient(attnOutput('both', d), xs, s, w);
        return { actual: [out, probs, ...g], expected: [ref.out, ref.probs, ...referenceGradient(referenceOutput('both', d), xs, w)], atol: 1e-5, rtol: 1e-4 };
      } finally {
        setArenaBudget(undefined);
      }
    },
  })),
);

const grad: GradCase[] = [...gradCases, ['both', wide] as [Output, Case]].map(([which, c], n) => ({
  op: 'causalAttention', name: `${which}: ${c.name}`, covers: ['causalAttentionBackward'],
  inputs: () => data(c, 300 + 10 * n).map((v, i) => tensor(v, shapesOf(c)[i])),
  f: attnOutput(which, c),
}));

const q = (shape = [2, 2, 3, 4]) => tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
export const spec: OpSpec = {
  forward, grad,
  errors: [
    { op: 'causalAttention', name: 'k head size differs from q', run: () => causalAttention(q(), q([2, 2, 3, 5]), q([2, 2, 3, 4])), message: /causalAttention: k \[2,2,3,5\] must be \[B, H, S, dh\] with B, H, dh of q \[2,2,3,4\] \(inputs: #0 float32\[2,2,3,4\], #1 float32\[2,2,3,5\], #2 float32\[2,2,3,4\]\)/ },
    { op: 'causalAttention', name: 'k heads differ from q', run: () => causalAttention(q(), q([2, 1, 3, 4]), q([2, 1, 3, 4])), message: /causalAttention: k \[2,1,3,4\] must be \[B, H, S, dh\]/ },
    { op: 'causalAttention', name: 'v length differs from k', run: () => causalAttention(q(), q([2, 2, 5, 4]), q([2, 2, 4, 4])), message: /causalAttention: v \[2,2,4,4\] must be \[B, H, S, dv\] with B, H, S of k \[2,2,5,4\]/ },
    { op: 'causalAttention', name: 'keyMask of the wrong length', run: () => causalAttention(q(), q(), q(), { keyMask: q([2, 4]) }), message: /causalAttention: keyMask must be \[B, S\] = \[2,3\], got \[2,4\]/ },
    { op: 'causalAttention', name: 'blockMask of the wrong shape', run: () => causalAttention(q(), q(), q(), { blockMask: q([2, 3, 3, 3]) }), message: /causalAttention: blockMask must be \[B or 1, H or 1, T, S\] with B = 2, H = 2, T = 3, S = 3, got \[2,3,3,3\]/ },
    { op: 'causalAttention', name: 'blockMask without the batch and head dims', run: () => causalAttention(q(), q(), q(), { blockMask: q([3, 3]) }), message: /causalAttention: blockMask must be \[B or 1, H or 1, T, S\].*got \[3,3\]/ },
    { op: 'causalAttention', name: 'int32 keyMask', run: () => causalAttention(q(), q(), q(), { keyMask: tensor(new Int32Array(6), [2, 3]) }), message: /causalAttention: q, k, v and the masks must all be float32.*#3 int32\[2,3\]/ },
    { op: 'causalAttention', name: 'q not rank 4', run: () => causalAttention(q([2, 3, 4]), q(), q()), message: /causalAttention: q must be \[B, H, T, dh\], got \[2,3,4\]/ },
    { op: 'causalAttention', name: 'fractional offset', run: () => causalAttention(q(), q(), q(), { offset: 0.5 }), message: /causalAttention: offset must be an integer, got 0.5/ },
  ],
};
