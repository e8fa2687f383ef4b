import type { Tensor } from '../../tensor.js';
import { launch, withScratch } from '../../backends/webgpu/kernel.js';
import { epilogue, epilogueHelpers, launchRows, outputOperands, productShape, rowsPlan, storeC, type RowsPlan } from './matmul-rows.wgsl.js';

/**
 * C = op(A)·op(B) in WGSL. A workgroup of 16×16 invocations computes a T×T output tile, each invocation a TM×TM
 * block held in registers (T = 16·TM): 128×128 tiles with 8×8 blocks where both sides of C are large, 64×64 with
 * 4×4 otherwise (fewer wasted rows for the few-token products of patching and editing). Slabs of A and B, BK deep,
 * are staged through workgroup memory as vec4s, so the inner loop does TM² multiply-adds per 2·TM/4 vec4 reads;
 * the next slab is fetched into registers while the current one is multiplied, as vec4s where the layout allows it
 * (`vec4Choice`). Rows of the staged slabs are padded by one vec4 so that the scalar stores of a warp spread over the
 * memory banks. Other tile shapes (`tn`, `threads`) and loop orders (`prefetch`, `double`, `alternate`) can be forced
 * for benchmarks; bench/results/matmul.md records what each measured.
 *
 * A product with too few tiles to fill the GPU evenly (512 rows against a 5120×2560 weight is 80 tiles on 132
 * multiprocessors, each running a 5120-long loop) is split along K (`splitsFor`): each split writes its partial
 * product to scratch and a second kernel sums them.
 *
 * Transposes are baked into the source; batch items, splits, row tiles and column tiles are numbered flat over a
 * 2-D grid, so a batched product of any size is one dispatch (two when split).
 *
 * A linear layer applied to at most 16 rows (one prompt) takes the few-row kernel instead (matmul-rows.wgsl.ts):
 * one dispatch that reads the weight once.
 */
export interface MatmulDims {
  batch: number; m: number; k: number; n: number; transA: boolean; transB: boolean; strideA: number; strideB: number;
  /** Widths of column blocks stored in separate outputs (MatmulOptions.columns; batch 1), or null: one output. */
  columns?: readonly number[] | null;
  /** MatmulOptions.activation, applied as each element is stored. */
  activation?: 'softplus' | null;
}

/**
 * Tile shape and K split, chosen by `plan` unless a benchmark or test forces one. `vec4` reads an operand's slabs
 * from memory as vec4s where its layout allows it (see `vec4Reads`); `double` stages slabs through two buffers of
 * workgroup memory, so one barrier per slab suffices where one buffer needs two.
 */
export interface TilePlan {
  kind?: 'tiles';
  /** Rows of C each invocation holds. */
  tm: 4 | 8 | 16;
  /** Columns of C each invocation holds: tm when absent. */
  tn?: 4 | 8 | 16;
  /** Invocations per workgroup, in rows of 16: 256 when absent. */
  threads?: 64 | 128 | 256;
  bk: number; splits: number; vec4?: 'a' | 'b' | 'both'; double?: boolean;
  /**
   * Each step of the inner loop reads the next step's operands from workgroup memory before its multiply-adds: both
   * (`'both'`), A's or B's alone, or both after the current step's first four rows of products (`'late'`).
   */
  prefetch?: 'both' | 'a' | 'b' | 'late';
  /**
   * Two buffers of workgroup memory as `double`, but one copy of the loop, which alternates between them through a
   * variable offset (`double` unrolls two copies with constant offsets).
   */
  alternate?: boolean;
}

/** The rows and columns of C a workgroup of plan `p` computes, and its invocations. */
export function tileShape(p: TilePlan): { rows: number; cols: number; threads: number } {
  const threads = p.threads ?? 256;
  return { rows: (threads / 16) * p.tm, cols: 16 * (p.tn ?? p.tm), threads };
}

/** Whether plan `p` can be generated: whole vec4s of accumulators, and every invocation staging as many elements. */
export function validTilePlan(p: TilePlan): boolean {
  const { rows, cols, threads } = tileShape(p);
  return [4, 8, 16].includes(p.tm) && [4, 8, 16].includes(p.tn ?? p.tm) && [64, 128, 256].includes(threads) && p.bk >= 4 && p.bk % 4 === 0
    && (rows * p.bk) % threads === 0 && (cols * p.bk) % threads === 0;
}
/** A product's kernel: tiles (`TilePlan`), or the few-row kernel of matmul-rows.wgsl.ts. */
export type MatmulPlan = TilePlan | RowsPlan;

