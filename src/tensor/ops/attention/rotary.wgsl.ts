import type { Tensor } from '../../tensor.js';
import { launch } from '../../backends/webgpu/kernel.js';
import { wgslMath } from '../../backends/webgpu/wgsl-math.js';

/**
 * GPT-NeoX rotary embedding in WGSL, one invocation per element. The inverse frequencies are computed on the host
 * exactly as the CPU kernel (and Hugging Face) round them, and passed in the parameter block; the angle
 * pos·inv_freq is one correctly rounded float32 product, as there; cos and sin are wgsl-math's, accurate to about
 * an ulp where a driver's builtins may be far worse at angles of thousands of radians.
 */
export function rotaryGpu(x: Tensor, pos: Tensor, out: Tensor, invFreq: readonly number[], r: number, transpose: boolean): void {
  const [B, H, T, dh] = x.shape as [number, number, number, number];
  const perBatch = pos.rank === 2 && pos.shape[0] === B && B > 1;
  launch({
    op: 'rotary',
    operands: [{ name: 'x', tensor: x }, { name: 'pos', tensor: pos }, { name: 'out', tensor: out, write: true }],
    u32: { H, T, dh, half: r / 2, perBatch: perBatch ? 1 : 0 },
    f32: { sign: transpose ? -1 : 1 },
    f32Arrays: { inv: invFreq },
    code: `${wgslMath('sincos')}
fn item(e: u32) {
  let i = e % P.dh;
  if (i >= 2u * P.half) { st_out(e, ld_x(e)); return; }
  let row = e / P.dh;
  let t = row % P.T;
  let b = row / (P.T * P.H);
  let p = ld_pos(select(0u, b * P.T, P.perBatch == 1u) + t);
  let f = i % P.half;
  let cs = sincos_f(f32(p) * P.inv[f / 4u][f % 4u]);
  let s = P.sign * cs.x;
  let a = ld_x(e - i + f);
  let bb = ld_x(e - i + f + P.half);
  st_out(e, select(a * cs.y - bb * s, bb * cs.y + a * s, i >= P.half));
}`,
    items: { count: B * H * T * dh },
  });
}
