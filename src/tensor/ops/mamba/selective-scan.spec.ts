import type { ForwardCase, GradCase, OpSpec } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import type { Tensor } from '../../tensor.js';
import { add } from '../elementwise/binary.js';
import { reshape } from '../shape/reshape.js';
import { slice } from '../shape/slice.js';
import { selectiveScan } from './selective-scan.js';
import { engineGradient, inputs, referenceGradient } from '../../testing/reference-grad.js';
import { setArenaBudget } from '../../backends/cpu/wasm.js';
import { softplus as softplus64 } from '../elementwise/unary-math.js';

/**
 * The independent reference: the recurrence written step by step in float64, exactly as paper-method §1.3 states
 * it (discretise, update every state, read out, add the skip), from zero states or the initial states h0 [B,D,N].
 * Returns y [B,L,D] then the states [B,L,D,N].
 */
export function naiveScan([x, dt, A, Bm, C, Dk, h0]: number[][], B: number, L: number, D: number, N: number): { y: number[]; states: number[] } {
  const y = new Array<number>(B * L * D), states = new Array<number>(B * L * D * N);
  for (let b = 0; b < B; b++) {
    const s = Array.from({ length: D }, (_, c) => Array.from({ length: N }, (_, n) => h0 ? h0[(b * D + c) * N + n]! : 0));
    for (let t = 0; t < L; t++) {
      for (let c = 0; c < D; c++) {
        const i = (b * L + t) * D + c;
        let out = 0;
        for (let n = 0; n < N; n++) {
          const aBar = Math.exp(dt![i]! * A![c * N + n]!);
          const bu = dt![i]! * Bm![(b * L + t) * N + n]! * x![i]!;
          s[c]![n] = aBar * s[c]![n]! + bu;
          out += s[c]![n]! * C![(b * L + t) * N + n]!;
          states[i * N + n] = s[c]![n]!;
        }
        y[i] = out + Dk![c]! * x![i]!;
      }
    }
  }
  return { y, states };
}

type Dims = [number, number, number, number];
// [B, L, D, N]: L=1, N=1, Mamba's N=16, D not a multiple of 4, B > 1.
const dims: Dims[] = [[1, 1, 3, 1], [2, 5, 3, 4], [2, 4, 5, 16], [3, 3, 7, 2], [1, 6, 2, 16]];

/** x, Δ > 0 (post-softplus), A < 0 (−exp(A_log)), B, C, D. */
function data([B, L, D, N]: Dims, seed: number): number[][] {
  return [inputs(B * L * D, seed), inputs(B * L * D, seed + 1, 0.05, 1.2), inputs(D * N, seed + 2, -2, -0.1),
    inputs(B * L * N, seed + 3), inputs(B * L * N, seed + 4), inputs(D, seed + 5)];
}
const shapesOf = ([B, L, D, N]: Dims) => [[B, L, D], [B, L, D], [D, N], [B, L, N], [B, L, N], [D], [B, D, N]];
const make = (d: Dims, seed: number) => data(d, seed).map((v, i) => tensor(v, shapesOf(d)[i]));
/** The scan's inputs followed by an initial state h0 [B, D, N]. */
const dataH0 = (d: Dims, seed: number) => [...data(d, seed), inputs(d[0] * d[2] * d[3], seed + 6)];
const makeH0 = (d: Dims, seed: number) => dataH0(d, seed).map((v, i) => tensor(v, shapesOf(d)[i]));

/** What the gradient checks differentiate: y alone, the states alone, or both at once (y broadcast over N). */
type Output = 'y' | 'state' | 'both';
function scanOutput(which: Output, [B, L, D]: Dims) {
  return (x: Tensor, dt: Tensor, A: Tensor, Bm: Tensor, C: Tensor, Dk: Tensor, h0?: Tensor, initialRows?: Tensor): Tensor => {
    const initialState = h0 ? { initialState: h0, ...(initialRows && { initialRows }) } : {};
    if (which === 'y') return selectiveScan(x, dt, A, Bm, C, Dk, initialState);
    const [y, s] = selectiveScan(x, dt, A, Bm, C, Dk, { returnState: true, ...initialState });
    if (which === 'state') { y.dispose(); return s; }
    const y4 = reshape(y, [B, L, D, 1]);
    const out = add(y4, s);
    y4.dispose(); y.dispose(); s.dispose();
    return out;
  };
}
function referenceOutput(which: Output, [B, L, D, N]: Dims) {
  return (xs: number[][]): number[] => {
    const { y, states } = naiveScan(xs, B, L, D, N);
    if (which === 'y') return y;
    if (which === 'state') return states;
    return states.map((s, i) => s + y[Math.floor(i / N)]!);
  };
}

