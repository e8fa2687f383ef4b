import { defineOp, runOp } from '../../op.js';
import { opError } from '../../errors.js';
import { fmt } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { cpuF32 } from '../../backends/cpu/cpu-backend.js';
import { normGpu, normGradGpu } from './norm.wgsl.js';

/**
 * Mamba's RMSNorm over the last axis: y = x · rsqrt(mean(x²) + eps) · weight, fused into one pass per row.
 * The per-row sums are accumulated in float64 (they are the only reductions, and d reaches thousands).
 * The backward is one fused op that recomputes the row statistics from the saved input.
 */
interface NormAttrs { eps: number }

/** Checks x [..., d] and the named per-feature parameters [d]; gives d. */
export function checkNorm(name: string, inputs: readonly Tensor[], params: readonly string[], eps: number): number {
  const x = inputs[0]!;
  if (inputs.some((t) => t.dtype !== 'float32')) throw opError(name, 'inputs must be float32', inputs);
  if (x.rank < 1) throw opError(name, 'x must have a feature axis (rank ≥ 1)', inputs);
  const d = x.shape[x.rank - 1]!;
  params.forEach((p, i) => {
    const t = inputs[i + 1]!;
    if (t.rank !== 1 || t.shape[0] !== d) throw opError(name, `${p} has shape ${fmt(t.shape)} but must be [${d}], the last axis of x`, inputs);
  });
  if (typeof eps !== 'number' || !(eps >= 0) || !Number.isFinite(eps)) throw opError(name, `eps must be a non-negative number, got ${eps}`, inputs);
  return d;
}

const rmsnormOp = defineOp<NormAttrs>({
  name: 'rmsnorm',
  infer(inputs, { eps }) {
    checkNorm('rmsnorm', inputs, ['weight'], eps);
    return [{ shape: [...inputs[0]!.shape], dtype: 'float32' }];
  },
  kernels: {
    cpu({ inputs: [x, w], outputs: [o], attrs: { eps } }) {
      const xs = cpuF32(x!), ws = cpuF32(w!), ys = cpuF32(o!);
      const d = ws.length;
      for (let base = 0; base < xs.length; base += d) {
        let ss = 0;
        for (let i = 0; i < d; i++) { const v = xs[base + i]!; ss += v * v; }
        const r = 1 / Math.sqrt(ss / d + eps);
        for (let i = 0; i < d; i++) ys[base + i] = xs[base + i]! * r * ws[i]!;
      }
    },
    webgpu: ({ inputs: [x, w], outputs: [o], attrs: { eps } }) => normGpu('rmsnorm', x!, w!, null, o!, eps),
  },
  backward: ([g], { inputs: [x, w], attrs }) => runOp(rmsnormGradOp, [g!, x!, w!], attrs),
});

/**
 * With r = rsqrt(mean(x²) + eps): ∂L/∂x = r·(g⊙w) − x·r³·⟨g⊙w, x⟩/d per row, ∂L/∂w = Σ_rows g⊙x·r.
 */
const rmsnormGradOp = defineOp<NormAttrs>({
  name: 'rmsnormGrad',
  internal: true,
  infer(inputs, { eps }) {
    const [g, x, w] = inputs as [Tensor, Tensor, Tensor];
    const d = checkNorm('rmsnormGrad', [x, w], ['weight'], eps);
    if (g.dtype !== 'float32' || g.size !== x.size) throw opError('rmsnormGrad', 'the gradient must match x', inputs);
    return [{ shape: [...x.shape], dtype: 'float32' }, { shape: [d], dtype: 'float32' }];
  },
  kernels: {
    cpu({ inputs: [g, x, w], outputs: [gx, gw], attrs: { eps } }) {
      const gs = cpuF32(g!), xs = cpuF32(x!), ws = cpuF32(w!), gxs = cpuF32(gx!), gws = cpuF32(gw!);
      const d = ws.length;
      const accW = new Float64Array(d);
      for (let base = 0; base < xs.length; base += d) {
        let ss = 0, dot = 0;
        for (let i = 0; i < d; i++) {
          const v = xs[base + i]!;
          ss += v * v;
          dot += gs[base + i]! * ws[i]! * v;
        }
        const r = 1 / Math.sqrt(ss / d + eps);
        const c = (r * r * r * dot) / d;
        for (let i = 0; i < d; i++) {
          const gi = gs[base + i]!, v = xs[base + i]!;
          gxs[base + i] = r * gi * ws[i]! - v * c;
          accW[i]! += gi * v * r;
        }
      }
      gws.set(accW);
    },
    webgpu: ({ inputs: [g, x, w], outputs: [gx, gw], attrs: { eps } }) => normGradGpu('rmsnorm', g!, x!, w!, gx!, gw!, null, eps),
  },
});

/** RMSNorm over the last axis of x [..., d] with a weight [d] (Mamba uses eps = 1e-5). */
export function rmsnorm(x: Tensor, weight: Tensor, eps = 1e-5): Tensor {
  return runOp(rmsnormOp, [x, weight], { eps })[0]!;
}
