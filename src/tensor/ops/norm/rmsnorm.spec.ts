import type { ForwardCase, OpSpec } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import { rmsnorm } from './rmsnorm.js';
import { f32, size, values } from '../../testing/reference.js';
import type { Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';

/** Naive float64 RMSNorm, row by row. */
function reference(xs: number[], w: number[], eps: number): number[] {
  const d = w.length, out: number[] = [];
  for (let r = 0; r < xs.length / d; r++) {
    const row = xs.slice(r * d, r * d + d);
    const ms = row.reduce((s, v) => s + v * v, 0) / d;
    for (let i = 0; i < d; i++) out.push((row[i]! / Math.sqrt(ms + eps)) * w[i]!);
  }
  return out;
}

/** [x shape, eps, scale of x, whether row 0 is all zeros] */
const cases: [Shape, number, number, boolean][] = [
  [[2, 3, 8], 1e-5, 1, true],
  [[5], 1e-5, 1, false],
  [[2, 1, 2, 6], 1e-5, 3, false],
  [[3, 1024], 1e-5, 50, false],
  [[4, 6], 0.5, 0.1, true],
  [[3, 1], 1e-6, 1, false],
];

const forward: ForwardCase[] = cases.map(([shape, eps, scale, zeroRow], k) => ({
  op: 'rmsnorm', name: `${shape} eps ${eps}${zeroRow ? ' with a row of zeros' : ''}`,
  run() {
    const d = shape[shape.length - 1]!;
    const xs = f32(values(size(shape), 800 + k, -scale, scale));
    if (zeroRow) xs.fill(0, 0, d);
    const w = f32(values(d, 810 + k, 0.5, 1.5));
    return { actual: rmsnorm(tensor(xs, shape), tensor(w), eps), expected: reference(xs, w, eps), shapes: [shape], atol: 1e-5, rtol: 1e-5 };
  },
}));

export const spec: OpSpec = {
  forward,
  grad: [
    { op: 'rmsnorm', name: '[3,8] eps 1e-5', covers: ['rmsnormGrad'], inputs: () => [tensor(values(24, 61), [3, 8]), tensor(values(8, 62, 0.5, 1.5))], f: (x: Tensor, w: Tensor) => rmsnorm(x, w, 1e-5) },
    { op: 'rmsnorm', name: '[2,2,5] eps 0.1, small x', covers: ['rmsnormGrad'], inputs: () => [tensor(values(20, 63, -0.3, 0.3), [2, 2, 5]), tensor(values(5, 64, -1, 1))], f: (x: Tensor, w: Tensor) => rmsnorm(x, w, 0.1) },
  ],
  errors: [
    { op: 'rmsnorm', name: 'weight of the wrong length', run: () => rmsnorm(tensor(values(8, 1), [2, 4]), tensor([1, 1, 1])), message: /rmsnorm: weight has shape \[3\] but must be \[4\], the last axis of x \(inputs: #\d+ float32\[2,4\], #\d+ float32\[3\]\)/ },
    { op: 'rmsnorm', name: '2-D weight', run: () => rmsnorm(tensor(values(8, 1), [2, 4]), tensor(values(8, 1), [2, 4])), message: /rmsnorm: weight has shape \[2,4\] but must be \[4\]/ },
    { op: 'rmsnorm', name: 'int32 input', run: () => rmsnorm(tensor(Int32Array.from([1, 2])), tensor([1, 1])), message: /rmsnorm: inputs must be float32/ },
    { op: 'rmsnorm', name: 'negative eps', run: () => rmsnorm(tensor([1, 2]), tensor([1, 1]), -1), message: /rmsnorm: eps must be a non-negative number, got -1/ },
  ],
};
