import type { Tensor } from '../../tensor.js';
import { launch, withScratch } from '../../backends/webgpu/kernel.js';

/**
 * C = op(A)·op(B) in WGSL. A workgroup of 16×16 invocations computes a T×T output tile, each invocation a TM×TM
 * block held in registers (T = 16·TM): 128×128 tiles with 8×8 blocks where both sides of C are large, 64×64 with
 * 4×4 otherwise (fewer wasted rows for the few-token products of patching and editing). Slabs of A and B, BK deep,
 * are staged through workgroup memory as vec4s, so the inner loop does TM² multiply-adds per 2·TM/4 vec4 reads;
 * the next slab is fetched into registers while the current one is multiplied. Rows of the staged slabs are padded
 * by one vec4 so that the scalar stores of a warp spread over the memory banks.
 *
 * A product with too few tiles to fill the GPU (a 16-row activation times a 2560-wide weight: 40 tiles on 132
 * multiprocessors, each running a 5120-long loop) is split along K: each split writes its partial product to
 * scratch and a second kernel sums them.
 *
 * Transposes are baked into the source; batch items, splits, row tiles and column tiles are numbered flat over a
 * 2-D grid, so a batched product of any size is one dispatch (two when split).
 */
export interface MatmulDims { batch: number; m: number; k: number; n: number; transA: boolean; transB: boolean; strideA: number; strideB: number }

/** Tile shape and K split; chosen by `plan` unless a benchmark or test forces one. */
export interface MatmulPlan { tm: 4 | 8; bk: number; splits: number }

/** Workgroups that keep an H100 (132 multiprocessors) busy; fewer tiles than this get a K split. */
const BUSY = 264;
/** The shortest K range worth a split of its own. */
const MIN_SPLIT_K = 256;

export function plan(d: MatmulDims): MatmulPlan {
  const tm = d.m >= 128 && d.n >= 128 ? 8 : 4;
  const t = 16 * tm;
  const tiles = d.batch * Math.ceil(d.m / t) * Math.ceil(d.n / t);
  let splits = 1;
  if (tiles < BUSY && d.k >= 2 * MIN_SPLIT_K) splits = Math.min(Math.ceil(BUSY / tiles), Math.floor(d.k / MIN_SPLIT_K), 32);
  return { tm, bk: tm === 8 ? 8 : 16, splits };
}

let forced: MatmulPlan | null = null;
/** Forces a plan for every product until reset with null (tests of each path; benchmark sweeps). */
export function forceMatmulPlan(p: MatmulPlan | null): void { forced = p; }