const forward: ForwardCase[] = [
  {
    op: 'selectiveScan', name: 'hand values, one channel and state',
    // Δ=1, A=ln ½ so Ā=½; B=C=1, D=0.5, x = [2, 0, 4]: s = [2, 1, 4.5], y = s + x/2 = [3, 1, 6.5].
    run: () => {
      const [y, s] = selectiveScan(tensor([2, 0, 4], [1, 3, 1]), tensor([1, 1, 1], [1, 3, 1]), tensor([[Math.log(0.5)]]),
        tensor([1, 1, 1], [1, 3, 1]), tensor([1, 1, 1], [1, 3, 1]), tensor([0.5]), { returnState: true });
      return { actual: [y, s], expected: [[3, 1, 6.5], [2, 1, 4.5]], shapes: [[1, 3, 1], [1, 3, 1, 1]] };
    },
  },
  ...dims.map((d, i): ForwardCase => ({
    op: 'selectiveScan', name: `naive per-step loop B=${d[0]} L=${d[1]} D=${d[2]} N=${d[3]}`,
    run() {
      const xs = data(d, 100 + 10 * i);
      const ts = xs.map((v, j) => tensor(v, shapesOf(d)[j]));
      const { y, states } = naiveScan(xs, ...d);
      const y1 = selectiveScan(ts[0]!, ts[1]!, ts[2]!, ts[3]!, ts[4]!, ts[5]!);
      const [y2, s2] = selectiveScan(ts[0]!, ts[1]!, ts[2]!, ts[3]!, ts[4]!, ts[5]!, { returnState: true });
      const [B, L, D, N] = d;
      return { actual: [y1, y2, s2], expected: [y, y, states], shapes: [[B, L, D], [B, L, D], [B, L, D, N]] };
    },
  })),
  ...(['y', 'state', 'both'] as const).flatMap((which) => dims.slice(0, 4).map((d, i): ForwardCase => ({
    op: 'selectiveScan', name: `backward (${which}) equals float64 differences of the naive loop B=${d[0]} L=${d[1]} D=${d[2]} N=${d[3]}`,
    run() {
      const [B, L, D, N] = d;
      const xs = data(d, 200 + 10 * i), w = inputs(B * L * D * (which === 'y' ? 1 : N), 300 + i);
      const actual = engineGradient(scanOutput(which, d), xs, shapesOf(d), w);
      return { actual, expected: referenceGradient(referenceOutput(which, d), xs, w), atol: 2e-5, rtol: 1e-4 };
    },
  }))),
  ...dims.slice(0, 4).map((d, i): ForwardCase => ({
    op: 'selectiveScan', name: `from an initial state: the naive loop, and the backward (h0's gradient too) against its float64 differences B=${d[0]} L=${d[1]} D=${d[2]} N=${d[3]}`,
    run() {
      const [B, L, D, N] = d;
      const xs = dataH0(d, 800 + 10 * i), w = inputs(B * L * D * N, 900 + i);
      const ts = xs.map((v, j) => tensor(v, shapesOf(d)[j]));
      const { y, states } = naiveScan(xs, ...d);
      const [y2, s2] = selectiveScan(ts[0]!, ts[1]!, ts[2]!, ts[3]!, ts[4]!, ts[5]!, { returnState: true, initialState: ts[6]! });
      const g = engineGradient(scanOutput('both', d), xs, shapesOf(d), w);
      return { actual: [y2, s2, ...g], expected: [y, states, ...referenceGradient(referenceOutput('both', d), xs, w)], atol: 2e-5, rtol: 1e-4 };
    },
  })),
  ...dims.slice(1, 4).map((d, i): ForwardCase => {
    const [B, L, D, N] = d;
    // Two runs' states taken in turn by the rows, then one state for every row.
    const R = i === 2 ? 1 : 2, rows = Array.from({ length: B }, (_, b) => (b + 1) % R);
    return {
      op: 'selectiveScan', name: `from initial states taken by row [${rows.join(', ')}] of ${R}: the naive loop from each row's state, and the backward against its float64 differences B=${B} L=${L} D=${D} N=${N}`,
      run() {
        const xs = [...data(d, 1100 + 10 * i), inputs(R * D * N, 1106 + 10 * i)], w = inputs(B * L * D * N, 1200 + i);
        const shapes = [...shapesOf(d).slice(0, 6), [R, D, N]];
        // The naive loop reads a state per row: each row's, copied out.
        const perRow = (v: number[][]) => [...v.slice(0, 6), rows.flatMap((r) => v[6]!.slice(r * D * N, (r + 1) * D * N))];
        const ts = xs.map((v, j) => tensor(v, shapes[j]));
        const initialRows = tensor(Int32Array.from(rows), [B]);
        const { y, states } = naiveScan(perRow(xs), ...d);
        const [y2, s2] = selectiveScan(ts[0]!, ts[1]!, ts[2]!, ts[3]!, ts[4]!, ts[5]!, { returnState: true, initialState: ts[6]!, initialRows });
        const f = scanOutput('both', d);
        const g = engineGradient((...t) => f(...(t as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]), initialRows), xs, shapes, w);
        return { actual: [y2, s2, ...g], expected: [y, states, ...referenceGradient((v) => referenceOutput('both', d)(perRow(v)), xs, w)], atol: 2e-5, rtol: 1e-4 };
      },
    };
  }),
  {
    // What a Mamba forward resumed at a position relies on: the scan over [p, L) from the state after p − 1 is the
    // rest of the scan over [0, L), to the bit.
    op: 'selectiveScan', name: 'a scan split at a position and resumed from the state there equals the whole scan exactly',
    async run() {
      const d: Dims = [2, 7, 5, 16], p = 3;
      const [x, dt, A, Bm, C, Dk] = make(d, 950) as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
      const [y, st] = selectiveScan(x, dt, A, Bm, C, Dk, { returnState: true });
      const part = (t: Tensor, a: number, b: number) => slice(t, 1, a, b);
      const [, st1] = selectiveScan(part(x, 0, p), part(dt, 0, p), A, part(Bm, 0, p), part(C, 0, p), Dk, { returnState: true });
      const h0 = reshape(part(st1, p - 1, p), [2, 5, 16]);
      const [y2, st2] = selectiveScan(part(x, p, 7), part(dt, p, 7), A, part(Bm, p, 7), part(C, p, 7), Dk, { returnState: true, initialState: h0 });
      return { actual: [y2, st2], expected: [await part(y, p, 7).data(), await part(st, p, 7).data()], atol: 0, rtol: 0 };
    },
  },
  {
    op: 'selectiveScan', name: 'no position: the initial state gets a zero gradient',
    run() {
      const d: Dims = [2, 0, 3, 4];
      const xs = dataH0(d, 990);
      const g = engineGradient(scanOutput('y', d), xs, shapesOf(d), []);
      return { actual: [g[6]!], expected: [new Array<number>(2 * 3 * 4).fill(0)], shapes: [[2, 3, 4]] };
    },
  },
];

