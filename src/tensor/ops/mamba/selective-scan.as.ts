// Hot loops of the selective scan (selective-scan.ts), compiled to WebAssembly SIMD by scripts/build-wasm.mjs.
// Arguments are byte addresses of float32 arrays in the module's memory, then the sizes. Work is split by channel
// range [c0, c1) so that workers can share a call; within a channel the states n are taken four at a time
// (f32x4), because every state of a channel follows the same recurrence and only its sums over n couple them.
// The per-state recurrences are independent, so the backward needs only the scratch of one group of four states
// over time (`work`: (2·L + 1)·N floats), never the [B, L, D, N] states.

// exp(x) for four lanes: Cephes' expf (range reduction by ln 2, degree-6 polynomial, ~1 ulp). WebAssembly has no
// vector exp, and a scalar Math.exp per lane would cost more than the rest of the scan together. The rounding
// n = round(x·log2 e) uses the 1.5·2^23 trick, whose float bits also hold n, because f32x4.nearest and
// trunc_sat are emulated by several instructions on x64; pmin/pmax are single instructions where min/max are not.
// Arguments above 88 are clamped (the scan's Δ·A is never positive); below the float32 range the result is 0.
// The constants are read from memory: V8 rebuilds every v128.const inside a loop from immediates (several
// instructions each), while a load is one.
const EXP_K = memory.data<f32>([
  88.0, 88.0, 88.0, 88.0,
  -87.3, -87.3, -87.3, -87.3,
  1.44269504088896341, 1.44269504088896341, 1.44269504088896341, 1.44269504088896341,
  12582912.0, 12582912.0, 12582912.0, 12582912.0,
  0.693359375, 0.693359375, 0.693359375, 0.693359375,
  -2.12194440e-4, -2.12194440e-4, -2.12194440e-4, -2.12194440e-4,
  1.9875691500e-4, 1.9875691500e-4, 1.9875691500e-4, 1.9875691500e-4,
  1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3,
  8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3,
  4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2,
  1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1,
  5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1,
  1.0, 1.0, 1.0, 1.0,
], 16);
const EXP_BIAS = memory.data<i32>([127 - 0x4B400000, 127 - 0x4B400000, 127 - 0x4B400000, 127 - 0x4B400000], 16);

// @ts-ignore: decorator
@inline function k(i: i32): v128 {
  return v128.load(EXP_K + (<usize>i << 4));
}

// @ts-ignore: decorator
@inline function expv(x: v128): v128 {
  const lo = k(1);
  const xc = f32x4.pmax(f32x4.pmin(x, k(0)), lo);
  const z = f32x4.add(f32x4.mul(xc, k(2)), k(3));
  const n = f32x4.sub(z, k(3));
  let r = f32x4.sub(xc, f32x4.mul(n, k(4)));
  r = f32x4.sub(r, f32x4.mul(n, k(5)));
  let p = k(6);
  p = f32x4.add(f32x4.mul(p, r), k(7));
  p = f32x4.add(f32x4.mul(p, r), k(8));
  p = f32x4.add(f32x4.mul(p, r), k(9));
  p = f32x4.add(f32x4.mul(p, r), k(10));
  p = f32x4.add(f32x4.mul(p, r), k(11));
  const e = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), k(12));
  // z's bits are 0x4B400000 + n, so this is (n + 127) << 23: the float 2^n.
  const scale = i32x4.shl(i32x4.add(z, v128.load(EXP_BIAS)), 23);
  return v128.andnot(f32x4.mul(e, scale), f32x4.lt(x, lo));
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// @ts-ignore: decorator
@inline function expf1(x: f32): f32 {
  return f32x4.extract_lane(expv(f32x4.splat(x)), 0);
}

// @ts-ignore: decorator
@inline function at(base: usize, index: i32): usize {
  return base + (<usize>index << 2);
}

/**
 * y [B,L,D] (and the states [B,L,D,N] when writeState ≠ 0) for channels [c0, c1), from the initial states h0
 * [B,D,N] when hasH0 ≠ 0 (else zero); `work` is scratch for N floats (rounded up to a multiple of 4). The loop over groups of four states is innermost, so that the groups' exp and
 * state updates (independent of each other) overlap in the pipeline instead of running as one long chain.
 */
