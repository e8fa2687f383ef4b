import type { ForwardCase, OpSpec } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import { concat, stack } from './concat.js';
import { f32, size, values } from '../../testing/reference.js';
import { build, ravel } from './spec-helpers.js';
import type { Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';

/** Output element at c comes from the input whose range along the axis holds c[axis]. */
function reference(parts: { xs: ArrayLike<number>; shape: Shape }[], axis: number): { out: number[]; shape: number[] } {
  const a = axis < 0 ? axis + parts[0]!.shape.length : axis;
  const shape = [...parts[0]!.shape];
  shape[a] = parts.reduce((t, p) => t + p.shape[a]!, 0);
  const out = build(shape, (c) => {
    let at = c[a]!;
    for (const p of parts) {
      if (at < p.shape[a]!) { const src = [...c]; src[a] = at; return p.xs[ravel(src, p.shape)]!; }
      at -= p.shape[a]!;
    }
    throw new Error('unreachable');
  });
  return { out, shape };
}

const cases: [Shape[], number][] = [
  [[[2, 3], [2, 3]], 0],
  [[[2, 1, 4], [2, 3, 4], [2, 2, 4]], 1],
  [[[1, 2, 2, 1], [1, 2, 2, 3]], -1],
  [[[3, 2]], 1],
  [[[2, 0], [2, 3], [2, 1]], 1],
  [[[1], [4], [2]], 0],
];

const forward: ForwardCase[] = cases.map(([shapes, axis], k) => ({
  op: 'concat', name: `${shapes.map((s) => `[${s}]`).join('+')} axis ${axis}`,
  run() {
    const parts = shapes.map((shape, j) => ({ xs: f32(values(size(shape), 300 + 10 * k + j)), shape }));
    const r = reference(parts, axis);
    return { actual: concat(parts.map((p) => tensor(p.xs, p.shape)), axis), expected: r.out, shapes: [r.shape] };
  },
}));

export const spec: OpSpec = {
  forward: [
    ...forward,
    { op: 'concat', name: 'int32', run: () => ({ actual: concat([tensor(Int32Array.from([1, 2]), [2, 1]), tensor(Int32Array.from([3, 4]), [2, 1])], 1), expected: [1, 3, 2, 4], shapes: [[2, 2]] }) },
    { op: 'concat', name: 'stack along a new middle axis', run() {
      const parts = [0, 1, 2].map((j) => f32(values(6, 400 + j)));
      const expected = build([2, 3, 3], ([i, j, k]) => parts[j!]![i! * 3 + k!]!);
      return { actual: stack(parts.map((p) => tensor(p, [2, 3])), 1), expected, shapes: [[2, 3, 3]] };
    } },
    { op: 'concat', name: 'stack along the new last axis', run() {
      const parts = [0, 1].map((j) => f32(values(3, 410 + j)));
      return { actual: stack(parts.map((p) => tensor(p, [3])), -1), expected: build([3, 2], ([i, j]) => parts[j!]![i!]!), shapes: [[3, 2]] };
    } },
  ],
  grad: [
    { op: 'concat', name: '[2,1,4]+[2,3,4]+[2,2,4] axis 1', covers: ['slice'], inputs: () => [tensor(values(8, 21), [2, 1, 4]), tensor(values(24, 22), [2, 3, 4]), tensor(values(16, 23), [2, 2, 4])], f: (a: Tensor, b: Tensor, c: Tensor) => concat([a, b, c], 1) },
    { op: 'concat', name: '[1,3]+[2,3] axis 0 (gradients are views)', covers: ['sliceView'], inputs: () => [tensor(values(3, 24), [1, 3]), tensor(values(6, 25), [2, 3])], f: (a: Tensor, b: Tensor) => concat([a, b], 0) },
    { op: 'concat', name: 'stack of two [2,2] on axis 0', inputs: () => [tensor(values(4, 26), [2, 2]), tensor(values(4, 27), [2, 2])], f: (a: Tensor, b: Tensor) => stack([a, b], 0) },
  ],
  errors: [
    { op: 'concat', name: 'mismatched shapes', run: () => concat([tensor(values(6, 1), [2, 3]), tensor(values(8, 1), [2, 4])], 0), message: /concat: input #1 of shape \[2,4\] does not match input #0 of shape \[2,3\] outside axis 0 \(inputs: #\d+ float32\[2,3\], #\d+ float32\[2,4\]\)/ },
    { op: 'concat', name: 'mismatched ranks', run: () => concat([tensor(values(6, 1), [2, 3]), tensor(values(6, 1), [6])], 0), message: /concat: input #1 of shape \[6\] does not match/ },
    { op: 'concat', name: 'mismatched dtypes', run: () => concat([tensor([1, 2]), tensor(Int32Array.from([1, 2]))], 0), message: /concat: input #1 is int32 but input #0 is float32/ },
    { op: 'concat', name: 'axis out of range', run: () => concat([tensor([1, 2]), tensor([3])], -2), message: /concat: axis -2 is out of range for tensors of rank 1/ },
    { op: 'concat', name: 'no tensors', run: () => concat([], 0), message: /concat: needs at least one tensor/ },
    { op: 'concat', name: 'stack of different shapes', run: () => stack([tensor([1, 2]), tensor([3])], 0), message: /stack: input #1 of shape \[1\] differs from input #0 of shape \[2\]/ },
  ],
};