// Enough channels that the CPU kernels split them over threads (where the machine has several), so that the
// per-thread partial sums of gB and gC are exercised.
const wide: Dims = [2, 4, 320, 16];

forward.push(
  {
    op: 'selectiveScan', name: `naive per-step loop, channels split over threads B=${wide[0]} L=${wide[1]} D=${wide[2]} N=${wide[3]}`,
    run() {
      const xs = data(wide, 500);
      const ts = xs.map((v, j) => tensor(v, shapesOf(wide)[j]));
      const { y, states } = naiveScan(xs, ...wide);
      const [y2, s2] = selectiveScan(ts[0]!, ts[1]!, ts[2]!, ts[3]!, ts[4]!, ts[5]!, { returnState: true });
      return { actual: [y2, s2], expected: [y, states] };
    },
  },
  {
    // The CPU backend cuts the batch into row chunks that fit its kernel arena; a tiny budget makes every row a chunk.
    op: 'selectiveScan', name: 'batch cut into row chunks: forward and backward equal the naive loop',
    run() {
      const d: Dims = [3, 3, 5, 4];
      const xs = data(d, 600), w = inputs(3 * 3 * 5 * 4, 601);
      const { y, states } = naiveScan(xs, ...d);
      setArenaBudget(1);
      try {
        const ts = xs.map((v, j) => tensor(v, shapesOf(d)[j]));
        const [y2, s2] = selectiveScan(ts[0]!, ts[1]!, ts[2]!, ts[3]!, ts[4]!, ts[5]!, { returnState: true });
        const g = engineGradient(scanOutput('both', d), xs, shapesOf(d), w);
        return { actual: [y2, s2, ...g], expected: [y, states, ...referenceGradient(referenceOutput('both', d), xs, w)], atol: 2e-5, rtol: 1e-4 };
      } finally {
        setArenaBudget(undefined);
      }
    },
  },
);

