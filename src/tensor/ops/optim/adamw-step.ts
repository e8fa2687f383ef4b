import { defineOp, runOp } from '../../op.js';
import { opError } from '../../errors.js';
import { fmt, sameShape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { cpuF32 } from '../../backends/cpu/cpu-backend.js';
import { launch } from '../../backends/webgpu/kernel.js';

/**
 * One AdamW update of one parameter in a single pass: the gradient (scaled by a factor that lives on the device,
 * the clipping factor), both moments and the parameter, with torch.optim.AdamW's arithmetic. Written as separate
 * elementwise ops the update takes fourteen kernels per parameter, which made the optimizer most of a training
 * step's kernels on the GPU; fused it takes one. Every step is rounded to float32 as the separate ops round it.
 */
export interface AdamWStepAttrs {
  b1: number;
  b2: number;
  eps: number;
  /** lr / (1 − b1^t). */
  stepSize: number;
  /** √(1 − b2^t). */
  sqrtBc2: number;
  /** 1 − lr·weightDecay for decayed parameters, 1 for the others. */
  decay: number;
}

const f = Math.fround;

const adamwStepOp = defineOp<AdamWStepAttrs>({
  name: 'adamwStep',
  nondifferentiable: true,
  infer(inputs, a) {
    const [p, g, m, v, s] = inputs as [Tensor, Tensor, Tensor, Tensor, Tensor];
    if (inputs.length !== 5) throw opError('adamwStep', 'expects parameter, gradient, first and second moments, and the gradient scale', inputs);
    if (inputs.some((t) => t.dtype !== 'float32')) throw opError('adamwStep', 'every input must be float32', inputs);
    for (const [name, t] of [['gradient', g], ['first moment', m], ['second moment', v]] as const) {
      if (!sameShape(t.shape, p.shape)) throw opError('adamwStep', `the ${name} ${fmt(t.shape)} differs from the parameter ${fmt(p.shape)}`, inputs);
    }
    if (s.size !== 1) throw opError('adamwStep', `the gradient scale must hold one element, got ${fmt(s.shape)}`, inputs);
    for (const k of ['b1', 'b2', 'eps', 'stepSize', 'sqrtBc2', 'decay'] as const) {
      if (!Number.isFinite(a[k])) throw opError('adamwStep', `attribute ${k} must be a finite number, got ${a[k]}`, inputs);
    }
    return [0, 1, 2].map(() => ({ shape: [...p.shape], dtype: 'float32' as const }));
  },
  kernels: {
    cpu({ inputs, outputs, attrs: a }) {
      const [p, g, m, v] = inputs.slice(0, 4).map(cpuF32) as [Float32Array, Float32Array, Float32Array, Float32Array];
      const s = cpuF32(inputs[4]!)[0]!;
      const [po, mo, vo] = outputs.map(cpuF32) as [Float32Array, Float32Array, Float32Array];
      const b1 = f(a.b1), c1 = f(1 - a.b1), b2 = f(a.b2), c2 = f(1 - a.b2), eps = f(a.eps), step = f(a.stepSize), sq = f(a.sqrtBc2), decay = f(a.decay);
      for (let i = 0; i < p.length; i++) {
        const gs = f(g[i]! * s);
        const mi = f(f(m[i]! * b1) + f(gs * c1));
        const vi = f(f(v[i]! * b2) + f(f(gs * gs) * c2));
        const denom = f(f(f(Math.sqrt(vi)) / sq) + eps);
        mo[i] = mi; vo[i] = vi;
        po[i] = f(f(p[i]! * decay) - f(f(mi / denom) * step));
      }
    },
    webgpu({ inputs, outputs, attrs: a }) {
      const n = inputs[0]!.size;
      if (n === 0) return;
      const names = ['p', 'g', 'm', 'v', 's'];
      launch({
        op: 'adamwStep',
        operands: [...inputs.map((tensor, i) => ({ name: names[i]!, tensor })), ...['po', 'mo', 'vo'].map((name, i) => ({ name, tensor: outputs[i]!, write: true }))],
        u32: { n },
        f32: { b1: a.b1, c1: 1 - a.b1, b2: a.b2, c2: 1 - a.b2, eps: a.eps, step: a.stepSize, sq: a.sqrtBc2, decay: a.decay },
        code: `
fn item(i: u32) {
  let gs = ld_g(i) * ld_s(0u);
  let mi = ld_m(i) * P.b1 + gs * P.c1;
  let vi = ld_v(i) * P.b2 + (gs * gs) * P.c2;
  let denom = sqrt(vi) / P.sq + P.eps;
  st_mo(i, mi);
  st_vo(i, vi);
  st_po(i, ld_p(i) * P.decay - (mi / denom) * P.step);
}`,
        items: { count: n, windows: (lo, hi) => ({ p: [lo, hi], g: [lo, hi], m: [lo, hi], v: [lo, hi], s: [0, 1], po: [lo, hi], mo: [lo, hi], vo: [lo, hi] }) },
      });
    },
  },
});

/** The new parameter, first moment and second moment after one AdamW step (see adamwStepOp). */
export function adamwStep(p: Tensor, g: Tensor, m: Tensor, v: Tensor, gradScale: Tensor, attrs: AdamWStepAttrs): [Tensor, Tensor, Tensor] {
  return runOp(adamwStepOp, [p, g, m, v, gradScale], attrs) as [Tensor, Tensor, Tensor];
}
