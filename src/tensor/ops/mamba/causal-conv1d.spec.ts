import type { ForwardCase, GradCase, OpSpec } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import { causalConv1d } from './causal-conv1d.js';
import { engineGradient, inputs, referenceGradient } from '../../testing/reference-grad.js';

/** The naive float64 definition: out[b,t,c] = bias[c] + Σ_k w[c,k]·x[b,t-K+1+k,c], x = 0 before t = 0. */
function reference([x, w, bias]: number[][], B: number, L: number, D: number, K: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < L; t++) {
      for (let c = 0; c < D; c++) {
        let acc = bias![c]!;
        for (let k = 0; k < K; k++) {
          const tt = t - K + 1 + k;
          if (tt >= 0) acc += w![c * K + k]! * x![(b * L + tt) * D + c]!;
        }
        out.push(acc);
      }
    }
  }
  return out;
}

/** The conv continued from `past` [R, kp, D], row b from the past's row rows[b] (b without rows): the naive loop over [past, x], sliced. */
function referenceWithPast([x, w, bias, past]: number[][], B: number, L: number, D: number, K: number, kp: number, rows: readonly number[] | null): number[] {
  const xx: number[] = [];
  for (let b = 0; b < B; b++) {
    const pr = rows ? rows[b]! : b;
    xx.push(...past!.slice(pr * kp * D, (pr + 1) * kp * D), ...x!.slice(b * L * D, (b + 1) * L * D));
  }
  const full = reference([xx, w!, bias!], B, kp + L, D, K);
  return Array.from({ length: B }, (_, b) => full.slice((b * (kp + L) + kp) * D, (b + 1) * (kp + L) * D)).flat();
}

// [B, L, D, K, R, kp, rows]: a past per row, rows repeated and reordered, one row for all, as deep as K − 1 allows
// or shallower, L shorter than K.
const pastCases: [number, number, number, number, number, number, number[] | null][] = [
  [2, 5, 3, 4, 2, 3, null], [3, 4, 5, 4, 2, 3, [1, 0, 1]], [2, 2, 3, 4, 1, 2, [0, 0]], [2, 1, 4, 4, 2, 1, null],
];
const withPast = (B: number, L: number, D: number, K: number, R: number, kp: number, seed: number) => [...data(B, L, D, K, seed), inputs(R * kp * D, seed + 3)];
const pastShapesOf = (B: number, L: number, D: number, K: number, R: number, kp: number) => [...shapesOf(B, L, D, K), [R, kp, D]];
const rowsTensor = (rows: number[] | null) => rows ? tensor(Int32Array.from(rows), [rows.length]) : undefined;
const rowsName = (R: number, rows: number[] | null) => rows ? `${R} row(s) taken as [${rows.join(', ')}]` : `${R} rows, one per row`;

// [B, L, D, K]: Mamba's K=4, K=1 (pointwise), a kernel wider than the sequence, L=1, D not a multiple of 4.
const shapes: [number, number, number, number][] = [[1, 6, 4, 4], [2, 5, 3, 4], [2, 3, 5, 1], [1, 2, 3, 4], [3, 1, 7, 3]];

const data = (B: number, L: number, D: number, K: number, seed: number) =>
  [inputs(B * L * D, seed), inputs(D * K, seed + 1), inputs(D, seed + 2)];
const shapesOf = (B: number, L: number, D: number, K: number) => [[B, L, D], [D, K], [D]];

