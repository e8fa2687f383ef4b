import type { Tensor } from '../../tensor.js';
import { backendOf, launch, withScratch, workgroupSize } from '../../backends/webgpu/kernel.js';
import { wgslMath } from '../../backends/webgpu/wgsl-math.js';
import { zeroFill } from '../../backends/webgpu/copy.js';

/**
 * Causal attention in WGSL. The op must return the full probabilities [B, H, T, S] (a hook site, and what
 * knockout edits), so the forward is one workgroup per query row: its invocations score the keys, the row is
 * normalised with tree reductions, and the output row is read back from the probabilities just written. The
 * backward forms each query row's dS = P ⊙ (dP − rowsum(P ⊙ dP)) and ∂q in one pass (dS kept in a scratch the
 * size of P), then ∂k and ∂v, which sum over queries, one invocation per key element.
 * Masked keys and rows with no visible key behave as on the CPU: probability 0, a zero row, no gradient.
 */
export interface AttnGpuAttrs { scale: number; offset: number; hasKeyMask: boolean; hasBlockMask: boolean }

const TREE = `
var<workgroup> red: array<f32, WG>;
fn tree(lid: u32, v: f32, take_max: bool) -> f32 {
  workgroupBarrier();
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = select(red[lid] + red[lid + s], max(red[lid], red[lid + s]), take_max); }
    workgroupBarrier();
  }
  return red[0];
}`;

const HEAD = `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = flat_group(wid, nwg);
  if (row >= P.rows) { return; }
  let i = row % P.T;
  let bh = row / P.T;
  let b = bh / P.H;
  let h = bh % P.H;`;

export function causalAttentionGpu(inputs: readonly Tensor[], out: Tensor, probs: Tensor, a: AttnGpuAttrs): void {
  const [q, k, v] = inputs as [Tensor, Tensor, Tensor];
  const [B, H, T, dk] = q.shape as [number, number, number, number];
  const S = k.shape[2]!, dv = v.shape[3]!;
  const km = a.hasKeyMask ? inputs[3]! : null;
  const bm = a.hasBlockMask ? inputs[3 + Number(a.hasKeyMask)]! : null;
  if (B * H * T === 0) return;
  const visible = [
    'i32(j) <= i32(i) + P.offset',
    ...(km ? ['ld_km(b * P.S + j) != 0.0'] : []),
    ...(bm ? ['ld_bm(((select(0u, b, P.bmB == 1u) * select(1u, P.H, P.bmH == 1u) + select(0u, h, P.bmH == 1u)) * P.T + i) * P.S + j) != 0.0'] : []),
  ].join(' && ');
  launch({
    op: 'causalAttention', workgroupSize: workgroupSize(backendOf(q), S < 1024 ? 64 : 256),
    operands: [
      { name: 'q', tensor: q }, { name: 'k', tensor: k }, { name: 'v', tensor: v },
      ...(km ? [{ name: 'km', tensor: km }] : []), ...(bm ? [{ name: 'bm', tensor: bm }] : []),
      { name: 'out', tensor: out, write: true }, { name: 'probs', tensor: probs, write: true },
    ],
    u32: { H, T, S, dk, dv, rows: B * H * T, bmB: bm && bm.shape[0] !== 1 ? 1 : 0, bmH: bm && bm.shape[1] !== 1 ? 1 : 0 },
    i32: { offset: a.offset }, f32: { scale: a.scale },
    code: `${wgslMath('exp')}
${TREE}
${HEAD}
  let pr = row * P.S;
  var mx = -f32_inf();
  for (var j = lid; j < P.S; j = j + WG) {
    var s = -f32_inf();
    if (${visible}) {
      var dot = 0.0;
      for (var e = 0u; e < P.dk; e = e + 1u) { dot = dot + ld_q(row * P.dk + e) * ld_k((bh * P.S + j) * P.dk + e); }
      s = dot * P.scale;
    }
    st_probs(pr + j, s);
    mx = max(mx, s);
  }
  let m = tree(lid, mx, true);
  let none = m == -f32_inf();
  var z = 0.0;
  for (var j = lid; j < P.S; j = j + WG) {
    let p = select(exp_f(ld_probs(pr + j) - m), 0.0, none);
    st_probs(pr + j, p);
    z = z + p;
  }
  z = tree(lid, z, false);
  for (var j = lid; j < P.S; j = j + WG) { st_probs(pr + j, select(ld_probs(pr + j) / z, 0.0, none)); }
  // The output reads probabilities that other invocations of the workgroup wrote.
  storageBarrier();
  for (var e = lid; e < P.dv; e = e + WG) {
    var acc = 0.0;
    for (var j = 0u; j < P.S; j = j + 1u) {
      let p = ld_probs(pr + j);
      if (p != 0.0) { acc = acc + p * ld_v((bh * P.S + j) * P.dv + e); }
    }
    st_out(row * P.dv + e, acc);
  }
}`,
    groups: B * H * T,
  });
}

