import type { OpSpec, ForwardCase, GradCase } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import { f32, size, values } from '../../testing/reference.js';
import type { Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { logSoftmax, logsumexp, softmax } from './softmax.js';
import { groups } from './spec-reference.js';

const cases: [Shape, number][] = [[[2, 3, 4], -1], [[2, 3, 4], 1], [[2, 3, 4], 0], [[3, 1, 5], 1], [[3, 1, 5], -1], [[6], 0], [[1, 1], -1]];

/** log Σ e^x computed the naive way, in float64 (no overflow for the inputs used here). */
const naiveLse = (xs: number[]) => Math.log(xs.reduce((t, v) => t + Math.exp(v), 0));

/** softmax, logSoftmax and logsumexp references over one axis; the first two in the input's layout. */
function reference(xv: number[], s: Shape, axis: number): { soft: number[]; logSoft: number[]; lse: number[] } {
  const soft = new Array<number>(xv.length), logSoft = new Array<number>(xv.length);
  const lse = groups(s, [axis < 0 ? axis + s.length : axis]).map((g) => {
    const l = naiveLse(g.map((i) => xv[i]!));
    for (const i of g) { logSoft[i] = xv[i]! - l; soft[i] = Math.exp(xv[i]! - l); }
    return l;
  });
  return { soft, logSoft, lse };
}

function forward(op: 'softmax' | 'logSoftmax' | 'logsumexp'): ForwardCase[] {
  return cases.map(([s, axis], k) => ({
    op, name: `[${s}] axis ${axis}`,
    run() {
      const xv = f32(values(size(s), 1200 + k, -4, 4));
      const x = tensor(xv, s), r = reference(xv, s, axis);
      if (op === 'logsumexp') {
        return { actual: [logsumexp(x, axis), logsumexp(x, axis, true)], expected: [r.lse, r.lse], atol: 1e-6, rtol: 1e-6 };
      }
      return op === 'softmax'
        ? { actual: softmax(x, axis), expected: r.soft, shapes: [s], atol: 1e-7, rtol: 1e-6 }
        : { actual: logSoftmax(x, axis), expected: r.logSoft, shapes: [s], atol: 1e-6, rtol: 1e-6 };
    },
  }));
}

function grad(op: 'softmax' | 'logSoftmax' | 'logsumexp'): GradCase[] {
  const fn = { softmax, logSoftmax, logsumexp }[op];
  return cases.slice(0, 5).map(([s, axis], k) => ({
    op, name: `[${s}] axis ${axis}`, covers: [`${op}Grad`],
    inputs: () => [tensor(values(size(s), 1300 + k, -2, 2), s)],
    f: (x: Tensor) => fn(x, axis),
  }));
}

/** Rows far from 0 where a naive e^x overflows float32 and float64: the results must be the shifted ones. */
const big = [1000, 1001, 999, -1000, -1001, -999];

export const spec: OpSpec = {
  forward: [
    ...forward('softmax'), ...forward('logSoftmax'), ...forward('logsumexp'),
    { op: 'softmax', name: 'default axis, large magnitudes', run() {
      const p = (v: number) => Math.exp(v) / (1 + Math.E + 1 / Math.E);
      return { actual: softmax(tensor(big, [2, 3])), expected: [0, 1, -1, 0, -1, 1].map(p), atol: 1e-7, rtol: 1e-6 };
    } },
    { op: 'logSoftmax', name: 'default axis, large magnitudes', run() {
      const l = Math.log(1 + Math.E + 1 / Math.E);
      return { actual: logSoftmax(tensor(big, [2, 3])), expected: [0, 1, -1, 0, -1, 1].map((v) => v - l), atol: 1e-5, rtol: 1e-6 };
    } },
    { op: 'logsumexp', name: 'large magnitudes and -Infinity rows', run() {
      const l = Math.log(1 + Math.E + 1 / Math.E);
      return {
        actual: [logsumexp(tensor(big, [2, 3])), logsumexp(tensor([-Infinity, -Infinity, 0, -Infinity], [2, 2]), 1, true)],
        expected: [[1000 + l, -1000 + l], [-Infinity, 0]], atol: 1e-4, rtol: 1e-6,
      };
    } },
    { op: 'softmax', name: 'a NaN poisons only its row', run: () => ({
      actual: softmax(tensor([0, NaN, 1, 0, 0, Math.log(2)], [2, 3])), expected: [NaN, NaN, NaN, 0.25, 0.25, 0.5], atol: 1e-7,
    }) },
  ],
  grad: [
    ...grad('softmax'), ...grad('logSoftmax'), ...grad('logsumexp'),
    { op: 'logsumexp', name: 'keepdims over the middle axis', covers: ['logsumexpGrad'], inputs: () => [tensor(values(24, 1400, -2, 2), [2, 3, 4])], f: (x: Tensor) => logsumexp(x, 1, true) },
  ],
  errors: [
    { op: 'softmax', name: 'axis out of range', run: () => softmax(tensor(values(6, 1), [2, 3]), 2), message: /softmax: axis 2 is out of range for a tensor of rank 2 \(inputs: #0 float32\[2,3\]\)/ },
    { op: 'softmax', name: 'scalar input', run: () => softmax(tensor([1], [])), message: /softmax: axis -1 is out of range for a tensor of rank 0/ },
    { op: 'logSoftmax', name: 'int32 input', run: () => logSoftmax(tensor(new Int32Array([1, 2]))), message: /logSoftmax: inputs must be float32 \(inputs: #0 int32\[2\]\)/ },
    { op: 'logsumexp', name: 'axis out of range', run: () => logsumexp(tensor(values(6, 1), [2, 3]), -3), message: /logsumexp: axis -3 is out of range/ },
  ],
};
