import { defineOp, runOp } from '../../op.js';
import { opError } from '../../errors.js';
import { fmt } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { cpuF32 } from '../../backends/cpu/cpu-backend.js';
import { arenaAlloc, arenaBudgetBytes, arenaReset, parallelFor, threadCount, wasmF32 } from '../../backends/cpu/wasm.js';
import { cpuI32 } from '../../backends/cpu/cpu-backend.js';
import { indexAdd, indexSelect } from '../shape/index-select.js';
import { checkPastRows, pastRowsFault } from './past-rows.js';
import { softplus as softplus64, softplusGrad } from '../elementwise/unary-math.js';
import { selectiveScanBackwardGpu, selectiveScanGpu } from './selective-scan.wgsl.js';

/**
 * Mamba's selective scan (paper-method §1.3 steps 8–10) as one fused op. Per batch row b, channel c and state n:
 *   s_0 = 0,  s_t = exp(Δ_t[c]·A[c,n])·s_{t-1} + Δ_t[c]·B_t[n]·x_t[c],  y_t[c] = Σ_n s_t[c,n]·C_t[n] + D[c]·x_t[c].
 * A = −exp(A_log) is computed by the model with ordinary ops, so its gradient flows through this op's gradient of A.
 * Δ is either given as it is used, or (`deltaSoftplus`, mamba_ssm's delta_softplus) before its softplus, which the
 * kernels then apply as they read it: Mamba's dt_proj product is then stored as it is, one kernel and one pass
 * over [B, L, D] fewer per layer than a product with softplus in its epilogue, which writes to scratch first.
 *
 * Memory: the backward stores no [B, L, D, N] tensor. Each (b, c) pair is independent, so the backward recomputes
 * that pair's states and decays ((2·L + 1)·N floats of scratch per thread) and then runs the reverse-time pass over
 * them. The cost is one extra forward pass inside the backward; the footprint stays that of the inputs, where at
 * 2.8B scale (D=5120, N=16, B=256, L=16) the states would take 1.3 GB per layer, for each of 64 layers.
 * The optional state output exists for hook sites; its gradient enters the reverse pass as an extra adjoint of s_t.
 * The optional initial state h0 [B, D, N] replaces s_0 = 0 (s_{-1} in the 0-based time above): a run over positions
 * [p, L) from the state after position p−1 continues the run over [0, p) exactly, which is how a Mamba forward
 * resumes at a position (tracing's position reuse, `ForwardOptions.past`). Its gradient is λ_0·exp(Δ_0·A). With
 * `initialRows` (int32 [B]) h0 is [R, D, N] and row b starts from its row initialRows[b], read in place (tracing
 * continues hundreds of rows from a few runs).
 */

interface Dims { B: number; L: number; D: number; N: number }

function checkInputs(op: string, inputs: readonly Tensor[], hasH0: boolean, hasRows = false): Dims {
  const [x, delta, A, Bm, C, Dk] = inputs as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
  if (inputs.slice(0, hasH0 ? 7 : 6).some((t) => t.dtype !== 'float32')) throw opError(op, 'x, delta, A, B, C and D must all be float32', inputs);
  if (x.rank !== 3) throw opError(op, `x must be [B, L, D], got ${fmt(x.shape)}`, inputs);
  const [B, L, D] = x.shape as [number, number, number];
  if (delta.rank !== 3 || delta.shape.some((d, i) => d !== x.shape[i])) throw opError(op, `delta ${fmt(delta.shape)} must have x's shape ${fmt(x.shape)}`, inputs);
  if (A.rank !== 2 || A.shape[0] !== D) throw opError(op, `A must be [D, N] with D = ${D} (x's channels), got ${fmt(A.shape)}`, inputs);
  const N = A.shape[1]!;
  if (N < 1) throw opError(op, `A must have at least one state (N ≥ 1), got ${fmt(A.shape)}`, inputs);
  for (const [name, t] of [['B', Bm], ['C', C]] as const) {
    if (t.rank !== 3 || t.shape[0] !== B || t.shape[1] !== L || t.shape[2] !== N) {
      throw opError(op, `${name} must be [B, L, N] = ${fmt([B, L, N])} (batch and length of x, states of A), got ${fmt(t.shape)}`, inputs);
    }
  }
  if (Dk.rank !== 1 || Dk.shape[0] !== D) throw opError(op, `D must be [D] with D = ${D} (x's channels), got ${fmt(Dk.shape)}`, inputs);
  const h0 = hasH0 ? inputs[6]! : null;
  if (h0 && (h0.rank !== 3 || (!hasRows && h0.shape[0] !== B) || h0.shape[1] !== D || h0.shape[2] !== N)) {
    const want = hasRows ? `[R, D, N] = [R,${D},${N}] (any rows, x's channels, A's states)` : `[B, D, N] = ${fmt([B, D, N])} (x's batch and channels, A's states)`;
    throw opError(op, `the initial state must be ${want}, got ${fmt(h0.shape)}`, inputs);
  }
  if (hasRows) checkPastRows(op, inputs[7]!, B, h0!.shape[0]!, inputs);
  return { B, L, D, N };
}

