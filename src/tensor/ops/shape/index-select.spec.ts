import type { ForwardCase, OpSpec } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import { indexSelect } from './index-select.js';
import { f32, size, values } from '../../testing/reference.js';
import { build, ravel } from './spec-helpers.js';
import type { Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';

const ids = (xs: number[]) => tensor(Int32Array.from(xs));

const cases: [Shape, number, number[]][] = [
  [[5, 3], 0, [4, 0, 4, 2]],
  [[2, 5, 3], 1, [1, 1, 3]],
  [[2, 3, 20], -1, [19, 0, 5]],
  [[2, 4, 20], 1, [3, 0]],
  [[2, 1, 3, 2], 2, [2, 2, 0, 1, 2]],
  [[4], 0, []],
];

const forward: ForwardCase[] = cases.map(([shape, axis, idx], k) => ({
  op: 'indexSelect', name: `${shape} axis ${axis} [${idx}]`,
  run() {
    const xs = f32(values(size(shape), 500 + k));
    const a = axis < 0 ? axis + shape.length : axis;
    const out = [...shape];
    out[a] = idx.length;
    const expected = build(out, (c) => { const src = [...c]; src[a] = idx[c[a]!]!; return xs[ravel(src, shape)]!; });
    return { actual: indexSelect(tensor(xs, shape), axis, ids(idx)), expected, shapes: [out] };
  },
}));

export const spec: OpSpec = {
  forward: [
    ...forward,
    { op: 'indexSelect', name: 'int32 values', run: () => ({ actual: indexSelect(tensor(Int32Array.from([10, 11, 12]), [3]), 0, ids([2, 2, 0])), expected: [12, 12, 10] }) },
  ],
  grad: [
    { op: 'indexSelect', name: '[5,3] axis 0 with repeats', covers: ['indexAdd'], inputs: () => [tensor(values(15, 31), [5, 3]), ids([4, 0, 4, 2, 4])], f: (x: Tensor, i: Tensor) => indexSelect(x, 0, i) },
    { op: 'indexSelect', name: '[2,4,3] axis -1', covers: ['indexAdd'], inputs: () => [tensor(values(24, 32), [2, 4, 3]), ids([1, 1, 0])], f: (x: Tensor, i: Tensor) => indexSelect(x, -1, i) },
  ],
  errors: [
    { op: 'indexSelect', name: 'index past the end', run: () => indexSelect(tensor(values(15, 1), [5, 3]), 0, ids([0, 5])), message: /indexSelect: index 5 at position 1 is out of range for axis 0 of size 5/ },
    { op: 'indexSelect', name: 'negative index', run: () => indexSelect(tensor(values(15, 1), [5, 3]), 1, ids([-1])), message: /indexSelect: index -1 at position 0 is out of range for axis 1 of size 3/ },
    { op: 'indexSelect', name: 'float32 indices', run: () => indexSelect(tensor(values(15, 1), [5, 3]), 0, tensor([0, 1])), message: /indexSelect: indices must be int32, got float32 \(inputs: #\d+ float32\[5,3\], #\d+ float32\[2\]\)/ },
    { op: 'indexSelect', name: '2-D indices', run: () => indexSelect(tensor(values(15, 1), [5, 3]), 0, tensor(Int32Array.from([0, 1]), [1, 2])), message: /indexSelect: indices must be 1-D, got rank 2/ },
    { op: 'indexSelect', name: 'axis out of range', run: () => indexSelect(tensor(values(15, 1), [5, 3]), 2, ids([0])), message: /indexSelect: axis 2 is out of range for a tensor of rank 2/ },
  ],
};
