/**
 * The CPU backend's WebAssembly kernels: loading, a scratch arena in wasm memory, calling conventions, thread
 * splitting, and the float32 matmul built on them.
 *
 * All `src/**\/*.as.ts` files are compiled into one module, dist/wasm/kernels.wasm (scripts/build-wasm.mjs), that
 * imports one shared WebAssembly.Memory; worker threads (threads.ts) instantiate the same module on the same
 * memory. Operands are plain JS typed arrays outside wasm memory, so every call copies inputs in and outputs back;
 * for O(n³) kernels that is noise, for streaming kernels it is part of the cost.
 *
 * Writing a kernel (AssemblyScript, next to its op, e.g. src/tensor/ops/foo/foo.as.ts):
 *   - export a function taking pointers first (usize byte addresses), then scalars (i32 / f32 / f64), and, if it
 *     can be split across threads, a unit range [start, end) last; use load/store/v128 on the pointers only
 *     (no managed AS objects: the runtime is `stub` and nothing is ever freed); export names must be unique
 *     across all .as.ts files.
 *   - call it from TS with callKernel(name, { inputs, outputs, scalars, zeroOutputs?, scratchBytes?, split? }):
 *     the arguments passed are (in0, in1, …, out0, …, [scratch], ...scalars, [start, end]).
 *       · outputs start as a copy of the given arrays (so a kernel may accumulate), or zeros with zeroOutputs;
 *         they are copied back after the call.
 *       · scratchBytes: a zero-filled private workspace per thread, its pointer after the outputs.
 *       · split: { units, minUnitsPerThread?, threads? } spreads [0, units) over threads in contiguous ranges;
 *         threads are used only when every thread gets minUnitsPerThread units (set it so that a share is worth
 *         ~50 µs of work: a round trip to the workers costs µs to tens of µs).
 *   - for custom layouts or chunking, use the lower level directly: arenaReset(), arenaAlloc(bytes) → pointer,
 *     wasmF32(ptr, n) / wasmI32(ptr, n) views (re-take them after any arenaAlloc: growing the memory replaces
 *     the buffer), kernelFunction(name), and parallelFor(name, units, argsFor, { threads?, minUnitsPerThread? })
 *     where argsFor(start, end, thread) returns the full argument list of one thread's share (thread <
 *     threadCount(), so per-thread workspaces are threadCount() arena regions indexed by it).
 *   - operands must fit the arena budget (arenaBudgetBytes(), 1.5 GiB by default, FACTLAB_WASM_BUDGET_MB or
 *     setArenaBudget() to change it): callKernel refuses larger calls, and the caller chunks them (matmulCpu
 *     does its own chunking). wasm32 memory never shrinks, so the budget also bounds the memory kept.
 *
 * Not reentrant: one call at a time per process (the arena is reset by every call).
 */
import type * as Fs from 'node:fs';
import type * as Url from 'node:url';
import { FactlabError } from '../../errors.js';
import { envVar, requireNodeBuiltin } from '../../node-builtins.js';
import { KernelThreadPool, MAX_KERNEL_ARGS, threadCount } from './threads.js';

export { setThreadCount, threadCount } from './threads.js';

export type KernelArray = Float32Array | Int32Array;
type KernelFn = (...args: number[]) => unknown;

const WASM_URL = new URL('../../../../wasm/kernels.wasm', import.meta.url);
const PAGE_BYTES = 65536;
const MAX_PAGES = 65536;
const INITIAL_PAGES = 256;
// Grow in 16 MiB steps: fewer grow calls, little memory held beyond the need.
const GROW_PAGES = 256;
// Cache-line alignment: SIMD loads never split a line and two threads' regions never share one.
const ALIGN = 64;
const DEFAULT_BUDGET_BYTES = 1.5 * 2 ** 30;

interface Runtime {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  exports: Record<string, unknown>;
  kernels: string[];
  base: number;
  top: number;
  pages: number;
}

let rt: Runtime | undefined;
let pool: KernelThreadPool | undefined;
let budgetOverride: number | undefined;

