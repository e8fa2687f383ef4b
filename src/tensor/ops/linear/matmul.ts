import { defineOp, runOp } from '../../op.js';
import { opError } from '../../errors.js';
import { fmt, sameShape, sizeOf } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { cpuData, cpuF32 } from '../../backends/cpu/cpu-backend.js';
import { widenInto } from '../shape/cast.js';
import { matmulCpu } from '../../backends/cpu/wasm.js';
import { reshape } from '../shape/reshape.js';
import { transpose } from '../shape/transpose.js';
import { sumTo } from '../shape/broadcast.js';
import { matmulGpu } from './matmul.wgsl.js';

export interface MatmulOptions {
  /** Use aᵀ: a is [..., k, m]. */
  transA?: boolean;
  /** Use bᵀ: b is [..., n, k] — the layout of a linear layer's weight. */
  transB?: boolean;
  /**
   * Store C's N columns as `blocks` matrices one after another, [blocks, m, n/blocks], rather than side by side, so
   * that each block is a contiguous view: Mamba's in_proj gives x and z in one product (one launch, and the whole
   * weight read by one kernel). Only for operands without batch dimensions (rank-2 after folding).
   */
  blocks?: number;
}

export interface ProductOptions extends MatmulOptions {
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

function dims(inputs: readonly Tensor[], { transA = false, transB = false, blocks = 1 }: MatmulOptions): Dims {
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
  if (blocks !== 1 && (!Number.isInteger(blocks) || blocks < 1 || n % blocks !== 0 || batchShape.length > 0)) {
    throw opError('matmul', `blocks must be a positive integer that divides the ${n} output columns, for operands without batch dimensions (got ${blocks})`, inputs);
  }
  return { batch: sizeOf(batchShape), m, k: ka, n, batchShape, aBatched, bBatched };
}

/**
 * C = op(A)·op(B) (+ bias) over matching batch dimensions; an operand of rank 2 is shared by every batch item. Either
 * operand may be float16 or bfloat16 (a weight kept at half the memory): it is widened exactly as it is read.
 * An optional third input, a bias of the N output columns, is added to every row as the product is stored (a
 * linear layer in one kernel: on the GPU a separate add was one more launch per layer, and launches bound a
 * one-prompt pass). The CPU kernel is WebAssembly SIMD (matmul.as.ts), split over worker threads.
 */
const matmulOp = defineOp<MatmulOptions>({
  name: 'matmul',
  infer(inputs, attrs) {
    const d = dims(inputs, attrs);
    const blocks = attrs.blocks ?? 1;
    return [{ shape: blocks > 1 ? [blocks, d.m, d.n / blocks] : [...d.batchShape, d.m, d.n], dtype: 'float32' }];
  },
  kernels: {
    cpu({ inputs: [a, b, bias], outputs: [c], attrs }) {
      const d = dims([a!, b!], attrs);
      const blocks = attrs.blocks ?? 1;
      const out = blocks > 1 ? new Float32Array(c!.size) : cpuF32(c!);
      matmulCpu(f32Of(a!), f32Of(b!), out, {
        batch: d.batch, m: d.m, k: d.k, n: d.n,
        transA: attrs.transA ?? false, transB: attrs.transB ?? false,
        strideA: d.aBatched ? d.m * d.k : 0, strideB: d.bBatched ? d.k * d.n : 0,
      });
      if (bias) {
        const v = f32Of(bias);
        for (let r = 0; r < out.length; r += d.n) for (let j = 0; j < d.n; j++) out[r + j] += v[j]!;
      }
      if (blocks > 1) {
        const dst = cpuF32(c!), nb = d.n / blocks;
        for (let q = 0; q < blocks; q++) for (let i = 0; i < d.m; i++) dst.set(out.subarray(i * d.n + q * nb, i * d.n + (q + 1) * nb), (q * d.m + i) * nb);
      }
    },
    webgpu({ inputs: [a, b, bias], outputs: [c], attrs }) {
      const d = dims([a!, b!], attrs);
      matmulGpu(a!, b!, c!, {
        batch: d.batch, m: d.m, k: d.k, n: d.n, transA: attrs.transA ?? false, transB: attrs.transB ?? false,
        strideA: d.aBatched ? d.m * d.k : 0, strideB: d.bBatched ? d.k * d.n : 0,
      }, bias, attrs.blocks ?? 1);
    },
  },
  backward([gOut], { inputs: [a, b, bias], attrs: { transA = false, transB = false, blocks = 1 }, needs }) {
    // Blocks stored one after another are put back side by side: [blocks, m, n/blocks] → [m, n].
    let g = gOut;
    if (blocks > 1) {
      const t = transpose(gOut!, [1, 0, 2]);
      g = reshape(t, [t.shape[0]!, t.shape[1]! * t.shape[2]!]);
      t.dispose();
    }
    // Each gradient is itself a matmul of g with the other operand, transposed as the chain rule asks.
    const ga = !needs[0] ? null : transA ? matmulRaw(b!, g!, { transA: transB, transB: true }) : matmulRaw(g!, b!, { transB: !transB });
    const gb = !needs[1] ? null : transB ? matmulRaw(g!, a!, { transA: true, transB: transA }) : matmulRaw(a!, g!, { transA: !transA });
    const grads = [ga && sumTo(ga, a!.shape), gb && sumTo(gb, b!.shape)];
    if (bias) grads.push(needs[2] ? sumTo(g!, bias.shape) : null);
    if (g !== gOut) g!.dispose();
    return grads;
  },
});

function matmulRaw(a: Tensor, b: Tensor, opts: MatmulOptions, bias?: Tensor): Tensor {
  return runOp(matmulOp, bias ? [a, b, bias] : [a, b], opts)[0]!;
}

/** A product with leading axes of `a` folded into rows when `b` is a shared rank-2 operand. */
function folded(a: Tensor, b: Tensor, opts: MatmulOptions, bias?: Tensor): Tensor {
  if (b.rank === 2 && a.rank > 2 && !opts.transA) {
    // Intermediates are disposed here: a function called outside any tidy scope must not leave handles behind.
    const rows = reshape(a, [-1, a.shape[a.rank - 1]!]);
    const flat = matmulRaw(rows, b, opts, bias);
    rows.dispose();
    const lead = a.shape.slice(0, -1), cols = flat.shape[flat.rank - 1]!;
    const out = reshape(flat, (opts.blocks ?? 1) > 1 ? [opts.blocks!, ...lead, cols] : [...lead, cols]);
    flat.dispose();
    return out;
  }
  return matmulRaw(a, b, opts, bias);
}

/**
 * Matrix product of the last two axes. With a rank-2 `b` (a weight), `a`'s leading axes are folded into rows,
 * so x [B, T, d] · Wᵀ runs as one [B·T, d] product.
 */
export function matmul(a: Tensor, b: Tensor, opts: ProductOptions = {}): Tensor {
  const { bias, ...attrs } = opts;
  return folded(a, b, attrs, bias);
}

/** x·Wᵀ (+ bias): a linear layer with PyTorch's weight layout [out, in], in one op. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  return folded(x, weight, { transB: true }, bias);
}
