import type { Tensor } from '../../tensor.js';
import { backendOf, launch, withScratch, workgroupSize } from '../../backends/webgpu/kernel.js';
import { wgslMath } from '../../backends/webgpu/wgsl-math.js';
import type { FaultDescriber } from '../../backends/webgpu/webgpu-backend.js';
import { WORKGROUP_MAX, WORKGROUP_SUM } from '../../backends/webgpu/wgsl-reduce.js';

/**
 * crossEntropy in WGSL: one workgroup per row computes the row's log-sum-exp and loss (shifted by the row max;
 * the loss is taken as (max − x[t]) + log Σ, which keeps its digits when the logits are large), then one
 * workgroup sums the rows and counts those not ignored. A target outside [0, V) that did not come from the host
 * (where it is checked at once) is reported through the fault buffer and counts as ignored.
 */
interface Attrs { reduction: 'mean' | 'sum' | 'none'; ignoreIndex: number }


// The target of row r if it is to be counted, else −1 (ignored, or bad: bad ones are reported).
const TARGET = `
fn target_of(r: u32) -> i32 {
  let t = ld_targets(r);
  if (t == P.ignore) { return -1; }
  if (t < 0 || t >= i32(P.v)) { report(t, r); return -1; }
  return t;
}`;

/** Each row's lse and loss (0 for ignored rows), one workgroup per row. */
function rowLosses(logits: Tensor, targets: Tensor, lse: Tensor, rows: Tensor, ignoreIndex: number, fault: FaultDescriber): void {
  const [n, v] = logits.shape as [number, number];
  launch({
    op: 'crossEntropy', workgroupSize: workgroupSize(backendOf(logits), v < 1024 ? 64 : 256), fault,
    operands: [{ name: 'x', tensor: logits }, { name: 'targets', tensor: targets }, { name: 'lse', tensor: lse, write: true }, { name: 'rows', tensor: rows, write: true }],
    u32: { n, v }, i32: { ignore: ignoreIndex },
    code: `${wgslMath('exp', 'log')}
${WORKGROUP_SUM}${WORKGROUP_MAX}
${TARGET}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = flat_group(wid, nwg);
  if (r >= P.n) { return; }
  let base = r * P.v;
  var mx = -f32_inf();
  for (var j = lid; j < P.v; j = j + WG) {
    let e = ld_x(base + j);
    if (is_nan(e) || (!is_nan(mx) && e > mx)) { mx = e; }
  }
  let m = tree_max(lid, mx);
  var s = 0.0;
  for (var j = lid; j < P.v; j = j + WG) { s = s + exp_f(ld_x(base + j) - m); }
  s = tree_sum(lid, s);
  if (lid == 0u) {
    // A row of −∞ has lse −∞ rather than NaN, so that only its own loss is undefined.
    let l = select(m + log_f(s), m, m == -f32_inf());
    st_lse(r, l);
    let t = target_of(r);
    st_rows(r, select((m - ld_x(base + u32(max(t, 0)))) + log_f(s), 0.0, t < 0));
  }
}`,
    groups: n,
  });
}

/** Counts the rows not ignored (with a valid target) into count[0], in one workgroup. */
function countRows(targets: Tensor, v: number, ignoreIndex: number, count: Tensor): void {
  launch({
    op: 'crossEntropy', workgroupSize: workgroupSize(backendOf(targets), 256),
    operands: [{ name: 'targets', tensor: targets }, { name: 'count', tensor: count, write: true }],
    u32: { n: targets.size, v }, i32: { ignore: ignoreIndex },
    code: `${wgslMath('special')}
${WORKGROUP_SUM}${WORKGROUP_MAX}
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var c = 0.0;
  for (var r = lid; r < P.n; r = r + WG) {
    let t = ld_targets(r);
    if (t != P.ignore && t >= 0 && t < i32(P.v)) { c = c + 1.0; }
  }
  c = tree_sum(lid, c);
  if (lid == 0u) { st_count(0u, c); }
}`,
    groups: 1,
  });
}

export function crossEntropyGpu(logits: Tensor, targets: Tensor, loss: Tensor, lse: Tensor, attrs: Attrs, fault: FaultDescriber): void {
  const [n, v] = logits.shape as [number, number];
  if (attrs.reduction === 'none') { rowLosses(logits, targets, lse, loss, attrs.ignoreIndex, fault); return; }
  withScratch(logits, [[n], [1]], (rows, count) => {
    rowLosses(logits, targets, lse, rows, attrs.ignoreIndex, fault);
    countRows(targets, v, attrs.ignoreIndex, count);
    launch({
      op: 'crossEntropy', workgroupSize: workgroupSize(backendOf(logits), 256),
      operands: [{ name: 'rows', tensor: rows }, { name: 'count', tensor: count }, { name: 'out', tensor: loss, write: true }],
      u32: { n, mean: attrs.reduction === 'mean' ? 1 : 0 },
      code: `${wgslMath('special')}
${WORKGROUP_SUM}${WORKGROUP_MAX}
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var r = lid; r < P.n; r = r + WG) { s = s + ld_rows(r); }
  let total = tree_sum(lid, s);
  let count = ld_count(0u);
  // With every row ignored the mean is 0/0 = NaN, as in PyTorch.
  if (lid == 0u) { st_out(0u, select(total, select(total / count, f32_nan(), count == 0.0), P.mean == 1u)); }
}`,
      groups: 1,
    });
  });
}

export function crossEntropyGradGpu(logits: Tensor, targets: Tensor, lse: Tensor, g: Tensor, out: Tensor, attrs: Attrs, fault: FaultDescriber): void {
  const [n, v] = logits.shape as [number, number];
  const mode = { mean: 0, sum: 1, none: 2 }[attrs.reduction];
  withScratch(logits, [[1]], (count) => {
    countRows(targets, v, attrs.ignoreIndex, count);
    launch({
      op: 'crossEntropyGrad', fault,
      operands: [
        { name: 'x', tensor: logits }, { name: 'targets', tensor: targets }, { name: 'lse', tensor: lse },
        { name: 'g', tensor: g }, { name: 'count', tensor: count }, { name: 'out', tensor: out, write: true },
      ],
      u32: { n, v, mode }, i32: { ignore: attrs.ignoreIndex },
      code: `${wgslMath('exp')}
${TARGET}
fn item(i: u32) {
  let r = i / P.v;
  let j = i % P.v;
  let t = target_of(r);
  if (t < 0) { st_out(i, 0.0); return; }
  var scale: f32;
  if (P.mode == 2u) { scale = ld_g(r); } else if (P.mode == 1u) { scale = ld_g(0u); } else { scale = ld_g(0u) / ld_count(0u); }
  var d = exp_f(ld_x(i) - ld_lse(r)) * scale;
  if (u32(t) == j) { d = d - scale; }
  st_out(i, d);
}`,
      items: { count: n * v },
    });
  });
}