// The hot loops are WebAssembly SIMD (selective-scan.as.ts); this side moves operands into the kernels' arena and
// back. The arena has a budget (wasm.ts), so the batch is cut into row chunks that fit it: rows are independent,
// and at B=256 the state output alone is 1.3 GB. Channels are split over threads; a thread's share should be worth
// ~50 µs (a channel costs ~2.5 ns per row·position·state), or waking workers costs more than it saves.
const ALIGN = 64;
const aligned = (floats: number) => Math.ceil((floats * 4) / ALIGN) * ALIGN;
const minChannelsPerThread = (rows: number, L: number, N: number) => Math.ceil(20000 / Math.max(1, rows * L * N));

/** Rows per chunk: as many as fit the arena beside the fixed operands; at least one (the arena then grows past it). */
function rowsPerChunk(B: number, fixedBytes: number, rowBytes: number): number {
  return Math.max(1, Math.min(B, Math.floor((arenaBudgetBytes() - fixedBytes) / rowBytes)));
}

function scanForward(d: Dims, x: Float32Array, dt: Float32Array, A: Float32Array, Bm: Float32Array, C: Float32Array, Dk: Float32Array, h0: Float32Array | null, y: Float32Array, state: Float32Array | null): void {
  const { B, L, D, N } = d;
  const threads = threadCount();
  const LD = L * D, LN = L * N, LDN = L * D * N, DN = D * N;
  const fixed = aligned(D * N) + aligned(D) + threads * aligned(N);
  const rows = rowsPerChunk(B, fixed, 4 * (3 * LD + 2 * LN + (state ? LDN : 0) + (h0 ? DN : 0)) + 6 * ALIGN);
  for (let b0 = 0; b0 < B; b0 += rows) {
    const nb = Math.min(rows, B - b0);
    arenaReset();
    const [px, pdt, pA, pB, pC, pDk, ph0, py, ps] = [nb * LD, nb * LD, D * N, nb * LN, nb * LN, D, h0 ? nb * DN : 0, nb * LD, state ? nb * LDN : 0].map((n) => arenaAlloc(n * 4, 'selectiveScan'));
    const work = Array.from({ length: threads }, () => arenaAlloc(N * 4, 'selectiveScan'));
    wasmF32(px!, nb * LD).set(x.subarray(b0 * LD, (b0 + nb) * LD));
    wasmF32(pdt!, nb * LD).set(dt.subarray(b0 * LD, (b0 + nb) * LD));
    wasmF32(pA!, D * N).set(A);
    wasmF32(pB!, nb * LN).set(Bm.subarray(b0 * LN, (b0 + nb) * LN));
    wasmF32(pC!, nb * LN).set(C.subarray(b0 * LN, (b0 + nb) * LN));
    wasmF32(pDk!, D).set(Dk);
    if (h0) wasmF32(ph0!, nb * DN).set(h0.subarray(b0 * DN, (b0 + nb) * DN));
    parallelFor('selectiveScanForward', D, (c0, c1, t) => [px!, pdt!, pA!, pB!, pC!, pDk!, ph0!, py!, ps!, work[t]!, nb, L, D, N, h0 ? 1 : 0, state ? 1 : 0, c0, c1],
      { minUnitsPerThread: minChannelsPerThread(nb, L, N) });
    y.set(wasmF32(py!, nb * LD), b0 * LD);
    if (state) state.set(wasmF32(ps!, nb * LDN), b0 * LDN);
  }
}

/**
 * gx, gDelta, gA, gB, gC, gD (and gh0 with an initial state h0) from the adjoints gy / gS (either may be absent). gA and gD sum over rows, so they are
 * summed over chunks here; gB and gC sum over channels, so each thread adds into its own copy and the copies are
 * summed after the call.
 */
