import type { OpSpec, ForwardCase, GradCase } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import { linear, linearSplit, matmul } from './matmul.js';
import { add, mul } from '../elementwise/binary.js';
import { getOp, runOp } from '../../op.js';
import { f32, values } from '../../testing/reference.js';
import type { Tensor } from '../../tensor.js';
import { bfloat16ToFloat32, float16ToFloat32, float32ToBfloat16, float32ToFloat16 } from '../../dtype.js';

/** values rounded to a 16-bit storage format: the bits, and the float32 values they stand for. */
function stored16(v: number[], dtype: 'float16' | 'bfloat16'): { bits: Uint16Array; wide: number[] } {
  const bits = Uint16Array.from(v, dtype === 'float16' ? float32ToFloat16 : float32ToBfloat16);
  return { bits, wide: Array.from(bits, dtype === 'float16' ? float16ToFloat32 : bfloat16ToFloat32) };
}

/** Naive float64 product of op(A)[m,k]·op(B)[k,n] for one batch item. */
function naive(a: number[], b: number[], m: number, k: number, n: number, tA: boolean, tB: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let p = 0; p < k; p++) s += (tA ? a[p * m + i]! : a[i * k + p]!) * (tB ? b[j * k + p]! : b[p * n + j]!);
    out.push(s);
  }
  return out;
}

const cases: [number, number, number, boolean, boolean][] = [[1, 1, 1, false, false], [3, 0, 2, false, false], [3, 5, 7, false, false], [17, 9, 33, false, true], [8, 13, 5, true, false], [6, 4, 19, true, true], [33, 65, 17, false, true]];
// Shapes that take each GPU path (matmul.wgsl.ts): 128-wide tiles with ragged edges, and products split along K.
const gpuPaths: [number, number, number, boolean, boolean][] = [[130, 20, 260, false, true], [131, 19, 129, true, false], [129, 9, 140, true, true], [140, 11, 133, false, false],
  [5, 1500, 70, false, true], [7, 1030, 9, true, false], [130, 600, 140, false, true], [131, 520, 129, true, true],
  // Few rows against a B contiguous along K take the few-row kernel: vec4 reads (K a multiple of 4) or not.
  [16, 64, 300, false, true], [12, 36, 5, true, true], [1, 2560, 40, false, true]];

const forward: ForwardCase[] = [...cases, ...gpuPaths].map(([m, k, n, tA, tB], i) => ({
  op: 'matmul', name: `${m}x${k}x${n} tA=${tA} tB=${tB}`,
  run() {
    const a = f32(values(m * k, 1 + i)), b = f32(values(k * n, 50 + i));
    return {
      actual: matmul(tensor(a, tA ? [k, m] : [m, k]), tensor(b, tB ? [n, k] : [k, n]), { transA: tA, transB: tB }),
      expected: naive(a, b, m, k, n, tA, tB), shapes: [[m, n]], atol: 1e-5, rtol: 1e-4,
    };
  },
}));

// 16-bit operands (weights kept at half the memory), in every layout and on both GPU tile paths.
const halves: [number, number, number, boolean, boolean, 'a' | 'b', 'float16' | 'bfloat16'][] = [
  [17, 9, 33, false, true, 'b', 'bfloat16'], [8, 13, 5, true, false, 'b', 'float16'], [130, 20, 260, false, true, 'b', 'float16'],
  [140, 11, 133, false, false, 'b', 'bfloat16'], [5, 1500, 70, false, true, 'b', 'bfloat16'], [6, 4, 19, true, true, 'a', 'bfloat16'],
  [131, 19, 129, true, false, 'a', 'float16'],
  // Sizes that are multiples of 4 read 16-bit operands four at a time (both dtypes, both orientations, one process).
  [12, 8, 132, false, false, 'b', 'float16'], [68, 16, 136, false, false, 'b', 'bfloat16'], [20, 64, 132, false, true, 'b', 'bfloat16'],
  [132, 24, 68, true, false, 'a', 'bfloat16'],
];
halves.forEach(([m, k, n, tA, tB, which, dtype], i) => forward.push({
  op: 'matmul', name: `${m}x${k}x${n} tA=${tA} tB=${tB}, ${which === 'a' ? 'A' : 'B'} in ${dtype}`,
  run() {
    let a = f32(values(m * k, 70 + i)), b = f32(values(k * n, 90 + i));
    const h = stored16(which === 'a' ? a : b, dtype);
    if (which === 'a') a = h.wide; else b = h.wide;
    const A = which === 'a' ? tensor(h.bits, tA ? [k, m] : [m, k], { dtype }) : tensor(a, tA ? [k, m] : [m, k]);
    const B = which === 'b' ? tensor(h.bits, tB ? [n, k] : [k, n], { dtype }) : tensor(b, tB ? [n, k] : [k, n]);
    return { actual: matmul(A, B, { transA: tA, transB: tB }), expected: naive(a, b, m, k, n, tA, tB), shapes: [[m, n]], atol: 1e-5, rtol: 1e-4 };
  },
}));

