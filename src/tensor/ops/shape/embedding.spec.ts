import type { ForwardCase, OpSpec } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import { embedding } from './embedding.js';
import { sumTo } from './broadcast.js';
import { valueAndGrad } from '../../autodiff.js';
import { f32, values } from '../../testing/reference.js';
import type { Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';

const V = 6, D = 4;

const cases: [Shape, number[]][] = [
  [[2, 3], [1, 3, 1, 0, 5, 2]],
  [[], [4]],
  [[5], [0, 0, 0, 5, 1]],
  [[2, 1, 2], [3, 3, 2, 5]],
];

const forward: ForwardCase[] = cases.map(([shape, idv], k) => ({
  op: 'embedding', name: `ids ${shape.length ? `[${shape}]` : 'scalar'}`,
  run() {
    const w = f32(values(V * D, 600 + k));
    const expected = idv.flatMap((id) => w.slice(id * D, id * D + D));
    return { actual: embedding(tensor(w, [V, D]), tensor(Int32Array.from(idv), shape)), expected, shapes: [[...shape, D]] };
  },
}));

export const spec: OpSpec = {
  forward: [
    ...forward,
    { op: 'embedding', name: 'repeated ids accumulate in the gradient', run() {
      const w = tensor(values(V * D, 610), [V, D]);
      const ids = tensor(Int32Array.from([2, 0, 2, 2]), [2, 2]);
      const { value, grads } = valueAndGrad(() => sumTo(embedding(w, ids), []), [w]);
      value.dispose(); w.dispose(); ids.dispose();
      const counts = [1, 0, 3, 0, 0, 0];
      const expected = Array.from({ length: V * D }, (_, i) => counts[Math.floor(i / D)]!);
      return { actual: grads[0]!, expected, shapes: [[V, D]] };
    } },
  ],
  grad: [
    { op: 'embedding', name: '[6,4] table, [2,3] ids with repeats', covers: ['indexAdd'], inputs: () => [tensor(values(V * D, 41), [V, D]), tensor(Int32Array.from([1, 3, 1, 0, 1, 2]), [2, 3])], f: (w: Tensor, i: Tensor) => embedding(w, i) },
  ],
  errors: [
    { op: 'embedding', name: 'id past the vocabulary', run: () => embedding(tensor(values(V * D, 1), [V, D]), tensor(Int32Array.from([0, 1, 2, 3, 4, 6]), [2, 3])), message: /embedding: id 6 at position \[1,2\] is out of range for a vocabulary of V=6/ },
    { op: 'embedding', name: 'negative id', run: () => embedding(tensor(values(V * D, 1), [V, D]), tensor(Int32Array.from([-3]))), message: /embedding: id -3 at position \[0\] is out of range for a vocabulary of V=6/ },
    { op: 'embedding', name: 'float32 ids', run: () => embedding(tensor(values(V * D, 1), [V, D]), tensor([1, 2])), message: /embedding: ids must be int32, got float32/ },
    { op: 'embedding', name: 'table that is not 2-D', run: () => embedding(tensor(values(V, 1), [V]), tensor(Int32Array.from([1]))), message: /embedding: the weight must be a \[V, d\] table, got shape \[6\]/ },
  ],
};
