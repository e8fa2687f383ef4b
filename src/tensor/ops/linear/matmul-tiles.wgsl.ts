import type { MatmulDims } from './matmul.wgsl.js';

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
   * (`'both'`), or A's or B's alone.
   */
  prefetch?: 'both' | 'a' | 'b';
  /**
   * Reads slabs and stores C without bounds checks, where every tile is whole and K a multiple of BK (`wholeTiles`);
   * a product with ragged tiles runs the checked code.
   */
  unchecked?: boolean;
  /**
   * K, N, the operands' batch strides, the K range of a split and the number of column tiles are written into the
   * source as constants (`BAKED`), so that the compiler can fold the address arithmetic: a kernel per weight shape.
   * M stays a parameter, since patching and tracing run the same weights over many row counts.
   */
  constants?: boolean;
}

/** The parameters that a plan with `constants` writes into its source. */
export const BAKED = ['K', 'N', 'kPer', 'strideA', 'strideB', 'tilesN'] as const;

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

/** Whether every tile of plan `p` lies inside C and every slab inside K, so that no read or store needs a check. */
export function wholeTiles(d: MatmulDims, p: TilePlan): boolean {
  const { rows, cols } = tileShape(p);
  return d.m % rows === 0 && d.n % cols === 0 && d.k > 0 && d.k % p.bk === 0;
}

/**
 * The WGSL of the tile kernel under plan `p` (matmul.wgsl.ts chooses the plan and launches it): `vec` says which
 * operands are read as vec4s, `bias` adds a bias as C is stored, and without `checks` no read or store is bounds
 * checked (whole tiles only: `wholeTiles`).
 */