forward.push(
  { op: 'matmul', name: 'batched [2,3]x[2,3,4,5]·[2,3,5,2]', run() {
    const a = f32(values(2 * 3 * 4 * 5, 7)), b = f32(values(2 * 3 * 5 * 2, 8));
    const e: number[] = [];
    for (let z = 0; z < 6; z++) e.push(...naive(a.slice(z * 20, z * 20 + 20), b.slice(z * 10, z * 10 + 10), 4, 5, 2, false, false));
    return { actual: matmul(tensor(a, [2, 3, 4, 5]), tensor(b, [2, 3, 5, 2])), expected: e, shapes: [[2, 3, 4, 2]], rtol: 1e-4 };
  } },
  { op: 'matmul', name: 'batched, split along K [3,6,600]·[3,600,5]', run() {
    const a = f32(values(3 * 6 * 600, 17)), b = f32(values(3 * 600 * 5, 18));
    const e: number[] = [];
    for (let z = 0; z < 3; z++) e.push(...naive(a.slice(z * 3600, z * 3600 + 3600), b.slice(z * 3000, z * 3000 + 3000), 6, 600, 5, false, false));
    return { actual: matmul(tensor(a, [3, 6, 600]), tensor(b, [3, 600, 5])), expected: e, shapes: [[3, 6, 5]], atol: 1e-4, rtol: 1e-4 };
  } },
  { op: 'matmul', name: 'shared rank-2 left operand against a batch', run() {
    const a = f32(values(12, 9)), b = f32(values(2 * 4 * 5, 10));
    const e = [...naive(a, b.slice(0, 20), 3, 4, 5, false, false), ...naive(a, b.slice(20), 3, 4, 5, false, false)];
    return { actual: matmul(tensor(a, [3, 4]), tensor(b, [2, 4, 5])), expected: e, shapes: [[2, 3, 5]], rtol: 1e-4 };
  } },
  // The bias added as the product is stored, on each GPU path: 128-wide tiles, a K split (added in the sum), few rows.
  ...([[130, 20, 260, false], [131, 520, 129, true], [12, 36, 5, false]] as const).map(([m, k, n, tA], i): ForwardCase => ({
    op: 'matmul', name: `linear ${m}x${k}x${n}${tA ? ' (A transposed)' : ''} + bias`, run() {
      const a = f32(values(m * k, 60 + i)), w = f32(values(k * n, 63 + i)), bias = f32(values(n, 66 + i));
      const e = naive(a, w, m, k, n, tA, true).map((v, j) => v + bias[j % n]!);
      const A = tensor(a, tA ? [k, m] : [m, k]);
      const actual = tA ? matmul(A, tensor(w, [n, k]), { transA: true, transB: true, bias: tensor(bias, [n]) }) : linear(A, tensor(w, [n, k]), tensor(bias, [n]));
      return { actual, expected: e, shapes: [[m, n]], atol: 1e-5, rtol: 1e-4 };
    },
  })),
  // Blocks of output columns, each its own output (linearSplit), on each GPU path, with and without bias; equal
  // blocks without a bias and more than a prompt's rows run as a product batched over the blocks.
  ...([[130, 20, [100, 160], false], [131, 520, [43, 43, 43], true], [12, 36, [2, 1, 3], true], [2, 5, [6], false], [130, 20, [80, 80], false], [40, 36, [7, 7, 7], false]] as const).map(([m, k, widths, withBias], i): ForwardCase => ({
    op: 'matmul', name: `${m}x${k} into columns [${widths.join(', ')}]${withBias ? ' + bias' : ''}`, run() {
      const n = widths.reduce((x, w) => x + w, 0);
      const a = f32(values(m * k, 80 + i)), w = f32(values(k * n, 84 + i)), bias = f32(values(n, 88 + i));
      const plain = naive(a, w, m, k, n, false, true).map((v, j) => v + (withBias ? bias[j % n]! : 0));
      const e: number[][] = [];
      let at = 0;
      for (const width of widths) { const part: number[] = []; for (let r = 0; r < m; r++) part.push(...plain.slice(r * n + at, r * n + at + width)); e.push(part); at += width; }
      const actual = linearSplit(tensor(a, [m, k]), tensor(w, [n, k]), widths, withBias ? tensor(bias, [n]) : undefined);
      return { actual, expected: e, shapes: widths.map((width) => [m, width]), atol: 1e-5, rtol: 1e-4 };
    },
  })),
  // softplus applied as the product is stored (Mamba's Δ), on each GPU path: values up to ±30 cross its threshold of 20.
  ...([[130, 20, 260, false], [131, 520, 129, true], [12, 36, 5, false], [3, 160, 40, false]] as const).map(([m, k, n, tA], i): ForwardCase => ({
    op: 'matmul', name: `linear ${m}x${k}x${n}${tA ? ' (A transposed)' : ''} + bias, then softplus`, run() {
      const a = f32(values(m * k, 90 + i, -1, 1)), w = f32(values(k * n, 93 + i, -1, 1)), bias = f32(values(n, 96 + i, -6, 6));
      const sp = (x: number) => (x > 20 ? x : Math.log1p(Math.exp(x)));
      const e = naive(a, w, m, k, n, tA, true).map((v, j) => sp(Math.fround(Math.fround(v) + bias[j % n]!)));
      const A = tensor(a, tA ? [k, m] : [m, k]), W = tensor(w, [n, k]), B = tensor(bias, [n]);
      const actual = tA ? matmul(A, W, { transA: true, transB: true, bias: B, activation: 'softplus' }) : linear(A, W, B, 'softplus');
      return { actual, expected: e, shapes: [[m, n]], atol: 1e-5, rtol: 1e-4 };
    },
  })),
  { op: 'matmul', name: 'linear layer x[2,3,4]·W[5,4]ᵀ + bias', run() {
    const x = f32(values(24, 11)), w = f32(values(20, 12)), bias = f32(values(5, 13));
    const e = naive(x, w, 6, 4, 5, false, true).map((v, i) => v + bias[i % 5]!);
    return { actual: linear(tensor(x, [2, 3, 4]), tensor(w, [5, 4]), tensor(bias, [5])), expected: e, shapes: [[2, 3, 5]], rtol: 1e-4 };
  } },
);