/** The H100's multiprocessors; each runs two tile workgroups at once. */
const MULTIPROCESSORS = 132;
/**
 * A lone tile workgroup on a multiprocessor finishes its work in this much of the time two take together: fitted to
 * 160 tiles of 1024×5120×2560, which ran 1.27× faster in two K splits than whole (bench/results/matmul.md,
 * 2026-11-25 04:04), where the whole product's busiest multiprocessors ran two tiles, and the split's three halves.
 */
const LONE = 1 / 0.87;
/** The cost of each further K split (its partial products written to scratch and summed), relative to the product. */
const SPLIT_COST = 0.08;
/** The shortest K range worth a split of its own. */
const MIN_SPLIT_K = 256;

/**
 * The K split that finishes soonest when tiles·splits workgroups, each K/splits long, share the multiprocessors two
 * at a time: the busiest multiprocessor runs ceil(tiles·splits / 132) of them, in pairs and the odd one alone. This
 * model reproduces the measured choices (bench/results/matmul.md 04:04): 160 tiles split, 200 as fast either way,
 * 240–260 whole, where a fixed threshold split 80 tiles in four and 120 in three (1.2 and 1.4 waves of pairs).
 */
function splitsFor(tiles: number, k: number): number {
  const most = Math.min(Math.floor(k / MIN_SPLIT_K), 32);
  let best = 1, bestTime = Infinity;
  for (let s = 1; s <= most; s++) {
    const busiest = Math.ceil((tiles * s) / MULTIPROCESSORS);
    const time = ((busiest - (busiest % 2)) + (busiest % 2) * LONE) / s * (1 + SPLIT_COST * (s - 1));
    // A further split must gain 3%: the model is no finer than that.
    if (time < bestTime * 0.97) { best = s; bestTime = time; }
  }
  return best;
}

export function plan(d: MatmulDims): MatmulPlan {
  return rowsPlan(d) ?? tilePlan(d);
}

/**
 * 128² tiles where both sides of C are large, with vec4 reads per `vec4Choice`. A·B reads each step's operands from
 * workgroup memory one step ahead (`prefetch`): 7% faster on the H100 at 2048³, 512×10240×2560 and 4096³, where the
 * same order made A·Bᵀ 13–19% slower (bench/results/matmul.md, 2026-12-06 05:18–05:32).
 */
export function tilePlan(d: MatmulDims): TilePlan {
  const tm = d.m >= 128 && d.n >= 128 ? 8 : 4;
  const vec4 = vec4Choice(d);
  const p: TilePlan = { tm, bk: tm === 8 ? 8 : 16, splits: 1, vec4, ...(tm === 8 && !d.transA && !d.transB && { prefetch: 'both' as const }) };
  return { ...p, splits: splitsOf(d, p) };
}

/** The K split for plan `p`'s tiles (its own `splits` aside): see splitsFor and smallTileSplits. */
export function splitsOf(d: MatmulDims, p: TilePlan): number {
  const { rows, cols } = tileShape(p);
  const tiles = d.batch * Math.ceil(d.m / rows) * Math.ceil(d.n / cols);
  return rows >= 128 && cols >= 128 ? splitsFor(tiles, d.k) : smallTileSplits(tiles, d.k);
}

/**
 * K splits of 64² tiles (few rows or columns), to which the model of splitsFor (fitted to 128² tiles, two to a
 * multiprocessor) does not apply: the rule it replaced, fewer than 192 tiles split into about 264 workgroups.
 */
function smallTileSplits(tiles: number, k: number): number {
  if (tiles >= 192 || k < 2 * MIN_SPLIT_K) return 1;
  return Math.min(Math.ceil(264 / tiles), Math.floor(k / MIN_SPLIT_K), 32);
}

/**
 * Which operands to read as vec4s, as measured on the H100 (bench/results/matmul.md, entries of 2026-11-24 23:36 and
 * 23:46): when both operands are contiguous along K (A·Bᵀ, a linear layer) or both are not, vec4 reads of both
 * (13–17% faster); when one is and one is not (A·B), only the one that is not: vec4 reads of the K-contiguous one
 * alone made it slower.
 */