const forward: ForwardCase[] = [
  {
    op: 'causalConv1d', name: 'hand values, K=3',
    // One channel, taps [1, 2, 3], bias 10: out_t = 10 + 1·x_{t-2} + 2·x_{t-1} + 3·x_t.
    run: () => ({
      actual: causalConv1d(tensor([1, 2, 3, 4], [1, 4, 1]), tensor([[1, 2, 3]]), tensor([10])),
      expected: [13, 18, 24, 30], shapes: [[1, 4, 1]],
    }),
  },
  ...shapes.map(([B, L, D, K], i): ForwardCase => ({
    op: 'causalConv1d', name: `naive loop B=${B} L=${L} D=${D} K=${K}`,
    run() {
      const xs = data(B, L, D, K, 100 + 10 * i);
      const s = shapesOf(B, L, D, K);
      return { actual: causalConv1d(tensor(xs[0]!, s[0]), tensor(xs[1]!, s[1]), tensor(xs[2]!, s[2])), expected: reference(xs, B, L, D, K), shapes: [[B, L, D]] };
    },
  })),
  ...shapes.slice(0, 3).map(([B, L, D, K], i): ForwardCase => ({
    op: 'causalConv1d', name: `backward equals float64 differences of the naive loop B=${B} L=${L} D=${D} K=${K}`,
    run() {
      const xs = data(B, L, D, K, 200 + 10 * i), w = inputs(B * L * D, 300 + i);
      const actual = engineGradient((x, wt, b) => causalConv1d(x, wt, b), xs, shapesOf(B, L, D, K), w);
      return { actual, expected: referenceGradient((v) => reference(v, B, L, D, K), xs, w), atol: 1e-5, rtol: 1e-5 };
    },
  })),
  ...pastCases.map(([B, L, D, K, R, kp, rows], i): ForwardCase => ({
    op: 'causalConv1d', name: `continued from a past of ${rowsName(R, rows)}, ${kp} positions, equals the naive loop over [past, x] B=${B} L=${L} D=${D} K=${K}`,
    run() {
      const xs = withPast(B, L, D, K, R, kp, 500 + 10 * i);
      const [sx, sw, sb, sp] = pastShapesOf(B, L, D, K, R, kp);
      const past = { inputs: tensor(xs[3]!, sp), ...(rows && { rows: rowsTensor(rows) }) };
      return { actual: causalConv1d(tensor(xs[0]!, sx), tensor(xs[1]!, sw), tensor(xs[2]!, sb), { past }), expected: referenceWithPast(xs, B, L, D, K, kp, rows), shapes: [[B, L, D]] };
    },
  })),
  ...pastCases.slice(0, 3).map(([B, L, D, K, R, kp, rows], i): ForwardCase => ({
    op: 'causalConv1d', name: `backward with a past of ${rowsName(R, rows)} equals float64 differences of the naive loop B=${B} L=${L} D=${D} K=${K}`,
    run() {
      const xs = withPast(B, L, D, K, R, kp, 600 + 10 * i), w = inputs(B * L * D, 700 + i);
      const actual = engineGradient((x, wt, b, p) => causalConv1d(x, wt, b, { past: { inputs: p, ...(rows && { rows: rowsTensor(rows) }) } }), xs, pastShapesOf(B, L, D, K, R, kp), w);
      return { actual, expected: referenceGradient((v) => referenceWithPast(v, B, L, D, K, kp, rows), xs, w), atol: 1e-5, rtol: 1e-5 };
    },
  })),
  // silu in the same kernel: silu of the naive loop, with and without a past.
  ...pastCases.slice(1, 3).map(([B, L, D, K, R, kp, rows], i): ForwardCase => ({
    op: 'causalConv1d', name: `with silu, continued from a past of ${rowsName(R, rows)}, equals silu of the naive loop B=${B} L=${L} D=${D} K=${K}`,
    run() {
      const xs = withPast(B, L, D, K, R, kp, 900 + 10 * i);
      const [sx, sw, sb, sp] = pastShapesOf(B, L, D, K, R, kp);
      const past = { inputs: tensor(xs[3]!, sp), ...(rows && { rows: rowsTensor(rows) }) };
      const silu = (v: number) => v / (1 + Math.exp(-v));
      return { actual: causalConv1d(tensor(xs[0]!, sx), tensor(xs[1]!, sw), tensor(xs[2]!, sb), { past, activation: 'silu' }), expected: referenceWithPast(xs, B, L, D, K, kp, rows).map(silu), atol: 1e-6, rtol: 1e-5 };
    },
  })),
];

const grad: GradCase[] = [
  ...shapes.slice(0, 4).map(([B, L, D, K], i): GradCase => ({
    op: 'causalConv1d', name: `B=${B} L=${L} D=${D} K=${K}`, covers: ['causalConv1dBackward'],
    inputs: () => data(B, L, D, K, 400 + 10 * i).map((v, j) => tensor(v, shapesOf(B, L, D, K)[j])),
    f: (x, w, b) => causalConv1d(x!, w!, b!),
  })),
  ...pastCases.slice(0, 2).map(([B, L, D, K, R, kp, rows], i): GradCase => ({
    op: 'causalConv1d', name: `with a past of ${rowsName(R, rows)} B=${B} L=${L} D=${D} K=${K}`, covers: ['causalConv1dBackward'],
    inputs: () => [...withPast(B, L, D, K, R, kp, 800 + 10 * i).map((v, j) => tensor(v, pastShapesOf(B, L, D, K, R, kp)[j])), ...(rows ? [rowsTensor(rows)!] : [])],
    f: (x, w, b, p, r) => causalConv1d(x!, w!, b!, { past: { inputs: p!, ...(r && { rows: r }) } }),
  })),
  {
    op: 'causalConv1d', name: 'with silu and a past of 2 row(s) taken as [1, 0, 1]', covers: ['causalConv1dBackward', 'unaryGrad'],
    inputs: () => [...withPast(3, 4, 5, 4, 2, 3, 950).map((v, j) => tensor(v, pastShapesOf(3, 4, 5, 4, 2, 3)[j])), rowsTensor([1, 0, 1])!],
    f: (x, w, b, p, r) => causalConv1d(x!, w!, b!, { past: { inputs: p!, rows: r! }, activation: 'silu' }),
  },
  { op: 'causalConv1d', name: 'with silu B=2 L=5 D=3 K=4', covers: ['causalConv1dBackward', 'unaryGrad'], inputs: () => data(2, 5, 3, 4, 960).map((v, j) => tensor(v, shapesOf(2, 5, 3, 4)[j])), f: (x, w, b) => causalConv1d(x!, w!, b!, { activation: 'silu' }) },
];