function scanBackward(
  d: Dims, x: Float32Array, dt: Float32Array, A: Float32Array, Bm: Float32Array, C: Float32Array, Dk: Float32Array,
  h0: Float32Array | null, gy: Float32Array | null, gS: Float32Array | null,
  gx: Float32Array, gDelta: Float32Array, gA: Float32Array, gB: Float32Array, gC: Float32Array, gD: Float32Array, gh0: Float32Array | null,
): void {
  const { B, L, D, N } = d;
  const threads = threadCount();
  const LD = L * D, LN = L * N, LDN = L * D * N, DN = D * N;
  const fixed = 2 * aligned(D * N) + 2 * aligned(D) + threads * aligned((2 * L + 1) * N);
  const rowBytes = 4 * ((gy ? 5 : 4) * LD + (2 + 2 * threads) * LN + (gS ? LDN : 0) + (h0 ? 2 * DN : 0)) + (14 + 2 * threads) * ALIGN;
  const rows = rowsPerChunk(B, fixed, rowBytes);
  const accA = new Float64Array(D * N), accD = new Float64Array(D);
  for (let b0 = 0; b0 < B; b0 += rows) {
    const nb = Math.min(rows, B - b0);
    arenaReset();
    const sizes = [nb * LD, nb * LD, D * N, nb * LN, nb * LN, D, h0 ? nb * DN : 0, gy ? nb * LD : 0, gS ? nb * LDN : 0, nb * LD, nb * LD, D * N, D, h0 ? nb * DN : 0];
    const [px, pdt, pA, pB, pC, pDk, ph0, pgy, pgS, pgx, pgd, pgA, pgD, pgh0] = sizes.map((n) => arenaAlloc(n * 4, 'selectiveScan backward'));
    const work = Array.from({ length: threads }, () => arenaAlloc((2 * L + 1) * N * 4, 'selectiveScan backward'));
    const partB = Array.from({ length: threads }, () => arenaAlloc(nb * LN * 4, 'selectiveScan backward'));
    const partC = Array.from({ length: threads }, () => arenaAlloc(nb * LN * 4, 'selectiveScan backward'));
    wasmF32(px!, nb * LD).set(x.subarray(b0 * LD, (b0 + nb) * LD));
    wasmF32(pdt!, nb * LD).set(dt.subarray(b0 * LD, (b0 + nb) * LD));
    wasmF32(pA!, D * N).set(A);
    wasmF32(pB!, nb * LN).set(Bm.subarray(b0 * LN, (b0 + nb) * LN));
    wasmF32(pC!, nb * LN).set(C.subarray(b0 * LN, (b0 + nb) * LN));
    wasmF32(pDk!, D).set(Dk);
    if (h0) wasmF32(ph0!, nb * DN).set(h0.subarray(b0 * DN, (b0 + nb) * DN));
    if (gy) wasmF32(pgy!, nb * LD).set(gy.subarray(b0 * LD, (b0 + nb) * LD));
    if (gS) wasmF32(pgS!, nb * LDN).set(gS.subarray(b0 * LDN, (b0 + nb) * LDN));
    for (const p of [...partB, ...partC]) wasmF32(p, nb * LN).fill(0);
    parallelFor('selectiveScanBackward', D, (c0, c1, t) => [px!, pdt!, pA!, pB!, pC!, pDk!, ph0!, pgy!, pgS!, pgx!, pgd!, pgA!, partB[t]!, partC[t]!, pgD!, pgh0!, work[t]!,
      nb, L, D, N, h0 ? 1 : 0, gy ? 1 : 0, gS ? 1 : 0, c0, c1], { minUnitsPerThread: minChannelsPerThread(nb, L, N) });
    gx.set(wasmF32(pgx!, nb * LD), b0 * LD);
    if (gh0) gh0.set(wasmF32(pgh0!, nb * DN), b0 * DN);
    gDelta.set(wasmF32(pgd!, nb * LD), b0 * LD);
    const ga = wasmF32(pgA!, D * N), gd = wasmF32(pgD!, D);
    for (let i = 0; i < D * N; i++) accA[i] += ga[i]!;
    for (let i = 0; i < D; i++) accD[i] += gd[i]!;
    const outB = gB.subarray(b0 * LN, (b0 + nb) * LN).fill(0), outC = gC.subarray(b0 * LN, (b0 + nb) * LN).fill(0);
    for (let t = 0; t < threads; t++) {
      const pb = wasmF32(partB[t]!, nb * LN), pc = wasmF32(partC[t]!, nb * LN);
      for (let i = 0; i < nb * LN; i++) { outB[i] += pb[i]!; outC[i] += pc[i]!; }
    }
  }
  gA.set(accA);
  gD.set(accD);
}

