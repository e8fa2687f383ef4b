import { defineOp, runOp } from '../../op.js';
import { opError } from '../../errors.js';
import { fmt, sameShape, sizeOf } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { cpuData, cpuF32 } from '../../backends/cpu/cpu-backend.js';
import { widenInto } from '../shape/cast.js';
import { matmulCpu } from '../../backends/cpu/wasm.js';
import { reshape } from '../shape/reshape.js';
import { concat } from '../shape/concat.js';
import { zeros } from '../../creation.js';
import { sumTo } from '../shape/broadcast.js';
import { slice } from '../shape/slice.js';
import { matmulGpu } from './matmul.wgsl.js';
import { ROW_BLOCK } from './matmul-rows.wgsl.js';
import { unaryGrad } from '../elementwise/unary.js';
import { softplus as softplus64 } from '../elementwise/unary-math.js';

export interface MatmulOptions {
  /** Use aᵀ: a is [..., k, m]. */
  transA?: boolean;
  /** Use bᵀ: b is [..., n, k] — the layout of a linear layer's weight. */
  transB?: boolean;
  /**
   * Widths of blocks of C's columns, each its own output tensor [m, width] (they sum to n): one product and one
   * read of A for several linear maps stacked in one weight (Mamba's in_proj gives x and z; its x_proj gives Δ's
   * low-rank input, B and C). Only for operands without batch dimensions (rank-2 after folding). On the GPU a
   * product of more than 16 rows stores its blocks by a second kernel (see matmulGpu).
   */
  columns?: readonly number[];
  /**
   * A function applied to each element of C (after the bias) as it is stored: Mamba's Δ = softplus(dt_proj(·)) in
   * one op (one kernel for at most 16 rows on the GPU, two for more: see matmulGpu). Its gradient recomputes the
   * product before the function. Not with `columns`.
   */
  activation?: 'softplus';
}

export interface ProductOptions extends Omit<MatmulOptions, 'columns'> {
  /** A vector of the N output columns, added to every row of the product in the same kernel. */
  bias?: Tensor;
}

/** 16-bit operands (weights stored at half the memory) are widened as they are read; the product is float32. */
const COMPUTABLE = new Set(['float32', 'float16', 'bfloat16']);

/** A float32 view of a CPU operand: its own array, or a widened copy of a 16-bit one. */
function f32Of(t: Tensor): Float32Array {
  if (t.dtype === 'float32') return cpuF32(t);
  const out = new Float32Array(t.size);
  widenInto(t.dtype, cpuData(t), out);
  return out;
}

interface Dims { batch: number; m: number; k: number; n: number; batchShape: number[]; aBatched: boolean; bBatched: boolean }

function dims(inputs: readonly Tensor[], { transA = false, transB = false, columns, activation }: MatmulOptions): Dims {
  const [a, b, bias] = inputs as [Tensor, Tensor, Tensor | undefined];
  if (!COMPUTABLE.has(a.dtype) || !COMPUTABLE.has(b.dtype)) throw opError('matmul', 'operands must be float32, float16 or bfloat16', inputs);
  if (a.rank < 2 || b.rank < 2) throw opError('matmul', 'operands must have rank 2 or more', inputs);
  const [m, ka] = transA ? [a.shape[a.rank - 1]!, a.shape[a.rank - 2]!] : [a.shape[a.rank - 2]!, a.shape[a.rank - 1]!];
  const [kb, n] = transB ? [b.shape[b.rank - 1]!, b.shape[b.rank - 2]!] : [b.shape[b.rank - 2]!, b.shape[b.rank - 1]!];
  if (ka !== kb) throw opError('matmul', `inner dimensions differ (${ka} vs ${kb}; transA=${transA}, transB=${transB})`, inputs);
  const ba = a.shape.slice(0, -2), bb = b.shape.slice(0, -2);
  const aBatched = ba.length > 0, bBatched = bb.length > 0;
  if (aBatched && bBatched && !sameShape(ba, bb)) throw opError('matmul', `batch dimensions ${fmt(ba)} and ${fmt(bb)} differ`, inputs);
  const batchShape = aBatched ? ba : bb;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== n || !COMPUTABLE.has(bias.dtype))) throw opError('matmul', `the bias must be a float vector of the ${n} output columns`, inputs);
  if (columns && (batchShape.length > 0 || columns.length === 0 || columns.some((w) => !Number.isInteger(w) || w < 1) || columns.reduce((x, w) => x + w, 0) !== n)) {
    throw opError('matmul', `columns must be positive widths that sum to the ${n} output columns, for operands without batch dimensions (got [${columns.join(', ')}])`, inputs);
  }
  if (activation !== undefined && (activation !== 'softplus' || columns)) throw opError('matmul', `activation must be 'softplus', and cannot be combined with columns (got ${activation})`, inputs);
  return { batch: sizeOf(batchShape), m, k: ka, n, batchShape, aBatched, bBatched };
}