export function selectiveScanForward(
  x: usize, dt: usize, A: usize, Bm: usize, C: usize, Dk: usize, h0: usize, y: usize, state: usize, work: usize,
  nB: i32, L: i32, D: i32, N: i32, hasH0: i32, writeState: i32, c0: i32, c1: i32,
): void {
  const N4 = N & ~3;
  for (let b = 0; b < nB; b++) {
    for (let c = c0; c < c1; c++) {
      const dk = load<f32>(at(Dk, c));
      if (hasH0) memory.copy(work, at(h0, (b * D + c) * N), <usize>N << 2);
      else memory.fill(work, 0, <usize>N << 2);
      for (let t = 0; t < L; t++) {
        const bt = b * L + t, i = bt * D + c;
        const dv = load<f32>(at(dt, i)), xv = load<f32>(at(x, i));
        const dv4 = f32x4.splat(dv), dx4 = f32x4.splat(dv * xv);
        let acc = f32x4.splat(0);
        for (let n = 0; n < N4; n += 4) {
          const bn = bt * N + n;
          const s = f32x4.add(f32x4.mul(expv(f32x4.mul(dv4, v128.load(at(A, c * N + n)))), v128.load(at(work, n))), f32x4.mul(dx4, v128.load(at(Bm, bn))));
          v128.store(at(work, n), s);
          acc = f32x4.add(acc, f32x4.mul(s, v128.load(at(C, bn))));
          if (writeState) v128.store(at(state, i * N + n), s);
        }
        let out = hsum(acc) + dk * xv;
        for (let n = N4; n < N; n++) {
          const bn = bt * N + n;
          const s = expf1(dv * load<f32>(at(A, c * N + n))) * load<f32>(at(work, n)) + dv * xv * load<f32>(at(Bm, bn));
          store<f32>(at(work, n), s);
          out += s * load<f32>(at(C, bn));
          if (writeState) store<f32>(at(state, i * N + n), s);
        }
        store<f32>(at(y, i), out);
      }
    }
  }
}

/**
 * Reverse-time pass for channels [c0, c1): writes gx, gDelta (both [B,L,D]), gA [D,N] and gD [D] for these
 * channels, and adds into gB and gC ([B,L,N], summed over channels, so the caller zeroes them and gives each
 * worker its own). gy / gS are read only when hasGy / hasGs. With hasH0, the states start from h0 [B,D,N] and
 * gh0 [B,D,N] receives its gradient: the adjoint left after time 0, λ_0·a_0. `work` is scratch for (2·L + 1)·N floats: one
 * channel's recomputed states and decays over time, and its running adjoint λ.
 */