interface ScanAttrs { returnState: boolean; initial: boolean; rows: boolean; softplus: boolean }

/** Δ as the kernels use it: softplus of the raw input where the op applies it (the CPU kernels read it so). */
function activatedDelta(dt: Float32Array, softplus: boolean): Float32Array {
  return softplus ? dt.map(softplus64) : dt;
}

/** Inputs: x, delta, A, B, C, D, then h0 if `initial`, then its rows if `rows`. Outputs: y, then the states if `returnState`. */
const selectiveScanOp = defineOp<ScanAttrs>({
  name: 'selectiveScan',
  infer(inputs, { returnState, initial, rows }) {
    const { B, L, D, N } = checkInputs('selectiveScan', inputs, initial, rows);
    const y = { shape: [B, L, D], dtype: 'float32' as const };
    return returnState ? [y, { shape: [B, L, D, N], dtype: 'float32' as const }] : [y];
  },
  kernels: {
    cpu({ inputs, outputs, attrs: { initial, rows, softplus } }) {
      const d = dimsOf(inputs);
      const [x, dt, A, Bm, C, Dk] = inputs.slice(0, 6).map(cpuF32) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
      const h0 = initial ? cpuF32(inputs[6]!) : null;
      scanForward(d, x, activatedDelta(dt, softplus), A, Bm, C, Dk, h0 && rows ? perRow(h0, cpuI32(inputs[7]!), d) : h0, cpuF32(outputs[0]!), outputs[1] ? cpuF32(outputs[1]) : null);
    },
    webgpu: ({ inputs, outputs, attrs: { initial, rows, softplus } }) => selectiveScanGpu(inputs.slice(0, 6), initial ? inputs[6]! : null, rows ? inputs[7]! : null, outputs[0]!, outputs[1], pastRowsFault('selectiveScan', initial ? inputs[6]!.shape[0]! : 0), softplus),
  },
  backward([gy, gS], { inputs, attrs: { initial, rows, softplus } }): (Tensor | null)[] {
    const grads = [gy, gS].filter((g): g is Tensor => !!g);
    const flags = { hasGy: !!gy, hasGs: !!gS, initial, softplus };
    if (!rows) return runOp(selectiveScanBackwardOp, [...inputs, ...grads], flags);
    // Rows of h0: the backward from each row's own copy, whose gradients add up on the rows they came from.
    const h0 = inputs[6]!, idx = inputs[7]!;
    const own = indexSelect(h0, 0, idx);
    const out: (Tensor | null)[] = runOp(selectiveScanBackwardOp, [...inputs.slice(0, 6), own, ...grads], flags);
    own.dispose();
    const perRowGrad = out[6]!;
    out[6] = indexAdd(perRowGrad, idx, 0, h0.shape[0]!);
    perRowGrad.dispose();
    return [...out, null];
  },
});

/** The initial state of each row, row b being h0's row rows[b] (the CPU kernels read one state per row). */
function perRow(h0: Float32Array, rows: Int32Array, { B, D, N }: Dims): Float32Array {
  const out = new Float32Array(B * D * N);
  for (let b = 0; b < B; b++) out.set(h0.subarray(rows[b]! * D * N, (rows[b]! + 1) * D * N), b * D * N);
  return out;
}

function dimsOf(inputs: readonly Tensor[]): Dims {
  const [B, L, D] = inputs[0]!.shape as [number, number, number];
  return { B, L, D, N: inputs[2]!.shape[1]! };
}

interface BackwardAttrs { hasGy: boolean; hasGs: boolean; initial: boolean; softplus: boolean }