/**
 * C = op(A)·op(B) (+ bias) over matching batch dimensions; an operand of rank 2 is shared by every batch item. Either
 * operand may be float16 or bfloat16 (a weight kept at half the memory): it is widened exactly as it is read.
 * An optional third input, a bias of the N output columns, is added to every row as the product is stored (a
 * linear layer in one kernel: on the GPU a separate add was one more launch per layer, and launches bound a
 * one-prompt pass). With `columns` the op has one output per block of columns (linearSplit). The CPU kernel is
 * WebAssembly SIMD (matmul.as.ts), split over worker threads.
 */
const matmulOp = defineOp<MatmulOptions>({
  name: 'matmul',
  infer(inputs, attrs) {
    const d = dims(inputs, attrs);
    if (attrs.columns) return attrs.columns.map((w) => ({ shape: [d.m, w], dtype: 'float32' as const }));
    return [{ shape: [...d.batchShape, d.m, d.n], dtype: 'float32' }];
  },
  kernels: {
    cpu({ inputs: [a, b, bias], outputs, attrs }) {
      const d = dims([a!, b!], attrs);
      const out = attrs.columns ? new Float32Array(d.m * d.n) : cpuF32(outputs[0]!);
      matmulCpu(f32Of(a!), f32Of(b!), out, {
        batch: d.batch, m: d.m, k: d.k, n: d.n,
        transA: attrs.transA ?? false, transB: attrs.transB ?? false,
        strideA: d.aBatched ? d.m * d.k : 0, strideB: d.bBatched ? d.k * d.n : 0,
      });
      if (bias) {
        const v = f32Of(bias);
        for (let r = 0; r < out.length; r += d.n) for (let j = 0; j < d.n; j++) out[r + j] += v[j]!;
      }
      if (attrs.activation === 'softplus') for (let i = 0; i < out.length; i++) out[i] = softplus64(out[i]!);
      let at = 0;
      attrs.columns?.forEach((w, q) => {
        const dst = cpuF32(outputs[q]!);
        for (let i = 0; i < d.m; i++) dst.set(out.subarray(i * d.n + at, i * d.n + at + w), i * w);
        at += w;
      });
    },
    webgpu({ inputs: [a, b, bias], outputs, attrs }) {
      const d = dims([a!, b!], attrs);
      matmulGpu(a!, b!, outputs, {
        batch: d.batch, m: d.m, k: d.k, n: d.n, transA: attrs.transA ?? false, transB: attrs.transB ?? false,
        strideA: d.aBatched ? d.m * d.k : 0, strideB: d.bBatched ? d.k * d.n : 0, columns: attrs.columns ?? null,
        activation: attrs.activation ?? null,
      }, bias);
    },
  },
  backward(gOuts, { inputs: [a, b, bias], outputs, attrs: { transA = false, transB = false, columns, activation }, needs }) {
    // Blocks of columns are put back side by side (zeros for a block that got no gradient).
    let g = gOuts[0]!;
    const own: Tensor[] = [];
    if (activation) {
      // Through the function: its derivative at the product before it, recomputed (one more product; nothing saved).
      const pre = own[own.length] = matmulRaw(a!, b!, { transA, transB }, bias);
      g = own[own.length] = unaryGrad(activation, g, pre, outputs[0]!);
    }
    if (columns) {
      const parts = columns.map((w, q) => gOuts[q] ?? (own[own.length] = zeros([a!.shape[transA ? 1 : 0]!, w], { backend: a!.backend })));
      g = own[own.length] = concat(parts, 1);
    }
    // Each gradient is itself a matmul of g with the other operand, transposed as the chain rule asks.
    const ga = !needs[0] ? null : transA ? matmulRaw(b!, g!, { transA: transB, transB: true }) : matmulRaw(g!, b!, { transB: !transB });
    const gb = !needs[1] ? null : transB ? matmulRaw(g!, a!, { transA: true, transB: transA }) : matmulRaw(a!, g!, { transA: !transA });
    const grads = [ga && sumTo(ga, a!.shape), gb && sumTo(gb, b!.shape)];
    if (bias) grads.push(needs[2] ? sumTo(g, bias.shape) : null);
    for (const t of own) t.dispose();
    return grads;
  },
});

