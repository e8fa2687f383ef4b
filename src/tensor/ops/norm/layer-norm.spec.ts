import type { ForwardCase, OpSpec } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import { layerNorm } from './layer-norm.js';
import { f32, size, values } from '../../testing/reference.js';
import type { Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';

/** Naive float64 LayerNorm with the biased variance, two passes per row. */
function reference(xs: number[], w: number[], b: number[], eps: number): number[] {
  const d = w.length, out: number[] = [];
  for (let r = 0; r < xs.length / d; r++) {
    const row = xs.slice(r * d, r * d + d);
    const mu = row.reduce((s, v) => s + v, 0) / d;
    const v = row.reduce((s, x) => s + (x - mu) ** 2, 0) / d;
    for (let i = 0; i < d; i++) out.push(((row[i]! - mu) / Math.sqrt(v + eps)) * w[i]! + b[i]!);
  }
  return out;
}

/** [x shape, eps, offset added to x, scale of x, special row 0: zeros or a constant] */
const cases: [Shape, number, number, number, 'zeros' | 'constant' | null][] = [
  [[2, 3, 8], 1e-5, 0, 1, 'zeros'],
  [[5], 1e-5, 0, 1, null],
  [[2, 1, 2, 6], 1e-5, 0, 2, 'constant'],
  [[3, 1024], 1e-5, 0, 1, null],
  // GPT-NeoX residual streams have a few large, offset features: a mean far from zero must not lose precision.
  [[2, 512], 1e-5, 300, 0.5, null],
  [[4, 6], 0.5, 0, 0.1, 'zeros'],
  [[3, 1], 1e-5, 0, 1, null],
];

const forward: ForwardCase[] = cases.map(([shape, eps, offset, scale, special], k) => ({
  op: 'layerNorm', name: `${shape} eps ${eps}${offset ? ` offset ${offset}` : ''}${special ? ` with a row of ${special}` : ''}`,
  run() {
    const d = shape[shape.length - 1]!;
    const xs = f32(values(size(shape), 900 + k, offset - scale, offset + scale));
    if (special) xs.fill(special === 'zeros' ? 0 : 2.5, 0, d);
    const w = f32(values(d, 910 + k, 0.5, 1.5)), b = f32(values(d, 920 + k));
    return { actual: layerNorm(tensor(xs, shape), tensor(w), tensor(b), eps), expected: reference(xs, w, b, eps), shapes: [shape], atol: 2e-5, rtol: 1e-5 };
  },
}));

export const spec: OpSpec = {
  forward,
  grad: [
    { op: 'layerNorm', name: '[3,8] eps 1e-5', covers: ['layerNormGrad'], inputs: () => [tensor(values(24, 71), [3, 8]), tensor(values(8, 72, 0.5, 1.5)), tensor(values(8, 73))], f: (x: Tensor, w: Tensor, b: Tensor) => layerNorm(x, w, b, 1e-5) },
    { op: 'layerNorm', name: '[2,2,5] eps 0.1, small x', covers: ['layerNormGrad'], inputs: () => [tensor(values(20, 74, -0.3, 0.3), [2, 2, 5]), tensor(values(5, 75)), tensor(values(5, 76))], f: (x: Tensor, w: Tensor, b: Tensor) => layerNorm(x, w, b, 0.1) },
  ],
  errors: [
    { op: 'layerNorm', name: 'weight of the wrong length', run: () => layerNorm(tensor(values(8, 1), [2, 4]), tensor([1, 1, 1]), tensor([0, 0, 0, 0])), message: /layerNorm: weight has shape \[3\] but must be \[4\], the last axis of x/ },
    { op: 'layerNorm', name: 'bias of the wrong length', run: () => layerNorm(tensor(values(8, 1), [2, 4]), tensor([1, 1, 1, 1]), tensor([0, 0])), message: /layerNorm: bias has shape \[2\] but must be \[4\], the last axis of x \(inputs: #\d+ float32\[2,4\], #\d+ float32\[4\], #\d+ float32\[2\]\)/ },
    { op: 'layerNorm', name: 'int32 input', run: () => layerNorm(tensor(Int32Array.from([1, 2])), tensor([1, 1]), tensor([0, 0])), message: /layerNorm: inputs must be float32/ },
    { op: 'layerNorm', name: 'scalar input', run: () => layerNorm(tensor([1], []), tensor([1]), tensor([0])), message: /layerNorm: x must have a feature axis/ },
  ],
};