/** Inputs: the scan's inputs (h0 last if `initial`), then gy if hasGy, then gS if hasGs. Outputs: their gradients. */
const selectiveScanBackwardOp = defineOp<BackwardAttrs>({
  name: 'selectiveScanBackward',
  internal: true,
  infer(inputs, { hasGy, hasGs, initial }) {
    const k = initial ? 7 : 6;
    const { B, L, D, N } = checkInputs('selectiveScanBackward', inputs.slice(0, k), initial);
    if (inputs.length !== k + Number(hasGy) + Number(hasGs)) throw opError('selectiveScanBackward', 'inputs do not match hasGy/hasGs', inputs);
    const want = [...(hasGy ? [[B, L, D]] : []), ...(hasGs ? [[B, L, D, N]] : [])];
    want.forEach((shape, i) => {
      const g = inputs[k + i]!;
      if (g.rank !== shape.length || g.shape.some((v, j) => v !== shape[j])) throw opError('selectiveScanBackward', `gradient ${fmt(g.shape)} should be ${fmt(shape)}`, inputs);
    });
    return inputs.slice(0, k).map((t) => ({ shape: [...t.shape], dtype: 'float32' as const }));
  },
  kernels: {
    cpu({ inputs, outputs, attrs: { hasGy, hasGs, initial, softplus } }) {
      const d = dimsOf(inputs);
      const k = initial ? 7 : 6;
      const [x, dt, A, Bm, C, Dk] = inputs.slice(0, 6).map(cpuF32) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
      const gy = hasGy ? cpuF32(inputs[k]!) : null;
      const gS = hasGs ? cpuF32(inputs[k + Number(hasGy)]!) : null;
      const [gx, gDelta, gA, gB, gC, gD] = outputs.slice(0, 6).map(cpuF32) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
      scanBackward(d, x, activatedDelta(dt, softplus), A, Bm, C, Dk, initial ? cpuF32(inputs[6]!) : null, gy, gS, gx, gDelta, gA, gB, gC, gD, initial ? cpuF32(outputs[6]!) : null);
      // The gradient of the raw Δ, through softplus.
      if (softplus) for (let i = 0; i < dt.length; i++) gDelta[i] = gDelta[i]! * softplusGrad(dt[i]!);
    },
    webgpu({ inputs, outputs, attrs: { hasGy, hasGs, initial, softplus } }) {
      const k = initial ? 7 : 6;
      selectiveScanBackwardGpu(inputs.slice(0, 6), initial ? inputs[6]! : null, hasGy ? inputs[k]! : null, hasGs ? inputs[k + Number(hasGy)]! : null, outputs, softplus);
    },
  },
});

export interface SelectiveScanOptions {
  /** Also return the state after every position, [B, L, D, N] (a hook site; differentiable). */
  returnState?: boolean;
  /** The state before the first position, [B, D, N] (default zeros): a position of another run's states. Differentiable. */
  initialState?: Tensor;
  /** int32 [B]: row b starts from initialState's row initialRows[b] (initialState then has any number of rows). */
  initialRows?: Tensor;
  /**
   * delta is Δ before its softplus, which the scan applies as it reads it (mamba_ssm's delta_softplus): the same
   * result and gradients as `selectiveScan(x, softplus(delta), ...)`, without the activated Δ as a tensor.
   */
  deltaSoftplus?: boolean;
}

/**
 * The selective scan of x [B,L,D] with step sizes delta [B,L,D] (post-softplus, or before it with `deltaSoftplus`),
 * A [D,N] (= −exp(A_log)), input and output projections B, C [B,L,N] and skip D [D], from zero states or
 * `initialState`. Returns y [B,L,D], and with `returnState` also the states s_t as [B,L,D,N].
 */
export function selectiveScan(x: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor, opts?: SelectiveScanOptions & { returnState?: false }): Tensor;
export function selectiveScan(x: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor, opts: SelectiveScanOptions & { returnState: true }): [Tensor, Tensor];
export function selectiveScan(x: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor, opts?: SelectiveScanOptions): Tensor | [Tensor, Tensor];
export function selectiveScan(x: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor, opts: SelectiveScanOptions = {}): Tensor | [Tensor, Tensor] {
  const h0 = opts.initialState, rows = h0 && opts.initialRows;
  if (opts.initialRows && !h0) throw opError('selectiveScan', 'initialRows needs an initialState', [x]);
  const out = runOp(selectiveScanOp, [x, delta, A, B, C, D, ...(h0 ? [h0] : []), ...(rows ? [rows] : [])], { returnState: !!opts.returnState, initial: !!h0, rows: !!rows, softplus: !!opts.deltaSoftplus });
  return opts.returnState ? [out[0]!, out[1]!] : out[0]!;
}
