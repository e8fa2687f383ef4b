import type { OpSpec } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import { broadcastTo, sumTo } from './broadcast.js';
import { broadcastIndex, values, f32 } from '../../testing/reference.js';
import type { Tensor } from '../../tensor.js';

export const spec: OpSpec = {
  forward: [
    { op: 'broadcastTo', name: '[3,1] to [2,3,4]', run() {
      const v = f32(values(3, 1));
      return { actual: broadcastTo(tensor(v, [3, 1]), [2, 3, 4]), expected: Array.from({ length: 24 }, (_, i) => v[broadcastIndex([2, 3, 4], [3, 1], i)]!), shapes: [[2, 3, 4]] };
    } },
    { op: 'sumTo', name: '[2,3,4] to [3,1]', run() {
      const v = f32(values(24, 2));
      const e = new Array<number>(3).fill(0);
      for (let i = 0; i < 24; i++) e[broadcastIndex([2, 3, 4], [3, 1], i)] += v[i]!;
      return { actual: sumTo(tensor(v, [2, 3, 4]), [3, 1]), expected: e, shapes: [[3, 1]], atol: 1e-5 };
    } },
    { op: 'sumTo', name: 'to a scalar', run: () => ({ actual: sumTo(tensor([1, 2, 3, 4], [2, 2]), []), expected: [10], shapes: [[]] }) },
  ],
  grad: [
    { op: 'broadcastTo', name: '[3,1]->[2,3,4]', inputs: () => [tensor(values(3, 3), [3, 1])], f: (x: Tensor) => broadcastTo(x, [2, 3, 4]) },
    { op: 'sumTo', name: '[2,3,4]->[1,4]', inputs: () => [tensor(values(24, 4), [2, 3, 4])], f: (x: Tensor) => sumTo(x, [1, 4]) },
  ],
  errors: [
    { op: 'broadcastTo', name: 'incompatible', run: () => broadcastTo(tensor([1, 2]), [3]), message: /broadcastTo: cannot broadcast to \[3\]/ },
    { op: 'sumTo', name: 'incompatible', run: () => sumTo(tensor([1, 2, 3]), [2]), message: /sumTo: \[2\] does not broadcast/ },
  ],
};
