import type { Tensor } from '../../tensor.js';
import { backendOf, launch, type Operand } from '../../backends/webgpu/kernel.js';
import { wgslMath } from '../../backends/webgpu/wgsl-math.js';
import type { MatmulDims } from './matmul.wgsl.js';

/**
 * C = A·Bᵀ for few rows of A (a linear layer applied to one prompt: 1 to 16 token rows against a weight of
 * millions of elements). The tile kernel wastes most of a 64-row tile on such a product and needs a K split and
 * a second kernel to fill the GPU; reading the weight once is all the product should cost. Here each workgroup
 * owns a few columns of C (rows of B, contiguous along K) for a block of up to 16 rows of A. `lanes` invocations
 * stride along K together, reading B as vec4s (a warp reads 512 contiguous bytes); each invocation keeps in
 * registers the partial dot products of every (row, column) pair it owns. The lanes' partials are then summed
 * through workgroup memory, in as many rounds as that memory needs. One dispatch, no scratch, and B is read once.
 */
export interface RowsPlan {
  kind: 'rows';
  /** Invocations that stride along K for one group of columns (a power of two from 32 to 256). */
  lanes: number;
  /** Columns of C each invocation accumulates (B rows read per step). */
  cols: number;
}

/** Rows of A per workgroup: the accumulators are rows × cols registers per invocation. */
export const ROW_BLOCK = 16;
const WG = 256;
/**
 * Workgroups wanted for a product: two per multiprocessor of an H100. Lanes are added only until then: measured
 * there with four columns, a 16×2560·(10240×2560)ᵀ product ran at 10.6 TFLOP/s with 32 lanes, 11.1 with 64, 9.5
 * with 128 and 5.8 with 256, and a 50280-word head 14.5, 13.7, 11.7 and 6.8 (bench/results/matmul.md, 2026-11-25 00:53).
 */
const BUSY = 264;

/** The few-row plan for a product (A·Bᵀ only: B must be contiguous along K), or null when the tile kernel should take it. */
export function rowsPlan(d: MatmulDims): RowsPlan | null {
  if (!d.transB || d.m > ROW_BLOCK || d.k === 0) return null;
  // Four columns per invocation: each A vec4 read (from cache) serves four B reads' dot products. Measured faster
  // than two (same entry): 8.9 against 7.9 TFLOP/s at 12×2560×10240, 10.6 against 9.9 at 16 rows, 14.5 against 11.4
  // for the head.
  const cols = 4;
  // More lanes along K where there are too few columns to fill the GPU, but no more than K has vec4s for.
  const lanesCap = Math.max(32, Math.min(WG, 2 ** Math.ceil(Math.log2(Math.ceil(d.k / 4)))));
  let lanes = 32;
  while (lanes < lanesCap && d.batch * Math.ceil(d.n / ((WG / lanes) * cols)) < BUSY) lanes *= 2;
  return { kind: 'rows', lanes, cols };
}

/** Rounds of the lane sums: the fewest (a divisor of the accumulators per invocation) whose share fits in workgroup memory. */
function sumRounds(rows: number, p: RowsPlan, maxWorkgroupStorage: number): number {
  const J = rows * p.cols, bytesPer = (WG / p.lanes) * (p.lanes + 1) * 4;
  for (let r = 1; r < J; r++) if (J % r === 0 && (J / r) * bytesPer <= maxWorkgroupStorage) return r;
  return J;
}

/**
 * The WGSL statement that stores `value` as element (row, col) of C, in this kernel and in the second kernel of a
 * tiled product: at base + row·N + col of the one output `c`, or, with column blocks (MatmulOptions.columns), in the
 * output `c<q>` whose block holds col, at row·width + col − start.
 */
export function storeC(columns: readonly number[] | null, base: string, row: string, col: string, value: string): string {
  if (!columns) return `st_c(${base} + (${row}) * P.N + ${col}, ${value});`;
  let start = 0;
  return columns.map((w, q) => {
    const at = `st_c${q}((${row}) * ${w}u + ${col} - ${start}u, ${value});`;
    const cond = q === columns.length - 1 ? '' : `if (${col} < ${start + w}u) `;
    start += w;
    return `${q > 0 ? 'else ' : ''}${cond}{ ${at} }`;
  }).join(' ');
}