const grad: GradCase[] = [
  ...cases.slice(1, 5).map(([m, k, n, tA, tB], i): GradCase => ({
    op: 'matmul', name: `${m}x${k}x${n} tA=${tA} tB=${tB}`,
    inputs: () => [tensor(values(m * k, 20 + i), tA ? [k, m] : [m, k]), tensor(values(k * n, 30 + i), tB ? [n, k] : [k, n])],
    f: (a: Tensor, b: Tensor) => matmul(a, b, { transA: tA, transB: tB }),
  })),
  { op: 'matmul', name: 'batched against a shared operand', inputs: () => [tensor(values(2 * 3 * 4, 40), [2, 3, 4]), tensor(values(4 * 2, 41), [4, 2])],
    f: (a: Tensor, b: Tensor) => matmul(a, b) },
  { op: 'matmul', name: 'shared left operand', inputs: () => [tensor(values(3 * 4, 42), [3, 4]), tensor(values(2 * 4 * 2, 43), [2, 4, 2])],
    f: (a: Tensor, b: Tensor) => matmul(a, b) },
  { op: 'matmul', name: 'linear with bias', inputs: () => [tensor(values(2 * 3 * 4, 44), [2, 3, 4]), tensor(values(5 * 4, 45), [5, 4]), tensor(values(5, 46), [5])],
    f: (x: Tensor, w: Tensor, b: Tensor) => linear(x, w, b) },
  { op: 'matmul', name: 'x[2,3,4]·W[6,4]ᵀ + bias into columns [1, 3, 2], one of them unused', inputs: () => [tensor(values(2 * 3 * 4, 50), [2, 3, 4]), tensor(values(6 * 4, 51), [6, 4]), tensor(values(6, 52), [6])],
    f: (x: Tensor, w: Tensor, b: Tensor) => { const [p, , r] = linearSplit(x, w, [1, 3, 2], b); return add(mul(p!, p!), r!); } },
  { op: 'matmul', name: 'x[2,9,4]·W[6,4]ᵀ into equal columns [3, 3] (a product batched over the blocks), one of them unused', inputs: () => [tensor(values(2 * 9 * 4, 56), [2, 9, 4]), tensor(values(6 * 4, 57), [6, 4])],
    f: (x: Tensor, w: Tensor) => { const [p] = linearSplit(x, w, [3, 3]); return mul(p!, p!); } },
  { op: 'matmul', name: 'linear with bias, then softplus', inputs: () => [tensor(values(2 * 3 * 4, 53), [2, 3, 4]), tensor(values(5 * 4, 54), [5, 4]), tensor(values(5, 55), [5])],
    f: (x: Tensor, w: Tensor, b: Tensor) => linear(x, w, b, 'softplus') },
  { op: 'matmul', name: 'batched product with bias', inputs: () => [tensor(values(2 * 3 * 4, 47), [2, 3, 4]), tensor(values(2 * 4 * 5, 48), [2, 4, 5]), tensor(values(5, 49), [5])],
    f: (a: Tensor, b: Tensor, c: Tensor) => matmul(a, b, { bias: c }) },
];

