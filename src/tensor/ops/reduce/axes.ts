import { opError } from '../../errors.js';
import type { Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';

/** Axes to reduce: one axis, several, or undefined for all of them (an empty list reduces none, as in NumPy). */
export type Axes = number | readonly number[] | undefined;

/** Resolves one possibly negative axis, with an error that names the op and the input's shape. */
export function resolveAxis(op: string, x: Tensor, axis: number): number {
  const a = axis < 0 ? axis + x.rank : axis;
  if (!Number.isInteger(axis) || a < 0 || a >= x.rank) throw opError(op, `axis ${axis} is out of range for a tensor of rank ${x.rank}`, [x]);
  return a;
}

/** Resolved axes, ascending and without repeats (a repeat is an error, as in PyTorch). */
export function resolveAxes(op: string, x: Tensor, axes: Axes): number[] {
  if (axes === undefined) return [...x.shape.keys()];
  const list = typeof axes === 'number' ? [axes] : axes;
  const out = list.map((a) => resolveAxis(op, x, a));
  for (let i = 0; i < out.length; i++) if (out.indexOf(out[i]!) !== i) throw opError(op, `axis ${list[i]} is listed twice in [${list.join(',')}]`, [x]);
  return out.sort((a, b) => a - b);
}

/** The shape left after reducing `axes`: those dimensions dropped, or kept as 1 with keepdims. */
export function reducedShape(shape: Shape, axes: readonly number[], keepdims: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}
