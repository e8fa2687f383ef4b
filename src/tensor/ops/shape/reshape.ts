import { defineOp, runOp } from '../../op.js';
import { opError } from '../../errors.js';
import { fmt, sizeOf, type Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';

/** A view with another shape and the same elements; one dimension may be -1 (inferred). */
const reshapeOp = defineOp<{ shape: Shape }>({
  name: 'reshape',
  infer([x], { shape }) {
    const free = shape.filter((d) => d === -1).length;
    if (free > 1 || shape.some((d) => !Number.isInteger(d) || d < -1)) throw opError('reshape', `invalid target shape ${fmt(shape)}`, [x!]);
    const known = sizeOf(shape.filter((d) => d !== -1));
    const resolved = shape.map((d) => (d === -1 ? (known === 0 ? 0 : x!.size / known) : d));
    if (sizeOf(resolved) !== x!.size || resolved.some((d) => !Number.isInteger(d))) {
      throw opError('reshape', `cannot view ${x!.size} elements as ${fmt(shape)}`, [x!]);
    }
    return [{ shape: resolved, dtype: x!.dtype }];
  },
  viewOffset: () => 0,
  backward: ([g], { inputs: [x] }) => [reshape(g!, x!.shape)],
});

export function reshape(x: Tensor, shape: Shape): Tensor {
  return runOp(reshapeOp, [x], { shape })[0]!;
}
