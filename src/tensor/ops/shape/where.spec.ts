import type { ForwardCase, OpSpec } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import { where } from './where.js';
import { broadcastIndex, f32, size, values } from '../../testing/reference.js';
import type { Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';

/** A mask with zeros and non-zeros (including negative and fractional non-zeros) in a fixed pattern. */
const maskValues = (n: number) => Array.from({ length: n }, (_, i) => [0, 1, -2, 0, 0.5][i % 5]!);

/** [mask, a, b, out, mask dtype] */
const cases: [Shape, Shape, Shape, Shape, 'float32' | 'int32'][] = [
  [[2, 3], [2, 3], [2, 3], [2, 3], 'float32'],
  [[3, 1], [1, 4], [3, 4], [3, 4], 'float32'],
  [[2, 1, 1, 3], [1, 2, 3], [3], [2, 1, 2, 3], 'int32'],
  [[5], [5], [], [5], 'int32'],
  [[], [2, 2], [2, 2], [2, 2], 'float32'],
];

const forward: ForwardCase[] = cases.map(([sm, sa, sb, so, mdt], k) => ({
  op: 'where', name: `mask ${mdt}[${sm}], a [${sa}], b [${sb}]`,
  run() {
    const mv = maskValues(size(sm)).map((v) => (mdt === 'int32' ? Math.trunc(v) : v));
    const av = f32(values(size(sa), 700 + k)), bv = f32(values(size(sb), 710 + k));
    const expected = Array.from({ length: size(so) }, (_, i) => (mv[broadcastIndex(so, sm, i)] !== 0 ? av[broadcastIndex(so, sa, i)]! : bv[broadcastIndex(so, sb, i)]!));
    const m = mdt === 'int32' ? tensor(Int32Array.from(mv), sm) : tensor(mv, sm);
    return { actual: where(m, tensor(av, sa), tensor(bv, sb)), expected, shapes: [so] };
  },
}));

export const spec: OpSpec = {
  forward: [
    ...forward,
    { op: 'where', name: 'int32 branches', run: () => ({ actual: where(tensor([1, 0, 1]), tensor(Int32Array.from([1, 2, 3])), tensor(Int32Array.from([-1, -2, -3]))), expected: [1, -2, 3] }) },
  ],
  grad: [
    // The mask is float32 here, so it is excluded from wrt explicitly: it has no gradient.
    { op: 'where', name: 'broadcast float mask [3,1], a [1,4], b [3,4]', wrt: [1, 2], inputs: () => [tensor(maskValues(3), [3, 1]), tensor(values(4, 51), [1, 4]), tensor(values(12, 52), [3, 4])], f: (m: Tensor, a: Tensor, b: Tensor) => where(m, a, b) },
    { op: 'where', name: 'int32 mask [2,1,3], a [2,4,3], b [3]', inputs: () => [tensor(Int32Array.from([1, 0, 1, 0, 0, 7]), [2, 1, 3]), tensor(values(24, 53), [2, 4, 3]), tensor(values(3, 54), [3])], f: (m: Tensor, a: Tensor, b: Tensor) => where(m, a, b) },
  ],
  errors: [
    { op: 'where', name: 'float16 mask', run: () => where(tensor(Uint16Array.from([0x3c00]), [1], { dtype: 'float16' }), tensor([1]), tensor([2])), message: /where: the mask must be float32 or int32, got float16/ },
    { op: 'where', name: 'branches of different dtypes', run: () => where(tensor([1]), tensor([1]), tensor(Int32Array.from([2]))), message: /where: the branches have different dtypes \(float32, int32\)/ },
    { op: 'where', name: 'shapes that do not broadcast', run: () => where(tensor([1, 0, 1]), tensor([1, 2]), tensor([3, 4])), message: /where: shapes do not broadcast \(inputs: #\d+ float32\[3\], #\d+ float32\[2\], #\d+ float32\[2\]\)/ },
  ],
};
