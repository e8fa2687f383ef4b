import { defineOp, runOp } from '../../op.js';
import { opError } from '../../errors.js';
import { aroundAxis, sizeOf, type Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { cpuF32, cpuI32 } from '../../backends/cpu/cpu-backend.js';
import { reducedShape, resolveAxis } from './axes.js';
import { argReduceGpu, selectionGradGpu, topkGpu } from './max.wgsl.js';

/**
 * max, argmax and topk: selections along one axis. Ties go to the lowest index (the first occurrence), and NaN
 * counts as larger than every number, as in PyTorch, so that a NaN is reported rather than hidden.
 * The gradient of a selected value goes to the element it was selected from, through `maxTopkGrad`.
 */
interface AxisAttrs { axis: number | undefined; keepdims: boolean }

/** [outer, n, inner] of the selection, treating axis undefined as "all elements, flattened". */
function layout(op: string, x: Tensor, axis: number | undefined): { dims: [number, number, number]; axes: number[] } {
  if (axis === undefined) return { dims: [1, x.size, 1], axes: [...x.shape.keys()] };
  const a = resolveAxis(op, x, axis);
  return { dims: aroundAxis(x.shape, a), axes: [a] };
}

function inferSelect(op: string, x: Tensor, { axis, keepdims }: AxisAttrs): Shape {
  if (x.dtype !== 'float32') throw opError(op, 'input must be float32', [x]);
  const { dims, axes } = layout(op, x, axis);
  if (dims[1] === 0) throw opError(op, axis === undefined ? 'the input is empty' : `axis ${axis} is empty`, [x]);
  return reducedShape(x.shape, axes, keepdims);
}

/** a ranks before b: larger, or NaN against a number. */
const greater = (a: number, b: number): boolean => a > b || (a !== a && b === b);

function argReduce(x: Float32Array, [outer, n, inner]: [number, number, number], values: Float32Array | null, indices: Int32Array): void {
  for (let o = 0; o < outer; o++) {
    const base = o * n * inner;
    for (let i = 0; i < inner; i++) {
      let best = x[base + i]!, bi = 0;
      for (let j = 1; j < n && best === best; j++) {
        const v = x[base + j * inner + i]!;
        if (greater(v, best)) { best = v; bi = j; }
      }
      if (values) values[o * inner + i] = best;
      indices[o * inner + i] = bi;
    }
  }
}

const maxTopkGradOp = defineOp<{ shape: Shape; axis: number | undefined; k: number }>({
  name: 'maxTopkGrad',
  internal: true,
  infer: (_inputs, { shape }) => [{ shape: [...shape], dtype: 'float32' }],
  kernels: {
    cpu({ inputs: [g, idx], outputs: [o], attrs: { shape, axis, k } }) {
      const gd = cpuF32(g!), id = cpuI32(idx!), od = cpuF32(o!);
      const [outer, n, inner] = axis === undefined ? [1, sizeOf(shape), 1] : aroundAxis(shape, axis);
      od.fill(0);
      for (let r = 0; r < outer; r++) {
        for (let j = 0; j < k; j++) {
          const src = (r * k + j) * inner;
          for (let i = 0; i < inner; i++) od[(r * n + id[src + i]!) * inner + i] += gd[src + i]!;
        }
      }
    },
    webgpu({ inputs: [g, idx], outputs: [o], attrs: { shape, axis, k } }) {
      selectionGradGpu(g!, idx!, o!, axis === undefined ? [1, sizeOf(shape), 1] : aroundAxis(shape, axis), k);
    },
  },
});

const maxOp = defineOp<AxisAttrs>({
  name: 'max',
  infer([x], attrs) {
    const shape = inferSelect('max', x!, attrs);
    return [{ shape, dtype: 'float32' }, { shape, dtype: 'int32' }];
  },
  kernels: {
    cpu({ inputs: [x], outputs: [v, i], attrs }) {
      argReduce(cpuF32(x!), layout('max', x!, attrs.axis).dims, cpuF32(v!), cpuI32(i!));
    },
    webgpu({ inputs: [x], outputs: [v, i], attrs }) {
      argReduceGpu('max', x!, layout('max', x!, attrs.axis).dims, v!, i!);
    },
  },
  backward([g], { inputs: [x], outputs: [, idx], attrs }) {
    const axis = attrs.axis === undefined ? undefined : resolveAxis('max', x!, attrs.axis);
    return [runOp(maxTopkGradOp, [g!, idx!], { shape: x!.shape, axis, k: 1 })[0]!];
  },
});

const argmaxOp = defineOp<AxisAttrs>({
  name: 'argmax',
  nondifferentiable: true,
  infer: ([x], attrs) => [{ shape: inferSelect('argmax', x!, attrs), dtype: 'int32' }],
  kernels: {
    cpu({ inputs: [x], outputs: [i], attrs }) {
      argReduce(cpuF32(x!), layout('argmax', x!, attrs.axis).dims, null, cpuI32(i!));
    },
    webgpu({ inputs: [x], outputs: [i], attrs }) {
      argReduceGpu('argmax', x!, layout('argmax', x!, attrs.axis).dims, null, i!);
    },
  },
});

/** Above this k a full sort of the row beats keeping a sorted buffer of the best k (O(n·k) in the worst case). */
const INSERTION_MAX_K = 64;

function topkRow(row: Float32Array, k: number, vals: Float32Array, idxs: Int32Array, at: number): void {
  const n = row.length;
  if (k <= INSERTION_MAX_K) {
    let count = 0;
    for (let j = 0; j < n; j++) {
      const v = row[j]!;
      // Strictly greater, so that an equal value met later never displaces an earlier one.
      if (count === k && !greater(v, vals[at + k - 1]!)) continue;
      let p = count < k ? count++ : k - 1;
      while (p > 0 && greater(v, vals[at + p - 1]!)) {
        vals[at + p] = vals[at + p - 1]!;
        idxs[at + p] = idxs[at + p - 1]!;
        p--;
      }
      vals[at + p] = v;
      idxs[at + p] = j;
    }
    return;
  }
  const order = new Int32Array(n);
  for (let j = 0; j < n; j++) order[j] = j;
  order.sort((a, b) => (greater(row[a]!, row[b]!) ? -1 : greater(row[b]!, row[a]!) ? 1 : a - b));
  for (let j = 0; j < k; j++) { idxs[at + j] = order[j]!; vals[at + j] = row[order[j]!]!; }
}

const topkOp = defineOp<{ k: number }>({
  name: 'topk',
  infer([x], { k }) {
    if (x!.dtype !== 'float32') throw opError('topk', 'input must be float32', [x!]);
    if (x!.rank === 0) throw opError('topk', 'the input needs at least one axis', [x!]);
    const n = x!.shape[x!.rank - 1]!;
    if (!Number.isInteger(k) || k < 0 || k > n) throw opError('topk', `k=${k} is out of range for a last axis of length ${n}`, [x!]);
    const shape = [...x!.shape.slice(0, -1), k];
    return [{ shape, dtype: 'float32' }, { shape, dtype: 'int32' }];
  },
  kernels: {
    cpu({ inputs: [x], outputs: [v, i], attrs: { k } }) {
      const xd = cpuF32(x!), vd = cpuF32(v!), id = cpuI32(i!);
      const n = x!.shape[x!.rank - 1]!;
      const rows = n === 0 ? 0 : xd.length / n;
      for (let r = 0; r < rows; r++) topkRow(xd.subarray(r * n, (r + 1) * n), k, vd, id, r * k);
    },
    webgpu({ inputs: [x], outputs: [v, i], attrs: { k } }) {
      topkGpu(x!, k, v!, i!);
    },
  },
  backward: ([g], { inputs: [x], outputs: [, idx], attrs: { k } }) =>
    [runOp(maxTopkGradOp, [g!, idx!], { shape: x!.shape, axis: x!.rank - 1, k })[0]!],
});

/**
 * The largest element along `axis` (all elements when undefined), dropping that axis unless `keepdims`.
 * Its gradient goes to the first largest element only.
 */
export function max(x: Tensor, axis?: number, keepdims = false): Tensor {
  const [values, indices] = runOp(maxOp, [x], { axis, keepdims });
  indices!.dispose();
  return values!;
}

/** The index (int32) of the first largest element along `axis`; over the flattened tensor when undefined. */
export function argmax(x: Tensor, axis?: number, keepdims = false): Tensor {
  return runOp(argmaxOp, [x], { axis, keepdims })[0]!;
}

/**
 * The k largest elements along the last axis, in descending order (ties in index order), and their int32
 * indices. The values are differentiable: their gradient goes back to the elements they came from.
 */
export function topk(x: Tensor, k: number): [values: Tensor, indices: Tensor] {
  const [values, indices] = runOp(topkOp, [x], { k });
  return [values!, indices!];
}