function vec4Choice(d: MatmulDims): 'a' | 'b' | 'both' {
  const aAlongK = !d.transA, bAlongK = d.transB;
  if (aAlongK === bAlongK) return 'both';
  return aAlongK ? 'b' : 'a';
}

let forced: MatmulPlan | null = null;
/** Forces a plan for every product until reset with null (tests of each path; benchmark sweeps). */
export function forceMatmulPlan(p: MatmulPlan | null): void { forced = p; }

/**
 * Whether each operand's slabs can be read as vec4s: the axis contiguous in memory (K for A and for a transposed
 * B, M or N otherwise) and every offset into it must be multiples of 4, and a slab must hold whole vec4s per thread.
 * A 16-bit operand is read four elements (two words) at a time too, and widened.
 */
export function vec4Reads(a: Tensor, b: Tensor, d: MatmulDims, p: TilePlan): [boolean, boolean] {
  const { rows, cols, threads } = tileShape(p);
  if (!p.vec4 || (rows * p.bk) % (4 * threads) !== 0 || (cols * p.bk) % (4 * threads) !== 0) return [false, false];
  const ok = (t: Tensor, inner: number, stride: number) => inner % 4 === 0 && stride % 4 === 0 && t.offset % 4 === 0;
  return [p.vec4 !== 'b' && ok(a, d.transA ? d.m : d.k, d.strideA), p.vec4 !== 'a' && ok(b, d.transB ? d.k : d.n, d.strideB)];
}

/** A buffer of workgroup memory: 0 or 1, or the one a loop alternating between them reads or stages. */
type Buffer = number | 'cur' | 'next';

