import type { Tensor } from '../../tensor.js';
import { launch, withScratch } from '../../backends/webgpu/kernel.js';
import { epilogue, epilogueHelpers, launchRows, outputOperands, productShape, rowsPlan, storeC, type RowsPlan } from './matmul-rows.wgsl.js';
import { BAKED, tileShape, tileSource, wholeTiles, type TilePlan } from './matmul-tiles.wgsl.js';

export { tileShape, validTilePlan, wholeTiles, type TilePlan } from './matmul-tiles.wgsl.js';

/**
 * C = op(A)·op(B) in WGSL. A workgroup of 16×16 invocations computes a T×T output tile, each invocation a TM×TM
 * block held in registers (T = 16·TM): 128×128 tiles with 8×8 blocks where both sides of C are large, 64×64 with
 * 4×4 otherwise (fewer wasted rows for the few-token products of patching and editing). Slabs of A and B, BK deep,
 * are staged through workgroup memory as vec4s, so the inner loop does TM² multiply-adds per 2·TM/4 vec4 reads;
 * the next slab is fetched into registers while the current one is multiplied, as vec4s where the layout allows it
 * (`vec4Choice`). Rows of the staged slabs are padded by one vec4 so that the scalar stores of a warp spread over the
 * memory banks. The kernel's WGSL is generated in matmul-tiles.wgsl.ts; other tile shapes (`tn`, `threads`), loop
 * orders (`prefetch`, `double`) and unchecked whole tiles can be forced for benchmarks, and
 * bench/results/matmul.md records what each measured.
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


/** Sources by transposes and plan: the same string object each time, so a launch neither rebuilds nor rehashes it. */
const sources = new Map<string, string>();
// 16-bit operands need no source of their own: their ld_/ld4_ accessors widen them (kernel.ts).
function cachedSource(d: MatmulDims, p: TilePlan, vec: readonly [boolean, boolean], bias: boolean, checks: boolean, params: Record<string, number>): string {
  const baked = p.constants ? BAKED.map((name) => params[name]!) : [];
  const key = `${+d.transA}${+d.transB}|${p.tm}x${p.tn ?? p.tm}x${p.threads ?? 256}|${p.bk}|${+vec[0]}${+vec[1]}|${+!!p.double}${p.prefetch ?? ''}|${+bias}${+checks}|${baked}`;
  let code = sources.get(key);
  if (code === undefined) {
    code = tileSource(d, p, vec, bias, checks);
    if (p.constants) code = code.replace(new RegExp(`\\bP\\.(${BAKED.join('|')})\\b`, 'g'), (_, name: string) => `${params[name]}u`);
    sources.set(key, code);
  }
  return code;
}

/** One output C (d.columns and d.activation are the second kernel's: see matmulGpu); `bias` is added as C is stored. */
function launchTiles(a: Tensor, b: Tensor, c: Tensor, d: MatmulDims, p: TilePlan, kPer: number, bias?: Tensor): void {
  const { rows, cols, threads } = tileShape(p);
  const tilesM = Math.ceil(d.m / rows), tilesN = Math.ceil(d.n / cols);
  const groups = p.splits * d.batch * tilesM * tilesN;
  const vec = vec4Reads(a, b, d, p);
  const params = { M: d.m, K: d.k, N: d.n, tilesM, tilesN, batch: d.batch, groups, kPer, strideA: d.strideA, strideB: d.strideB };
  launch({
    op: 'matmul', workgroupSize: threads, shape: () => `${productShape(d)}, tiles ${rows}${rows === cols ? '' : `×${cols}`}${p.splits > 1 ? ` in ${p.splits} K splits` : ''}`,
    operands: [{ name: 'a', tensor: a, vec4: vec[0] }, { name: 'b', tensor: b, vec4: vec[1] }, { name: 'c', tensor: c, write: true }, ...(bias ? [{ name: 'bias', tensor: bias }] : [])],
    u32: params,
    code: cachedSource(d, p, vec, bias !== undefined, !(p.unchecked && wholeTiles(d, p)), params),
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
