import { defineOp, runOp, type OpDef } from '../../op.js';
import { opError } from '../../errors.js';
import type { Tensor } from '../../tensor.js';
import { cpuF32 } from '../../backends/cpu/cpu-backend.js';
import { broadcastTo } from '../shape/broadcast.js';
import { reshape } from '../shape/reshape.js';
import { mul } from '../elementwise/binary.js';
import { reducedShape, resolveAxes, type Axes } from './axes.js';
import { sumAxes } from '../../backends/webgpu/reduce.js';

interface SumAttrs { axes: Axes; keepdims: boolean }

/**
 * Sums over any set of axes in one pass over the input, accumulating in float64: a float32 running sum over a
 * 50k-wide vocabulary axis or a long sequence would lose several digits. The dimensions are first merged into
 * runs of kept and reduced axes (size-1 dimensions dropped), so the inner loop is as long as possible.
 */
function sumKernel(op: string, mean: boolean) {
  return ({ inputs: [x], outputs: [o], attrs }: { inputs: readonly Tensor[]; outputs: readonly Tensor[]; attrs: SumAttrs }) => {
    const xd = cpuF32(x!), od = cpuF32(o!);
    const axes = resolveAxes(op, x!, attrs.axes);
    const dims: number[] = [], reduced: boolean[] = [];
    let count = 1;
    x!.shape.forEach((d, i) => {
      const r = axes.includes(i);
      if (r) count *= d;
      if (d === 1) return;
      if (dims.length > 0 && reduced[reduced.length - 1] === r) dims[dims.length - 1]! *= d;
      else { dims.push(d); reduced.push(r); }
    });
    if (dims.length === 0) { dims.push(1); reduced.push(false); }
    const acc = new Float64Array(od.length);
    const n = dims.length, len = dims[n - 1]!, lastReduced = reduced[n - 1]!;
    const ostride = new Array<number>(n);
    for (let d = n - 1, s = 1; d >= 0; d--) {
      ostride[d] = reduced[d] ? 0 : s;
      if (!reduced[d]) s *= dims[d]!;
    }
    const rows = len === 0 ? 0 : xd.length / len;
    const idx = new Array<number>(n).fill(0);
    let ob = 0;
    for (let r = 0, xb = 0; r < rows; r++, xb += len) {
      if (lastReduced) {
        let t = 0;
        for (let j = 0; j < len; j++) t += xd[xb + j]!;
        acc[ob] += t;
      } else {
        for (let j = 0; j < len; j++) acc[ob + j] += xd[xb + j]!;
      }
      for (let d = n - 2; d >= 0; d--) {
        ob += ostride[d]!;
        if (++idx[d]! < dims[d]!) break;
        ob -= ostride[d]! * dims[d]!;
        idx[d] = 0;
      }
    }
    // The mean of nothing is 0·∞ = NaN, as in PyTorch.
    const scale = mean ? 1 / count : 1;
    for (let i = 0; i < od.length; i++) od[i] = acc[i]! * scale;
  };
}

function defineSum(name: 'sum' | 'mean'): OpDef<SumAttrs> {
  return defineOp<SumAttrs>({
    name,
    infer([x], { axes, keepdims }) {
      if (x!.dtype !== 'float32') throw opError(name, 'input must be float32', [x!]);
      return [{ shape: reducedShape(x!.shape, resolveAxes(name, x!, axes), keepdims), dtype: 'float32' }];
    },
    kernels: {
      cpu: sumKernel(name, name === 'mean'),
      webgpu({ inputs: [x], outputs: [o], attrs }) {
        const axes = resolveAxes(name, x!, attrs.axes);
        const count = axes.reduce((c, a) => c * x!.shape[a]!, 1);
        sumAxes(name, x!, x!.shape.map((_, i) => axes.includes(i)), o!, name === 'mean' ? 1 / count : 1);
      },
    },
    backward([g], { inputs: [x], attrs }) {
      const axes = resolveAxes(name, x!, attrs.axes);
      const kept = attrs.keepdims ? g! : reshape(g!, reducedShape(x!.shape, axes, true));
      const spread = broadcastTo(kept, x!.shape);
      if (name === 'sum') return [spread];
      const count = axes.reduce((c, a) => c * x!.shape[a]!, 1);
      return [mul(spread, 1 / count)];
    },
  });
}

const sumOp = defineSum('sum');
const meanOp = defineSum('mean');

/** Sum over `axis` (a number, a list, or undefined for all axes), dropping the reduced axes unless `keepdims`. */
export function sum(x: Tensor, axis?: Axes, keepdims = false): Tensor {
  return runOp(sumOp, [x], { axes: axis, keepdims })[0]!;
}

/** Mean over `axis` (a number, a list, or undefined for all axes), dropping the reduced axes unless `keepdims`. */
export function mean(x: Tensor, axis?: Axes, keepdims = false): Tensor {
  return runOp(meanOp, [x], { axes: axis, keepdims })[0]!;
}