function runtime(): Runtime {
  if (rt) return rt;
  // Read from disk in Node; in a browser the CPU backend's kernels are not available (the webgpu backend is).
  const what = 'the CPU backend\'s WebAssembly kernels';
  const { existsSync, readFileSync } = requireNodeBuiltin<typeof Fs>('node:fs', what);
  const path = requireNodeBuiltin<typeof Url>('node:url', what).fileURLToPath(WASM_URL);
  if (!existsSync(path)) throw new FactlabError(`WebAssembly kernels not found at ${path}: run \`npm run build\` (or \`npm run build:wasm\`)`);
  const module = new WebAssembly.Module(readFileSync(path));
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.module !== 'env' || (imp.name !== 'memory' && imp.name !== 'abort')) {
      throw new FactlabError(`${path} imports ${imp.module}.${imp.name}, which kernels may not use (only env.memory and env.abort are provided)`);
    }
  }
  const memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: MAX_PAGES, shared: true });
  const instance = new WebAssembly.Instance(module, {
    env: { memory, abort: () => { throw new Error('abort() called in a kernel'); } },
  });
  const exports = instance.exports as Record<string, unknown>;
  const kernels = Object.keys(exports).filter((name) => typeof exports[name] === 'function');
  const heapBase = exports.kernelHeapBase;
  if (typeof heapBase !== 'function') throw new FactlabError(`${path} does not export kernelHeapBase: rebuild it with \`npm run build:wasm\``);
  const base = alignUp(Number(heapBase()) >>> 0, ALIGN);
  rt = { module, memory, exports, kernels, base, top: base, pages: INITIAL_PAGES };
  return rt;
}

function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

/** The exported kernel `name`, callable with numbers (pointers and scalars). */
export function kernelFunction(name: string): KernelFn {
  const r = runtime();
  const fn = r.exports[name];
  if (typeof fn !== 'function') {
    throw new FactlabError(`kernel "${name}" is not exported by kernels.wasm (it has: ${r.kernels.join(', ')}); is its .as.ts file under src/ and was \`npm run build:wasm\` run?`);
  }
  return fn as KernelFn;
}

/** Bytes of operands one kernel call may place in wasm memory; larger work must be chunked by the caller. */
export function arenaBudgetBytes(): number {
  if (budgetOverride !== undefined) return budgetOverride;
  const env = envVar('FACTLAB_WASM_BUDGET_MB');
  if (env !== undefined && env !== '') {
    const mb = Number(env);
    if (!(mb > 0) || mb * 2 ** 20 > 4 * 2 ** 30) throw new FactlabError(`FACTLAB_WASM_BUDGET_MB must be in (0, 4096], got "${env}"`);
    return mb * 2 ** 20;
  }
  return DEFAULT_BUDGET_BYTES;
}

/** Overrides the arena budget (tests force chunking with tiny budgets); undefined restores the default. */
export function setArenaBudget(bytes: number | undefined): void {
  if (bytes !== undefined && !(bytes > 0)) throw new FactlabError(`setArenaBudget: expected a positive byte count, got ${bytes}`);
  budgetOverride = bytes;
}

/** Frees everything allocated in the arena. Every call through this file starts with it. */
export function arenaReset(): void {
  const r = runtime();
  r.top = r.base;
}

/** `bytes` of wasm memory, 64-byte aligned, valid until the next arenaReset; grows the memory as needed. */
export function arenaAlloc(bytes: number, what = 'arena'): number {
  const r = runtime();
  const ptr = r.top;
  const end = alignUp(ptr + bytes, ALIGN);
  if (end > r.pages * PAGE_BYTES) {
    const need = Math.ceil(end / PAGE_BYTES);
    if (need > MAX_PAGES) throw new FactlabError(`${what}: needs ${bytes} more bytes of wasm memory (${(end / 2 ** 30).toFixed(2)} GiB in all), beyond the 4 GiB wasm32 limit; chunk the operation`);
    const target = Math.min(MAX_PAGES, alignUp(need, GROW_PAGES));
    try {
      r.memory.grow(target - r.pages);
    } catch (e) {
      throw new FactlabError(`${what}: could not grow wasm memory to ${(target * PAGE_BYTES / 2 ** 20).toFixed(0)} MiB: ${(e as Error).message}`);
    }
    r.pages = target;
  }
  r.top = end;
  return ptr;
}

/** Float32 view of wasm memory at `ptr` (take it after the last arenaAlloc). */
export function wasmF32(ptr: number, length: number): Float32Array {
  return new Float32Array(runtime().memory.buffer, ptr, length);
}

/** Int32 view of wasm memory at `ptr` (take it after the last arenaAlloc). */
export function wasmI32(ptr: number, length: number): Int32Array {
  return new Int32Array(runtime().memory.buffer, ptr, length);
}

