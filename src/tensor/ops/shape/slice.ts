import { defineOp, runOp } from '../../op.js';
import { opError } from '../../errors.js';
import { aroundAxis, type Shape } from '../../shape.js';
import { Tensor } from '../../tensor.js';
import { cpuData } from '../../backends/cpu/cpu-backend.js';
import { mapElements } from '../../backends/webgpu/elementwise.js';
import { copyInto, via32Bits, zeroFill } from '../../backends/webgpu/copy.js';
import { contiguousStrides } from '../../backends/webgpu/windows.js';

/**
 * x[start:end] along one axis. Two ops share the semantics: `sliceView` when the window is contiguous (every axis
 * before `axis` has size 1, as for a slice along axis 0), which copies nothing, and `slice`, a copy, otherwise.
 * The choice cannot be made inside one op because an op is either a view or a kernel; `slice()` picks.
 * `slice` itself accepts any slice, so code that runs the op by name (autodiff's `jacobian`) is always correct.
 */
interface SliceAttrs { axis: number; start: number; end: number }

interface Resolved { axis: number; start: number; end: number; outer: number; n: number; inner: number }

/** Resolves negative axis and indices (Python-style) and rejects windows outside the axis. */
function resolve(name: string, x: Tensor, { axis, start, end }: SliceAttrs): Resolved {
  const r = x.rank;
  const a = axis < 0 ? axis + r : axis;
  if (!Number.isInteger(a) || a < 0 || a >= r) throw opError(name, `axis ${axis} is out of range for a tensor of rank ${r}`, [x]);
  const [outer, n, inner] = aroundAxis(x.shape, a);
  const s = start < 0 ? start + n : start;
  const e = end < 0 ? end + n : end;
  if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e > n || s > e) {
    throw opError(name, `[${start}, ${end}) is not a range within axis ${axis} of size ${n}`, [x]);
  }
  return { axis: a, start: s, end: e, outer, n, inner };
}

function slicedShape(x: Tensor, r: Resolved): number[] {
  const shape = [...x.shape];
  shape[r.axis] = r.end - r.start;
  return shape;
}

const sliceOp = defineOp<SliceAttrs>({
  name: 'slice',
  infer([x], attrs) {
    return [{ shape: slicedShape(x!, resolve('slice', x!, attrs)), dtype: x!.dtype }];
  },
  kernels: {
    cpu({ inputs: [x], outputs: [o], attrs }) {
      const { start, end, outer, n, inner } = resolve('slice', x!, attrs);
      const src = cpuData(x!), dst = cpuData(o!);
      const block = (end - start) * inner;
      for (let i = 0; i < outer; i++) {
        const from = (i * n + start) * inner;
        dst.set(src.subarray(from, from + block) as never, i * block);
      }
    },
    webgpu({ inputs: [x], outputs: [o], attrs }) {
      const { start, inner } = resolve('slice', x!, attrs);
      mapElements({ op: 'slice', out: o!, inputs: [{ tensor: x!, strides: contiguousStrides(x!.shape), offset: start * inner, mode: 'bits' }], outMode: 'bits', body: 'return v0;' });
    },
  },
  backward: ([g], { inputs: [x], attrs }) => [sliceGrad(g!, x!.shape, attrs)],
});

const sliceViewOp = defineOp<SliceAttrs>({
  name: 'sliceView',
  infer([x], attrs) {
    const r = resolve('slice', x!, attrs);
    if (r.outer !== 1) throw opError('sliceView', `internal: a slice along axis ${r.axis} is not contiguous; use slice`, [x!]);
    return [{ shape: slicedShape(x!, r), dtype: x!.dtype }];
  },
  viewOffset: (x, attrs) => {
    const r = resolve('slice', x, attrs);
    return r.start * r.inner;
  },
  backward: ([g], { inputs: [x], attrs }) => [sliceGrad(g!, x!.shape, attrs)],
});

interface SliceGradAttrs extends SliceAttrs { shape: Shape }

/** The adjoint of slice: g placed at [start, end) along the axis of a zero tensor of the input's shape. */
const sliceGradOp = defineOp<SliceGradAttrs>({
  name: 'sliceGrad',
  internal: true,
  infer([g], { shape }) {
    return [{ shape: [...shape], dtype: g!.dtype }];
  },
  kernels: {
    cpu({ inputs: [g], outputs: [o], attrs }) {
      const src = cpuData(g!), dst = cpuData(o!);
      const a = attrs.axis < 0 ? attrs.axis + attrs.shape.length : attrs.axis;
      const [outer, n, inner] = aroundAxis(attrs.shape, a);
      const start = attrs.start < 0 ? attrs.start + n : attrs.start;
      const end = attrs.end < 0 ? attrs.end + n : attrs.end;
      const block = (end - start) * inner;
      for (let i = 0; i < outer; i++) {
        const row = i * n * inner;
        dst.fill(0, row, row + start * inner);
        dst.set(src.subarray(i * block, (i + 1) * block) as never, row + start * inner);
        dst.fill(0, row + end * inner, row + n * inner);
      }
    },
    webgpu({ inputs: [g], outputs: [o], attrs }) {
      const a = attrs.axis < 0 ? attrs.axis + attrs.shape.length : attrs.axis;
      const [, n, inner] = aroundAxis(attrs.shape, a);
      const start = attrs.start < 0 ? attrs.start + n : attrs.start;
      zeroFill(o!);
      via32Bits('sliceGrad', [g!], o!, ([src], dst) => copyInto('sliceGrad', src!, dst, contiguousStrides(attrs.shape), start * inner));
    },
  },
  backward: ([gg], { attrs }) => [slice(gg!, attrs.axis, attrs.start, attrs.end)],
});

function sliceGrad(g: Tensor, shape: Shape, attrs: SliceAttrs): Tensor {
  return runOp(sliceGradOp, [g], { ...attrs, shape })[0]!;
}

/**
 * x[start:end] along `axis` (negative axis and indices count from the end; `end` defaults to the axis' size).
 * A view sharing x's storage when every axis before `axis` has size 1, a copy otherwise.
 */
export function slice(x: Tensor, axis: number, start: number, end?: number): Tensor {
  if (!(x instanceof Tensor)) throw opError('slice', 'input #0 is not a tensor');
  x.assertAlive('slice');
  const attrs = { axis, start, end: end ?? x.shape[axis < 0 ? axis + x.rank : axis] ?? 0 };
  const r = resolve('slice', x, attrs);
  return runOp(r.outer === 1 ? sliceViewOp : sliceOp, [x], attrs)[0]!;
}