export function tileSource(d: MatmulDims, p: TilePlan, [va, vb]: readonly [boolean, boolean], bias: boolean, checks: boolean): string {
  const { bk, double = false } = p;
  const { rows: tM, cols: tN, threads } = tileShape(p);
  // Invocations are 16 columns by `ty` rows; each holds tm rows (4 apart within a group of 4, groups 4·ty apart) and
  // tn columns (in vec4s 64 apart) of the tile.
  const rowsOfThreads = threads / 16, rowGroups = p.tm / 4, cb = (p.tn ?? p.tm) / 4;
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const strideOf = (t: number) => t / 4 + 1;
  /** `reg` = `value` where `inside` holds and `zero` elsewhere; `value` alone without checks. */
  const guarded = (inside: string, reg: string, zero: string, value: string) =>
    (checks ? `${reg} = ${zero};\n      if (${inside}) { ${reg} = ${value}; }` : `${reg} = ${value};`);
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
      ${guarded(`g${idx} < ${lim} && gk < kEnd`, `r${name}${q}`, '0.0', `ld_${name}(${name}Off + ${at('g')})`)} }`).join(''),
        stash: (buf: number) => range(loads).map((q) => `
    { let e = lid + ${q * threads}u; ${split} ${S}[${buf * slab}u + kk * ${stride}u + ${idx} / 4u][${idx} % 4u] = r${name}${q}; }`).join(''),
      };
    }
    // vec4 reads: four consecutive k of one row (kMajor), or four consecutive rows of one k.
    const split = kMajor ? `let kq = e % ${bk / 4}u; let ${idx} = e / ${bk / 4}u;` : `let ${idx}q = e % ${t / 4}u; let kk = e / ${t / 4}u;`;
    const where = kMajor ? `let g${idx} = ${base} + ${idx}; let gk = k0 + kq * 4u;` : `let g${idx} = ${base} + ${idx}q * 4u; let gk = k0 + kk;`;
    return {
      regs: range(loads4).map((q) => `var r${name}${q}: vec4<f32>;`).join(' '),
      fetch: range(loads4).map((q) => `
    { let e = lid + ${q * threads}u; ${split} ${where}
      ${guarded(`g${idx} < ${lim} && gk < kEnd`, `r${name}${q}`, 'vec4<f32>()', `ld4_${name}(${name}Off + ${at('g')})`)} }`).join(''),
      stash: (buf: number) => range(loads4).map((q) => kMajor
        ? `
    { let e = lid + ${q * threads}u; ${split} ${range(4).map((c) => `${S}[${buf * slab}u + (kq * 4u + ${c}u) * ${stride}u + ${idx} / 4u][${idx} % 4u] = r${name}${q}[${c}];`).join(' ')} }`
        : `
    { let e = lid + ${q * threads}u; ${split} ${S}[${buf * slab}u + kk * ${stride}u + ${idx}q] = r${name}${q}; }`).join(''),
    };
  };
  const A = staging('a', !d.transA, va), B = staging('b', d.transB, vb);
  const strideA = strideOf(tM), strideB = strideOf(tN);
  const acc = range(p.tm * cb).map((x) => `var c${x} = vec4<f32>();`).join(' ');
  // Operands of step kk are named for it, so that with `prefetch` those of kk + 1 can be read before kk's products.
  const readsA = (buf: number, kk: number) => range(rowGroups).map((g) => `let a${kk}_${g} = As[${(buf * bk + kk) * strideA + g * rowsOfThreads}u + ty];`).join(' ');
  const readsB = (buf: number, kk: number) => range(cb).map((c) => `let b${kk}_${c} = Bs[${(buf * bk + kk) * strideB + c * 16}u + tx];`).join(' ');
  const fmas = (kk: number) => range(p.tm).flatMap((r) => range(cb).map((c) => `c${r * cb + c} = fma(vec4<f32>(a${kk}_${r >> 2}[${r & 3}]), b${kk}_${c}, c${r * cb + c});`)).join(' ');
  const ahead = { a: p.prefetch === 'both' || p.prefetch === 'a', b: p.prefetch === 'both' || p.prefetch === 'b' };
  /** Step kk's reads of the operands not read ahead, the next step's reads of those that are, then kk's products. */
  const step = (buf: number, kk: number) => {
    const next = kk + 1 < bk;
    return `${ahead.a ? (next ? readsA(buf, kk + 1) : '') : readsA(buf, kk)} ${ahead.b ? (next ? readsB(buf, kk + 1) : '') : readsB(buf, kk)} ${fmas(kk)}`;
  };
  const inner = (buf: number) => (p.prefetch
    ? `{ ${ahead.a ? readsA(buf, 0) : ''} ${ahead.b ? readsB(buf, 0) : ''}\n    ${range(bk).map((kk) => step(buf, kk)).join('\n    ')} }`
    : range(bk).map((kk) => `{ ${readsA(buf, kk)} ${readsB(buf, kk)} ${fmas(kk)} }`).join('\n    '));
  const put = `st_c(cOff + gi * P.N + gj + q, v[q]${bias ? ' + ld_bias(gj + q)' : ''});`;
  const store = range(p.tm).flatMap((r) => range(cb).map((c) => `
  { let gi = row0 + ${(r >> 2) * 4 * rowsOfThreads + (r & 3)}u + ty * 4u; let gj = col0 + ${c * 64}u + tx * 4u;
    ${checks
    ? `if (gi < P.M) { let v = c${r * cb + c}; for (var q = 0u; q < 4u; q = q + 1u) { if (gj + q < P.N) { ${put} } } }`
    : `let v = c${r * cb + c}; for (var q = 0u; q < 4u; q = q + 1u) { ${put} }`} }`)).join('');
  const fetchBoth = `${A.fetch}\n${B.fetch}`;
  const stashBoth = (buf: number) => `${A.stash(buf)}\n${B.stash(buf)}`;
  // The next slab is fetched into registers while the current one is multiplied.
  const body = !double ? `
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
var<workgroup> As: array<vec4<f32>, ${(double ? 2 : 1) * bk * strideA}>;
var<workgroup> Bs: array<vec4<f32>, ${(double ? 2 : 1) * bk * strideB}>;
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
