// Float32 matrix product C (=|+=) op(A)·op(B), compiled to WebAssembly SIMD by scripts/build-wasm.mjs and driven by
// matmulCpu in src/tensor/backends/cpu/wasm.ts (which copies operands in, chunks them and splits threads).
//
// GotoBLAS structure: a KC×NC block of B and an MC×KC block of A are packed into panels that the 4×8 micro-kernel
// reads strictly sequentially, so every operand layout (A or B transposed) costs only a different packing routine,
// and every remainder (m, n, k not multiples of the tile, down to 1) is zero padding in the panels plus a masked
// write-back. Why 4×8 with f32x4: wasm SIMD has no FMA, so each product needs a temporary register, and V8 on x64
// allocates 15 xmm registers; 4×8 (8 accumulators, 2 B vectors, 1 broadcast, 1 temporary) is the largest tile that
// does not spill (5×8 and 6×8 measured 24-26 GFLOP/s, 4×8 and 2×16 42 GFLOP/s in L1, i.e. the 16 flop/cycle of two
// multiply and two add pipes). Unrolling k made it slower (TurboFan hoists the extra loads and spills).
// Block sizes: the B micro-panel (KC·8 floats, 8 KiB) and A micro-panel (4 KiB) stay in L1, the packed A block
// (MC·KC, 128 KiB) and B block (KC·NC, 512 KiB) in a 1 MiB L2.
// A·Bᵀ with few rows (≤ SMALL_M, the linear-layer case) skips packing altogether: both operands are contiguous in
// k, so dotRows takes dot products of rows directly (see SMALL_M for the measured gain).
//
// Conventions shared by all kernels of this module: pointers (byte addresses in the shared memory) first, then
// scalars; work ranges last so that threads can share a call.

const MR: i32 = 4;
const NR: i32 = 8;
const KC: i32 = 256;
const MC: i32 = 128;
const NC: i32 = 512;
const PACKED_B_BYTES: usize = <usize>(KC * NC) << 2;
const PACKED_A_BYTES: usize = <usize>(MC * KC) << 2;
const TILE_BYTES: usize = <usize>(MR * NR) << 2;
// Row ranges up to this size take A·Bᵀ as dot products (dotRows), without packing B: measured (CPU time, B
// already in cache as matmulCpu arranges) 24 vs 15 GFLOP/s at m = 8, 34 vs 27 at 32, 37 vs 31 at 64, 38 vs 33
// at 96, equal from 256 on.
const SMALL_M: i32 = 128;
// dotRows blocks: DOT_JB rows of Bᵀ by DOT_KB of k (512 KiB) stay in L2 while every row of A passes over them.
const DOT_JB: i32 = 64;
const DOT_KB: i32 = 2048;

/** Bytes of private scratch one thread needs for matmulF32 (packed panels and an edge tile). */
export function matmulScratchBytes(): i32 {
  return <i32>(PACKED_B_BYTES + PACKED_A_BYTES + TILE_BYTES);
}

/** First free byte after the module's static data: the JS arena starts above it. */
export function kernelHeapBase(): usize {
  return __heap_base;
}

// @ts-ignore: decorator
@inline function madd(c: v128, a: v128, b: v128): v128 {
  return f32x4.add(c, f32x4.mul(a, b));
}

// 4×8 tile over kc steps of the packed panels; writes (add = 0) or adds to C rows of `ldc` bytes.
function micro4x8(kc: i32, pa: usize, pb: usize, c: usize, ldc: usize, add: i32): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = madd(c00, a, b0); c01 = madd(c01, a, b1);
    a = v128.load32_splat(pa, 4);
    c10 = madd(c10, a, b0); c11 = madd(c11, a, b1);
    a = v128.load32_splat(pa, 8);
    c20 = madd(c20, a, b0); c21 = madd(c21, a, b1);
    a = v128.load32_splat(pa, 12);
    c30 = madd(c30, a, b0); c31 = madd(c31, a, b1);
    pa += 16;
    pb += 32;
  }
  const c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
  if (add) {
    c00 = f32x4.add(c00, v128.load(c)); c01 = f32x4.add(c01, v128.load(c, 16));
    c10 = f32x4.add(c10, v128.load(c1)); c11 = f32x4.add(c11, v128.load(c1, 16));
    c20 = f32x4.add(c20, v128.load(c2)); c21 = f32x4.add(c21, v128.load(c2, 16));
    c30 = f32x4.add(c30, v128.load(c3)); c31 = f32x4.add(c31, v128.load(c3, 16));
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c1, c10); v128.store(c1, c11, 16);
  v128.store(c2, c20); v128.store(c2, c21, 16);
  v128.store(c3, c30); v128.store(c3, c31, 16);
}

