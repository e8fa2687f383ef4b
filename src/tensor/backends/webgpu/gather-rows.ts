import { BYTES_PER_ELEMENT } from '../../dtype.js';
import type { Tensor } from '../../tensor.js';
import { launch } from './kernel.js';
import type { FaultDescriber } from './webgpu-backend.js';
import { affineRange } from './windows.js';
import { zeroFill } from './copy.js';

/**
 * Gathers and scatter-adds of rows by an int32 index vector, in the [outer, n, inner] layout around an axis:
 * indexSelect and embedding (gather), indexAdd (their adjoint, a scatter-add). An index outside [0, n) is reported
 * through the fault buffer (see webgpu-backend.ts) and gives zeros; callers first check indices that have a host
 * copy, so that those fail at once with the CPU backend's message.
 *
 * The gathered tensor is read at data-dependent rows, so when it exceeds one binding it is swept in windows.
 */
export interface RowLayout { outer: number; n: number; inner: number; k: number }

/** out[o, j, e] = x[o, idx[j], e] for out [outer, k, inner]; any dtype. */
export function gatherRows(op: string, x: Tensor, idx: Tensor, out: Tensor, l: RowLayout, fault: FaultDescriber): void {
  const packed = BYTES_PER_ELEMENT[out.dtype] === 2;
  const total = out.size;
  launch({
    op,
    operands: [
      { name: 'x', tensor: x, type: 'u32' }, { name: 'idx', tensor: idx }, { name: 'out', tensor: out, write: true, type: 'u32' },
    ],
    u32: { n: l.n, inner: l.inner, k: l.k, total },
    fault,
    code: `
// The source element of output element i, or -1 (no value) when its index is bad or its row lies outside the
// window of x bound in this dispatch; a bad index writes 0 in the first dispatch.
fn src(i: u32) -> i32 {
  let e = i % P.inner;
  let t = i / P.inner;
  let j = t % P.k;
  let v = ld_idx(j);
  if (v < 0 || u32(v) >= P.n) {
    report(v, j);
    return select(-1, -2, P.first == 1u);
  }
  let s = ((t / P.k) * P.n + u32(v)) * P.inner + e;
  if (s < P.x_lo || s >= P.x_hi) { return -1; }
  return i32(s);
}
${packed ? `fn item(w: u32) {
  let i = 2u * w;
  var v = select(ldw_out(w), 0u, P.first == 1u);
  let s0 = src(i);
  if (s0 >= 0) { v = (v & 0xffff0000u) | bits_x(u32(s0)); } else if (s0 == -2) { v = v & 0xffff0000u; }
  if (i + 1u < P.total) {
    let s1 = src(i + 1u);
    if (s1 >= 0) { v = (v & 0xffffu) | (bits_x(u32(s1)) << 16u); } else if (s1 == -2) { v = v & 0xffffu; }
  }
  stw_out(w, v);
}` : `fn item(i: u32) {
  let s = src(i);
  if (s >= 0) { st_out(i, ld_x(u32(s))); } else if (s == -2) { st_out(i, 0u); }
}`}`,
    items: {
      count: packed ? Math.ceil(total / 2) : total,
      sweep: ['x'],
      windows(start, end) {
        const lo = packed ? 2 * start : start, hi = packed ? Math.min(total, 2 * end) : end;
        return { out: [lo, hi], idx: affineRange([total / Math.max(1, l.k * l.inner), l.k, l.inner], [0, 1, 0], lo, hi) };
      },
    },
  });
}

/** out = zeros [outer, n, inner]; out[o, idx[j], e] += g[o, j, e] (float32; repeated indices accumulate). */
export function scatterAddRows(op: string, g: Tensor, idx: Tensor, out: Tensor, l: RowLayout, fault: FaultDescriber): void {
  zeroFill(out);
  // Float adds through compare-and-swap on the bits (WGSL has no float atomics): rows repeated in idx may be added
  // by several invocations at once. The order of those adds varies, so sums of repeated rows can differ in the
  // last bits between runs.
  launch({
    op,
    operands: [{ name: 'g', tensor: g }, { name: 'idx', tensor: idx }, { name: 'out', tensor: out, write: true, atomic: true }],
    u32: { n: l.n, inner: l.inner, k: l.k },
    fault,
    code: `
fn item(i: u32) {
  let e = i % P.inner;
  let t = i / P.inner;
  let j = t % P.k;
  let v = ld_idx(j);
  if (v < 0 || u32(v) >= P.n) { report(v, j); return; }
  let d = ((t / P.k) * P.n + u32(v)) * P.inner + e;
  if (d < P.out_lo || d >= P.out_hi) { return; }
  let add = ld_g(i);
  var old = atomicLoad(&out[d + P.out_o]);
  loop {
    let r = atomicCompareExchangeWeak(&out[d + P.out_o], old, bitcast<u32>(bitcast<f32>(old) + add));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}`,
    items: {
      count: g.size,
      sweep: ['out'],
      windows(start, end) {
        return { g: [start, end], idx: affineRange([g.size / Math.max(1, l.k * l.inner), l.k, l.inner], [0, 1, 0], start, end) };
      },
    },
  });
}