function callOnMain(name: string, fn: KernelFn, args: number[]): void {
  try {
    fn(...args);
  } catch (e) {
    throw new FactlabError(`kernel ${name}(${args.join(', ')}) failed: ${(e as Error).message}`);
  }
}

function threadsFor(units: number, opts: { threads?: number; minUnitsPerThread?: number }): number {
  const perThread = Math.max(1, opts.minUnitsPerThread ?? 1);
  return Math.max(1, Math.min(opts.threads ?? threadCount(), Math.floor(units / perThread)));
}

function threadPool(size: number): KernelThreadPool {
  if (pool && pool.usable && pool.size >= size) return pool;
  pool?.dispose();
  const r = runtime();
  pool = new KernelThreadPool(r.module, r.memory, r.kernels, Math.max(size, threadCount()));
  return pool;
}

/**
 * Runs kernel `name` over the units [0, units) split into contiguous ranges, one per thread (the calling thread
 * takes the first); argsFor(start, end, thread) gives that share's full argument list. Returns when all shares
 * are done. Threads: opts.threads (default threadCount()), reduced so each gets ≥ opts.minUnitsPerThread units.
 */
export function parallelFor(
  name: string,
  units: number,
  argsFor: (start: number, end: number, thread: number) => number[],
  opts: { threads?: number; minUnitsPerThread?: number } = {},
): void {
  const fn = kernelFunction(name);
  const threads = threadsFor(units, opts);
  if (threads === 1) {
    callOnMain(name, fn, argsFor(0, units, 0));
    return;
  }
  const lists: number[][] = [];
  for (let t = 0; t < threads; t++) lists.push(argsFor(Math.floor((units * t) / threads), Math.floor((units * (t + 1)) / threads), t));
  threadPool(threads).run(name, lists, (args) => callOnMain(name, fn, args));
}

export interface KernelCall {
  inputs: readonly KernelArray[];
  outputs: readonly KernelArray[];
  scalars?: readonly number[];
  /** Outputs start as zeros instead of a copy of the given arrays. */
  zeroOutputs?: boolean;
  /** Zero-filled private workspace per thread; its pointer follows the outputs. */
  scratchBytes?: number;
  /** Spread units [0, units) over threads; the kernel's last two arguments are its [start, end). */
  split?: { units: number; minUnitsPerThread?: number; threads?: number };
}

