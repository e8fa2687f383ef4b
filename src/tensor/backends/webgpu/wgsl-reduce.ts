/**
 * Tree reductions over one workgroup (WG threads, a power of two): every thread passes its partial value and gets
 * the workgroup's sum or max back. Row kernels (softmax, cross-entropy, the norms) splice these in and give WG as a
 * constant. The max propagates NaN, as the CPU kernels do, and needs wgsl-math's is_nan.
 */
export const WORKGROUP_SUM = `
var<workgroup> red: array<f32, WG>;
fn tree_sum(lid: u32, v: f32) -> f32 {
  workgroupBarrier();
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  return red[0];
}`;

/** Use together with WORKGROUP_SUM (it declares `red`). */
export const WORKGROUP_MAX = `
// The workgroup's max, NaN if any value is NaN.
fn tree_max(lid: u32, v: f32) -> f32 {
  workgroupBarrier();
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let a = red[lid];
      let b = red[lid + s];
      red[lid] = select(select(max(a, b), b, is_nan(b)), a, is_nan(a));
    }
    workgroupBarrier();
  }
  return red[0];
}`;
