import { tensor } from '../creation.js';
import { vjp } from '../autodiff.js';
import type { Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { f32, values } from './reference.js';

/**
 * Test helpers for fused ops whose backward is a hand-written kernel: the expected gradient comes from central
 * differences of the naive float64 reference itself (step 1e-6, error ~1e-9), so it shares no code or formula
 * with the kernel under test, and is far tighter than finite differences through float32.
 */

/** ∇ of Σ_i w_i·f(xs)_i with respect to every element of every input, by float64 central differences. */
export function referenceGradient(f: (xs: number[][]) => number[], xs: number[][], w: readonly number[], h = 1e-6): number[][] {
  const loss = (ys: number[]) => ys.reduce((acc, y, i) => acc + y * w[i]!, 0);
  return xs.map((x, k) => x.map((v, e) => {
    const at = (d: number) => loss(f(xs.map((arr, j) => (j === k ? arr.map((u, i) => (i === e ? v + d : u)) : arr))));
    return (at(h) - at(-h)) / (2 * h);
  }));
}

/**
 * Runs `f` on float32 tensors made from `xs`, and pulls back the seed `w` through the op's backward: the
 * gradients the engine gives for Σ w·f, to compare with `referenceGradient`.
 */
export function engineGradient(f: (...ts: Tensor[]) => Tensor, xs: number[][], shapes: readonly Shape[], w: readonly number[]): Tensor[] {
  const ts = xs.map((x, i) => tensor(Float32Array.from(x), shapes[i]));
  const v = vjp(() => f(...ts), ts);
  try {
    const seed = tensor(Float32Array.from(w), v.value.shape);
    return v.pullback(seed);
  } finally {
    v.value.dispose();
    v.dispose();
  }
}

/** Deterministic float32-exact inputs in [lo, hi). */
export function inputs(n: number, seed: number, lo = -1, hi = 1): number[] {
  return f32(values(n, seed, lo, hi));
}
