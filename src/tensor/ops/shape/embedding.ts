import { defineOp, runOp } from '../../op.js';
import { opError } from '../../errors.js';
import { fmt } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { cpuData, cpuI32 } from '../../backends/cpu/cpu-backend.js';
import { indexAdd } from './index-select.js';
import { reshape } from './reshape.js';
import { hostInt32 } from '../../backends/webgpu/webgpu-backend.js';
import { gatherRows } from '../../backends/webgpu/gather-rows.js';

/** The coordinates of a flat index into `shape`, as an error message shows them. */
function positionOf(flat: number, shape: readonly number[]): string {
  const c = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) { c[k] = flat % shape[k]!; flat = Math.floor(flat / shape[k]!); }
  return fmt(c);
}

function checkIds(ind: Int32Array, V: number, inputs: readonly Tensor[]): void {
  for (let j = 0; j < ind.length; j++) {
    const v = ind[j]!;
    if (v < 0 || v >= V) throw opError('embedding', `id ${v} at position ${positionOf(j, inputs[1]!.shape)} is out of range for a vocabulary of V=${V}`, inputs);
  }
}

/**
 * Rows of an embedding table [V, d] looked up by token ids of any shape; only the table has a gradient.
 * Ids are checked before anything is written; on the GPU, ids computed there (not uploaded) are checked by the
 * kernel, and a bad one fails the next read.
 */
const embeddingOp = defineOp<Record<string, never>>({
  name: 'embedding',
  infer(inputs) {
    const [w, ids] = inputs as [Tensor, Tensor];
    if (w.rank !== 2) throw opError('embedding', `the weight must be a [V, d] table, got shape ${fmt(w.shape)}`, inputs);
    if (ids.dtype !== 'int32') throw opError('embedding', `ids must be int32, got ${ids.dtype}`, inputs);
    return [{ shape: [...ids.shape, w.shape[1]!], dtype: w.dtype }];
  },
  kernels: {
    cpu({ inputs, outputs: [o] }) {
      const [w, ids] = inputs as [Tensor, Tensor];
      const [V, d] = w.shape as [number, number];
      const ind = cpuI32(ids), src = cpuData(w), dst = cpuData(o!);
      checkIds(ind, V, inputs);
      for (let j = 0; j < ind.length; j++) {
        const from = ind[j]! * d;
        dst.set(src.subarray(from, from + d) as never, j * d);
      }
    },
    webgpu({ inputs, outputs: [o] }) {
      const [w, ids] = inputs as [Tensor, Tensor];
      const [V, d] = w.shape as [number, number];
      const host = hostInt32(ids);
      if (host) checkIds(host, V, inputs);
      const shape = ids.shape;
      gatherRows('embedding', w, ids, o!, { outer: 1, n: V, inner: d, k: ids.size },
        (v, j) => `embedding: id ${v} at position ${positionOf(j, shape)} is out of range for a vocabulary of V=${V}`);
    },
  },
  // Rows repeated in ids accumulate: the table's gradient is a scatter-add of the output's gradient rows.
  backward([g], { inputs: [w, ids], needs }) {
    // The table's gradient is as large as the table (515 MB for a 2.8B model): made only when it is wanted.
    if (!needs[0]) return [null, null];
    const [V, d] = w!.shape as [number, number];
    return [indexAdd(reshape(g!, [ids!.size, d]), reshape(ids!, [ids!.size]), 0, V), null];
  },
});

/** weight[ids]: for a [V, d] table and int32 ids of shape S, a tensor of shape [...S, d]. */
export function embedding(weight: Tensor, ids: Tensor): Tensor {
  return runOp(embeddingOp, [weight, ids], {})[0]!;
}