export function selectiveScanBackward(
  x: usize, dt: usize, A: usize, Bm: usize, C: usize, Dk: usize, h0: usize, gy: usize, gS: usize,
  gx: usize, gDelta: usize, gA: usize, gB: usize, gC: usize, gD: usize, gh0: usize, work: usize,
  nB: i32, L: i32, D: i32, N: i32, hasH0: i32, hasGy: i32, hasGs: i32, c0: i32, c1: i32,
): void {
  const N4 = N & ~3;
  const zero = f32x4.splat(0);
  const ws = work, wa = work + (<usize>(L * N) << 2), wl = work + (<usize>(2 * L * N) << 2);
  for (let c = c0; c < c1; c++) {
    const dk = load<f32>(at(Dk, c));
    const Ac = at(A, c * N), gAc = at(gA, c * N);
    let accD: f32 = 0;
    memory.fill(gAc, 0, <usize>N << 2);
    for (let b = 0; b < nB; b++) {
      // The state before time 0: h0's row, or zeros.
      const h0c = at(h0, (b * D + c) * N);
      // Recompute this channel's states s_t and decays a_t = exp(Δ_t A) forward in time.
      for (let t = 0; t < L; t++) {
        const bt = b * L + t, i = bt * D + c;
        const dv = load<f32>(at(dt, i)), xv = load<f32>(at(x, i));
        const dv4 = f32x4.splat(dv), dx4 = f32x4.splat(dv * xv);
        for (let n = 0; n < N4; n += 4) {
          const a = expv(f32x4.mul(dv4, v128.load(at(Ac, n))));
          const sp = t > 0 ? v128.load(at(ws, (t - 1) * N + n)) : hasH0 ? v128.load(at(h0c, n)) : zero;
          v128.store(at(ws, t * N + n), f32x4.add(f32x4.mul(a, sp), f32x4.mul(dx4, v128.load(at(Bm, bt * N + n)))));
          v128.store(at(wa, t * N + n), a);
        }
        for (let n = N4; n < N; n++) {
          const a = expf1(dv * load<f32>(at(Ac, n)));
          const sp: f32 = t > 0 ? load<f32>(at(ws, (t - 1) * N + n)) : hasH0 ? load<f32>(at(h0c, n)) : 0;
          store<f32>(at(ws, t * N + n), a * sp + dv * xv * load<f32>(at(Bm, bt * N + n)));
          store<f32>(at(wa, t * N + n), a);
        }
      }
      // λ_t, the adjoint of s_t, runs backward: λ_t = gy_t·C_t + gS_t + a_{t+1}·λ_{t+1}.
      memory.fill(wl, 0, <usize>N << 2);
      for (let t = L - 1; t >= 0; t--) {
        const bt = b * L + t, i = bt * D + c;
        const dv = load<f32>(at(dt, i)), xv = load<f32>(at(x, i));
        const g: f32 = hasGy ? load<f32>(at(gy, i)) : 0;
        accD += g * xv;
        const g4 = f32x4.splat(g), dv4 = f32x4.splat(dv), dx4 = f32x4.splat(dv * xv);
        let q4 = zero, gdA4 = zero;
        for (let n = 0; n < N4; n += 4) {
          const bn = bt * N + n;
          let l = f32x4.add(v128.load(at(wl, n)), f32x4.mul(g4, v128.load(at(C, bn))));
          if (hasGs) l = f32x4.add(l, v128.load(at(gS, i * N + n)));
          const a = v128.load(at(wa, t * N + n));
          const sp = t > 0 ? v128.load(at(ws, (t - 1) * N + n)) : hasH0 ? v128.load(at(h0c, n)) : zero;
          v128.store(at(gC, bn), f32x4.add(v128.load(at(gC, bn)), f32x4.mul(g4, v128.load(at(ws, t * N + n)))));
          v128.store(at(gB, bn), f32x4.add(v128.load(at(gB, bn)), f32x4.mul(l, dx4)));
          q4 = f32x4.add(q4, f32x4.mul(l, v128.load(at(Bm, bn))));
          const gz = f32x4.mul(f32x4.mul(l, sp), a);
          gdA4 = f32x4.add(gdA4, f32x4.mul(gz, v128.load(at(Ac, n))));
          v128.store(at(gAc, n), f32x4.add(v128.load(at(gAc, n)), f32x4.mul(gz, dv4)));
          v128.store(at(wl, n), f32x4.mul(l, a));
        }
        let q = hsum(q4), gdA = hsum(gdA4);
        for (let n = N4; n < N; n++) {
          const bn = bt * N + n;
          let l = load<f32>(at(wl, n)) + g * load<f32>(at(C, bn));
          if (hasGs) l += load<f32>(at(gS, i * N + n));
          const a = load<f32>(at(wa, t * N + n));
          const sp: f32 = t > 0 ? load<f32>(at(ws, (t - 1) * N + n)) : hasH0 ? load<f32>(at(h0c, n)) : 0;
          store<f32>(at(gC, bn), load<f32>(at(gC, bn)) + g * load<f32>(at(ws, t * N + n)));
          store<f32>(at(gB, bn), load<f32>(at(gB, bn)) + l * dv * xv);
          q += l * load<f32>(at(Bm, bn));
          const gz = l * sp * a;
          gdA += gz * load<f32>(at(Ac, n));
          store<f32>(at(gAc, n), load<f32>(at(gAc, n)) + gz * dv);
          store<f32>(at(wl, n), l * a);
        }
        store<f32>(at(gx, i), dv * q + dk * g);
        store<f32>(at(gDelta, i), gdA + xv * q);
      }
      if (hasH0) memory.copy(at(gh0, (b * D + c) * N), wl, <usize>N << 2);
    }
    store<f32>(at(gD, c), accD);
  }
}