function tileSource(d: MatmulDims, p: TilePlan, [va, vb]: readonly [boolean, boolean], bias: boolean): string {
  const { bk, double = false } = p;
  const { rows: tM, cols: tN, threads } = tileShape(p);
  // Invocations are 16 columns by `ty` rows; each holds tm rows (4 apart within a group of 4, groups 4·ty apart) and
  // tn columns (in vec4s 64 apart) of the tile.
  const rowsOfThreads = threads / 16, rowGroups = p.tm / 4, cb = (p.tn ?? p.tm) / 4;
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const strideOf = (t: number) => t / 4 + 1;
  /**
   * Where element `offset` of an operand's buffer `buf` lies in its workgroup array: buffer 0 or 1 as a constant, or
   * the buffer the loop reads (`cur`) or stages (`next`) where one copy of the loop alternates between two.
   */
  const at0 = (name: 'a' | 'b', buf: Buffer, slab: number, offset: number) =>
    (typeof buf === 'number' ? `${buf * slab + offset}u` : `${buf}_${name} + ${offset}u`);
  /** One operand's slab: global reads into registers (`fetch`) and their stores into workgroup memory (`stash`). */
  const staging = (name: 'a' | 'b', kMajor: boolean, vec: boolean) => {
    const t = name === 'a' ? tM : tN, loads = (t * bk) / threads, loads4 = loads / 4, stride = strideOf(t), slab = bk * stride;
    const idx = name === 'a' ? 'i' : 'j', base = name === 'a' ? 'row0' : 'col0', lim = name === 'a' ? 'P.M' : 'P.N';
    const S = name === 'a' ? 'As' : 'Bs';
    // kMajor: K is the contiguous axis (A, or B transposed), so rows of the tile lie P.K apart.
    const at = (g: string) => (kMajor ? `${g}${idx} * P.K + gk` : `gk * ${lim} + ${g}${idx}`);
    if (!vec) {
      // Which tile coordinate runs fastest over the loads: the one contiguous in memory.
      const split = kMajor ? `let kk = e % ${bk}u; let ${idx} = e / ${bk}u;` : `let ${idx} = e % ${t}u; let kk = e / ${t}u;`;
      return {
        regs: range(loads).map((q) => `var r${name}${q}: f32;`).join(' '),
        fetch: range(loads).map((q) => `
    { let e = lid + ${q * threads}u; ${split}
      let g${idx} = ${base} + ${idx}; let gk = k0 + kk;
      r${name}${q} = 0.0;
      if (g${idx} < ${lim} && gk < kEnd) { r${name}${q} = ld_${name}(${name}Off + ${at('g')}); } }`).join(''),
        stash: (buf: Buffer) => range(loads).map((q) => `
    { let e = lid + ${q * threads}u; ${split} ${S}[${at0(name, buf, slab, 0)} + kk * ${stride}u + ${idx} / 4u][${idx} % 4u] = r${name}${q}; }`).join(''),
      };
    }
    // vec4 reads: four consecutive k of one row (kMajor), or four consecutive rows of one k.
    const split = kMajor ? `let kq = e % ${bk / 4}u; let ${idx} = e / ${bk / 4}u;` : `let ${idx}q = e % ${t / 4}u; let kk = e / ${t / 4}u;`;
    const where = kMajor ? `let g${idx} = ${base} + ${idx}; let gk = k0 + kq * 4u;` : `let g${idx} = ${base} + ${idx}q * 4u; let gk = k0 + kk;`;
    return {
      regs: range(loads4).map((q) => `var r${name}${q}: vec4<f32>;`).join(' '),
      fetch: range(loads4).map((q) => `
    { let e = lid + ${q * threads}u; ${split} ${where}
      r${name}${q} = vec4<f32>();
      if (g${idx} < ${lim} && gk < kEnd) { r${name}${q} = ld4_${name}(${name}Off + ${at('g')}); } }`).join(''),
      stash: (buf: Buffer) => range(loads4).map((q) => kMajor
        ? `
    { let e = lid + ${q * threads}u; ${split} ${range(4).map((c) => `${S}[${at0(name, buf, slab, 0)} + (kq * 4u + ${c}u) * ${stride}u + ${idx} / 4u][${idx} % 4u] = r${name}${q}[${c}];`).join(' ')} }`
        : `
    { let e = lid + ${q * threads}u; ${split} ${S}[${at0(name, buf, slab, 0)} + kk * ${stride}u + ${idx}q] = r${name}${q}; }`).join(''),
    };
  };
  const A = staging('a', !d.transA, va), B = staging('b', d.transB, vb);
  const strideA = strideOf(tM), strideB = strideOf(tN);
  const acc = range(p.tm * cb).map((x) => `var c${x} = vec4<f32>();`).join(' ');
  // Operands of step kk are named for it, so that with `prefetch` those of kk + 1 can be read before kk's products.
  const readsA = (buf: Buffer, kk: number) => range(rowGroups).map((g) => `let a${kk}_${g} = As[${at0('a', buf, bk * strideA, kk * strideA + g * rowsOfThreads)} + ty];`).join(' ');
  const readsB = (buf: Buffer, kk: number) => range(cb).map((c) => `let b${kk}_${c} = Bs[${at0('b', buf, bk * strideB, kk * strideB + c * 16)} + tx];`).join(' ');
  /** Step kk's products of rows `from` to `to`. */
  const fmas = (kk: number, from = 0, to = p.tm) => range(to - from).map((i) => i + from).flatMap((r) => range(cb).map((c) => `c${r * cb + c} = fma(vec4<f32>(a${kk}_${r >> 2}[${r & 3}]), b${kk}_${c}, c${r * cb + c});`)).join(' ');
  const ahead = { a: p.prefetch === 'both' || p.prefetch === 'a' || p.prefetch === 'late', b: p.prefetch === 'both' || p.prefetch === 'b' || p.prefetch === 'late' };
  /**
   * Step kk's reads of the operands not read ahead, the next step's reads of those that are, then kk's products; or
   * (`late`) the next step's reads after the products of kk's first four rows, when their A is no longer needed.
   */
  const step = (buf: Buffer, kk: number) => {
    const next = kk + 1 < bk;
    if (p.prefetch === 'late') return `${fmas(kk, 0, 4)} ${next ? `${readsA(buf, kk + 1)} ${readsB(buf, kk + 1)}` : ''} ${fmas(kk, 4)}`;
    return `${ahead.a ? (next ? readsA(buf, kk + 1) : '') : readsA(buf, kk)} ${ahead.b ? (next ? readsB(buf, kk + 1) : '') : readsB(buf, kk)} ${fmas(kk)}`;
  };
  const inner = (buf: Buffer) => (p.prefetch
    ? `{ ${ahead.a ? readsA(buf, 0) : ''} ${ahead.b ? readsB(buf, 0) : ''}\n    ${range(bk).map((kk) => step(buf, kk)).join('\n    ')} }`
    : range(bk).map((kk) => `{ ${readsA(buf, kk)} ${readsB(buf, kk)} ${fmas(kk)} }`).join('\n    '));
  const store = range(p.tm).flatMap((r) => range(cb).map((c) => `
  { let gi = row0 + ${(r >> 2) * 4 * rowsOfThreads + (r & 3)}u + ty * 4u; let gj = col0 + ${c * 64}u + tx * 4u;
    if (gi < P.M) { let v = c${r * cb + c}; for (var q = 0u; q < 4u; q = q + 1u) { if (gj + q < P.N) { st_c(cOff + gi * P.N + gj + q, v[q]${bias ? ' + ld_bias(gj + q)' : ''}); } } } }`)).join('');
  const fetchBoth = `${A.fetch}\n${B.fetch}`;
  const stashBoth = (buf: Buffer) => `${A.stash(buf)}\n${B.stash(buf)}`;
  // The next slab is fetched into registers while the current one is multiplied.
  const body = p.alternate ? `
  ${fetchBoth}
  ${stashBoth(0)}
  workgroupBarrier();
  var cur_a = 0u; var cur_b = 0u;
  loop {
    k0 = k0 + ${bk}u;
    if (k0 < kEnd) {
      ${fetchBoth}
    }
    ${inner('cur')}
    if (k0 >= kEnd) { break; }
    let next_a = ${bk * strideA}u - cur_a; let next_b = ${bk * strideB}u - cur_b;
    ${stashBoth('next')}
    workgroupBarrier();
    cur_a = next_a; cur_b = next_b;
  }` : !double ? `
  ${fetchBoth}
  while (k0 < kEnd) {
    workgroupBarrier();
    ${stashBoth(0)}
    workgroupBarrier();
    k0 = k0 + ${bk}u;
    if (k0 < kEnd) {
      ${fetchBoth}
    }
    ${inner(0)}
  }` : `
  ${fetchBoth}
  ${stashBoth(0)}
  workgroupBarrier();
  loop {
    ${range(2).map((buf) => `
    k0 = k0 + ${bk}u;
    if (k0 < kEnd) {
      ${fetchBoth}
    }
    ${inner(buf)}
    if (k0 >= kEnd) { break; }
    ${stashBoth(1 - buf)}
    workgroupBarrier();`).join('\n')}
  }`;
  return `
var<workgroup> As: array<vec4<f32>, ${(double || p.alternate ? 2 : 1) * bk * strideA}>;
var<workgroup> Bs: array<vec4<f32>, ${(double || p.alternate ? 2 : 1) * bk * strideB}>;
@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = flat_group(wid, nwg);
  if (g >= P.groups) { return; }
  let tn = g % P.tilesN;
  var rest = g / P.tilesN;
  let tmi = rest % P.tilesM;
  rest = rest / P.tilesM;
  let item = rest % P.batch;
  let split = rest / P.batch;
  let row0 = tmi * ${tM}u;
  let col0 = tn * ${tN}u;
  let aOff = item * P.strideA;
  let bOff = item * P.strideB;
  let kStart = split * P.kPer;
  let kEnd = min(P.K, kStart + P.kPer);
  let tx = lid % 16u;
  let ty = lid / 16u;
  ${acc}
  ${A.regs} ${B.regs}
  var k0 = kStart;
  ${body}
  let cOff = (split * P.batch + item) * P.M * P.N;
  ${store}
}`;
}

