import type { Shape } from '../../shape.js';

/** Naive index arithmetic for the shape ops' reference implementations (specs only; deliberately simple). */

export function unravel(flat: number, shape: Shape): number[] {
  const c = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) { c[k] = flat % shape[k]!; flat = Math.floor(flat / shape[k]!); }
  return c;
}

export function ravel(coords: readonly number[], shape: Shape): number {
  let flat = 0;
  for (let k = 0; k < shape.length; k++) flat = flat * shape[k]! + coords[k]!;
  return flat;
}

/** Builds the elements of an output of `shape`, each computed from its coordinates. */
export function build(shape: Shape, at: (coords: number[]) => number): number[] {
  const n = shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, (_, i) => at(unravel(i, shape)));
}