// Packs op(B)[pc:pc+kc, jc:jc+nc] into ⌈nc/8⌉ panels of kc×8 (row p of a panel = 8 consecutive floats),
// zero-padding the last panel's missing columns.
function packB(b: usize, ldb: i32, transB: i32, pc: i32, kc: i32, jc: i32, nc: i32, dst: usize): void {
  for (let j = 0; j < nc; j += NR) {
    const cols = min(NR, nc - j);
    const panel = dst + (<usize>(j * kc) << 2);
    if (!transB) {
      // B [k,n]: each panel row is a contiguous slice of a B row.
      let src = b + ((<usize>pc * <usize>ldb + <usize>(jc + j)) << 2);
      const step = <usize>ldb << 2;
      if (cols == NR) {
        for (let p = 0; p < kc; p++) {
          v128.store(panel + (<usize>p << 5), v128.load(src));
          v128.store(panel + (<usize>p << 5), v128.load(src, 16), 16);
          src += step;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          const row = panel + (<usize>p << 5);
          for (let c = 0; c < NR; c++) store<f32>(row + (<usize>c << 2), c < cols ? load<f32>(src + (<usize>c << 2)) : 0);
          src += step;
        }
      }
    } else if (cols == NR) {
      // Bᵀ stored [n,k]: the 8 panel columns are 8 rows of storage, contiguous in p; transpose them 4×4 at a time.
      const step = <usize>ldb << 2;
      const r0 = b + ((<usize>(jc + j) * <usize>ldb + <usize>pc) << 2);
      const r4 = r0 + (step << 2);
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        const o = <usize>p << 2;
        transpose4(r0 + o, step, panel + (<usize>p << 5));
        transpose4(r4 + o, step, panel + (<usize>p << 5) + 16);
      }
      for (; p < kc; p++) {
        const row = panel + (<usize>p << 5);
        for (let c = 0; c < NR; c++) store<f32>(row + (<usize>c << 2), load<f32>(r0 + <usize>c * step + (<usize>p << 2)));
      }
    } else {
      const step = <usize>ldb << 2;
      const r0 = b + ((<usize>(jc + j) * <usize>ldb + <usize>pc) << 2);
      for (let p = 0; p < kc; p++) {
        const row = panel + (<usize>p << 5);
        for (let c = 0; c < NR; c++) store<f32>(row + (<usize>c << 2), c < cols ? load<f32>(r0 + <usize>c * step + (<usize>p << 2)) : 0);
      }
    }
  }
}

// Reads 4 rows (stride `step` bytes) of 4 floats at src and writes their transpose as 4 vectors 32 bytes apart
// (the row pitch of a B panel).
// @ts-ignore: decorator
@inline function transpose4(src: usize, step: usize, dst: usize): void {
  const x0 = v128.load(src), x1 = v128.load(src + step), x2 = v128.load(src + 2 * step), x3 = v128.load(src + 3 * step);
  const t0 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7);
  const t3 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(dst, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 32);
  v128.store(dst, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 64);
  v128.store(dst, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 96);
}

// Packs op(A)[ic:ic+mc, pc:pc+kc] into ⌈mc/4⌉ panels of kc×4 (row p of a panel = the 4 rows' values at p),
// zero-padding the last panel's missing rows.
function packA(a: usize, lda: i32, transA: i32, ic: i32, mc: i32, pc: i32, kc: i32, dst: usize): void {
  for (let i = 0; i < mc; i += MR) {
    const rows = min(MR, mc - i);
    const panel = dst + (<usize>(i * kc) << 2);
    if (transA) {
      // Aᵀ stored [k,m]: the panel's 4 values at p are contiguous.
      let src = a + ((<usize>pc * <usize>lda + <usize>(ic + i)) << 2);
      const step = <usize>lda << 2;
      if (rows == MR) {
        for (let p = 0; p < kc; p++) { v128.store(panel + (<usize>p << 4), v128.load(src)); src += step; }
      } else {
        for (let p = 0; p < kc; p++) {
          const row = panel + (<usize>p << 4);
          for (let r = 0; r < MR; r++) store<f32>(row + (<usize>r << 2), r < rows ? load<f32>(src + (<usize>r << 2)) : 0);
          src += step;
        }
      }
    } else {
      const step = <usize>lda << 2;
      const r0 = a + ((<usize>(ic + i) * <usize>lda + <usize>pc) << 2);
      if (rows == MR) {
        let p = 0;
        for (; p + 4 <= kc; p += 4) transpose4q(r0 + (<usize>p << 2), step, panel + (<usize>p << 4));
        for (; p < kc; p++) {
          const row = panel + (<usize>p << 4);
          for (let r = 0; r < MR; r++) store<f32>(row + (<usize>r << 2), load<f32>(r0 + <usize>r * step + (<usize>p << 2)));
        }
      } else {
        for (let p = 0; p < kc; p++) {
          const row = panel + (<usize>p << 4);
          for (let r = 0; r < MR; r++) store<f32>(row + (<usize>r << 2), r < rows ? load<f32>(r0 + <usize>r * step + (<usize>p << 2)) : 0);
        }
      }
    }
  }
}