/** Sources by transposes and plan: the same string object each time, so a launch neither rebuilds nor rehashes it. */
const sources = new Map<string, string>();
// 16-bit operands need no source of their own: their ld_/ld4_ accessors widen them (kernel.ts).
function cachedSource(d: MatmulDims, p: TilePlan, vec: readonly [boolean, boolean], bias: boolean): string {
  const key = `${+d.transA}${+d.transB}|${p.tm}x${p.tn ?? p.tm}x${p.threads ?? 256}|${p.bk}|${+vec[0]}${+vec[1]}|${+!!p.double}${+!!p.alternate}${p.prefetch ?? ''}|${+bias}`;
  let code = sources.get(key);
  if (code === undefined) sources.set(key, (code = tileSource(d, p, vec, bias)));
  return code;
}

/** One output C (d.columns and d.activation are the second kernel's: see matmulGpu); `bias` is added as C is stored. */
function launchTiles(a: Tensor, b: Tensor, c: Tensor, d: MatmulDims, p: TilePlan, kPer: number, bias?: Tensor): void {
  const { rows, cols, threads } = tileShape(p);
  const tilesM = Math.ceil(d.m / rows), tilesN = Math.ceil(d.n / cols);
  const groups = p.splits * d.batch * tilesM * tilesN;
  const vec = vec4Reads(a, b, d, p);
  launch({
    op: 'matmul', workgroupSize: threads, shape: () => `${productShape(d)}, tiles ${rows}${rows === cols ? '' : `×${cols}`}${p.splits > 1 ? ` in ${p.splits} K splits` : ''}`,
    operands: [{ name: 'a', tensor: a, vec4: vec[0] }, { name: 'b', tensor: b, vec4: vec[1] }, { name: 'c', tensor: c, write: true }, ...(bias ? [{ name: 'bias', tensor: bias }] : [])],
    u32: { M: d.m, K: d.k, N: d.n, tilesM, tilesN, batch: d.batch, groups, kPer, strideA: d.strideA, strideB: d.strideB },
    code: cachedSource(d, p, vec, bias !== undefined),
    groups,
  });
}