/** Copies operands into wasm memory, runs kernel `name` (see the file header for its signature), copies outputs back. */
export function callKernel(name: string, call: KernelCall): void {
  const fn = kernelFunction(name);
  const arrays = [...call.inputs, ...call.outputs];
  const threads = call.split ? threadsFor(call.split.units, call.split) : 1;
  const scratch = call.scratchBytes ?? 0;
  const bytes = arrays.reduce((s, x) => s + alignUp(x.byteLength, ALIGN), 0) + threads * alignUp(scratch, ALIGN);
  if (bytes > arenaBudgetBytes()) {
    const sizes = arrays.map((x) => x.length).join(', ');
    throw new FactlabError(`kernel ${name}: operands of ${sizes} elements need ${(bytes / 2 ** 20).toFixed(1)} MiB, over the wasm arena budget of ${(arenaBudgetBytes() / 2 ** 20).toFixed(1)} MiB: split the call`);
  }
  arenaReset();
  const ptrs = arrays.map((x) => arenaAlloc(x.byteLength, `kernel ${name}`));
  const scratchPtrs = scratch > 0 ? Array.from({ length: threads }, () => arenaAlloc(scratch, `kernel ${name}`)) : [];
  const buffer = runtime().memory.buffer;
  const view = (x: KernelArray, ptr: number): KernelArray => (x instanceof Float32Array ? new Float32Array(buffer, ptr, x.length) : new Int32Array(buffer, ptr, x.length));
  arrays.forEach((x, i) => {
    const v = view(x, ptrs[i]!);
    if (i >= call.inputs.length && call.zeroOutputs) v.fill(0);
    else v.set(x as never);
  });
  for (const p of scratchPtrs) new Uint8Array(buffer, p, scratch).fill(0);
  const fixed = [...ptrs];
  const scalars = call.scalars ?? [];
  if (fixed.length + (scratch > 0 ? 1 : 0) + scalars.length + (call.split ? 2 : 0) > MAX_KERNEL_ARGS) {
    throw new FactlabError(`kernel ${name}: more than ${MAX_KERNEL_ARGS} arguments`);
  }
  if (call.split) {
    parallelFor(name, call.split.units, (start, end, t) => [...fixed, ...(scratch > 0 ? [scratchPtrs[t]!] : []), ...scalars, start, end], { threads });
  } else {
    callOnMain(name, fn, [...fixed, ...(scratch > 0 ? [scratchPtrs[0]!] : []), ...scalars]);
  }
  call.outputs.forEach((x, i) => {
    const j = call.inputs.length + i;
    x.set(view(x, ptrs[j]!) as never);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Matmul (kernel: src/tensor/ops/linear/matmul.as.ts)

export interface MatmulOptions {
  batch: number;
  m: number;
  k: number;
  n: number;
  /** A is stored [k,m] instead of [m,k]. */
  transA: boolean;
  /** B is stored [n,k] instead of [k,n]. */
  transB: boolean;
  /** Elements between batch items of A / B; 0 broadcasts one matrix to every item. */
  strideA: number;
  strideB: number;
  /** Add to `out` instead of overwriting it. */
  accumulate?: boolean;
}

// Tile of the micro-kernel: thread shares are whole tiles so that no share adds edge tiles.
const MATMUL_MR = 4;
const MATMUL_NR = 8;
// Below this many flops a second thread does not pay for the round trip and the duplicated packing. Two threads
// vs one on an idle 2-vCPU VM (Intel Xeon, threads.ts's default spin): 1.0-1.2x at 64³ (0.5 MFLOP), 1.4-1.6x at
// 96³ (1.8 MFLOP), 1.7-1.8x from 128³ (4.2 MFLOP) on.
const MATMUL_THREAD_MIN_FLOPS = 2e6;
// Row counts up to which the kernel takes A·Bᵀ as dot products without packing (SMALL_M in matmul.as.ts).
const MATMUL_SMALL_M = 128;
// Bytes of Bᵀ per thread copied and consumed at a time on that path: measured best between 1 and 4 MiB
// (16×2560·50280ᵀ: 192 ms unchunked, 145 ms with 1-4 MiB slabs, 160 ms with 512 KiB).
const SLAB_BYTES = 2 * 2 ** 20;

/**
 * out[z] (=|+=) op(a[z])·op(b[z]) for z < batch, out contiguous [batch, m, n]. Operands are any typed arrays
 * (views of larger buffers included); they are copied into wasm memory in chunks that fit arenaBudgetBytes() —
 * over batch items, then rows of A / columns of B, then k — so operands of any size work.
 */
export function matmulCpu(a: Float32Array, b: Float32Array, out: Float32Array, o: MatmulOptions): void {
  const { transA, transB } = o;
  let { batch, m, n } = o;
  const { k, strideA, strideB } = o;
  const acc = o.accumulate === true;
  checkMatmul(a, b, out, o);
  if (batch === 0 || m === 0 || n === 0) return;
  if (k === 0) {
    if (!acc) out.fill(0, 0, batch * m * n);
    return;
  }
  // B shared by contiguous row-major A items: one tall product, B packed once instead of once per item.
  if (batch > 1 && strideB === 0 && !transA && strideA === m * k) {
    m *= batch;
    batch = 1;
  }
  const kernel = 'matmulF32';
  const scratchBytes = alignUp(Number((kernelFunction('matmulScratchBytes') as () => number)()), ALIGN);
  const threads = threadCount();
  const plan = planMatmul(batch, m, k, n, strideA === 0, strideB === 0, Math.floor((arenaBudgetBytes() - threads * scratchBytes) / 4));
  const { g, mc, kc } = plan;
  let { nc } = plan;
  // Few rows of A·Bᵀ: the kernel reads B in place (no packing), so B is copied in L2-sized slabs, each used
  // while the copy has just left it in cache, instead of being streamed from DRAM at the rate of the kernel.
  if (transB && m <= MATMUL_SMALL_M && g === 1) {
    const slab = Math.max(MATMUL_NR, Math.floor(SLAB_BYTES * threads / (4 * kc) / MATMUL_NR) * MATMUL_NR);
    nc = Math.min(nc, slab);
  }
  const aItems = strideA === 0 ? 1 : g;
  const bItems = strideB === 0 ? 1 : g;
  arenaReset();
  const what = `matmul [${o.batch}x${o.m}x${o.k}]·[${o.k}x${o.n}]`;
  const aPtr = arenaAlloc(aItems * mc * kc * 4, what);
  const bPtr = arenaAlloc(bItems * kc * nc * 4, what);
  const cPtr = arenaAlloc(g * mc * nc * 4, what);
  const scratch = Array.from({ length: threads }, () => arenaAlloc(scratchBytes, what));
  const mem = new Float32Array(runtime().memory.buffer);
  const aOff = aPtr / 4, bOff = bPtr / 4, cOff = cPtr / 4;
  let aKey = '', bKey = '';

  for (let z0 = 0; z0 < batch; z0 += g) {
    const gz = Math.min(g, batch - z0);
    for (let i0 = 0; i0 < m; i0 += mc) {
      const mi = Math.min(mc, m - i0);
      for (let j0 = 0; j0 < n; j0 += nc) {
        const nj = Math.min(nc, n - j0);
        for (let p0 = 0; p0 < k; p0 += kc) {
          const kp = Math.min(kc, k - p0);
          // A chunk: items × op(A)[i0:i0+mi, p0:p0+kp], stored densely in A's own layout.
          const ak = `${z0},${i0},${p0}`;
          if (ak !== aKey) {
            for (let t = 0; t < (strideA === 0 ? 1 : gz); t++) {
              const src = (z0 + t) * strideA;
              if (transA) gather(a, src + p0 * m + i0, m, kp, mi, mem, aOff + t * mi * kp);
              else gather(a, src + i0 * k + p0, k, mi, kp, mem, aOff + t * mi * kp);
            }
            aKey = ak;
          }
          const bk = `${z0},${j0},${p0}`;
          if (bk !== bKey) {
            for (let t = 0; t < (strideB === 0 ? 1 : gz); t++) {
              const src = (z0 + t) * strideB;
              if (transB) gather(b, src + j0 * k + p0, k, nj, kp, mem, bOff + t * kp * nj);
              else gather(b, src + p0 * n + j0, n, kp, nj, mem, bOff + t * kp * nj);
            }
            bKey = bk;
          }
          if (p0 === 0 && acc) for (let t = 0; t < gz; t++) gather(out, (z0 + t) * m * n + i0 * n + j0, n, mi, nj, mem, cOff + t * mi * nj);
          runMatmulChunk(kernel, [aPtr, bPtr, cPtr], scratch, gz, mi, kp, nj, transA, transB,
            strideA === 0 ? 0 : mi * kp, strideB === 0 ? 0 : kp * nj, acc || p0 > 0);
        }
        for (let t = 0; t < gz; t++) scatter(mem, cOff + t * mi * nj, out, (z0 + t) * m * n + i0 * n + j0, n, mi, nj);
      }
    }
  }
}

function checkMatmul(a: Float32Array, b: Float32Array, out: Float32Array, o: MatmulOptions): void {
  const { batch, m, k, n, strideA, strideB } = o;
  const shape = `batch=${batch} m=${m} k=${k} n=${n} transA=${o.transA} transB=${o.transB} strideA=${strideA} strideB=${strideB}`;
  for (const [name, v] of Object.entries({ batch, m, k, n, strideA, strideB })) {
    if (!Number.isInteger(v) || v < 0) throw new FactlabError(`matmulCpu: ${name} must be a non-negative integer (${shape})`);
  }
  if (m > 2 ** 31 - 1 || n > 2 ** 31 - 1 || k > 2 ** 31 - 1) throw new FactlabError(`matmulCpu: dimensions must fit int32 (${shape})`);
  if (batch === 0) return;
  const needA = (batch - 1) * strideA + m * k, needB = (batch - 1) * strideB + k * n, needC = batch * m * n;
  if (a.length < needA) throw new FactlabError(`matmulCpu: A has ${a.length} elements, needs ${needA} (${shape})`);
  if (b.length < needB) throw new FactlabError(`matmulCpu: B has ${b.length} elements, needs ${needB} (${shape})`);
  if (out.length < needC) throw new FactlabError(`matmulCpu: out has ${out.length} elements, needs ${needC} (${shape})`);
}

/**
 * Chunk sizes such that the operands of one chunk — A (shared: one item), B, C for g batch items of mc×kc, kc×nc,
 * mc×nc — fit `budget` floats. Whole items first; otherwise one item, halving the larger of mc / nc (keeping k
 * whole avoids re-reading C) and only then k.
 */
export function planMatmul(batch: number, m: number, k: number, n: number, aShared: boolean, bShared: boolean, budget: number): { g: number; mc: number; kc: number; nc: number } {
  const cost = (g: number, mc: number, kc: number, nc: number): number => (aShared ? 1 : g) * mc * kc + (bShared ? 1 : g) * kc * nc + g * mc * nc;
  const one = cost(1, m, k, n);
  if (one <= budget) {
    const perItem = one - (aShared ? m * k : 0) - (bShared ? k * n : 0);
    const fixed = (aShared ? m * k : 0) + (bShared ? k * n : 0);
    const g = Math.max(1, Math.min(batch, Math.floor((budget - fixed) / Math.max(1, perItem))));
    return { g, mc: m, kc: k, nc: n };
  }
  let mc = m, kc = k, nc = n;
  const halve = (x: number, unit: number): number => Math.max(unit, Math.ceil(Math.ceil(x / 2) / unit) * unit);
  while (cost(1, mc, kc, nc) > budget) {
    if (nc >= mc && nc > MATMUL_NR) nc = halve(nc, MATMUL_NR);
    else if (mc > MATMUL_MR) mc = halve(mc, MATMUL_MR);
    else if (nc > MATMUL_NR) nc = halve(nc, MATMUL_NR);
    else if (kc > 16) kc = halve(kc, 16);
    else break; // the smallest chunk; a budget this small is only a test setting
  }
  return { g: 1, mc, kc, nc };
}

// Dense copy of `rows` rows of `cols` elements, `ld` apart in src from `off`, into dst at dstOff.
function gather(src: Float32Array, off: number, ld: number, rows: number, cols: number, dst: Float32Array, dstOff: number): void {
  if (cols === ld || rows === 1) {
    dst.set(src.subarray(off, off + rows * cols), dstOff);
    return;
  }
  for (let r = 0; r < rows; r++) dst.set(src.subarray(off + r * ld, off + r * ld + cols), dstOff + r * cols);
}

// Inverse of gather: dense rows×cols from src at srcOff into dst rows `ld` apart from off.
function scatter(src: Float32Array, srcOff: number, dst: Float32Array, off: number, ld: number, rows: number, cols: number): void {
  if (cols === ld || rows === 1) {
    dst.set(src.subarray(srcOff, srcOff + rows * cols), off);
    return;
  }
  for (let r = 0; r < rows; r++) dst.set(src.subarray(srcOff + r * cols, srcOff + (r + 1) * cols), off + r * ld);
}

// One chunk in wasm memory, split over threads along the batch, m or n dimension. Splitting n duplicates the
// packing of A in every thread, splitting m that of B, so the larger of m and n is split (batch items, when there
// are enough, duplicate nothing).
function runMatmulChunk(kernel: string, [a, b, c]: number[], scratch: number[], g: number, m: number, k: number, n: number,
  transA: boolean, transB: boolean, strideA: number, strideB: number, accumulate: boolean): void {
  const fixed = [a, b, c];
  const scalars = [m, k, n, transA ? 1 : 0, transB ? 1 : 0, strideA, strideB, accumulate ? 1 : 0];
  let threads = 2 * g * m * n * k >= MATMUL_THREAD_MIN_FLOPS ? Math.min(threadCount(), scratch.length) : 1;
  const mUnits = Math.ceil(m / MATMUL_MR), nUnits = Math.ceil(n / MATMUL_NR);
  let dim: 'z' | 'm' | 'n';
  if (threads > 1 && g >= threads && (g % threads === 0 || g >= 4 * threads)) dim = 'z';
  else if (n >= m ? nUnits >= threads : mUnits < threads) dim = 'n';
  else dim = 'm';
  const units = dim === 'z' ? g : dim === 'm' ? mUnits : nUnits;
  threads = Math.min(threads, units);
  parallelFor(kernel, units, (s, e, t) => {
    const z = dim === 'z' ? [s, e] : [0, g];
    const rows = dim === 'm' ? [s * MATMUL_MR, Math.min(m, e * MATMUL_MR)] : [0, m];
    const cols = dim === 'n' ? [s * MATMUL_NR, Math.min(n, e * MATMUL_NR)] : [0, n];
    return [...fixed, scratch[t]!, ...scalars, ...z, ...rows, ...cols];
  }, { threads });
}
