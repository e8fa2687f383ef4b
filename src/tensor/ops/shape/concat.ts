import { defineOp, runOp } from '../../op.js';
import { opError } from '../../errors.js';
import { aroundAxis, fmt } from '../../shape.js';
import { Tensor } from '../../tensor.js';
import { cpuData } from '../../backends/cpu/cpu-backend.js';
import { slice } from './slice.js';
import { reshape } from './reshape.js';
import { copyInto, via32Bits } from '../../backends/webgpu/copy.js';
import { contiguousStrides } from '../../backends/webgpu/windows.js';

/** Joins tensors along an existing axis; every other axis must agree. */
interface ConcatAttrs { axis: number }

function resolveAxis(xs: readonly Tensor[], axis: number): number {
  if (xs.length === 0) throw opError('concat', 'needs at least one tensor');
  const r = xs[0]!.rank;
  const a = axis < 0 ? axis + r : axis;
  if (!Number.isInteger(a) || a < 0 || a >= r) throw opError('concat', `axis ${axis} is out of range for tensors of rank ${r}`, xs);
  return a;
}

const concatOp = defineOp<ConcatAttrs>({
  name: 'concat',
  infer(xs, { axis }) {
    const a = resolveAxis(xs, axis);
    const first = xs[0]!;
    let total = 0;
    xs.forEach((x, i) => {
      if (x.dtype !== first.dtype) throw opError('concat', `input #${i} is ${x.dtype} but input #0 is ${first.dtype}`, xs);
      const same = x.rank === first.rank && x.shape.every((d, k) => k === a || d === first.shape[k]);
      if (!same) throw opError('concat', `input #${i} of shape ${fmt(x.shape)} does not match input #0 of shape ${fmt(first.shape)} outside axis ${axis}`, xs);
      total += x.shape[a]!;
    });
    const shape = [...first.shape];
    shape[a] = total;
    return [{ shape, dtype: first.dtype }];
  },
  kernels: {
    cpu({ inputs, outputs: [o], attrs }) {
      const a = resolveAxis(inputs, attrs.axis);
      const dst = cpuData(o!);
      const [outer, total, inner] = aroundAxis(o!.shape, a);
      let at = 0;
      for (const x of inputs) {
        const src = cpuData(x);
        const block = x.shape[a]! * inner;
        for (let i = 0; i < outer; i++) dst.set(src.subarray(i * block, (i + 1) * block) as never, i * total * inner + at);
        at += block;
      }
    },
    webgpu({ inputs, outputs: [o], attrs }) {
      const a = resolveAxis(inputs, attrs.axis);
      const [, , inner] = aroundAxis(o!.shape, a);
      const strides = contiguousStrides(o!.shape);
      via32Bits('concat', inputs, o!, (xs, out) => {
        let at = 0;
        for (const x of xs) { copyInto('concat', x, out, strides, at * inner); at += x.shape[a]!; }
      });
    },
  },
  backward(grads, { inputs, attrs }) {
    const a = resolveAxis(inputs, attrs.axis);
    let at = 0;
    return inputs.map((x) => {
      const n = x.shape[a]!;
      at += n;
      return slice(grads[0]!, a, at - n, at);
    });
  },
});

/** Joins tensors of one dtype along `axis` (negative counts from the end); all other axes must be equal. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  return runOp(concatOp, xs, { axis })[0]!;
}

/** Stacks tensors of one shape along a new axis `axis` (in [-(rank+1), rank]); a reshape of each, then concat. */
export function stack(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw opError('stack', 'needs at least one tensor');
  xs.forEach((x, i) => { if (!(x instanceof Tensor)) throw opError('stack', `input #${i} is not a tensor`); });
  const r = xs[0]!.rank;
  const a = axis < 0 ? axis + r + 1 : axis;
  if (!Number.isInteger(a) || a < 0 || a > r) throw opError('stack', `axis ${axis} is out of range for stacking tensors of rank ${r}`, xs);
  const shape = xs[0]!.shape;
  xs.forEach((x, i) => {
    if (x.rank !== r || x.shape.some((d, k) => d !== shape[k])) throw opError('stack', `input #${i} of shape ${fmt(x.shape)} differs from input #0 of shape ${fmt(shape)}`, xs);
  });
  const expanded = [...shape.slice(0, a), 1, ...shape.slice(a)];
  const parts = xs.map((x) => reshape(x, expanded));
  try {
    return concat(parts, a);
  } finally {
    for (const p of parts) p.dispose();
  }
}