/** An element of C as stored: `value` (the product, plus the bias), through the activation if there is one. */
export const epilogue = (d: MatmulDims, value: string) => (d.activation === 'softplus' ? `softplus_f(${value})` : value);

/** The WGSL functions `epilogue` calls (the unary op's own softplus_f, so that the fused result is the same). */
export const epilogueHelpers = (d: MatmulDims) => (d.activation === 'softplus' ? `${SOFTPLUS}\n` : '');
const SOFTPLUS = wgslMath('sigmoid');

/** The output operands: `c`, or one `c<q>` per block of columns. */
export function outputOperands(outputs: readonly Tensor[], columns: readonly number[] | null): Operand[] {
  return columns ? outputs.map((t, q) => ({ name: `c${q}`, tensor: t, write: true })) : [{ name: 'c', tensor: outputs[0]!, write: true }];
}

/** Whether B (and A) can be read four elements at a time: K and every offset along it multiples of 4. */
function vec4Along(t: Tensor, k: number, stride: number): boolean {
  return k % 4 === 0 && stride % 4 === 0 && t.offset % 4 === 0;
}

function rowsSource(d: MatmulDims, rows: number, p: RowsPlan, rounds: number, va: boolean, vb: boolean, bias: boolean): string {
  const { transA } = d, columns = d.columns ?? null;
  const { lanes, cols } = p, groups = WG / lanes, J = rows * cols, Jr = J / rounds, pitch = lanes + 1;
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  // Rows past M and columns past N read the last row or column (in bounds) and are never stored.
  const rowAt = range(rows).map((m) => `let ar${m} = aOff + ${transA ? `min(r0 + ${m}u, P.M - 1u)` : `min(r0 + ${m}u, P.M - 1u) * P.K`};`).join(' ');
  const colAt = range(cols).map((c) => `let bc${c} = bOff + min(n0 + ${c}u, P.N - 1u) * P.K;`).join(' ');
  // A's element (row, k): contiguous along K unless A is transposed ([K, M]), where rows lie 1 apart and k P.M apart.
  const aIndex = (m: number, dk: string) => (transA ? `ar${m} + (k${dk}) * P.M` : `ar${m} + k${dk}`);
  let step: string, body: string;
  if (vb) {
    step = '4u';
    const aLoad = (m: number) => (va ? `ld4_a(${aIndex(m, '')})` : `vec4<f32>(${range(4).map((q) => `ld_a(${aIndex(m, ` + ${q}u`)})`).join(', ')})`);
    body = `${range(cols).map((c) => `let b${c} = ld4_b(bc${c} + k);`).join(' ')}
      ${range(rows).map((m) => `{ let a = ${aLoad(m)}; ${range(cols).map((c) => `s${m * cols + c} = s${m * cols + c} + dot(a, b${c});`).join(' ')} }`).join('\n      ')}`;
  } else {
    step = '1u';
    body = `${range(cols).map((c) => `let b${c} = ld_b(bc${c} + k);`).join(' ')}
      ${range(rows).map((m) => `{ let a = ld_a(${aIndex(m, '')}); ${range(cols).map((c) => `s${m * cols + c} = fma(a, b${c}, s${m * cols + c});`).join(' ')} }`).join('\n      ')}`;
  }
  // Round r sums accumulators r·Jr … r·Jr + Jr − 1 of every invocation; o numbers (column group, accumulator) pairs.
  const sums = range(rounds).map((r) => `
  ${r > 0 ? 'workgroupBarrier();' : ''}
  ${range(Jr).map((j) => `red[(sub * ${Jr}u + ${j}u) * ${pitch}u + lane] = s${r * Jr + j};`).join(' ')}
  workgroupBarrier();
  for (var o = lid; o < ${groups * Jr}u; o = o + ${WG}u) {
    var t = 0.0;
    for (var l = 0u; l < ${lanes}u; l = l + 1u) { t = t + red[o * ${pitch}u + l]; }
    let j = ${r * Jr}u + o % ${Jr}u;
    let row = r0 + j / ${cols}u;
    let col = (cg * ${groups}u + o / ${Jr}u) * ${cols}u + j % ${cols}u;
    if (row < P.M && col < P.N) { ${storeC(columns, 'item * P.M * P.N', 'row', 'col', epilogue(d, `t${bias ? ' + ld_bias(col)' : ''}`))} }
  }`).join('');
  return `
var<workgroup> red: array<f32, ${groups * Jr * pitch}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = flat_group(wid, nwg);
  if (g >= P.groups) { return; }
  let cg = g % P.colGroups;
  let rest = g / P.colGroups;
  let r0 = (rest % P.rowBlocks) * ${rows}u;
  let item = rest / P.rowBlocks;
  let sub = lid / ${lanes}u;
  let lane = lid % ${lanes}u;
  let n0 = (cg * ${groups}u + sub) * ${cols}u;
  let aOff = item * P.strideA;
  let bOff = item * P.strideB;
  ${rowAt}
  ${colAt}
  ${range(J).map((j) => `var s${j} = 0.0;`).join(' ')}
  for (var k = lane * ${step}; k < P.K; k = k + ${lanes}u * ${step}) {
      ${body}
  }
  ${sums}
}`;
}

