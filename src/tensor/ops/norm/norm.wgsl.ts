import type { Tensor } from '../../tensor.js';
import { backendOf, launch, withScratch, workgroupSize } from '../../backends/webgpu/kernel.js';
import { sumAxes } from '../../backends/webgpu/reduce.js';
import { WORKGROUP_SUM } from '../../backends/webgpu/wgsl-reduce.js';

/**
 * rmsnorm and layerNorm in WGSL, fused: one workgroup per row gathers the row's sums with a tree and writes the
 * row. LayerNorm takes the variance as the mean of (x − μ)² in a second pass over the row (the row is in cache):
 * in float32, E[x²] − μ² would cancel for rows whose mean is large against their spread.
 * The backward writes ∂x per row and each row's contribution to the parameter gradients, which are then summed
 * over rows by the column reduction (reduce.ts).
 */
export type NormKind = 'rmsnorm' | 'layerNorm';

const HEAD = `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = flat_group(wid, nwg);
  if (row >= P.rows) { return; }
  let base = row * P.d;
  let fd = f32(P.d);`;

// The row's statistics: x − μ is taken as (x − c0) − m, with c0 the row's first element and m the mean of x − c0.
// A float32 μ of a row far from zero (GPT-NeoX has features near 300) would be off by half an ulp of its magnitude,
// which the normalisation divides by the row's spread; x − c0 is exact there, and m is small. rmsnorm has no mean.
// r = 1/√(var + eps), var being the mean square for rmsnorm.
const STATS: Record<NormKind, string> = {
  rmsnorm: `
  var ss = 0.0;
  for (var i = lid; i < P.d; i = i + WG) { let v = ld_x(base + i); ss = ss + v * v; }
  let c0 = 0.0;
  let m = 0.0;
  let r = 1.0 / sqrt(tree_sum(lid, ss) / fd + P.eps);`,
  layerNorm: `
  let c0 = ld_x(base);
  var s = 0.0;
  for (var i = lid; i < P.d; i = i + WG) { s = s + (ld_x(base + i) - c0); }
  let m = tree_sum(lid, s) / fd;
  var ss = 0.0;
  for (var i = lid; i < P.d; i = i + WG) { let v = (ld_x(base + i) - c0) - m; ss = ss + v * v; }
  let r = 1.0 / sqrt(tree_sum(lid, ss) / fd + P.eps);`,
};

export function normGpu(kind: NormKind, x: Tensor, w: Tensor, bias: Tensor | null, out: Tensor, eps: number): void {
  const d = w.size;
  const rows = d === 0 ? 0 : x.size / d;
  launch({
    op: kind, workgroupSize: workgroupSize(backendOf(x), d < 1024 ? 64 : 256),
    operands: [{ name: 'x', tensor: x }, { name: 'w', tensor: w }, ...(bias ? [{ name: 'b', tensor: bias }] : []), { name: 'out', tensor: out, write: true }],
    u32: { d, rows }, f32: { eps },
    code: `${WORKGROUP_SUM}${HEAD}${STATS[kind]}
  for (var i = lid; i < P.d; i = i + WG) { st_out(base + i, ((ld_x(base + i) - c0) - m) * r * ld_w(i)${bias ? ' + ld_b(i)' : ''}); }
}`,
    groups: rows,
  });
}

/**
 * ∂x, and ∂w (and ∂b) = Σ_rows of each row's share. rmsnorm: ∂x = r·h − x·r³·⟨h, x⟩/d with h = g⊙w;
 * layerNorm: ∂x = r·(h − mean(h) − x̂·mean(h⊙x̂)) with x̂ = (x − μ)·r.
 */
export function normGradGpu(kind: NormKind, g: Tensor, x: Tensor, w: Tensor, gx: Tensor, gw: Tensor, gb: Tensor | null, eps: number): void {
  const d = w.size;
  const rows = d === 0 ? 0 : x.size / d;
  const body = kind === 'rmsnorm' ? `
  var dot = 0.0;
  for (var i = lid; i < P.d; i = i + WG) { dot = dot + ld_g(base + i) * ld_w(i) * ld_x(base + i); }
  let c = r * r * r * tree_sum(lid, dot) / fd;
  for (var i = lid; i < P.d; i = i + WG) {
    let gi = ld_g(base + i);
    let v = ld_x(base + i);
    st_gx(base + i, r * gi * ld_w(i) - v * c);
    st_sw(base + i, gi * v * r);
  }` : `
  var sh = 0.0;
  var shx = 0.0;
  for (var i = lid; i < P.d; i = i + WG) {
    let h = ld_g(base + i) * ld_w(i);
    sh = sh + h;
    shx = shx + h * ((ld_x(base + i) - c0) - m);
  }
  let mh = tree_sum(lid, sh) / fd;
  let mhx = r * tree_sum(lid, shx) / fd;
  for (var i = lid; i < P.d; i = i + WG) {
    let gi = ld_g(base + i);
    let xh = ((ld_x(base + i) - c0) - m) * r;
    st_gx(base + i, r * (gi * ld_w(i) - mh - xh * mhx));
    st_sw(base + i, gi * xh);
  }`;
  withScratch(x, [[rows, d]], (shareW) => {
    launch({
      op: `${kind}Grad`, workgroupSize: workgroupSize(backendOf(x), d < 1024 ? 64 : 256),
      operands: [{ name: 'g', tensor: g }, { name: 'x', tensor: x }, { name: 'w', tensor: w }, { name: 'gx', tensor: gx, write: true }, { name: 'sw', tensor: shareW, write: true }],
      u32: { d, rows }, f32: { eps },
      code: `${WORKGROUP_SUM}${HEAD}${STATS[kind]}${body}
}`,
      groups: rows,
    });
    sumAxes(`${kind}Grad`, shareW, [true, false], gw);
  });
  if (gb) sumAxes(`${kind}Grad`, g, g.shape.map((_, i) => i < g.rank - 1), gb);
}
