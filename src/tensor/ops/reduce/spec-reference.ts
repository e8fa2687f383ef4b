import type { Shape } from '../../shape.js';
import { values } from '../../testing/reference.js';

/** Naive float64 helpers for the reduction specs (deliberately simple, never fast). */

/**
 * For each output element of a reduction over `axes` (row-major over the kept axes), the flat input indices that
 * reduce into it, in row-major order of the reduced axes.
 */
export function groups(shape: Shape, axes: readonly number[]): number[][] {
  const total = shape.reduce((a, b) => a * b, 1);
  const outShape = shape.filter((_, d) => !axes.includes(d));
  const out: number[][] = Array.from({ length: outShape.reduce((a, b) => a * b, 1) }, () => []);
  for (let i = 0; i < total; i++) {
    let rem = i, key = 0, mult = 1;
    for (let d = shape.length - 1; d >= 0; d--) {
      const c = rem % shape[d]!;
      rem = Math.floor(rem / shape[d]!);
      if (!axes.includes(d)) { key += c * mult; mult *= shape[d]!; }
    }
    out[key]!.push(i);
  }
  return out;
}

/** n float32-exact values, all distinct and at least 0.1 apart, in a seeded order: selections without near-ties. */
export function distinct(n: number, seed: number): number[] {
  const keys = values(n, seed);
  const order = [...keys.keys()].sort((a, b) => keys[a]! - keys[b]!);
  const out = new Array<number>(n);
  order.forEach((pos, rank) => { out[pos] = (rank - n / 2) * 0.125; });
  return out;
}
