import type { OpSpec } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import { reshape } from './reshape.js';
import { values } from '../../testing/reference.js';
import type { Tensor } from '../../tensor.js';

export const spec: OpSpec = {
  forward: [
    { op: 'reshape', name: '[2,3] to [3,-1]', run: () => ({ actual: reshape(tensor([1, 2, 3, 4, 5, 6], [2, 3]), [3, -1]), expected: [1, 2, 3, 4, 5, 6], shapes: [[3, 2]] }) },
    { op: 'reshape', name: 'shares storage', run() {
      const x = tensor([1, 2, 3, 4], [4]);
      const y = reshape(x, [2, 2]);
      if (y.storage !== x.storage) throw new Error('reshape copied its input');
      x.dispose();
      return { actual: y, expected: [1, 2, 3, 4] };
    } },
  ],
  grad: [{ op: 'reshape', name: '[2,3]->[6]', inputs: () => [tensor(values(6, 5), [2, 3])], f: (x: Tensor) => reshape(x, [6]) }],
  errors: [{ op: 'reshape', name: 'wrong size', run: () => reshape(tensor([1, 2, 3]), [2, 2]), message: /reshape: cannot view 3 elements as \[2,2\]/ }],
};