// Δ before its softplus, over both sides of 0 and past PyTorch's threshold of 20 (where softplus is the identity).
const rawDelta = (n: number, seed: number) => inputs(n, seed, -3, 3).map((v, i) => (i % 7 === 3 ? 20.5 + v / 10 : v));
/** The scan's inputs with Δ raw (before softplus), and the same with Δ activated for the naive loop. */
function rawData(d: Dims, seed: number): { raw: number[][]; activated: number[][] } {
  const raw = data(d, seed);
  raw[1] = rawDelta(d[0] * d[1] * d[2], seed + 1);
  return { raw, activated: raw.map((v, i) => (i === 1 ? v.map(softplus64) : v)) };
}
const scanRaw = ([B, L, D]: Dims) => (x: Tensor, dt: Tensor, A: Tensor, Bm: Tensor, C: Tensor, Dk: Tensor): Tensor => {
  const [y, s] = selectiveScan(x, dt, A, Bm, C, Dk, { returnState: true, deltaSoftplus: true });
  const y4 = reshape(y, [B, L, D, 1]);
  const out = add(y4, s);
  y4.dispose(); y.dispose(); s.dispose();
  return out;
};
forward.push(...dims.slice(1, 4).map((d, i): ForwardCase => ({
  op: 'selectiveScan', name: `deltaSoftplus: the naive loop on softplus(Δ), and the backward (Δ's through softplus) against its float64 differences B=${d[0]} L=${d[1]} D=${d[2]} N=${d[3]}`,
  run() {
    const [B, L, D, N] = d;
    const { raw, activated } = rawData(d, 1300 + 10 * i), w = inputs(B * L * D * N, 1400 + i);
    const ts = raw.map((v, j) => tensor(v, shapesOf(d)[j]));
    const { y, states } = naiveScan(activated, ...d);
    const [y2, s2] = selectiveScan(ts[0]!, ts[1]!, ts[2]!, ts[3]!, ts[4]!, ts[5]!, { returnState: true, deltaSoftplus: true });
    const g = engineGradient(scanRaw(d), raw, shapesOf(d).slice(0, 6), w);
    const reference = (v: number[][]) => referenceOutput('both', d)(v.map((a, j) => (j === 1 ? a.map(softplus64) : a)));
    return { actual: [y2, s2, ...g], expected: [y, states, ...referenceGradient(reference, raw, w)], atol: 2e-5, rtol: 1e-4 };
  },
})));

const grad: GradCase[] = [
  {
    op: 'selectiveScan', name: 'both, deltaSoftplus', covers: ['selectiveScanBackward'],
    inputs: () => { const d: Dims = [2, 5, 3, 4]; const { raw } = rawData(d, 1500); return raw.map((v, j) => tensor(v, shapesOf(d)[j])); },
    f: scanRaw([2, 5, 3, 4]),
  },
  ...(['y', 'state', 'both'] as const).flatMap((which) => dims.slice(1, 4).map((d, i): GradCase => ({
    op: 'selectiveScan', name: `${which} B=${d[0]} L=${d[1]} D=${d[2]} N=${d[3]}`, covers: ['selectiveScanBackward'],
    inputs: () => make(d, 400 + 10 * i),
    f: scanOutput(which, d),
  }))),
  ...dims.slice(1, 3).map((d, i): GradCase => ({
    op: 'selectiveScan', name: `both, from an initial state B=${d[0]} L=${d[1]} D=${d[2]} N=${d[3]}`, covers: ['selectiveScanBackward'],
    inputs: () => makeH0(d, 1000 + 10 * i),
    f: scanOutput('both', d),
  })),
  {
    op: 'selectiveScan', name: 'both, from initial states taken by row [1, 0, 1] of 2', covers: ['selectiveScanBackward', 'indexAdd'],
    inputs: () => [...make([3, 3, 4, 2], 1050), tensor(inputs(2 * 4 * 2, 1057), [2, 4, 2]), tensor(Int32Array.from([1, 0, 1]), [3])],
    f: scanOutput('both', [3, 3, 4, 2]),
  },
  { op: 'selectiveScan', name: `both, channels split over threads B=${wide[0]} L=${wide[1]} D=${wide[2]} N=${wide[3]}`, inputs: () => make(wide, 700), f: scanOutput('both', wide) },
];

