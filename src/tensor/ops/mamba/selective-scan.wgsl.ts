import type { Tensor } from '../../tensor.js';
import type { FaultDescriber } from '../../backends/webgpu/webgpu-backend.js';
import { backendOf, launch, withScratch, workgroupSize } from '../../backends/webgpu/kernel.js';
import { sumAxes } from '../../backends/webgpu/reduce.js';
import { copyElements, zeroFill } from '../../backends/webgpu/copy.js';
import { wgslMath } from '../../backends/webgpu/wgsl-math.js';

/**
 * The selective scan in WGSL: one invocation per (batch row, channel) runs the recurrence over time with the
 * channel's N states in registers (N is baked into the source), a workgroup holding a block of channels of one
 * batch row. Invocations read B_t and C_t at the same addresses, which the cache serves once per block.
 *
 * The backward keeps the CPU kernel's memory bound: no [B, L, D, N] tensor. Each invocation runs forward once
 * to store its states at the end of every SEG steps (a scratch of L/SEG states per channel), then walks the
 * segments backward, recomputing a segment's states into a private array before the reverse-time pass over it.
 * ∂B and ∂C sum over channels: at each step the workgroup sums its channels' shares in workgroup memory and
 * writes one partial per block, summed afterwards over blocks (deterministic, no atomics); ∂A and ∂D sum over
 * time in registers and over batch rows afterwards.
 */
const SEG = 16;

/**
 * The decay exp(Δ·a) of each state at each step, by the GPU's own exp rather than the Cephes exp_f that other kernels
 * use to match the CPU to the last bit. In Mamba its argument is never positive (Δ > 0 after softplus,
 * a = −exp(A_log) < 0), so the result lies in [0, 1], and native exp adds a relative error of order 1e-6 at most.
 * exp_f, about 25 instructions with its range checks and ldexp, ran 16 times per channel and step: by our estimate
 * the scan used a fifth of the H100's arithmetic rate and far less of its memory bandwidth
 * (bench/results/models.md, 2026-11-25 03:04: 1.5 ms a layer at 4096 rows).
 */
const DECAY = 'fn decay_f(x: f32) -> f32 { return exp(x); }';

interface Dims { B: number; L: number; D: number; N: number }

/**
 * Δ at element i as the recurrence uses it: `delta_at`, reading the raw input through softplus where the op applies
 * it (deltaSoftplus), with softplus_f and softplus_grad_f of wgsl-math, the softplus op's own functions.
 */
const deltaAt = (softplus: boolean) => softplus
  ? `${wgslMath('sigmoid')}\nfn delta_at(i: u32) -> f32 { return softplus_f(ld_dt(i)); }`
  : 'fn delta_at(i: u32) -> f32 { return ld_dt(i); }';

function dimsOf(x: Tensor, A: Tensor): Dims {
  const [B, L, D] = x.shape as [number, number, number];
  return { B, L, D, N: A.shape[1]! };
}

/** Row b starts from h0's row rows[b] (or b), checked: a bad row is reported and starts from zeros. */
export function selectiveScanGpu(inputs: readonly Tensor[], h0: Tensor | null, rows: Tensor | null, y: Tensor, state: Tensor | undefined, fault: FaultDescriber, softplus = false): void {
  const [x, dt, A, Bm, C, Dk] = inputs as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
  const { B, L, D, N } = dimsOf(x, A);
  if (y.size === 0) return;
  const wg = workgroupSize(backendOf(x), 64);
  const blocks = Math.ceil(D / wg);
  launch({
    op: 'selectiveScan', workgroupSize: wg,
    operands: [
      { name: 'x', tensor: x }, { name: 'dt', tensor: dt }, { name: 'A', tensor: A }, { name: 'Bm', tensor: Bm },
      { name: 'C', tensor: C }, { name: 'Dk', tensor: Dk }, ...(h0 ? [{ name: 'h0', tensor: h0 }] : []),
      ...(rows ? [{ name: 'rows', tensor: rows }] : []), { name: 'y', tensor: y, write: true },
      ...(state ? [{ name: 'state', tensor: state, write: true }] : []),
    ],
    u32: { L, D, blocks, groups: B * blocks, ...(rows && { R: h0!.shape[0]! }) },
    ...(rows && { fault }),
    code: `${DECAY}
${deltaAt(softplus)}
const NS: u32 = ${N}u;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = flat_group(wid, nwg);
  if (g >= P.groups) { return; }
  let b = g / P.blocks;
  let c = (g % P.blocks) * WG + lid;
  if (c >= P.D) { return; }
  var s: array<f32, NS>;
  var a: array<f32, NS>;
  ${rows ? `let r = ld_rows(b);
  let known = r >= 0 && u32(r) < P.R;
  if (!known && c == 0u) { report(r, b); }
  let start = select(0u, (u32(r) * P.D + c) * NS, known);` : h0 ? 'let start = (b * P.D + c) * NS;' : ''}
  for (var n = 0u; n < NS; n = n + 1u) { a[n] = ld_A(c * NS + n);${rows ? ' s[n] = select(0.0, ld_h0(start + n), known);' : h0 ? ' s[n] = ld_h0(start + n);' : ''} }
  let dk = ld_Dk(c);
  for (var t = 0u; t < P.L; t = t + 1u) {
    let i = (b * P.L + t) * P.D + c;
    let dv = delta_at(i);
    let xv = ld_x(i);
    let dx = dv * xv;
    let bt = (b * P.L + t) * NS;
    var acc = 0.0;
    for (var n = 0u; n < NS; n = n + 1u) {
      s[n] = decay_f(dv * a[n]) * s[n] + dx * ld_Bm(bt + n);
      acc = acc + s[n] * ld_C(bt + n);
      ${state ? 'st_state(i * NS + n, s[n]);' : ''}
    }
    st_y(i, acc + dk * xv);
  }
}`,
    groups: B * blocks,
  });
}