function tileSource(d: MatmulDims, { tm, bk }: MatmulPlan): string {
  const t = 16 * tm, cb = tm / 4, loads = (t * bk) / 256, stride = t / 4 + 1;
  const aAt = d.transA ? 'gk * P.M + gi' : 'gi * P.K + gk';
  const bAt = d.transB ? 'gj * P.K + gk' : 'gk * P.N + gj';
  // Which tile coordinate runs fastest over the loads: the one contiguous in memory.
  const aSplit = d.transA ? `let i = e % ${t}u; let kk = e / ${t}u;` : `let kk = e % ${bk}u; let i = e / ${bk}u;`;
  const bSplit = d.transB ? `let kk = e % ${bk}u; let j = e / ${bk}u;` : `let j = e % ${t}u; let kk = e / ${t}u;`;
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const fetch = (name: 'a' | 'b', split: string, at: string, lim: string, idx: string) => range(loads).map((q) => `
    { let e = lid + ${q * 256}u; ${split}
      let g${idx} = ${idx === 'i' ? 'row0' : 'col0'} + ${idx}; let gk = k0 + kk;
      r${name}${q} = 0.0;
      if (g${idx} < ${lim} && gk < kEnd) { r${name}${q} = ld_${name}(${name}Off + ${at}); } }`).join('');
  const stash = (name: 'a' | 'b', split: string, idx: string) => range(loads).map((q) => `
    { let e = lid + ${q * 256}u; ${split} ${name.toUpperCase()}s[kk * ${stride}u + ${idx} / 4u][${idx} % 4u] = r${name}${q}; }`).join('');
  const read = (arr: string, kk: number, c: number, who: string) => `${arr}[${kk * stride + c * 16}u + ${who}]`;
  const acc = range(tm * cb).map((x) => `var c${x} = vec4<f32>();`).join(' ');
  const inner = range(bk).map((kk) => {
    const reads = range(cb).map((c) => `let a${c} = ${read('As', kk, c, 'ty')}; let b${c} = ${read('Bs', kk, c, 'tx')};`).join(' ');
    const fmas = range(tm).flatMap((r) => range(cb).map((c) => `c${r * cb + c} = fma(vec4<f32>(a${r >> 2}[${r & 3}]), b${c}, c${r * cb + c});`)).join(' ');
    return `{ ${reads} ${fmas} }`;
  }).join('\n    ');
  const store = range(tm).flatMap((r) => range(cb).map((c) => `
  { let gi = row0 + ${(r >> 2) * 64 + (r & 3)}u + ty * 4u; let gj = col0 + ${c * 64}u + tx * 4u;
    if (gi < P.M) { let v = c${r * cb + c}; for (var q = 0u; q < 4u; q = q + 1u) { if (gj + q < P.N) { st_c(cOff + gi * P.N + gj + q, v[q]); } } } }`)).join('');
  const fetchBoth = `${fetch('a', aSplit, aAt, 'P.M', 'i')}\n${fetch('b', bSplit, bAt, 'P.N', 'j')}`;
  const body = `
  ${fetchBoth}
  while (k0 < kEnd) {
    workgroupBarrier();
    ${stash('a', aSplit, 'i')}
    ${stash('b', bSplit, 'j')}
    workgroupBarrier();
    k0 = k0 + ${bk}u;
    if (k0 < kEnd) {
      ${fetchBoth}
    }
    ${inner}
  }`;
  return `
var<workgroup> As: array<vec4<f32>, ${bk * stride}>;
var<workgroup> Bs: array<vec4<f32>, ${bk * stride}>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = flat_group(wid, nwg);
  if (g >= P.groups) { return; }
  let tn = g % P.tilesN;
  var rest = g / P.tilesN;
  let tmi = rest % P.tilesM;
  rest = rest / P.tilesM;
  let item = rest % P.batch;
  let split = rest / P.batch;
  let row0 = tmi * ${t}u;
  let col0 = tn * ${t}u;
  let aOff = item * P.strideA;
  let bOff = item * P.strideB;
  let kStart = split * P.kPer;
  let kEnd = min(P.K, kStart + P.kPer);
  let tx = lid % 16u;
  let ty = lid / 16u;
  ${acc}
  ${range(loads).map((q) => `var ra${q}: f32; var rb${q}: f32;`).join(' ')}
  var k0 = kStart;
  ${body}
  let cOff = (split * P.batch + item) * P.M * P.N;
  ${store}
}`;
}

/** Sources by transposes and plan: the same string object each time, so a launch neither rebuilds nor rehashes it. */
const sources = new Map<string, string>();
function cachedSource(d: MatmulDims, p: MatmulPlan): string {
  const key = `${+d.transA}${+d.transB}|${p.tm}|${p.bk}`;
  let code = sources.get(key);
  if (code === undefined) sources.set(key, (code = tileSource(d, p)));
  return code;
}

function launchTiles(a: Tensor, b: Tensor, c: Tensor, d: MatmulDims, p: MatmulPlan, kPer: number): void {
  const t = 16 * p.tm;
  const tilesM = Math.ceil(d.m / t), tilesN = Math.ceil(d.n / t);
  const groups = p.splits * d.batch * tilesM * tilesN;
  launch({
    op: 'matmul', workgroupSize: 256,
    operands: [{ name: 'a', tensor: a }, { name: 'b', tensor: b }, { name: 'c', tensor: c, write: true }],
    u32: { M: d.m, K: d.k, N: d.n, tilesM, tilesN, batch: d.batch, groups, kPer, strideA: d.strideA, strideB: d.strideB },
    code: cachedSource(d, p),
    groups,
  });
}

const SUM_SPLITS = 'fn item(i: u32) { var s = 0.0; for (var k = 0u; k < P.splits; k = k + 1u) { s = s + ld_p(k * P.size + i); } st_c(i, s); }';

export function matmulGpu(a: Tensor, b: Tensor, c: Tensor, d: MatmulDims): void {
  if (c.size === 0) return;
  const p = forced ?? plan(d);
  // Each split's K range is a whole number of slabs, so no split is empty (and K = 0 is one split writing zeros).
  const kPer = Math.ceil(Math.ceil(d.k / p.splits) / p.bk) * p.bk;
  const splits = d.k === 0 ? 1 : Math.ceil(d.k / kPer);
  if (splits === 1) { launchTiles(a, b, c, d, { ...p, splits: 1 }, d.k); return; }
  const size = d.batch * d.m * d.n;
  withScratch(c, [[splits * size]], (partial) => {
    launchTiles(a, b, partial, d, { ...p, splits }, kPer);
    launch({
      op: 'matmul (sum of K splits)',
      operands: [{ name: 'p', tensor: partial }, { name: 'c', tensor: c, write: true }],
      u32: { splits, size },
      code: SUM_SPLITS,
      items: { count: size },
    });
  });
}
