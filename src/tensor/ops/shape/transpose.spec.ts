import type { ForwardCase, OpSpec } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import { transpose } from './transpose.js';
import { f32, size, values } from '../../testing/reference.js';
import { build, ravel } from './spec-helpers.js';
import type { Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';

/** out[c] = x[c'] with c'[perm[k]] = c[k]. */
function reference(xs: ArrayLike<number>, shape: Shape, perm: readonly number[]): number[] {
  const r = shape.length;
  const p = perm.map((a) => (a < 0 ? a + r : a));
  const out = p.map((a) => shape[a]!);
  return build(out, (c) => {
    const src = new Array<number>(r);
    p.forEach((a, k) => { src[a] = c[k]!; });
    return xs[ravel(src, shape)]!;
  });
}

const cases: [Shape, number[] | undefined][] = [
  [[2, 3], undefined],
  [[2, 3, 4], [2, 0, 1]],
  [[2, 3, 4, 5], [0, 2, 1, 3]],
  [[2, 3, 4, 5], undefined],
  [[4], [0]],
  [[2, 1, 3, 1], [3, 1, 0, 2]],
  [[2, 3, 4], [-1, 0, 1]],
  [[70, 45], undefined],
  [[3, 40, 37], [2, 0, 1]],
];

const forward: ForwardCase[] = cases.map(([shape, perm], k) => ({
  op: 'transpose', name: `${shape} perm ${perm ?? 'default'}`,
  run() {
    const p = perm ?? [...Array(shape.length - 2).keys(), shape.length - 1, shape.length - 2];
    const xs = f32(values(size(shape), 100 + k));
    return { actual: transpose(tensor(xs, shape), perm), expected: reference(xs, shape, p), shapes: [p.map((a) => shape[a < 0 ? a + shape.length : a]!)] };
  },
}));

export const spec: OpSpec = {
  forward: [
    ...forward,
    { op: 'transpose', name: 'int32', run() {
      const xs = Array.from({ length: 6 }, (_, i) => i - 2);
      return { actual: transpose(tensor(Int32Array.from(xs), [2, 3])), expected: reference(xs, [2, 3], [1, 0]), shapes: [[3, 2]] };
    } },
    { op: 'transpose', name: 'float16 bits move unchanged', run() {
      const bits = Array.from({ length: 24 }, (_, i) => 0x3c00 + i * 37);
      const x = tensor(Uint16Array.from(bits), [2, 3, 4], { dtype: 'float16' });
      const y = transpose(x, [1, 2, 0]);
      if (y.dtype !== 'float16') throw new Error(`dtype ${y.dtype}`);
      return { actual: y, expected: reference(bits, [2, 3, 4], [1, 2, 0]), atol: 0, rtol: 0 };
    } },
  ],
  grad: [
    { op: 'transpose', name: '[2,3,4] perm [2,0,1]', inputs: () => [tensor(values(24, 7), [2, 3, 4])], f: (x: Tensor) => transpose(x, [2, 0, 1]) },
    { op: 'transpose', name: '[3,5] default', inputs: () => [tensor(values(15, 8), [3, 5])], f: (x: Tensor) => transpose(x) },
    { op: 'transpose', name: '[2,3,2,2] perm [0,2,1,3]', inputs: () => [tensor(values(24, 9), [2, 3, 2, 2])], f: (x: Tensor) => transpose(x, [0, 2, 1, 3]) },
  ],
  errors: [
    { op: 'transpose', name: 'repeated axis', run: () => transpose(tensor(values(6, 1), [2, 3]), [0, 0]), message: /transpose: \[0,0\] is not a permutation of the 2 axes \(inputs: #\d+ float32\[2,3\]\)/ },
    { op: 'transpose', name: 'wrong length', run: () => transpose(tensor(values(6, 1), [2, 3]), [1, 0, 2]), message: /transpose: \[1,0,2\] is not a permutation of the 2 axes/ },
    { op: 'transpose', name: 'out-of-range axis', run: () => transpose(tensor(values(6, 1), [2, 3]), [0, 2]), message: /transpose: \[0,2\] is not a permutation/ },
    { op: 'transpose', name: 'default on a vector', run: () => transpose(tensor([1, 2, 3])), message: /transpose: needs at least 2 axes.*float32\[3\]/ },
  ],
};
