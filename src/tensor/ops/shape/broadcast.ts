import { defineOp, runOp } from '../../op.js';
import { opError } from '../../errors.js';
import { broadcastShapes, fmt, sameShape, type Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { cpuData } from '../../backends/cpu/cpu-backend.js';
import { forEachBroadcastRow } from '../../backends/cpu/broadcast-rows.js';
import { mapElements } from '../../backends/webgpu/elementwise.js';
import { sumAxes } from '../../backends/webgpu/reduce.js';

/** broadcastTo repeats a tensor along broadcast dimensions; sumTo is its adjoint (sums them back). */
const broadcastToOp = defineOp<{ shape: Shape }>({
  name: 'broadcastTo',
  infer([x], { shape }) {
    const b = broadcastShapes(x!.shape, shape);
    if (!b || !sameShape(b, shape)) throw opError('broadcastTo', `cannot broadcast to ${fmt(shape)}`, [x!]);
    return [{ shape: [...shape], dtype: x!.dtype }];
  },
  kernels: {
    cpu({ inputs: [x], outputs: [o] }) {
      const src = cpuData(x!), dst = cpuData(o!);
      forEachBroadcastRow(o!.shape, x!.shape, x!.shape, (oi, ai, as, _bi, _bs, len) => {
        for (let j = 0; j < len; j++) dst[oi + j] = src[ai + j * as]!;
      });
    },
    webgpu({ inputs: [x], outputs: [o] }) {
      mapElements({ op: 'broadcastTo', out: o!, inputs: [{ tensor: x!, mode: 'bits' }], outMode: 'bits', body: 'return v0;' });
    },
  },
  backward: ([g], { inputs: [x] }) => [sumTo(g!, x!.shape)],
});

const sumToOp = defineOp<{ shape: Shape }>({
  name: 'sumTo',
  infer([x], { shape }) {
    if (x!.dtype !== 'float32') throw opError('sumTo', 'input must be float32', [x!]);
    const b = broadcastShapes(shape, x!.shape);
    if (!b || !sameShape(b, x!.shape)) throw opError('sumTo', `${fmt(shape)} does not broadcast to the input's shape`, [x!]);
    return [{ shape: [...shape], dtype: 'float32' }];
  },
  kernels: {
    cpu({ inputs: [x], outputs: [o] }) {
      const src = cpuData(x!), dst = cpuData(o!);
      dst.fill(0);
      forEachBroadcastRow(x!.shape, x!.shape, o!.shape, (_oi, ai, _as, bi, bs, len) => {
        // A row summed into one element accumulates in a local (float64) rather than through the float32 output.
        if (bs === 0) { let acc = 0; for (let j = 0; j < len; j++) acc += src[ai + j]!; dst[bi] += acc; return; }
        for (let j = 0; j < len; j++) dst[bi + j * bs] += src[ai + j]!;
      });
    },
    webgpu({ inputs: [x], outputs: [o] }) {
      const lead = x!.rank - o!.rank;
      sumAxes('sumTo', x!, x!.shape.map((d, i) => i < lead || (o!.shape[i - lead] === 1 && d !== 1)), o!);
    },
  },
  backward: ([g], { inputs: [x] }) => [broadcastTo(g!, x!.shape)],
});

export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  return runOp(broadcastToOp, [x], { shape })[0]!;
}

/** Sums `x` down to `shape` (which must broadcast to x's shape); the identity when the shapes are equal. */
export function sumTo(x: Tensor, shape: Shape): Tensor {
  return runOp(sumToOp, [x], { shape })[0]!;
}
