import type { Shape } from '../shape.js';

/** Naive float64 helpers for reference implementations in op specs (deliberately simple, never fast). */

/** The flat index into `inShape` that broadcasting maps output element `flat` of `outShape` to. */
export function broadcastIndex(outShape: Shape, inShape: Shape, flat: number): number {
  let idx = 0, stride = 1, rem = flat;
  const coords = new Array<number>(outShape.length);
  for (let d = outShape.length - 1; d >= 0; d--) { coords[d] = rem % outShape[d]!; rem = Math.floor(rem / outShape[d]!); }
  for (let d = inShape.length - 1; d >= 0; d--) {
    const od = d + outShape.length - inShape.length;
    const c = inShape[d] === 1 ? 0 : coords[od]!;
    idx += c * stride;
    stride *= inShape[d]!;
  }
  return idx;
}

export function size(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Deterministic pseudo-random float64 values in [lo, hi) for building reference inputs. */
export function values(n: number, seed: number, lo = -1, hi = 1): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return lo + (hi - lo) * (s / 4294967296);
  });
}

/** Rounds through float32, so references start from exactly the inputs the engine sees. */
export function f32(xs: number[]): number[] {
  return Array.from(Float32Array.from(xs));
}
