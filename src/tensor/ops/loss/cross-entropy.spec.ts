import type { OpSpec, ForwardCase, GradCase } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import { f32, values } from '../../testing/reference.js';
import type { Tensor } from '../../tensor.js';
import { crossEntropy, type CrossEntropyOptions } from './cross-entropy.js';

/** Per-row −log softmax(x)[t] by the naive formula in float64, NaN marking ignored rows. */
function rowLosses(x: number[], n: number, v: number, t: number[], ignoreIndex = -100): number[] {
  return Array.from({ length: n }, (_, r) => {
    if (t[r] === ignoreIndex) return NaN;
    const row = x.slice(r * v, (r + 1) * v);
    const m = Math.max(...row);
    return m + Math.log(row.reduce((s, e) => s + Math.exp(e - m), 0)) - row[t[r]!]!;
  });
}

function reduce(losses: number[], opts: CrossEntropyOptions): number[] {
  const kept = losses.filter((l) => !Number.isNaN(l));
  const total = kept.reduce((a, b) => a + b, 0);
  if (opts.reduction === 'none') return losses.map((l) => (Number.isNaN(l) ? 0 : l));
  return [opts.reduction === 'sum' ? total : total / kept.length];
}

function targets(n: number, v: number, seed: number, ignored: number[] = [], ignoreIndex = -100): number[] {
  return values(n, seed, 0, v).map((u, r) => (ignored.includes(r) ? ignoreIndex : Math.floor(u)));
}

type Case = [name: string, n: number, v: number, opts: CrossEntropyOptions, ignoredRows: number[], lo: number, hi: number];
const cases: Case[] = [
  ['mean', 4, 7, {}, [], -3, 3],
  ['sum', 4, 7, { reduction: 'sum' }, [], -3, 3],
  ['none', 5, 3, { reduction: 'none' }, [], -3, 3],
  ['mean with ignored rows', 6, 5, {}, [1, 4], -3, 3],
  ['none with ignored rows', 6, 5, { reduction: 'none' }, [0, 5], -3, 3],
  ['sum, custom ignoreIndex', 5, 4, { reduction: 'sum', ignoreIndex: 2 }, [3], -3, 3],
  ['one class', 3, 1, {}, [], -3, 3],
  ['large logits', 3, 6, {}, [], 500, 520],
  ['wide vocabulary', 2, 5000, {}, [], -10, 10],
];

const forward: ForwardCase[] = cases.map(([name, n, v, opts, ignored, lo, hi], k) => ({
  op: 'crossEntropy', name,
  run() {
    const x = f32(values(n * v, 1500 + k, lo, hi));
    const ii = opts.ignoreIndex ?? -100;
    const t = targets(n, v, 1600 + k, ignored, ii).map((tr, r) => (tr === ii && !ignored.includes(r) ? (tr + 1) % v : tr));
    const expected = reduce(rowLosses(x, n, v, t, ii), opts);
    return {
      actual: crossEntropy(tensor(x, [n, v]), tensor(Int32Array.from(t), [n]), opts),
      expected, shapes: [opts.reduction === 'none' ? [n] : []], atol: 1e-5, rtol: 1e-6,
    };
  },
}));

const grad: GradCase[] = cases.filter((c) => c[1] * c[2] <= 100).map(([name, n, v, opts, ignored], k) => ({
  op: 'crossEntropy', name, covers: ['crossEntropyGrad'],
  inputs: () => {
    const ii = opts.ignoreIndex ?? -100;
    const t = targets(n, v, 1700 + k, ignored, ii).map((tr, r) => (tr === ii && !ignored.includes(r) ? (tr + 1) % v : tr));
    return [tensor(values(n * v, 1800 + k, -2, 2), [n, v]), tensor(Int32Array.from(t), [n])];
  },
  f: (x: Tensor, t: Tensor) => crossEntropy(x, t, opts),
}));

const logits = () => tensor(values(12, 1), [3, 4]);

export const spec: OpSpec = {
  forward: [
    ...forward,
    { op: 'crossEntropy', name: 'every row ignored: mean is NaN, sum is 0', run: () => ({
      actual: [crossEntropy(logits(), tensor(new Int32Array([-100, -100, -100]))), crossEntropy(logits(), tensor(new Int32Array([-100, -100, -100])), { reduction: 'sum' })],
      expected: [[NaN], [0]],
    }) },
    { op: 'crossEntropy', name: 'hand values', run: () => ({
      // Row 0: uniform over 2 classes gives log 2. Row 1: logits [0, ln 3] and target 1 give −log(3/4).
      actual: crossEntropy(tensor([0, 0, 0, Math.log(3)], [2, 2]), tensor(new Int32Array([0, 1])), { reduction: 'none' }),
      expected: [Math.LN2, -Math.log(0.75)], atol: 1e-7, rtol: 1e-6,
    }) },
  ],
  grad,
  errors: [
    { op: 'crossEntropy', name: 'mismatched N', run: () => crossEntropy(logits(), tensor(new Int32Array([0, 1]))), message: /crossEntropy: logits have 3 rows but targets have 2 \(inputs: #0 float32\[3,4\], #1 int32\[2\]\)/ },
    { op: 'crossEntropy', name: 'target too large', run: () => crossEntropy(logits(), tensor(new Int32Array([0, 4, 1]))), message: /crossEntropy: target 4 of row 1 is out of range for 4 classes \(ignoreIndex is -100\) \(inputs: #0 float32\[3,4\], #1 int32\[3\]\)/ },
    { op: 'crossEntropy', name: 'negative target', run: () => crossEntropy(logits(), tensor(new Int32Array([0, 1, -1]))), message: /crossEntropy: target -1 of row 2 is out of range for 4 classes/ },
    { op: 'crossEntropy', name: 'float targets', run: () => crossEntropy(logits(), tensor([0, 1, 2])), message: /crossEntropy: targets must be int32 \[N\] \(inputs: #0 float32\[3,4\], #1 float32\[3\]\)/ },
    { op: 'crossEntropy', name: '1-D logits', run: () => crossEntropy(tensor([1, 2, 3]), tensor(new Int32Array([0]))), message: /crossEntropy: logits must be float32 \[N, V\] \(inputs: #0 float32\[3\], #1 int32\[1\]\)/ },
    { op: 'crossEntropy', name: 'unknown reduction', run: () => crossEntropy(logits(), tensor(new Int32Array([0, 1, 2])), { reduction: 'avg' as 'mean' }), message: /crossEntropy: reduction must be 'mean', 'sum' or 'none', got avg/ },
  ],
};