// As transpose4, but into an A panel (row pitch 16 bytes).
// @ts-ignore: decorator
@inline function transpose4q(src: usize, step: usize, dst: usize): void {
  const x0 = v128.load(src), x1 = v128.load(src + step), x2 = v128.load(src + 2 * step), x3 = v128.load(src + 3 * step);
  const t0 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7);
  const t3 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(dst, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 16);
  v128.store(dst, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 32);
  v128.store(dst, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 48);
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// C[i, j] (=|+=) Σ_p A[i, p]·Bᵀ[j, p] for a few rows: with both operands contiguous in k this needs no packing
// of B (A is copied to row-major only when transposed). Tiles of 4 rows of A × 2 rows of Bᵀ, f32x4 over k
// (8 accumulators, 6 loads per 8 products: the 4×8 kernel's ratio), horizontal sums once per k block.
function dotRows(a: usize, lda: i32, transA: i32, b: usize, k: i32, c: usize, ldc: usize,
  m0: i32, m1: i32, n0: i32, n1: i32, accumulate: i32, work: usize): void {
  const ldbB = <usize>k << 2;
  // A transposed goes through `work` (the packed-B area of the scratch), so its k block must fit there.
  const kb = transA ? min(DOT_KB, (KC * NC / (m1 - m0)) & ~3) : DOT_KB;
  for (let pb = 0; pb < k; pb += kb) {
    const kc = min(kb, k - pb);
    const add = pb > 0 || accumulate != 0;
    // Rows of A for this k block: in place, or transposed into `work` (row pitch kc).
    let arow: usize, ald: usize;
    if (transA) {
      for (let i = m0; i < m1; i++) {
        const dst = work + (<usize>((i - m0) * kc) << 2);
        let src = a + ((<usize>pb * <usize>lda + <usize>i) << 2);
        for (let p = 0; p < kc; p++) { store<f32>(dst + (<usize>p << 2), load<f32>(src)); src += <usize>lda << 2; }
      }
      arow = work; ald = <usize>kc << 2;
    } else {
      arow = a + ((<usize>m0 * <usize>lda + <usize>pb) << 2); ald = <usize>lda << 2;
    }
    for (let jb = n0; jb < n1; jb += DOT_JB) {
      const je = min(jb + DOT_JB, n1);
      for (let i = m0; i < m1; i += 4) {
        const rows = min(4, m1 - i);
        // Missing rows / columns repeat the last valid one, so the loop needs no masks; they are not stored.
        const a0 = arow + <usize>(i - m0) * ald;
        const a1 = rows > 1 ? a0 + ald : a0, a2 = rows > 2 ? a1 + ald : a1, a3 = rows > 3 ? a2 + ald : a2;
        for (let j = jb; j < je; j += 2) {
          const b0 = b + <usize>j * ldbB + (<usize>pb << 2);
          const b1 = j + 1 < je ? b0 + ldbB : b0;
          let s00 = f32x4.splat(0), s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00, s30 = s00, s31 = s00;
          const k4 = kc & ~3;
          for (let p = 0; p < k4; p += 4) {
            const o = <usize>p << 2;
            const x0 = v128.load(b0 + o), x1 = v128.load(b1 + o);
            let y = v128.load(a0 + o);
            s00 = madd(s00, y, x0); s01 = madd(s01, y, x1);
            y = v128.load(a1 + o);
            s10 = madd(s10, y, x0); s11 = madd(s11, y, x1);
            y = v128.load(a2 + o);
            s20 = madd(s20, y, x0); s21 = madd(s21, y, x1);
            y = v128.load(a3 + o);
            s30 = madd(s30, y, x0); s31 = madd(s31, y, x1);
          }
          let r00 = hsum(s00), r01 = hsum(s01), r10 = hsum(s10), r11 = hsum(s11);
          let r20 = hsum(s20), r21 = hsum(s21), r30 = hsum(s30), r31 = hsum(s31);
          for (let p = k4; p < kc; p++) {
            const o = <usize>p << 2;
            const x0 = load<f32>(b0 + o), x1 = load<f32>(b1 + o);
            const y0 = load<f32>(a0 + o), y1 = load<f32>(a1 + o), y2 = load<f32>(a2 + o), y3 = load<f32>(a3 + o);
            r00 += y0 * x0; r01 += y0 * x1; r10 += y1 * x0; r11 += y1 * x1;
            r20 += y2 * x0; r21 += y2 * x1; r30 += y3 * x0; r31 += y3 * x1;
          }
          const cp = c + <usize>i * ldc + (<usize>j << 2);
          const two = j + 1 < je;
          storeDot(cp, r00, add); if (two) storeDot(cp + 4, r01, add);
          if (rows > 1) { storeDot(cp + ldc, r10, add); if (two) storeDot(cp + ldc + 4, r11, add); }
          if (rows > 2) { storeDot(cp + 2 * ldc, r20, add); if (two) storeDot(cp + 2 * ldc + 4, r21, add); }
          if (rows > 3) { storeDot(cp + 3 * ldc, r30, add); if (two) storeDot(cp + 3 * ldc + 4, r31, add); }
        }
      }
    }
  }
}

