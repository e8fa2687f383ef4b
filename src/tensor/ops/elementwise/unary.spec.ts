import type { OpSpec, ForwardCase, GradCase } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import { f32, size, values } from '../../testing/reference.js';
import type { Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { abs, erf, exp, gelu, log, negExp, pow, rsqrt, sigmoid, silu, softplus, sqrt, square, tanh } from './unary.js';

/** erf by its Maclaurin series in float64: independent of the kernel's rational approximations, exact to ~1e-13 for |x| ≤ 3. */
function erfSeries(x: number): number {
  let term = x, sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

const naiveSigmoid = (x: number) => 1 / (1 + Math.exp(-x));

interface Unary { fn: (x: Tensor) => Tensor; ref: (x: number) => number; lo: number; hi: number }
const ops: Record<string, Unary> = {
  exp: { fn: exp, ref: Math.exp, lo: -3, hi: 3 },
  negExp: { fn: negExp, ref: (x) => -Math.exp(x), lo: -3, hi: 3 },
  log: { fn: log, ref: Math.log, lo: 0.05, hi: 4 },
  sqrt: { fn: sqrt, ref: Math.sqrt, lo: 0.05, hi: 4 },
  rsqrt: { fn: rsqrt, ref: (x) => 1 / Math.sqrt(x), lo: 0.2, hi: 4 },
  softplus: { fn: softplus, ref: (x) => (x > 20 ? x : Math.log(1 + Math.exp(x))), lo: -6, hi: 6 },
  sigmoid: { fn: sigmoid, ref: naiveSigmoid, lo: -6, hi: 6 },
  silu: { fn: silu, ref: (x) => x * naiveSigmoid(x), lo: -6, hi: 6 },
  gelu: { fn: gelu, ref: (x) => 0.5 * x * (1 + erfSeries(x / Math.SQRT2)), lo: -4, hi: 4 },
  erf: { fn: erf, ref: erfSeries, lo: -3, hi: 3 },
  tanh: { fn: tanh, ref: Math.tanh, lo: -3, hi: 3 },
  abs: { fn: abs, ref: Math.abs, lo: -2, hi: 2 },
  square: { fn: square, ref: (x) => x * x, lo: -2, hi: 2 },
};

const shapes: Shape[] = [[2, 3], [4, 1, 5], [], [0, 3]];

function forward(name: string): ForwardCase[] {
  const u = ops[name]!;
  return shapes.map((s, k) => ({
    op: name, name: `[${s}]`,
    run() {
      const xv = f32(values(size(s), 100 + k, u.lo, u.hi));
      return { actual: u.fn(tensor(xv, s)), expected: xv.map(u.ref), shapes: [s], atol: 1e-6, rtol: 1e-6 };
    },
  }));
}

/** Inputs bounded away from 0, where abs has its kink, and inside each function's domain. */
function gradInputs(u: Unary, s: Shape, seed: number): number[] {
  // Near 0, log and the roots curve so fast that central differences with a 1e-2 step are off by percents.
  const lo = u.lo > 0 ? Math.max(u.lo, 0.3) : u.lo;
  return values(size(s), seed, lo, u.hi).map((v) => (lo < 0 && Math.abs(v) < 0.2 ? v + Math.sign(v || 1) * 0.2 : v));
}

function grad(name: string): GradCase[] {
  const u = ops[name]!;
  return ([[2, 3], [3, 1, 4]] as Shape[]).map((s, k) => ({
    op: name, name: `[${s}]`, covers: ['unaryGrad'],
    inputs: () => [tensor(gradInputs(u, s, 200 + k), s)],
    f: (x: Tensor) => u.fn(x),
  }));
}

const powCases: [number, number, number][] = [[2, -2, 2], [3, -2, 2], [0.5, 0.1, 4], [-1.5, 0.2, 3], [0, -1, 1]];

export const spec: OpSpec = {
  forward: [
    ...Object.keys(ops).flatMap(forward),
    ...powCases.map(([p, lo, hi], k): ForwardCase => ({
      op: 'pow', name: `exponent ${p}`,
      run() {
        const xv = f32(values(12, 300 + k, lo, hi));
        return { actual: pow(tensor(xv, [3, 4]), p), expected: xv.map((x) => Math.pow(x, p)), shapes: [[3, 4]], atol: 1e-6, rtol: 1e-6 };
      },
    })),
    { op: 'erf', name: 'known values', run: () => ({
      actual: erf(tensor([0, 0.1, 0.5, 1, -2, 2.5, 3.5, -0.3, 6, -30])),
      expected: [0, 0.1124629160182849, 0.5204998778130465, 0.8427007929497149, -0.9953222650189527, 0.999593047982555, 0.9999992569016276, -0.3286267594591274, 1, -1],
      atol: 1e-7, rtol: 1e-7,
    }) },
    { op: 'gelu', name: 'known values, including the far negative tail', run: () => ({
      actual: gelu(tensor([0, 1, -1, 0.5, -3, 3, -5, -8])),
      expected: [0, 0.8413447460685429, -0.15865525393145705, 0.34573123063700656, -0.0040496940948902835, 2.99595030590511, -1.4332578593959695e-06, -4.976768459417427e-15],
      atol: 1e-20, rtol: 1e-6,
    }) },
    { op: 'softplus', name: 'threshold and extreme values', run: () => ({
      actual: softplus(tensor([20, 20.5, 100, -100, -30, 0, 1e-3])),
      expected: [Math.log1p(Math.exp(20)), 20.5, 100, Math.exp(-100), Math.exp(-30), Math.LN2, Math.log1p(Math.exp(1e-3))],
      atol: 1e-30, rtol: 1e-6,
    }) },
    { op: 'sigmoid', name: 'saturation without overflow', run: () => ({
      actual: [sigmoid(tensor([-100, 100, -50, 0])), silu(tensor([-100, 100, -50]))],
      expected: [[1 / (1 + Math.exp(100)), 1, 1 / (1 + Math.exp(50)), 0.5], [-100 / (1 + Math.exp(100)), 100, -50 / (1 + Math.exp(50))]],
      atol: 1e-30, rtol: 1e-6,
    }) },
    { op: 'exp', name: 'overflow and underflow', run: () => ({
      actual: [exp(tensor([100, -200])), log(tensor([0, -1])), sqrt(tensor([0])), rsqrt(tensor([0]))],
      expected: [[Infinity, 0], [-Infinity, NaN], [0], [Infinity]],
    }) },
  ],
  grad: [
    ...Object.keys(ops).flatMap(grad),
    ...powCases.slice(0, 4).map(([p, lo, hi], k): GradCase => ({
      op: 'pow', name: `exponent ${p}`, covers: ['unaryGrad'],
      inputs: () => [tensor(values(12, 400 + k, Math.max(lo, 0.3), hi), [3, 4])],
      f: (x: Tensor) => pow(x, p),
    })),
    { op: 'pow', name: 'integer exponent at negative x', covers: ['unaryGrad'], inputs: () => [tensor([-1.5, -0.7, 0.4, 1.2])], f: (x: Tensor) => pow(x, 3) },
    { op: 'softplus', name: 'across the threshold', covers: ['unaryGrad'], inputs: () => [tensor([19, 21, -25, 0.3])], f: (x: Tensor) => softplus(x) },
    { op: 'gelu', name: 'negative tail', covers: ['unaryGrad'], inputs: () => [tensor([-3, -4.5, -2.2, 2.7])], f: (x: Tensor) => gelu(x), atol: 1e-5 },
  ],
  errors: [
    { op: 'exp', name: 'int32 input', run: () => exp(tensor(new Int32Array([1, 2]))), message: /exp: input must be float32 \(inputs: #0 int32\[2\]\)/ },
    { op: 'gelu', name: 'int32 input', run: () => gelu(tensor(new Int32Array([1]))), message: /gelu: input must be float32/ },
    { op: 'pow', name: 'non-finite exponent', run: () => pow(tensor([1, 2]), NaN), message: /pow: exponent must be a finite number, got NaN \(inputs: #0 float32\[2\]\)/ },
  ],
};
