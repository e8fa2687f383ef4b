import type { ForwardCase, GradCase, OpSpec } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import { rotary } from './rotary.js';
import { engineGradient, inputs, referenceGradient } from '../../testing/reference-grad.js';

/**
 * The naive float64 definition, written as Hugging Face writes it: inv_freq = base^(−arange(0, r, 2)/r),
 * emb = cat(freqs, freqs), out = x·cos(emb) + rotate_half(x)·sin(emb) with rotate_half([a, b]) = [−b, a] over r dims.
 */
function reference(x: number[], pos: number[], [B, H, T, dh]: number[], r: number, base: number, perBatch: boolean): number[] {
  const out = new Array<number>(x.length);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) {
    const p = pos[perBatch ? b * T + t : t]!;
    const row = ((b * H + h) * T + t) * dh;
    const freqs = Array.from({ length: r / 2 }, (_, i) => p * base ** (-(2 * i) / r));
    const emb = [...freqs, ...freqs];
    const xr = x.slice(row, row + r);
    const rot = [...xr.slice(r / 2).map((v) => -v), ...xr.slice(0, r / 2)];
    for (let i = 0; i < dh; i++) out[row + i] = i < r ? xr[i]! * Math.cos(emb[i]!) + rot[i]! * Math.sin(emb[i]!) : x[row + i]!;
  }
  return out;
}

// [shape, rotaryDims, base, positions given per batch row?]: Pythia's 20 of 80 in miniature (r < dh), r = dh, r = 2.
const cases: [number[], number, number, boolean][] = [
  [[1, 2, 3, 8], 4, 10000, false], [[2, 3, 4, 6], 6, 10000, true], [[2, 1, 5, 10], 2, 100, false], [[3, 2, 2, 8], 4, 10, true],
];
const positionsFor = (B: number, T: number, perBatch: boolean) =>
  Array.from({ length: (perBatch ? B : 1) * T }, (_, i) => (i % T) + (perBatch ? 3 * Math.floor(i / T) : 5));

const forward: ForwardCase[] = [
  {
    op: 'rotary', name: 'hand values: halves are paired, not neighbours',
    // dh = r = 4, base 100: θ = [p, p/10]; pairs are (x0, x2) and (x1, x3).
    run: () => ({
      actual: rotary(tensor([1, 2, 3, 4], [1, 1, 1, 4]), tensor(new Int32Array([1])), { rotaryDims: 4, base: 100 }),
      expected: [1 * Math.cos(1) - 3 * Math.sin(1), 2 * Math.cos(0.1) - 4 * Math.sin(0.1), 3 * Math.cos(1) + 1 * Math.sin(1), 4 * Math.cos(0.1) + 2 * Math.sin(0.1)],
    }),
  },
  {
    op: 'rotary', name: 'position 0 is the identity and dims past rotaryDims pass through',
    run: () => ({ actual: rotary(tensor([1, 2, 3, 4, 5, 6], [1, 1, 1, 6]), tensor(new Int32Array([0])), { rotaryDims: 2, base: 10000 }), expected: [1, 2, 3, 4, 5, 6] }),
  },
  ...cases.map(([shape, r, base, perBatch], k): ForwardCase => ({
    op: 'rotary', name: `naive loop ${shape.join('x')} r=${r} base=${base}${perBatch ? ' positions [B,T]' : ''}`,
    run() {
      const [B, , T] = shape as [number, number, number];
      const x = inputs(shape.reduce((a, b) => a * b, 1), 10 + k), pos = positionsFor(B, T, perBatch);
      const posT = tensor(Int32Array.from(pos), perBatch ? [B, T] : [T]);
      return { actual: rotary(tensor(x, shape), posT, { rotaryDims: r, base }), expected: reference(x, pos, shape, r, base, perBatch), shapes: [shape], atol: 2e-6 };
    },
  })),
  {
    op: 'rotary', name: 'backward equals float64 differences of the naive loop',
    run() {
      const shape = [2, 2, 3, 6], pos = positionsFor(2, 3, true), w = inputs(72, 77);
      const posT = tensor(Int32Array.from(pos), [2, 3]);
      const actual = engineGradient((x) => rotary(x, posT, { rotaryDims: 4, base: 50 }), [inputs(72, 78)], [shape], w);
      return { actual, expected: referenceGradient(([x]) => reference(x!, pos, shape, 4, 50, true), [inputs(72, 78)], w), atol: 2e-6 };
    },
  },
];

const grad: GradCase[] = cases.map(([shape, r, base, perBatch], k) => ({
  op: 'rotary', name: `${shape.join('x')} r=${r}`,
  inputs: () => [tensor(inputs(shape.reduce((a, b) => a * b, 1), 30 + k), shape), tensor(Int32Array.from(positionsFor(shape[0]!, shape[2]!, perBatch)), perBatch ? [shape[0]!, shape[2]!] : [shape[2]!])],
  wrt: [0],
  f: (x, pos) => rotary(x!, pos!, { rotaryDims: r, base }),
}));

const x = () => tensor(new Float32Array(2 * 2 * 3 * 8), [2, 2, 3, 8]);
const pos = (shape: number[]) => tensor(new Int32Array(shape.reduce((a, b) => a * b, 1)), shape);
export const spec: OpSpec = {
  forward, grad,
  errors: [
    { op: 'rotary', name: 'odd rotaryDims', run: () => rotary(x(), pos([3]), { rotaryDims: 3, base: 10000 }), message: /rotary: rotaryDims must be a positive even integer, got 3 \(inputs: #0 float32\[2,2,3,8\], #1 int32\[3\]\)/ },
    { op: 'rotary', name: 'rotaryDims larger than the head', run: () => rotary(x(), pos([3]), { rotaryDims: 10, base: 10000 }), message: /rotary: rotaryDims 10 exceeds the head size dh = 8/ },
    { op: 'rotary', name: 'positions length differs from T', run: () => rotary(x(), pos([4]), { rotaryDims: 4, base: 10000 }), message: /rotary: positions must be \[T\] or \[B, T\] with B = 2, T = 3 \(from x\), got \[4\]/ },
    { op: 'rotary', name: 'positions batch differs from x', run: () => rotary(x(), pos([3, 3]), { rotaryDims: 4, base: 10000 }), message: /rotary: positions must be \[T\] or \[B, T\].*got \[3,3\]/ },
    { op: 'rotary', name: 'float32 positions', run: () => rotary(x(), tensor([0, 1, 2]), { rotaryDims: 4, base: 10000 }), message: /rotary: positions must be int32 \(inputs: #0 float32\[2,2,3,8\], #1 float32\[3\]\)/ },
    { op: 'rotary', name: 'x not [B,H,T,dh]', run: () => rotary(tensor(new Float32Array(24), [3, 8]), pos([3]), { rotaryDims: 4, base: 10000 }), message: /rotary: x must be \[B, H, T, dh\], got \[3,8\]/ },
  ],
};
