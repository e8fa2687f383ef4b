import type { ForwardCase, OpSpec } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import { getOp, runOp } from '../../op.js';
import { slice } from './slice.js';
import { f32, size, values } from '../../testing/reference.js';
import { build, ravel } from './spec-helpers.js';
import type { Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';

function reference(xs: ArrayLike<number>, shape: Shape, axis: number, start: number, end: number): { out: number[]; shape: number[] } {
  const a = axis < 0 ? axis + shape.length : axis;
  const n = shape[a]!;
  const s = start < 0 ? start + n : start, e = end < 0 ? end + n : end;
  const out = [...shape];
  out[a] = e - s;
  return { out: build(out, (c) => { const src = [...c]; src[a] = c[a]! + s; return xs[ravel(src, shape)]!; }), shape: out };
}

/** [shape, axis, start, end, view?] */
const cases: [Shape, number, number, number | undefined, boolean][] = [
  [[4, 3], 0, 1, 3, true],
  [[1, 1, 6, 2], 2, -4, -1, true],
  [[5], 0, 2, undefined, true],
  [[2, 5, 3], 1, 1, 4, false],
  [[2, 3, 4], -1, 1, 3, false],
  [[3, 2, 1, 4], 2, 0, 1, false],
  [[3, 4], 1, 2, 2, false],
];

const forward: ForwardCase[] = cases.map(([shape, axis, start, end, view], k) => ({
  op: view ? 'sliceView' : 'slice', name: `${shape} axis ${axis} [${start}, ${end ?? ''})`,
  run() {
    const xs = f32(values(size(shape), 200 + k));
    const x = tensor(xs, shape);
    const y = slice(x, axis, start, end);
    if ((y.storage === x.storage) !== view) throw new Error(view ? 'slice copied a contiguous window' : 'slice returned a view of a strided window');
    x.dispose();
    const a = axis < 0 ? axis + shape.length : axis;
    const r = reference(xs, shape, axis, start, end ?? shape[a]!);
    return { actual: y, expected: r.out, shapes: [r.shape] };
  },
}));

export const spec: OpSpec = {
  forward: [
    ...forward,
    { op: 'slice', name: 'run by name along axis 0 (as jacobian does) copies correctly', run() {
      const xs = f32(values(12, 3));
      const y = runOp(getOp('slice'), [tensor(xs, [4, 3])], { axis: 0, start: 0, end: 2 })[0]!;
      return { actual: y, expected: xs.slice(0, 6), shapes: [[2, 3]] };
    } },
    { op: 'slice', name: 'int32', run: () => ({ actual: slice(tensor(Int32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]), 1, 1), expected: [2, 3, 5, 6], shapes: [[2, 2]] }) },
  ],
  grad: [
    { op: 'sliceView', name: '[4,3] axis 0 [1,3)', covers: ['sliceGrad'], inputs: () => [tensor(values(12, 11), [4, 3])], f: (x: Tensor) => slice(x, 0, 1, 3) },
    { op: 'slice', name: '[2,5,3] axis 1 [-4,-1)', covers: ['sliceGrad'], inputs: () => [tensor(values(30, 12), [2, 5, 3])], f: (x: Tensor) => slice(x, 1, -4, -1) },
    { op: 'slice', name: '[2,3,4] axis -1 [3,4)', inputs: () => [tensor(values(24, 13), [2, 3, 4])], f: (x: Tensor) => slice(x, -1, 3, 4) },
  ],
  errors: [
    { op: 'slice', name: 'axis out of range', run: () => slice(tensor(values(6, 1), [2, 3]), 2, 0, 1), message: /slice: axis 2 is out of range for a tensor of rank 2 \(inputs: #\d+ float32\[2,3\]\)/ },
    { op: 'slice', name: 'end past the axis', run: () => slice(tensor(values(6, 1), [2, 3]), 1, 0, 4), message: /slice: \[0, 4\) is not a range within axis 1 of size 3/ },
    { op: 'slice', name: 'start after end', run: () => slice(tensor(values(6, 1), [2, 3]), -1, 2, 1), message: /slice: \[2, 1\) is not a range within axis -1 of size 3/ },
    { op: 'slice', name: 'non-integer index', run: () => slice(tensor(values(6, 1), [2, 3]), 0, 0.5, 1), message: /slice: \[0.5, 1\) is not a range/ },
  ],
};
