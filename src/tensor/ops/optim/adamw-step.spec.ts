import type { OpSpec, ForwardCase } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import { f32, size, values } from '../../testing/reference.js';
import type { Shape } from '../../shape.js';
import { adamwStep, type AdamWStepAttrs } from './adamw-step.js';

/** torch.optim.AdamW's update for one step t, written out in float64. */
function reference(p: number[], g: number[], m: number[], v: number[], s: number, lr: number, wd: number, t: number, b1 = 0.9, b2 = 0.999, eps = 1e-8): number[][] {
  const po: number[] = [], mo: number[] = [], vo: number[] = [];
  p.forEach((pi, i) => {
    const gi = g[i]! * s;
    const mi = b1 * m[i]! + (1 - b1) * gi;
    const vi = b2 * v[i]! + (1 - b2) * gi * gi;
    const denom = Math.sqrt(vi) / Math.sqrt(1 - b2 ** t) + eps;
    po.push(pi * (1 - lr * wd) - (lr / (1 - b1 ** t)) * (mi / denom));
    mo.push(mi); vo.push(vi);
  });
  return [po, mo, vo];
}

function attrs(lr: number, wd: number, t: number, b1 = 0.9, b2 = 0.999): AdamWStepAttrs {
  return { b1, b2, eps: 1e-8, stepSize: lr / (1 - b1 ** t), sqrtBc2: Math.sqrt(1 - b2 ** t), decay: 1 - lr * wd };
}

function stepCase(name: string, shape: Shape, s: number, lr: number, wd: number, t: number, seed: number): ForwardCase {
  return { op: 'adamwStep', name, run() {
    const n = size(shape);
    const p = f32(values(n, seed)), g = f32(values(n, seed + 1)), m = f32(values(n, seed + 2, -0.1, 0.1)), v = f32(values(n, seed + 3, 0, 0.02));
    const sc = f32([s]);
    return {
      actual: adamwStep(tensor(p, shape), tensor(g, shape), tensor(m, shape), tensor(v, shape), tensor(sc, [1]), attrs(lr, wd, t)),
      expected: reference(p, g, m, v, sc[0]!, lr, wd, t), shapes: [shape, shape, shape], rtol: 1e-5, atol: 1e-6,
    };
  } };
}

export const spec: OpSpec = {
  forward: [
    stepCase('[2,3] first step, no decay', [2, 3], 1, 1e-2, 0, 1, 11),
    stepCase('[7] step 5, decay, gradient scaled by 0.25', [7], 0.25, 3e-3, 0.1, 5, 21),
    stepCase('[3,70] step 200 (across workgroups)', [3, 70], 0.6, 1e-3, 0.1, 200, 31),
    stepCase('[4,1,5] zero moments', [4, 1, 5], 1, 1e-3, 0, 1, 41),
    stepCase('[0] empty', [0], 1, 1e-3, 0.1, 3, 51),
  ],
  grad: [],
  errors: [
    { op: 'adamwStep', name: 'a moment of another shape', run: () => adamwStep(tensor([1, 2], [2]), tensor([1, 2], [2]), tensor([1, 2, 3], [3]), tensor([1, 2], [2]), tensor([1], [1]), attrs(1e-3, 0, 1)), message: /adamwStep: the first moment \[3\] differs from the parameter \[2\]/ },
    { op: 'adamwStep', name: 'a scale of two elements', run: () => adamwStep(tensor([1], [1]), tensor([1], [1]), tensor([1], [1]), tensor([1], [1]), tensor([1, 1], [2]), attrs(1e-3, 0, 1)), message: /adamwStep: the gradient scale must hold one element, got \[2\]/ },
    { op: 'adamwStep', name: 'an int32 gradient', run: () => adamwStep(tensor([1], [1]), tensor(new Int32Array([1]), [1]), tensor([1], [1]), tensor([1], [1]), tensor([1], [1]), attrs(1e-3, 0, 1)), message: /adamwStep: every input must be float32/ },
    { op: 'adamwStep', name: 'an infinite step size', run: () => adamwStep(tensor([1], [1]), tensor([1], [1]), tensor([1], [1]), tensor([1], [1]), tensor([1], [1]), { ...attrs(1e-3, 0, 1), stepSize: Infinity }), message: /adamwStep: attribute stepSize must be a finite number/ },
  ],
};