// @ts-ignore: decorator
@inline function storeDot(p: usize, v: f32, add: bool): void {
  store<f32>(p, add ? load<f32>(p) + v : v);
}

/**
 * C[z] (=|+=) op(A[z])·op(B[z]) for batch items [z0, z1), rows [m0, m1) and columns [n0, n1) of C.
 * A is [m,k] (transA = 0) or [k,m]; B is [k,n] or [n,k] (transB ≠ 0); C is [m,n]; all contiguous, batch items
 * strideA / strideB elements apart (0 broadcasts one operand), C items m·n apart. `scratch` holds
 * matmulScratchBytes() private bytes (one region per concurrent caller). accumulate ≠ 0 adds to C.
 */
export function matmulF32(
  a: usize, b: usize, c: usize, scratch: usize,
  m: i32, k: i32, n: i32, transA: i32, transB: i32, strideA: i32, strideB: i32, accumulate: i32,
  z0: i32, z1: i32, m0: i32, m1: i32, n0: i32, n1: i32,
): void {
  const lda = transA ? m : k, ldb = transB ? k : n;
  const ldc = <usize>n << 2;
  const bp = scratch, ap = scratch + PACKED_B_BYTES, tile = ap + PACKED_A_BYTES;
  // Few rows of A·Bᵀ: packing B would cost a third of the product, so both operands are read in place.
  const dot = transB != 0 && m1 - m0 <= SMALL_M;
  for (let z = z0; z < z1; z++) {
    const az = a + (<usize>z * <usize>strideA << 2);
    const bz = b + (<usize>z * <usize>strideB << 2);
    const cz = c + (<usize>z * <usize>m * <usize>n << 2);
    if (k == 0) {
      if (!accumulate) for (let i = m0; i < m1; i++) memory.fill(cz + <usize>i * ldc + (<usize>n0 << 2), 0, <usize>(n1 - n0) << 2);
      continue;
    }
    if (dot) {
      dotRows(az, lda, transA, bz, k, cz, ldc, m0, m1, n0, n1, accumulate, bp);
      continue;
    }
    for (let jc = n0; jc < n1; jc += NC) {
      const nc = min(NC, n1 - jc);
      for (let pc = 0; pc < k; pc += KC) {
        const kc = min(KC, k - pc);
        const add = pc > 0 || accumulate != 0 ? 1 : 0;
        packB(bz, ldb, transB, pc, kc, jc, nc, bp);
        for (let ic = m0; ic < m1; ic += MC) {
          const mc = min(MC, m1 - ic);
          packA(az, lda, transA, ic, mc, pc, kc, ap);
          for (let jr = 0; jr < nc; jr += NR) {
            const cols = min(NR, nc - jr);
            const pb = bp + (<usize>(jr * kc) << 2);
            for (let ir = 0; ir < mc; ir += MR) {
              const rows = min(MR, mc - ir);
              const pa = ap + (<usize>(ir * kc) << 2);
              const cp = cz + <usize>(ic + ir) * ldc + (<usize>(jc + jr) << 2);
              if (rows == MR && cols == NR) {
                micro4x8(kc, pa, pb, cp, ldc, add);
              } else {
                micro4x8(kc, pa, pb, tile, <usize>NR << 2, 0);
                for (let r = 0; r < rows; r++) {
                  const crow = cp + <usize>r * ldc, trow = tile + (<usize>(r * NR) << 2);
                  for (let q = 0; q < cols; q++) {
                    const o = <usize>q << 2;
                    const v = load<f32>(trow + o);
                    store<f32>(crow + o, add ? load<f32>(crow + o) + v : v);
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}

/**
 * Self-test kernel for the generic calling convention in wasm.ts (f32 and i32 inputs, an in/out output, a
 * per-thread scratch that must arrive zero-filled, a float scalar, a thread range):
 * out[i] += alpha·x[i] + y[i] + scratch[0] for i in [start, end), then scratch[0] = 1000.
 */
export function kernelSelfTest(x: usize, y: usize, out: usize, scratch: usize, alpha: f32, start: i32, end: i32): void {
  const s0 = load<f32>(scratch);
  for (let i = start; i < end; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(out + o) + alpha * load<f32>(x + o) + <f32>load<i32>(y + o) + s0);
  }
  store<f32>(scratch, 1000);
}
