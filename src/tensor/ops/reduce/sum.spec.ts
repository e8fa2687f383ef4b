import type { OpSpec, ForwardCase, GradCase } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import { f32, size, values } from '../../testing/reference.js';
import type { Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { mean, sum } from './sum.js';
import type { Axes } from './axes.js';
import { groups } from './spec-reference.js';

type Case = [shape: Shape, axis: Axes, keepdims: boolean, expectedShape: Shape];
const cases: Case[] = [
  [[2, 3, 4], undefined, false, []],
  [[2, 3, 4], 1, false, [2, 4]],
  [[2, 3, 4], -1, true, [2, 3, 1]],
  [[2, 3, 4], 0, false, [3, 4]],
  [[2, 3, 4], [0, 2], false, [3]],
  [[2, 3, 4], [-1, 0], true, [1, 3, 1]],
  [[2, 3, 4], [], false, [2, 3, 4]],
  [[3, 1, 4], 1, false, [3, 4]],
  [[3, 1, 4], [0, 1], true, [1, 1, 4]],
  [[2, 1, 3, 1, 2], [1, 2, 4], false, [2, 1]],
  [[5], 0, false, []],
  [[], undefined, true, []],
  [[2, 0, 3], 1, false, [2, 3]],
];

const fns = { sum, mean } as const;

function forward(op: keyof typeof fns): ForwardCase[] {
  return cases.map(([s, axis, keepdims, so], k) => ({
    op, name: `[${s}] axis ${JSON.stringify(axis) ?? 'all'}${keepdims ? ' keepdims' : ''}`,
    run() {
      const xv = f32(values(size(s), 500 + k));
      const axes = axis === undefined ? [...s.keys()] : (typeof axis === 'number' ? [axis] : axis).map((a) => (a < 0 ? a + s.length : a));
      const expected = groups(s, axes).map((g) => g.reduce((t, i) => t + xv[i]!, 0) / (op === 'mean' ? g.length : 1));
      return { actual: fns[op](tensor(xv, s), axis, keepdims), expected, shapes: [so], atol: 1e-6, rtol: 1e-6 };
    },
  }));
}

function grad(op: keyof typeof fns): GradCase[] {
  return cases.slice(0, 10).map(([s, axis, keepdims], k) => ({
    op, name: `[${s}] axis ${JSON.stringify(axis) ?? 'all'}${keepdims ? ' keepdims' : ''}`,
    inputs: () => [tensor(values(size(s), 600 + k), s)],
    f: (x: Tensor) => fns[op](x, axis, keepdims),
  }));
}

export const spec: OpSpec = {
  forward: [
    ...forward('sum'), ...forward('mean'),
    { op: 'sum', name: 'float64 accumulation over 100k elements', run() {
      const xv = f32(values(100_000, 7, 0, 1));
      return { actual: sum(tensor(xv, [100_000])), expected: [xv.reduce((a, b) => a + b, 0)], atol: 0, rtol: 1e-7 };
    } },
    { op: 'mean', name: 'empty axis gives NaN', run: () => ({ actual: mean(tensor(new Float32Array(0), [2, 0]), 1), expected: [NaN, NaN], shapes: [[2]] }) },
  ],
  grad: [...grad('sum'), ...grad('mean')],
  errors: [
    { op: 'sum', name: 'axis out of range', run: () => sum(tensor(values(24, 1), [2, 3, 4]), 3), message: /sum: axis 3 is out of range for a tensor of rank 3 \(inputs: #0 float32\[2,3,4\]\)/ },
    { op: 'sum', name: 'repeated axis', run: () => sum(tensor(values(6, 1), [2, 3]), [1, -1]), message: /sum: axis -1 is listed twice in \[1,-1\] \(inputs: #0 float32\[2,3\]\)/ },
    { op: 'mean', name: 'negative axis out of range', run: () => mean(tensor(values(6, 1), [2, 3]), [-3]), message: /mean: axis -3 is out of range for a tensor of rank 2/ },
    { op: 'sum', name: 'int32 input', run: () => sum(tensor(new Int32Array([1, 2]))), message: /sum: input must be float32 \(inputs: #0 int32\[2\]\)/ },
  ],
};