export function selectiveScanBackwardGpu(inputs: readonly Tensor[], h0: Tensor | null, gy: Tensor | null, gS: Tensor | null, outputs: readonly Tensor[], softplus = false): void {
  const [x, dt, A, Bm, C, Dk] = inputs as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
  const [gx, gDelta, gA, gB, gC, gD, gh0] = outputs as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor | undefined];
  const { B, L, D, N } = dimsOf(x, A);
  const b = backendOf(x);
  // Workgroup memory holds every invocation's 2N shares of ∂B and ∂C for one step.
  const wg = workgroupSize(b, Math.min(64, Math.floor(b.limits.maxWorkgroupStorage / (8 * N))));
  const blocks = Math.ceil(D / wg);
  const segments = Math.ceil(L / SEG);
  // ck[k] holds the state before segment k + 1 − first; with an initial state, slot 0 holds h0 (first = 1) and at the
  // end its gradient, so that h0 and ∂h0 take no bindings of their own (the kernel is at the adapter's limit).
  const first = h0 ? 1 : 0;
  const slots = Math.max(1, segments - 1 + first);
  withScratch(x, [[slots, B, D, N], [B, L, blocks, N], [B, L, blocks, N], [B, D, N], [B, D]], (ck, partB, partC, partA, partD) => {
    if (h0) copyElements(h0, ck, h0.size);
    if (B * L * D > 0) {
      launch({
        op: 'selectiveScanBackward', workgroupSize: wg,
        operands: [
          { name: 'x', tensor: x }, { name: 'dt', tensor: dt }, { name: 'A', tensor: A }, { name: 'Bm', tensor: Bm },
          { name: 'C', tensor: C }, { name: 'Dk', tensor: Dk },
          ...(gy ? [{ name: 'gy', tensor: gy }] : []), ...(gS ? [{ name: 'gS', tensor: gS }] : []),
          { name: 'gx', tensor: gx, write: true }, { name: 'gDelta', tensor: gDelta, write: true }, { name: 'ck', tensor: ck, write: true },
          { name: 'partB', tensor: partB, write: true }, { name: 'partC', tensor: partC, write: true },
          { name: 'partA', tensor: partA, write: true }, { name: 'partD', tensor: partD, write: true },
        ],
        u32: { B, L, D, blocks, groups: B * blocks, segments, ckEnd: (segments - 1) * SEG },
        code: `${DECAY}
${deltaAt(softplus)}
const NS: u32 = ${N}u;
const SEG: u32 = ${SEG}u;
const FIRST: u32 = ${first}u;
fn slot(k: u32, b: u32, c: u32) -> u32 { return ((k * P.B + b) * P.D + c) * NS; }
var<workgroup> share: array<f32, ${2 * N} * WG>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = flat_group(wid, nwg);
  if (g >= P.groups) { return; }
  let b = g / P.blocks;
  let blk = g % P.blocks;
  let c = blk * WG + lid;
  // Invocations past the last channel still take part in every barrier, with zero shares.
  let live = c < P.D;
  var a: array<f32, NS>;
  var s: array<f32, NS>;
  var dk = 0.0;
  if (live) {
    for (var n = 0u; n < NS; n = n + 1u) { a[n] = ld_A(c * NS + n);${h0 ? ' s[n] = ld_ck(slot(0u, b, c) + n);' : ''} }
    dk = ld_Dk(c);
    // Forward once, keeping the state at the end of every segment but the last.
    for (var t = 0u; t < P.ckEnd; t = t + 1u) {
      let i = (b * P.L + t) * P.D + c;
      let dv = delta_at(i);
      let dx = dv * ld_x(i);
      for (var n = 0u; n < NS; n = n + 1u) { s[n] = decay_f(dv * a[n]) * s[n] + dx * ld_Bm((b * P.L + t) * NS + n); }
      if ((t + 1u) % SEG == 0u) {
        let q = (t + 1u) / SEG - 1u;
        for (var n = 0u; n < NS; n = n + 1u) { st_ck(slot(q + FIRST, b, c) + n, s[n]); }
      }
    }
  }
  var lam: array<f32, NS>;
  var accA: array<f32, NS>;
  var accD = 0.0;
  var hs: array<f32, ${SEG * N}>;
  var h0: array<f32, NS>;
  for (var qq = P.segments; qq > 0u; qq = qq - 1u) {
    let q = qq - 1u;
    let t0 = q * SEG;
    let t1 = min(P.L, t0 + SEG);
    if (live) {
      // This segment's states, from the state before it.
      for (var n = 0u; n < NS; n = n + 1u) {
        h0[n] = 0.0;
        if (q + FIRST > 0u) { h0[n] = ld_ck(slot(q + FIRST - 1u, b, c) + n); }
        s[n] = h0[n];
      }
      for (var t = t0; t < t1; t = t + 1u) {
        let i = (b * P.L + t) * P.D + c;
        let dv = delta_at(i);
        let dx = dv * ld_x(i);
        for (var n = 0u; n < NS; n = n + 1u) {
          s[n] = decay_f(dv * a[n]) * s[n] + dx * ld_Bm((b * P.L + t) * NS + n);
          hs[(t - t0) * NS + n] = s[n];
        }
      }
    }
    for (var tt = t1; tt > t0; tt = tt - 1u) {
      let t = tt - 1u;
      let bt = (b * P.L + t) * NS;
      if (live) {
        let i = (b * P.L + t) * P.D + c;
        let dv = delta_at(i);
        let xv = ld_x(i);
        let gv = ${gy ? 'ld_gy(i)' : '0.0'};
        accD = accD + gv * xv;
        var qs = 0.0;
        var gdA = 0.0;
        for (var n = 0u; n < NS; n = n + 1u) {
          // λ_t = gy_t·C_t + gS_t + a_{t+1}·λ_{t+1}: the adjoint of s_t.
          let l = lam[n] + gv * ld_C(bt + n)${gS ? ' + ld_gS(i * NS + n)' : ''};
          let decay = decay_f(dv * a[n]);
          var sp = h0[n];
          if (t > t0) { sp = hs[(t - t0 - 1u) * NS + n]; }
          share[lid * ${2 * N}u + n] = l * (dv * xv);
          share[lid * ${2 * N}u + NS + n] = gv * hs[(t - t0) * NS + n];
          qs = qs + l * ld_Bm(bt + n);
          let gz = l * sp * decay;
          gdA = gdA + gz * a[n];
          accA[n] = accA[n] + gz * dv;
          lam[n] = l * decay;
        }
        st_gx(i, dv * qs + dk * gv);
        st_gDelta(i, (gdA + xv * qs)${softplus ? ' * softplus_grad_f(ld_dt(i))' : ''});
      } else {
        for (var n = 0u; n < 2u * NS; n = n + 1u) { share[lid * ${2 * N}u + n] = 0.0; }
      }
      workgroupBarrier();
      for (var j = lid; j < 2u * NS; j = j + WG) {
        var sum = 0.0;
        for (var k = 0u; k < WG; k = k + 1u) { sum = sum + share[k * ${2 * N}u + j]; }
        let at = ((b * P.L + t) * P.blocks + blk) * NS + j % NS;
        if (j < NS) { st_partB(at, sum); } else { st_partC(at, sum); }
      }
      workgroupBarrier();
    }
  }
  if (live) {
    // λ left after time 0 is ∂h0; slot 0 is no longer read.
    for (var n = 0u; n < NS; n = n + 1u) { st_partA((b * P.D + c) * NS + n, accA[n]);${h0 ? ' st_ck(slot(0u, b, c) + n, lam[n]);' : ''} }
    st_partD(b * P.D + c, accD);
  }
}`,
        groups: B * blocks,
      });
    } else if (h0) {
      zeroFill(ck); // no position: nothing reads the initial state
    }
    if (gh0) copyElements(ck, gh0, gh0.size);
    sumAxes('selectiveScanBackward', partB, [false, false, true, false], gB);
    sumAxes('selectiveScanBackward', partC, [false, false, true, false], gC);
    sumAxes('selectiveScanBackward', partA, [true, false, false], gA);
    sumAxes('selectiveScanBackward', partD, [true, false], gD);
  });
}
