import type { Tensor } from '../../tensor.js';
import { launch, withScratch } from '../../backends/webgpu/kernel.js';
import { sumAxes } from '../../backends/webgpu/reduce.js';
import type { FaultDescriber } from '../../backends/webgpu/webgpu-backend.js';
import { wgslMath } from '../../backends/webgpu/wgsl-math.js';

/**
 * Depthwise causal conv1d in WGSL: one invocation per output element, neighbouring invocations on neighbouring
 * channels (so every tap's reads are contiguous). The backward's ∂x is the anti-causal convolution of g, one
 * invocation per element; ∂w and ∂b sum over batch and time, so each (b, t) writes its K products per channel
 * into a scratch [B·L, D, K] that the column reduction sums (giving ∂w's own [D, K] layout directly).
 * With a past, row b reads the past's row rows[b] (or b), checked: a bad row is reported and reads zeros.
 */
export function causalConv1dGpu(x: Tensor, w: Tensor, bias: Tensor, past: Tensor | null, rows: Tensor | null, out: Tensor, fault: FaultDescriber, silu: boolean): void {
  const [B, L, D] = x.shape as [number, number, number];
  const K = w.shape[1]!;
  launch({
    op: 'causalConv1d',
    operands: [
      { name: 'x', tensor: x }, { name: 'w', tensor: w }, { name: 'bias', tensor: bias },
      ...(past ? [{ name: 'past', tensor: past }] : []), ...(rows ? [{ name: 'rows', tensor: rows }] : []), { name: 'out', tensor: out, write: true },
    ],
    u32: { L, D, K, ...(past && { KP: past.shape[1]!, R: past.shape[0]! }) },
    ...(rows && { fault }),
    code: `${silu ? `${SIGMOID}\n` : ''}${rows ? `
fn past_row(b: u32) -> i32 {
  let r = ld_rows(b);
  if (r < 0 || u32(r) >= P.R) { report(r, b); return -1; }
  return r;
}` : ''}
fn item(i: u32) {
  let c = i % P.D;
  let t = (i / P.D) % P.L;
  var s = ld_bias(c);
  for (var k = 0u; k < P.K; k = k + 1u) {
    // Tap k reads position t − (K − 1) + k: x from position 0, the past's KP positions just before it.
    if (t + k + 1u >= P.K) { s = s + ld_w(c * P.K + k) * ld_x(i + (k + 1u) * P.D - P.K * P.D); }${past ? `
    else if (t + k + 1u + P.KP >= P.K) {
      let row = ${rows ? 'past_row(i / (P.D * P.L))' : 'i32(i / (P.D * P.L))'};
      if (row >= 0) { s = s + ld_w(c * P.K + k) * ld_past((u32(row) * P.KP + t + k + 1u + P.KP - P.K) * P.D + c); }
    }` : ''}
  }
  st_out(i, ${silu ? 's * sigmoid_f(s)' : 's'});
}`,
    items: { count: B * L * D },
  });
}
/** The silu op's own sigmoid_f, so that the fused silu is the op's. */
const SIGMOID = wgslMath('sigmoid');

export function causalConv1dBackwardGpu(g: Tensor, x: Tensor, w: Tensor, gx: Tensor, gw: Tensor, gb: Tensor): void {
  const [B, L, D] = x.shape as [number, number, number];
  const K = w.shape[1]!;
  launch({
    op: 'causalConv1dBackward',
    operands: [{ name: 'g', tensor: g }, { name: 'w', tensor: w }, { name: 'gx', tensor: gx, write: true }],
    u32: { L, D, K },
    code: `
fn item(i: u32) {
  let c = i % P.D;
  let s = (i / P.D) % P.L;
  var acc = 0.0;
  for (var k = 0u; k < P.K; k = k + 1u) {
    // x at s feeds output t = s + K − 1 − k through tap k.
    if (s + P.K - 1u - k < P.L) { acc = acc + ld_w(c * P.K + k) * ld_g(i + (P.K - 1u - k) * P.D); }
  }
  st_gx(i, acc);
}`,
    items: { count: B * L * D },
  });
  withScratch(x, [[B * L, D, K]], (share) => {
    launch({
      op: 'causalConv1dBackward',
      operands: [{ name: 'g', tensor: g }, { name: 'x', tensor: x }, { name: 'share', tensor: share, write: true }],
      u32: { L, D, K },
      code: `
fn item(i: u32) {
  let k = i % P.K;
  let rest = i / P.K;
  let c = rest % P.D;
  let bt = rest / P.D;
  let t = bt % P.L;
  var v = 0.0;
  if (t + k + 1u >= P.K) { v = ld_g(bt * P.D + c) * ld_x((bt + k + 1u - P.K) * P.D + c); }
  st_share(i, v);
}`,
      items: { count: B * L * D * K },
    });
    sumAxes('causalConv1dBackward', share, [true, false, false], gw);
  });
  sumAxes('causalConv1dBackward', g, [true, true, false], gb);
}