const ok: Dims = [2, 3, 4, 2];
/** Valid inputs with input `i` replaced by a tensor of `shape` (and dtype int32 if asked). */
function withBad(i: number, shape: number[], int = false): Tensor {
  const ts = make(ok, 1);
  ts[i] = int ? tensor(new Int32Array(shape.reduce((a, b) => a * b, 1)), shape) : tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
  return selectiveScan(ts[0]!, ts[1]!, ts[2]!, ts[3]!, ts[4]!, ts[5]!);
}

export const spec: OpSpec = {
  forward, grad,
  errors: [
    { op: 'selectiveScan', name: 'delta shape differs from x', run: () => withBad(1, [2, 3, 5]), message: /selectiveScan: delta \[2,3,5\] must have x's shape \[2,3,4\] \(inputs: #0 float32\[2,3,4\], #1 float32\[2,3,5\]/ },
    { op: 'selectiveScan', name: 'A channels differ from x', run: () => withBad(2, [5, 2]), message: /selectiveScan: A must be \[D, N\] with D = 4 \(x's channels\), got \[5,2\]/ },
    { op: 'selectiveScan', name: 'B states differ from A', run: () => withBad(3, [2, 3, 3]), message: /selectiveScan: B must be \[B, L, N\] = \[2,3,2\].*got \[2,3,3\]/ },
    { op: 'selectiveScan', name: 'C length differs from x', run: () => withBad(4, [2, 4, 2]), message: /selectiveScan: C must be \[B, L, N\] = \[2,3,2\].*got \[2,4,2\]/ },
    { op: 'selectiveScan', name: 'D skip length differs from x channels', run: () => withBad(5, [3]), message: /selectiveScan: D must be \[D\] with D = 4 \(x's channels\), got \[3\]/ },
    { op: 'selectiveScan', name: 'initial state of the wrong shape', run: () => { const ts = make(ok, 1); return selectiveScan(ts[0]!, ts[1]!, ts[2]!, ts[3]!, ts[4]!, ts[5]!, { initialState: tensor(new Float32Array(2 * 4 * 3), [2, 4, 3]) }); }, message: /selectiveScan: the initial state must be \[B, D, N\] = \[2,4,2\] \(x's batch and channels, A's states\), got \[2,4,3\]/ },
    { op: 'selectiveScan', name: 'an initial row out of range', run: () => { const ts = make(ok, 1); return selectiveScan(ts[0]!, ts[1]!, ts[2]!, ts[3]!, ts[4]!, ts[5]!, { initialState: tensor(new Float32Array(3 * 4 * 2), [3, 4, 2]), initialRows: tensor(Int32Array.from([2, -1]), [2]) }); }, message: /selectiveScan: the past's row -1 for row 1 of x is outside its 3 rows/ },
    { op: 'selectiveScan', name: 'initial rows without an initial state', run: () => { const ts = make(ok, 1); return selectiveScan(ts[0]!, ts[1]!, ts[2]!, ts[3]!, ts[4]!, ts[5]!, { initialRows: tensor(Int32Array.from([0, 0]), [2]) }); }, message: /selectiveScan: initialRows needs an initialState/ },
    { op: 'selectiveScan', name: 'x not rank 3', run: () => withBad(0, [3, 4]), message: /selectiveScan: x must be \[B, L, D\], got \[3,4\]/ },
    { op: 'selectiveScan', name: 'int32 delta', run: () => withBad(1, [2, 3, 4], true), message: /selectiveScan: x, delta, A, B, C and D must all be float32 \(inputs: #0 float32\[2,3,4\], #1 int32\[2,3,4\]/ },
  ],
};
