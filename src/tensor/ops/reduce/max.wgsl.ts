import type { Tensor } from '../../tensor.js';
import { launch, workgroupSize, backendOf } from '../../backends/webgpu/kernel.js';
import { wgslMath } from '../../backends/webgpu/wgsl-math.js';

/**
 * max / argmax / topk in WGSL. The CPU's order is kept exactly: NaN ranks above every number, and among equal
 * values (or NaNs) the lower index wins, so `better` is a strict total order on (value, index) pairs and a tree of
 * comparisons finds the same element as the CPU's left-to-right scan.
 */
const BETTER = `${wgslMath('special')}
fn better(va: f32, ia: u32, vb: f32, ib: u32) -> bool {
  // An empty slot (index NONE, a thread that saw no element) loses to everything.
  if (ia == 0xffffffffu) { return false; }
  if (ib == 0xffffffffu) { return true; }
  let na = is_nan(va);
  let nb = is_nan(vb);
  if (na != nb) { return na; }
  if (!na && va != vb) { return va > vb; }
  return ia < ib;
}
var<workgroup> best_v: array<f32, WG>;
var<workgroup> best_i: array<u32, WG>;
// Leaves the best of the workgroup's (v, i) pairs in best_v[0], best_i[0]; every thread must call it.
fn tree(lid: u32, v: f32, i: u32) {
  best_v[lid] = v;
  best_i[lid] = i;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s && better(best_v[lid + s], best_i[lid + s], best_v[lid], best_i[lid])) {
      best_v[lid] = best_v[lid + s];
      best_i[lid] = best_i[lid + s];
    }
    workgroupBarrier();
  }
}`;

// The index of an empty slot (see better()).
const NONE = 0xffffffff;

/** values (when given) and indices of the best element along n in the [outer, n, inner] layout. */
export function argReduceGpu(op: string, x: Tensor, [outer, n, inner]: [number, number, number], values: Tensor | null, indices: Tensor): void {
  launch({
    op, workgroupSize: workgroupSize(backendOf(x), n < 1024 ? 64 : 256),
    operands: [{ name: 'x', tensor: x }, ...(values ? [{ name: 'vals', tensor: values, write: true }] : []), { name: 'idx', tensor: indices, write: true }],
    u32: { n, inner, outputs: outer * inner },
    code: `${BETTER}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = flat_group(wid, nwg);
  if (g >= P.outputs) { return; }
  let base = (g / P.inner) * P.n * P.inner + g % P.inner;
  var v = 0.0;
  var b = ${NONE}u;
  for (var j = lid; j < P.n; j = j + WG) {
    let e = ld_x(base + j * P.inner);
    if (better(e, j, v, b)) { v = e; b = j; }
  }
  tree(lid, v, b);
  if (lid == 0u) {
    ${values ? 'st_vals(g, best_v[0]);' : ''}
    st_idx(g, i32(best_i[0]));
  }
}`,
    groups: outer * inner,
  });
}

/**
 * The k best of each row of the last axis, best first: k rounds in one workgroup per row, each taking the best
 * element that ranks below the previous round's pick (O(k·n) per row, for the small k of sampling and evaluation).
 */
export function topkGpu(x: Tensor, k: number, values: Tensor, indices: Tensor): void {
  const n = x.shape[x.rank - 1]!;
  const rows = n === 0 ? 0 : x.size / n;
  if (k === 0 || rows === 0) return;
  launch({
    op: 'topk', workgroupSize: workgroupSize(backendOf(x), n < 1024 ? 64 : 256),
    operands: [{ name: 'x', tensor: x }, { name: 'vals', tensor: values, write: true }, { name: 'idx', tensor: indices, write: true }],
    u32: { n, k, rows },
    code: `${BETTER}
var<workgroup> prev_v: f32;
var<workgroup> prev_i: u32;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = flat_group(wid, nwg);
  if (r >= P.rows) { return; }
  for (var round = 0u; round < P.k; round = round + 1u) {
    var v = 0.0;
    var b = ${NONE}u;
    for (var j = lid; j < P.n; j = j + WG) {
      let e = ld_x(r * P.n + j);
      let eligible = round == 0u || better(prev_v, prev_i, e, j);
      if (eligible && better(e, j, v, b)) { v = e; b = j; }
    }
    workgroupBarrier();
    tree(lid, v, b);
    if (lid == 0u) {
      prev_v = best_v[0];
      prev_i = best_i[0];
      st_vals(r * P.k + round, best_v[0]);
      st_idx(r * P.k + round, i32(best_i[0]));
    }
    workgroupBarrier();
  }
}`,
    groups: rows,
  });
}

/** out = zeros of x's shape, with g [outer, k, inner] placed at the selected positions idx along n. */
export function selectionGradGpu(g: Tensor, idx: Tensor, out: Tensor, [outer, n, inner]: [number, number, number], k: number): void {
  launch({
    op: 'maxTopkGrad',
    operands: [{ name: 'g', tensor: g }, { name: 'idx', tensor: idx }, { name: 'out', tensor: out, write: true }],
    u32: { n, k, inner, total: outer * n * inner },
    // Each output element scans its row's k selections: a gather, so no zero-fill pass and no write conflicts.
    code: `
fn item(i: u32) {
  let e = i % P.inner;
  let t = i / P.inner;
  let j = t % P.n;
  let base = (t / P.n) * P.k * P.inner + e;
  var s = 0.0;
  for (var q = 0u; q < P.k; q = q + 1u) {
    if (ld_idx(base + q * P.inner) == i32(j)) { s = s + ld_g(base + q * P.inner); }
  }
  st_out(i, s);
}`,
    items: { count: outer * n * inner },
  });
}
