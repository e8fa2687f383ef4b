import { defineOp, runOp } from '../../op.js';
import { opError } from '../../errors.js';
import type { Tensor } from '../../tensor.js';
import { cpuF32 } from '../../backends/cpu/cpu-backend.js';
import { checkNorm } from './rmsnorm.js';
import { normGpu, normGradGpu } from './norm.wgsl.js';

/**
 * GPT-NeoX's LayerNorm over the last axis, with the biased variance (as torch): y = (x − μ)·rsqrt(σ² + eps)·w + b.
 * Each row's Σx and Σx² are accumulated in float64 in one pass; in float64, σ² = E[x²] − μ² loses nothing that
 * matters for float32 data, so the row is read once for its statistics and once to write.
 */
interface NormAttrs { eps: number }

const layerNormOp = defineOp<NormAttrs>({
  name: 'layerNorm',
  infer(inputs, { eps }) {
    checkNorm('layerNorm', inputs, ['weight', 'bias'], eps);
    return [{ shape: [...inputs[0]!.shape], dtype: 'float32' }];
  },
  kernels: {
    cpu({ inputs: [x, w, b], outputs: [o], attrs: { eps } }) {
      const xs = cpuF32(x!), ws = cpuF32(w!), bs = cpuF32(b!), ys = cpuF32(o!);
      const d = ws.length;
      for (let base = 0; base < xs.length; base += d) {
        let s = 0, ss = 0;
        for (let i = 0; i < d; i++) { const v = xs[base + i]!; s += v; ss += v * v; }
        const mu = s / d;
        const r = 1 / Math.sqrt(Math.max(ss / d - mu * mu, 0) + eps);
        for (let i = 0; i < d; i++) ys[base + i] = (xs[base + i]! - mu) * r * ws[i]! + bs[i]!;
      }
    },
    webgpu: ({ inputs: [x, w, b], outputs: [o], attrs: { eps } }) => normGpu('layerNorm', x!, w!, b!, o!, eps),
  },
  backward: ([g], { inputs: [x, w], attrs }) => runOp(layerNormGradOp, [g!, x!, w!], attrs),
});

/**
 * With x̂ = (x − μ)·r and h = g⊙w: ∂L/∂x = r·(h − mean(h) − x̂·mean(h⊙x̂)) per row, ∂L/∂w = Σ_rows g⊙x̂, ∂L/∂b = Σ_rows g.
 * mean(h⊙x̂) = r·(Σh⊙x − μ·Σh)/d, so one pass gathers every row sum and a second writes.
 */
const layerNormGradOp = defineOp<NormAttrs>({
  name: 'layerNormGrad',
  internal: true,
  infer(inputs, { eps }) {
    const [g, x, w] = inputs as [Tensor, Tensor, Tensor];
    const d = checkNorm('layerNormGrad', [x, w], ['weight'], eps);
    if (g.dtype !== 'float32' || g.size !== x.size) throw opError('layerNormGrad', 'the gradient must match x', inputs);
    return [{ shape: [...x.shape], dtype: 'float32' }, { shape: [d], dtype: 'float32' }, { shape: [d], dtype: 'float32' }];
  },
  kernels: {
    cpu({ inputs: [g, x, w], outputs: [gx, gw, gb], attrs: { eps } }) {
      const gs = cpuF32(g!), xs = cpuF32(x!), ws = cpuF32(w!), gxs = cpuF32(gx!);
      const d = ws.length;
      const accW = new Float64Array(d), accB = new Float64Array(d);
      for (let base = 0; base < xs.length; base += d) {
        let s = 0, ss = 0, sh = 0, shx = 0;
        for (let i = 0; i < d; i++) {
          const v = xs[base + i]!, h = gs[base + i]! * ws[i]!;
          s += v; ss += v * v; sh += h; shx += h * v;
        }
        const mu = s / d;
        const r = 1 / Math.sqrt(Math.max(ss / d - mu * mu, 0) + eps);
        const mh = sh / d, mhx = (r * (shx - mu * sh)) / d;
        for (let i = 0; i < d; i++) {
          const gi = gs[base + i]!, xh = (xs[base + i]! - mu) * r;
          gxs[base + i] = r * (gi * ws[i]! - mh - xh * mhx);
          accW[i]! += gi * xh;
          accB[i]! += gi;
        }
      }
      cpuF32(gw!).set(accW);
      cpuF32(gb!).set(accB);
    },
    webgpu: ({ inputs: [g, x, w], outputs: [gx, gw, gb], attrs: { eps } }) => normGradGpu('layerNorm', g!, x!, w!, gx!, gw!, gb!, eps),
  },
});

/** LayerNorm over the last axis of x [..., d] with weight and bias [d] (GPT-NeoX uses eps = 1e-5). */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-5): Tensor {
  return runOp(layerNormOp, [x, weight, bias], { eps })[0]!;
}
