import type { Tensor } from '../../tensor.js';
import { launch, withScratch, workgroupSize, backendOf } from './kernel.js';
import { contiguousStrides } from './windows.js';
import { mapElements } from './elementwise.js';

/**
 * Sums over any set of axes (sum, mean, sumTo and the parameter gradients of fused ops), in float32 with Kahan
 * compensation in each invocation's running sum and a tree across invocations, which keeps the error near the
 * float64 sums of the CPU backend for the lengths met here (a 50k vocabulary row, 4096 rows of a batch).
 *
 * The input's axes are merged into kept and reduced groups. When the innermost axis is reduced, a workgroup sums
 * one output, its threads reading consecutive elements; otherwise (a column sum, such as a bias gradient over
 * rows) one invocation sums one output, so that neighbouring invocations read neighbouring elements. Either way a
 * few long sums are first cut into parts that run side by side, and their partial sums are summed by a second pass.
 */
export function sumAxes(op: string, x: Tensor, reduced: readonly boolean[], out: Tensor, scale = 1): void {
  const keptDims: number[] = [], keptStrides: number[] = [], redDims: number[] = [], redStrides: number[] = [];
  const strides = contiguousStrides(x.shape);
  let lastReduced = false, lastAxis: 'k' | 'r' | null = null;
  x.shape.forEach((d, i) => {
    if (d === 1) return;
    const r = reduced[i]!;
    const dims = r ? redDims : keptDims, st = r ? redStrides : keptStrides;
    const k = dims.length - 1;
    if (lastAxis === (r ? 'r' : 'k') && k >= 0) { dims[k] = dims[k]! * d; st[k] = strides[i]!; } else { dims.push(d); st.push(strides[i]!); }
    lastAxis = r ? 'r' : 'k';
    lastReduced = r;
  });
  const O = keptDims.reduce((a, b) => a * b, 1);
  const R = redDims.reduce((a, b) => a * b, 1);
  if (out.size === 0) return;
  if (R === 0 || x.size === 0) {
    // The sum of nothing is 0, and the mean of nothing (scale 1/0) is NaN, as in PyTorch.
    const bits = new Uint32Array(new Float32Array([Number.isFinite(scale) ? 0 : NaN]).buffer)[0]!;
    mapElements({ op, out, inputs: [], body: 'return bitcast<f32>(P.fill);', u32: { fill: bits } });
    return;
  }
  const idx = (name: string, dims: number[], prefix: string) => {
    const lines = [`fn ${name}(i: u32) -> u32 {`, '  var r = i;', '  var s = 0u;'];
    for (let d = dims.length - 1; d >= 1; d--) lines.push(`  s = s + (r % P.${prefix}d${d}) * P.${prefix}s${d};`, `  r = r / P.${prefix}d${d};`);
    lines.push(dims.length > 0 ? `  return s + r * P.${prefix}s0;` : '  return 0u;', '}');
    return lines.join('\n');
  };
  const u32: Record<string, number> = { O, R };
  keptDims.forEach((d, i) => { u32[`kd${i}`] = d; u32[`ks${i}`] = keptStrides[i]!; });
  redDims.forEach((d, i) => { u32[`rd${i}`] = d; u32[`rs${i}`] = redStrides[i]!; });
  const helpers = `${idx('kept_idx', keptDims, 'k')}\n${idx('red_idx', redDims, 'r')}`;
  const b = backendOf(x);

  if (lastReduced && R > 32) {
    const parts = O < 64 && R > 65536 ? Math.min(1024, Math.ceil(R / 16384)) : 1;
    const chunk = Math.ceil(R / parts);
    const wg = workgroupSize(b, R < 1024 ? 64 : 256);
    const pass = (dst: Tensor) => launch({
      op, workgroupSize: wg,
      operands: [{ name: 'x', tensor: x }, { name: 'out', tensor: dst, write: true }],
      u32: { ...u32, parts, chunk }, f32: { scale: parts > 1 ? 1 : scale },
      code: `${helpers}
var<workgroup> red: array<f32, WG>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = flat_group(wid, nwg);
  if (g >= P.O * P.parts) { return; }
  let base = kept_idx(g / P.parts);
  let r0 = (g % P.parts) * P.chunk;
  let r1 = min(P.R, r0 + P.chunk);
  var s = 0.0;
  var c = 0.0;
  for (var r = r0 + lid; r < r1; r = r + WG) {
    let y = ld_x(base + red_idx(r)) - c;
    let t = s + y;
    c = (t - s) - y;
    s = t;
  }
  red[lid] = s;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k = k >> 1u) {
    if (lid < k) { red[lid] = red[lid] + red[lid + k]; }
    workgroupBarrier();
  }
  if (lid == 0u) { st_out(g, red[0] * P.scale); }
}`,
      groups: O * parts,
    });
    if (parts === 1) pass(out);
    else withScratch(x, [[O, parts]], (partial) => { pass(partial); sumAxes(op, partial, [false, true], out, scale); });
    return;
  }
  const parts = O < 8192 && R > 256 ? Math.max(1, Math.min(Math.ceil(R / 64), Math.ceil(65536 / O))) : 1;
  const chunk = Math.ceil(R / parts);
  const pass = (dst: Tensor) => launch({
    op,
    operands: [{ name: 'x', tensor: x }, { name: 'out', tensor: dst, write: true }],
    u32: { ...u32, parts, chunk }, f32: { scale: parts > 1 ? 1 : scale },
    code: `${helpers}
fn item(i: u32) {
  let o = i % P.O;
  let r0 = (i / P.O) * P.chunk;
  let r1 = min(P.R, r0 + P.chunk);
  let base = kept_idx(o);
  var s = 0.0;
  var c = 0.0;
  for (var r = r0; r < r1; r = r + 1u) {
    let y = ld_x(base + red_idx(r)) - c;
    let t = s + y;
    c = (t - s) - y;
    s = t;
  }
  st_out(i, s * P.scale);
}`,
    items: { count: O * parts },
  });
  if (parts === 1) pass(out);
  else withScratch(x, [[parts, O]], (partial) => { pass(partial); sumAxes(op, partial, [true, false], out, scale); });
}