const x = () => tensor(new Float32Array(2 * 3 * 4), [2, 3, 4]);
export const spec: OpSpec = {
  forward, grad,
  errors: [
    { op: 'causalConv1d', name: 'weight channels differ from x', run: () => causalConv1d(x(), tensor(new Float32Array(12), [3, 4]), tensor(new Float32Array(4))), message: /causalConv1d: weight must be \[D, K\] with D = 4 \(x's channels\), got \[3,4\] \(inputs: #0 float32\[2,3,4\], #1 float32\[3,4\], #2 float32\[4\]\)/ },
    { op: 'causalConv1d', name: 'weight as stored in checkpoints [D,1,K]', run: () => causalConv1d(x(), tensor(new Float32Array(16), [4, 1, 4]), tensor(new Float32Array(4))), message: /causalConv1d: weight must be \[D, K\].*got \[4,1,4\]/ },
    { op: 'causalConv1d', name: 'bias length differs from x channels', run: () => causalConv1d(x(), tensor(new Float32Array(16), [4, 4]), tensor(new Float32Array(3))), message: /causalConv1d: bias must be \[D\] with D = 4.*got \[3\]/ },
    { op: 'causalConv1d', name: 'x not rank 3', run: () => causalConv1d(tensor(new Float32Array(12), [3, 4]), tensor(new Float32Array(16), [4, 4]), tensor(new Float32Array(4))), message: /causalConv1d: x must be \[B, L, D\], got \[3,4\]/ },
    { op: 'causalConv1d', name: 'a past deeper than K − 1', run: () => causalConv1d(x(), tensor(new Float32Array(16), [4, 4]), tensor(new Float32Array(4)), { past: { inputs: tensor(new Float32Array(32), [2, 4, 4]) } }), message: /causalConv1d: the past must be \[2, k ≤ 3, 4\] \(x's rows, .*got \[2,4,4\]/ },
    { op: 'causalConv1d', name: 'a past of another number of rows, without rows', run: () => causalConv1d(x(), tensor(new Float32Array(16), [4, 4]), tensor(new Float32Array(4)), { past: { inputs: tensor(new Float32Array(24), [3, 2, 4]) } }), message: /causalConv1d: the past must be \[2, k ≤ 3, 4\].*got \[3,2,4\]/ },
    { op: 'causalConv1d', name: 'a past row out of range', run: () => causalConv1d(x(), tensor(new Float32Array(16), [4, 4]), tensor(new Float32Array(4)), { past: { inputs: tensor(new Float32Array(24), [3, 2, 4]), rows: tensor(Int32Array.from([2, 3]), [2]) } }), message: /causalConv1d: the past's row 3 for row 1 of x is outside its 3 rows/ },
    { op: 'causalConv1d', name: 'past rows of the wrong shape', run: () => causalConv1d(x(), tensor(new Float32Array(16), [4, 4]), tensor(new Float32Array(4)), { past: { inputs: tensor(new Float32Array(24), [3, 2, 4]), rows: tensor(Int32Array.from([0]), [1]) } }), message: /causalConv1d: the past's rows must be int32 \[2\] \(one per row of x\), got int32\[1\]/ },
    { op: 'causalConv1d', name: 'K = 0', run: () => causalConv1d(x(), tensor(new Float32Array(0), [4, 0]), tensor(new Float32Array(4))), message: /causalConv1d: weight's kernel width K must be at least 1/ },
    { op: 'causalConv1d', name: 'int32 x', run: () => causalConv1d(tensor(new Int32Array(24), [2, 3, 4]), tensor(new Float32Array(16), [4, 4]), tensor(new Float32Array(4))), message: /causalConv1d: x, weight and bias must all be float32 \(inputs: #0 int32\[2,3,4\]/ },
  ],
};