export const spec: OpSpec = {
  forward,
  grad,
  errors: [
    { op: 'matmul', name: 'inner dimensions differ', run: () => matmul(tensor(values(6, 1), [2, 3]), tensor(values(8, 2), [4, 2])), message: /matmul: inner dimensions differ \(3 vs 4; transA=false, transB=false\) \(inputs: #\d+ float32\[2,3\], #\d+ float32\[4,2\]\)/ },
    { op: 'matmul', name: 'batch dimensions differ', run: () => matmul(tensor(values(12, 1), [2, 2, 3]), tensor(values(18, 2), [3, 3, 2])), message: /matmul: batch dimensions \[2\] and \[3\] differ/ },
    { op: 'matmul', name: 'column widths that do not sum to the columns', run: () => linearSplit(tensor(values(6, 1), [2, 3]), tensor(values(12, 2), [4, 3]), [1, 2]), message: /matmul: columns must be positive widths that sum to the 4 output columns, for operands without batch dimensions \(got \[1, 2\]\)/ },
    { op: 'matmul', name: 'an activation with columns', run: () => runOp(getOp('matmul'), [tensor(values(6, 1), [2, 3]), tensor(values(12, 2), [4, 3])], { transB: true, columns: [2, 2], activation: 'softplus' }), message: /matmul: activation must be 'softplus', and cannot be combined with columns \(got softplus\)/ },
    { op: 'matmul', name: 'bias of the wrong size', run: () => linear(tensor(values(6, 1), [2, 3]), tensor(values(12, 2), [4, 3]), tensor(values(3, 3), [3])), message: /matmul: the bias must be a float vector of the 4 output columns/ },
    { op: 'matmul', name: 'rank 1', run: () => matmul(tensor([1, 2]), tensor([1, 2])), message: /matmul: operands must have rank 2 or more/ },
    { op: 'matmul', name: 'int32 operand', run: () => matmul(tensor(Int32Array.from([1, 2, 3, 4]), [2, 2]), tensor(values(4, 2), [2, 2])), message: /matmul: operands must be float32, float16 or bfloat16 \(inputs: #\d+ int32\[2,2\]/ },
  ],
};