/**
 * A product's sizes for profiles (Launch.shape): M as a power-of-two range, so that the many row counts of
 * tracing's passes fall into few groups; K and N exactly, with the transposes.
 */
export function productShape(d: MatmulDims): string {
  const hi = 2 ** Math.ceil(Math.log2(Math.max(1, d.m)));
  const m = hi <= 16 ? `${d.m}` : `${hi / 2 + 1}–${hi}`;
  return `${d.batch > 1 ? `${d.batch} × ` : ''}${m} × ${d.k} × ${d.n} ${d.transA ? 't' : 'n'}${d.transB ? 't' : 'n'}${d.columns ? ` into ${d.columns.length}` : ''}`;
}

/** Sources by shape of the kernel: the same string object each time, so a launch neither rebuilds nor rehashes it. */
const sources = new Map<string, string>();

/** `bias` (a vector of the N columns) is added as each element of C is stored; column blocks: see storeC. */
export function launchRows(a: Tensor, b: Tensor, outputs: readonly Tensor[], d: MatmulDims, p: RowsPlan, bias?: Tensor): void {
  const rows = Math.min(d.m, ROW_BLOCK);
  const vb = vec4Along(b, d.k, d.strideB), va = vb && !d.transA && vec4Along(a, d.k, d.strideA);
  const rounds = sumRounds(rows, p, backendOf(a).limits.maxWorkgroupStorage);
  const key = `${rows}|${p.lanes}|${p.cols}|${rounds}|${+d.transA}${+va}${+vb}|${+!!bias}|${d.columns ?? ''}|${d.activation ?? ''}`;
  let code = sources.get(key);
  if (code === undefined) sources.set(key, (code = epilogueHelpers(d) + rowsSource(d, rows, p, rounds, va, vb, bias !== undefined)));
  const rowBlocks = Math.ceil(d.m / rows), colGroups = Math.ceil(d.n / ((WG / p.lanes) * p.cols));
  const groups = d.batch * rowBlocks * colGroups;
  launch({
    op: 'matmul (few rows)', workgroupSize: WG, shape: () => `${productShape(d)}, ${p.lanes} lanes`,
    operands: [{ name: 'a', tensor: a, vec4: va }, { name: 'b', tensor: b, vec4: vb }, ...outputOperands(outputs, d.columns ?? null), ...(bias ? [{ name: 'bias', tensor: bias }] : [])],
    u32: { M: d.m, K: d.k, N: d.n, rowBlocks, colGroups, groups, strideA: d.strideA, strideB: d.strideB },
    code,
    groups,
  });
}