export function causalAttentionBackwardGpu(
  q: Tensor, k: Tensor, v: Tensor, probs: Tensor, gOut: Tensor | null, gProbs: Tensor | null, scale: number,
  gq: Tensor, gk: Tensor, gv: Tensor,
): void {
  const [B, H, T, dk] = q.shape as [number, number, number, number];
  const S = k.shape[2]!, dv = v.shape[3]!;
  const u32 = { H, T, S, dk, dv, rows: B * H * T };
  withScratch(q, [[B, H, T, S]], (dS) => {
    if (B * H * T > 0) {
      launch({
        op: 'causalAttentionBackward', workgroupSize: workgroupSize(backendOf(q), S < 1024 ? 64 : 256),
        operands: [
          { name: 'k', tensor: k }, { name: 'v', tensor: v }, { name: 'probs', tensor: probs },
          ...(gOut ? [{ name: 'gOut', tensor: gOut }] : []), ...(gProbs ? [{ name: 'gP', tensor: gProbs }] : []),
          { name: 'dS', tensor: dS, write: true }, { name: 'gq', tensor: gq, write: true },
        ],
        u32, f32: { scale },
        code: `${TREE}
${HEAD}
  let pr = row * P.S;
  var r = 0.0;
  for (var j = lid; j < P.S; j = j + WG) {
    let p = ld_probs(pr + j);
    var dp = 0.0;
    if (p != 0.0) {
      ${gProbs ? 'dp = ld_gP(pr + j);' : ''}
      ${gOut ? 'for (var e = 0u; e < P.dv; e = e + 1u) { dp = dp + ld_gOut(row * P.dv + e) * ld_v((bh * P.S + j) * P.dv + e); }' : ''}
    }
    st_dS(pr + j, dp);
    r = r + p * dp;
  }
  r = tree(lid, r, false);
  for (var j = lid; j < P.S; j = j + WG) {
    let p = ld_probs(pr + j);
    st_dS(pr + j, select(p * (ld_dS(pr + j) - r) * P.scale, 0.0, p == 0.0));
  }
  storageBarrier();
  for (var e = lid; e < P.dk; e = e + WG) {
    var acc = 0.0;
    for (var j = 0u; j < P.S; j = j + 1u) { acc = acc + ld_dS(pr + j) * ld_k((bh * P.S + j) * P.dk + e); }
    st_gq(row * P.dk + e, acc);
  }
}`,
        groups: B * H * T,
      });
    }
    // ∂k[j] = Σ_i dS[i, j]·q[i] and ∂v[j] = Σ_i P[i, j]·gOut[i]: one invocation per key element, summing over queries.
    const keyGrad = (w: Tensor, wName: string, x: Tensor, xName: string, out: Tensor, outName: string, width: 'dk' | 'dv', n: number) => launch({
      op: 'causalAttentionBackward',
      operands: [{ name: wName, tensor: w }, { name: xName, tensor: x }, { name: outName, tensor: out, write: true }],
      u32,
      code: `
fn item(x: u32) {
  let e = x % P.${width};
  let j = (x / P.${width}) % P.S;
  let bh = x / (P.${width} * P.S);
  var acc = 0.0;
  for (var i = 0u; i < P.T; i = i + 1u) { acc = acc + ld_${wName}((bh * P.T + i) * P.S + j) * ld_${xName}((bh * P.T + i) * P.${width} + e); }
  st_${outName}(x, acc);
}`,
      items: { count: B * H * S * n },
    });
    keyGrad(dS, 'dS', q, 'q', gk, 'gk', 'dk', dk);
    if (gOut) keyGrad(probs, 'probs', gOut, 'gOut', gv, 'gv', 'dv', dv);
    else zeroFill(gv);
  });
}