/** The op's outputs: C, or one tensor per block of columns. */
function products(a: Tensor, b: Tensor, opts: MatmulOptions, bias?: Tensor): Tensor[] {
  return runOp(matmulOp, bias ? [a, b, bias] : [a, b], opts);
}

function matmulRaw(a: Tensor, b: Tensor, opts: MatmulOptions, bias?: Tensor): Tensor {
  return products(a, b, opts, bias)[0]!;
}

/** Products with leading axes of `a` folded into rows when `b` is a shared rank-2 operand (one output per column block). */
function folded(a: Tensor, b: Tensor, opts: MatmulOptions, bias?: Tensor): Tensor[] {
  if (b.rank === 2 && a.rank > 2 && !opts.transA) {
    // Intermediates are disposed here: a function called outside any tidy scope must not leave handles behind.
    const rows = reshape(a, [-1, a.shape[a.rank - 1]!]);
    const flat = products(rows, b, opts, bias);
    rows.dispose();
    const lead = a.shape.slice(0, -1);
    return flat.map((f) => { const out = reshape(f, [...lead, f.shape[1]!]); f.dispose(); return out; });
  }
  return products(a, b, opts, bias);
}

/**
 * Matrix product of the last two axes. With a rank-2 `b` (a weight), `a`'s leading axes are folded into rows,
 * so x [B, T, d] · Wᵀ runs as one [B·T, d] product.
 */
export function matmul(a: Tensor, b: Tensor, opts: ProductOptions = {}): Tensor {
  const { bias, transA, transB, activation } = opts;
  return folded(a, b, { transA, transB, ...(activation && { activation }) }, bias)[0]!;
}

/** x·Wᵀ (+ bias), then `activation` if given: a linear layer with PyTorch's weight layout [out, in], in one op. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor, activation?: 'softplus'): Tensor {
  return folded(x, weight, { transB: true, ...(activation && { activation }) }, bias)[0]!;
}

/**
 * Several linear layers stacked in one weight, in one product: x·Wᵀ (+ bias) with its output columns cut into
 * blocks of the given widths, each its own tensor [..., width]. Equal to slicing the weight's rows for each.
 *
 * Q blocks of equal width W without a bias (Mamba's in_proj: x and z) run as a product batched over the blocks,
 * the weight viewed as [Q, W, K] and x shared, so that each output is a view of one result [Q, rows, W]. A product
 * into blocks of columns otherwise writes C to scratch and a second kernel copies the blocks out (on the H100,
 * 61.6 ms of a traced fact: bench/results/trace.md, 2026-11-25 05:18). A prompt's few rows keep the one product,
 * whose few-row kernel stores the blocks itself.
 */
export function linearSplit(x: Tensor, weight: Tensor, widths: readonly number[], bias?: Tensor): Tensor[] {
  const W = widths[0]!, Q = widths.length, K = x.shape[x.rank - 1]!;
  const rows = x.size / Math.max(1, K);
  const equal = x.rank >= 2 && Q > 1 && widths.every((w) => w === W) && weight.rank === 2 && weight.shape[0] === Q * W && weight.shape[1] === K;
  if (!equal || bias || rows <= ROW_BLOCK) return folded(x, weight, { transB: true, columns: widths }, bias);
  const a = reshape(x, [rows, K]), w3 = reshape(weight, [Q, W, K]);
  const c = matmulRaw(a, w3, { transB: true });
  a.dispose(); w3.dispose();
  const outs = widths.map((_, q) => {
    const block = slice(c, 0, q, q + 1);
    const out = reshape(block, [...x.shape.slice(0, -1), W]);
    block.dispose();
    return out;
  });
  c.dispose();
  return outs;
}
