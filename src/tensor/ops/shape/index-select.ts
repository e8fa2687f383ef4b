import { defineOp, runOp } from '../../op.js';
import { opError } from '../../errors.js';
import { aroundAxis } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { cpuData, cpuF32, cpuI32 } from '../../backends/cpu/cpu-backend.js';
import { hostInt32 } from '../../backends/webgpu/webgpu-backend.js';
import { gatherRows, scatterAddRows } from '../../backends/webgpu/gather-rows.js';

/** Gathers entries along an axis by an int32 index vector; its adjoint `indexAdd` scatter-adds them back. */
interface AxisAttrs { axis: number }

function resolveAxis(name: string, x: Tensor, axis: number): number {
  const a = axis < 0 ? axis + x.rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= x.rank) throw opError(name, `axis ${axis} is out of range for a tensor of rank ${x.rank}`, [x]);
  return a;
}

function checkIndices(name: string, inputs: readonly Tensor[]): void {
  const idx = inputs[1]!;
  if (idx.dtype !== 'int32') throw opError(name, `indices must be int32, got ${idx.dtype}`, inputs);
  if (idx.rank !== 1) throw opError(name, `indices must be 1-D, got rank ${idx.rank}`, inputs);
}

/**
 * Index values are data, so they are checked when the kernel reads them, before anything is written. On the GPU
 * that is possible only for indices uploaded from the host (which keep a host copy); indices computed on the GPU
 * are checked by the kernel, and a bad one fails the next read (see backends/webgpu/webgpu-backend.ts).
 */
function checkRange(name: string, ind: Int32Array, n: number, axis: number, inputs: readonly Tensor[]): void {
  for (let j = 0; j < ind.length; j++) {
    const v = ind[j]!;
    if (v < 0 || v >= n) throw opError(name, `index ${v} at position ${j} is out of range for axis ${axis} of size ${n}`, inputs);
  }
}

const rangeMessage = (name: string, n: number, axis: number) =>
  (v: number, j: number) => `${name}: index ${v} at position ${j} is out of range for axis ${axis} of size ${n}`;

const indexSelectOp = defineOp<AxisAttrs>({
  name: 'indexSelect',
  infer(inputs, { axis }) {
    const [x, idx] = inputs as [Tensor, Tensor];
    const a = resolveAxis('indexSelect', x, axis);
    checkIndices('indexSelect', inputs);
    const shape = [...x.shape];
    shape[a] = idx.shape[0]!;
    return [{ shape, dtype: x.dtype }];
  },
  kernels: {
    cpu({ inputs, outputs: [o], attrs }) {
      const [x, idx] = inputs as [Tensor, Tensor];
      const a = resolveAxis('indexSelect', x, attrs.axis);
      const [outer, n, inner] = aroundAxis(x.shape, a);
      const ind = cpuI32(idx), src = cpuData(x), dst = cpuData(o!);
      checkRange('indexSelect', ind, n, attrs.axis, inputs);
      const k = ind.length;
      for (let i = 0; i < outer; i++) {
        for (let j = 0; j < k; j++) {
          const from = (i * n + ind[j]!) * inner, to = (i * k + j) * inner;
          // Per-element copy beats subarray().set() for short rows, whose setup cost dominates.
          if (inner < 16) for (let e = 0; e < inner; e++) dst[to + e] = src[from + e]!;
          else dst.set(src.subarray(from, from + inner) as never, to);
        }
      }
    },
    webgpu({ inputs, outputs: [o], attrs }) {
      const [x, idx] = inputs as [Tensor, Tensor];
      const a = resolveAxis('indexSelect', x, attrs.axis);
      const [outer, n, inner] = aroundAxis(x.shape, a);
      const host = hostInt32(idx);
      if (host) checkRange('indexSelect', host, n, attrs.axis, inputs);
      gatherRows('indexSelect', x, idx, o!, { outer, n, inner, k: idx.size }, rangeMessage('indexSelect', n, attrs.axis));
    },
  },
  backward: ([g], { inputs: [x, idx], attrs }) => [indexAdd(g!, idx!, attrs.axis, x!.shape[resolveAxis('indexSelect', x!, attrs.axis)]!), null],
});

interface IndexAddAttrs extends AxisAttrs { size: number }

/** out = zeros with `size` entries along axis; out[..., idx[j], ...] += g[..., j, ...] (repeated indices accumulate). */
const indexAddOp = defineOp<IndexAddAttrs>({
  name: 'indexAdd',
  internal: true,
  infer(inputs, { axis, size }) {
    const [g, idx] = inputs as [Tensor, Tensor];
    const a = resolveAxis('indexAdd', g, axis);
    checkIndices('indexAdd', inputs);
    if (g.dtype !== 'float32') throw opError('indexAdd', 'values must be float32', inputs);
    if (!Number.isInteger(size) || size < 0) throw opError('indexAdd', `invalid size ${size} for axis ${axis}`, inputs);
    if (g.shape[a] !== idx.shape[0]) throw opError('indexAdd', `axis ${axis} has ${g.shape[a]} entries but there are ${idx.shape[0]} indices`, inputs);
    const shape = [...g.shape];
    shape[a] = size;
    return [{ shape, dtype: 'float32' }];
  },
  kernels: {
    cpu({ inputs, outputs: [o], attrs }) {
      const [g, idx] = inputs as [Tensor, Tensor];
      const a = resolveAxis('indexAdd', g, attrs.axis);
      const [outer, k, inner] = aroundAxis(g.shape, a);
      const n = attrs.size;
      const ind = cpuI32(idx), src = cpuF32(g), dst = cpuF32(o!);
      checkRange('indexAdd', ind, n, attrs.axis, inputs);
      dst.fill(0);
      for (let i = 0; i < outer; i++) {
        for (let j = 0; j < k; j++) {
          const from = (i * k + j) * inner, to = (i * n + ind[j]!) * inner;
          for (let e = 0; e < inner; e++) dst[to + e] += src[from + e]!;
        }
      }
    },
    webgpu({ inputs, outputs: [o], attrs }) {
      const [g, idx] = inputs as [Tensor, Tensor];
      const a = resolveAxis('indexAdd', g, attrs.axis);
      const [outer, k, inner] = aroundAxis(g.shape, a);
      const host = hostInt32(idx);
      if (host) checkRange('indexAdd', host, attrs.size, attrs.axis, inputs);
      scatterAddRows('indexAdd', g, idx, o!, { outer, n: attrs.size, inner, k }, rangeMessage('indexAdd', attrs.size, attrs.axis));
    },
  },
  backward: ([gg], { inputs: [, idx], attrs }) => [indexSelect(gg!, attrs.axis, idx!), null],
});

/** Adds the entries of g along `axis` into a zero tensor with `size` entries there, at the positions `indices`. */
export function indexAdd(g: Tensor, indices: Tensor, axis: number, size: number): Tensor {
  return runOp(indexAddOp, [g, indices], { axis, size })[0]!;
}

/** The entries of x at `indices` (int32, 1-D) along `axis`, in that order: x.index_select(axis, indices). */
export function indexSelect(x: Tensor, axis: number, indices: Tensor): Tensor {
  return runOp(indexSelectOp, [x, indices], { axis })[0]!;
}
