import type { Tensor } from '../../tensor.js';
import { backendOf, launch, workgroupSize } from '../../backends/webgpu/kernel.js';
import { wgslMath } from '../../backends/webgpu/wgsl-math.js';
import { WORKGROUP_MAX, WORKGROUP_SUM } from '../../backends/webgpu/wgsl-reduce.js';

/**
 * softmax, logSoftmax and logsumexp (and the first two's gradients) in WGSL: one workgroup per row along the
 * axis, in the [outer, n, inner] layout, with tree reductions for the row's max and sums. As on the CPU, a NaN
 * anywhere in a row makes the whole row NaN, and a row whose max is infinite gives NaN (softmax) or ±∞ (logsumexp).
 */
export type RowMode = 'softmax' | 'logSoftmax' | 'logsumexp' | 'softmaxGrad' | 'logSoftmaxGrad';

const BODY: Record<RowMode, string> = {
  softmax: `
  let m = tree_max(lid, mx);
  var t = 0.0;
  for (var j = lid; j < P.n; j = j + WG) { t = t + exp_f(ld_x(at(j)) - m); }
  t = tree_sum(lid, t);
  let bad = is_nan(m) || is_inf(m);
  for (var j = lid; j < P.n; j = j + WG) { st_out(at(j), select(exp_f(ld_x(at(j)) - m) / t, f32_nan(), bad)); }`,
  logSoftmax: `
  let m = tree_max(lid, mx);
  var t = 0.0;
  for (var j = lid; j < P.n; j = j + WG) { t = t + exp_f(ld_x(at(j)) - m); }
  t = tree_sum(lid, t);
  // (x − m) − log t, not x − (m + log t): x − m is exact, while m + log t would round at m's magnitude.
  let c = log_f(t);
  let bad = is_nan(m) || is_inf(m);
  for (var j = lid; j < P.n; j = j + WG) { st_out(at(j), select((ld_x(at(j)) - m) - c, f32_nan(), bad)); }`,
  logsumexp: `
  let m = tree_max(lid, mx);
  var t = 0.0;
  for (var j = lid; j < P.n; j = j + WG) { t = t + exp_f(ld_x(at(j)) - m); }
  t = tree_sum(lid, t);
  if (lid == 0u) { st_out(row, select(m + log_f(t), m, is_inf(m))); }`,
  softmaxGrad: `
  var t = 0.0;
  for (var j = lid; j < P.n; j = j + WG) { t = t + ld_g(at(j)) * ld_y(at(j)); }
  t = tree_sum(lid, t);
  for (var j = lid; j < P.n; j = j + WG) { st_out(at(j), ld_y(at(j)) * (ld_g(at(j)) - t)); }`,
  logSoftmaxGrad: `
  var t = 0.0;
  for (var j = lid; j < P.n; j = j + WG) { t = t + ld_g(at(j)); }
  t = tree_sum(lid, t);
  for (var j = lid; j < P.n; j = j + WG) { st_out(at(j), ld_g(at(j)) - exp_f(ld_y(at(j))) * t); }`,
};

/** Runs `mode` over rows of [outer, n, inner]: inputs [x] for the forward modes, [g, y] for the gradients. */
export function rowsGpu(mode: RowMode, inputs: readonly Tensor[], out: Tensor, [outer, n, inner]: readonly number[]): void {
  const grad = mode.endsWith('Grad');
  const names = grad ? ['g', 'y'] : ['x'];
  launch({
    op: mode, workgroupSize: workgroupSize(backendOf(out), n < 1024 ? 64 : 256),
    operands: [...inputs.map((tensor, i) => ({ name: names[i]!, tensor })), { name: 'out', tensor: out, write: true }],
    u32: { n: n!, inner: inner!, rows: outer! * inner! },
    code: `${wgslMath('exp', 'log')}
${WORKGROUP_SUM}${WORKGROUP_MAX}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = flat_group(wid, nwg);
  if (row >= P.rows) { return; }
  let base = (row / P.inner) * P.n * P.inner + row % P.inner;
  ${grad ? '' : `var mx = -f32_inf();
  for (var j = lid; j < P.n; j = j + WG) {
    let v = ld_x(base + j * P.inner);
    if (is_nan(v) || (!is_nan(mx) && v > mx)) { mx = v; }
  }`}
  ${BODY[mode].replaceAll('at(j)', '(base + j * P.inner)')}
}`,
    groups: outer! * inner!,
  });
}