const sumSplits = (d: MatmulDims, bias: boolean, columns: readonly number[] | null) => {
  const value = epilogue(d, `s${bias ? ' + ld_bias(i % P.N)' : ''}`);
  return `${epilogueHelpers(d)}fn item(i: u32) {
  var s = 0.0;
  for (var k = 0u; k < P.splits; k = k + 1u) { s = s + ld_p(k * P.size + i); }
  ${columns ? storeC(columns, '0u', 'i / P.N', 'i % P.N', value) : `st_c(i, ${value});`}
}`;
};
/** Sums by bias, column blocks and activation: the same string object each time (see cachedSource). */
const sums = new Map<string, string>();
function sumSource(d: MatmulDims, bias: boolean, columns: readonly number[] | null): string {
  const key = `${+bias}|${columns ?? ''}|${d.activation ?? ''}`;
  let code = sums.get(key);
  if (code === undefined) sums.set(key, (code = sumSplits(d, bias, columns)));
  return code;
}

/**
 * C = op(A)·op(B), plus `bias` (a vector of the N columns) in every row when given, into `outputs`: C, or one
 * tensor per block of columns (d.columns).
 *
 * The tile kernel stores a plain product (plus the bias) and nothing else: with column blocks or softplus in its
 * store the whole kernel ran 1.5× slower on the H100, probably because its registers then no longer fit two
 * workgroups per multiprocessor (bench/results/models.md 2026-11-25 03:04, Mamba's in_proj at 512 rows: 1.20 ms as
 * two blocks against 0.79 ms as one output in matmul.md 03:05; dt_proj with softplus 0.080 against 0.052 ms; a
 * store that named the four elements of each vec4 made even plain products 1.5× slower, matmul.md 03:33). A product
 * with blocks or an activation therefore writes C to scratch, and a second kernel applies them as it copies: the
 * same kernel that sums the partial products of a K split.
 */
export function matmulGpu(a: Tensor, b: Tensor, outputs: readonly Tensor[], d: MatmulDims, bias?: Tensor): void {
  if (d.batch * d.m * d.n === 0) return;
  let p = forced ?? plan(d);
  if (p.kind === 'rows') {
    // A forced few-row plan on a product it cannot take (B not contiguous along K) runs as tiles.
    if (d.transB) { launchRows(a, b, outputs, d, p, bias); return; }
    p = tilePlan(d);
  }
  // Each split's K range is a whole number of slabs, so no split is empty (and K = 0 is one split writing zeros).
  const kPer = Math.ceil(Math.ceil(d.k / p.splits) / p.bk) * p.bk;
  const splits = d.k === 0 ? 1 : Math.ceil(d.k / kPer);
  if (splits === 1 && !d.columns && !d.activation) { launchTiles(a, b, outputs[0]!, d, { ...p, splits: 1 }, d.k, bias); return; }
  const size = d.batch * d.m * d.n;
  withScratch(outputs[0]!, [[splits * size]], (partial) => {
    launchTiles(a, b, partial, { ...d, columns: null, activation: null }, { ...p, splits }, kPer);
    launch({
      op: splits > 1 ? 'matmul (sum of K splits)' : 'matmul (blocks, activation)', shape: () => productShape(d),
      operands: [{ name: 'p', tensor: partial }, ...outputOperands(outputs, d.columns ?? null), ...(bias ? [{ name: 'bias', tensor: bias }] : [])],
      u32: { splits, size, N: d.n },
      code: sumSource(d, bias !== undefined, d.columns ?? null),
      items: { count: size },
    });
  });
}
