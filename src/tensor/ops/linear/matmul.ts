import { defineOp, runOp } from '../../op.js';
import { opError } from '../../errors.js';
import { fmt, sameShape, sizeOf } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { cpuData, cpuF32 } from '../../backends/cpu/cpu-backend.js';
import { widenInto } from '../shape/cast.js';
import { matmulCpu } from '../../backends/cpu/wasm.js';
import { reshape } from '../shape/reshape.js';
import { sumTo } from '../shape/broadcast.js';
import { add } from '../elementwise/binary.js';
import { matmulGpu } from './matmul.wgsl.js';

export interface MatmulOptions {
  /** Use aᵀ: a is [..., k, m]. */
  transA?: boolean;
  /** Use bᵀ: b is [..., n, k] — the layout of a linear layer's weight. */
  transB?: boolean;
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

function dims(inputs: readonly Tensor[], { transA = false, transB = false }: MatmulOptions): Dims {
  const [a, b] = inputs as [Tensor, Tensor];
  if (!COMPUTABLE.has(a.dtype) || !COMPUTABLE.has(b.dtype)) throw opError('matmul', 'operands must be float32, float16 or bfloat16', inputs);
  if (a.rank < 2 || b.rank < 2) throw opError('matmul', 'operands must have rank 2 or more', inputs);
  const [m, ka] = transA ? [a.shape[a.rank - 1]!, a.shape[a.rank - 2]!] : [a.shape[a.rank - 2]!, a.shape[a.rank - 1]!];
  const [kb, n] = transB ? [b.shape[b.rank - 1]!, b.shape[b.rank - 2]!] : [b.shape[b.rank - 2]!, b.shape[b.rank - 1]!];
  if (ka !== kb) throw opError('matmul', `inner dimensions differ (${ka} vs ${kb}; transA=${transA}, transB=${transB})`, inputs);
  const ba = a.shape.slice(0, -2), bb = b.shape.slice(0, -2);
  const aBatched = ba.length > 0, bBatched = bb.length > 0;
  if (aBatched && bBatched && !sameShape(ba, bb)) throw opError('matmul', `batch dimensions ${fmt(ba)} and ${fmt(bb)} differ`, inputs);
  const batchShape = aBatched ? ba : bb;
  return { batch: sizeOf(batchShape), m, k: ka, n, batchShape, aBatched, bBatched };
}

/**
 * C = op(A)·op(B) over matching batch dimensions; an operand of rank 2 is shared by every batch item. Either
 * operand may be float16 or bfloat16 (a weight kept at half the memory): it is widened exactly as it is read.
 * The CPU kernel is WebAssembly SIMD (matmul.as.ts), split over worker threads.
 */
const matmulOp = defineOp<MatmulOptions>({
  name: 'matmul',
  infer(inputs, attrs) {
    const d = dims(inputs, attrs);
    return [{ shape: [...d.batchShape, d.m, d.n], dtype: 'float32' }];
  },
  kernels: {
    cpu({ inputs: [a, b], outputs: [c], attrs }) {
      const d = dims([a!, b!], attrs);
      matmulCpu(f32Of(a!), f32Of(b!), cpuF32(c!), {
        batch: d.batch, m: d.m, k: d.k, n: d.n,
        transA: attrs.transA ?? false, transB: attrs.transB ?? false,
        strideA: d.aBatched ? d.m * d.k : 0, strideB: d.bBatched ? d.k * d.n : 0,
      });
    },
    webgpu({ inputs: [a, b], outputs: [c], attrs }) {
      const d = dims([a!, b!], attrs);
      matmulGpu(a!, b!, c!, {
        batch: d.batch, m: d.m, k: d.k, n: d.n, transA: attrs.transA ?? false, transB: attrs.transB ?? false,
        strideA: d.aBatched ? d.m * d.k : 0, strideB: d.bBatched ? d.k * d.n : 0,
      });
    },
  },
  backward([g], { inputs: [a, b], attrs: { transA = false, transB = false }, needs }) {
    // Each gradient is itself a matmul of g with the other operand, transposed as the chain rule asks.
    const ga = !needs[0] ? null : transA ? matmulRaw(b!, g!, { transA: transB, transB: true }) : matmulRaw(g!, b!, { transB: !transB });
    const gb = !needs[1] ? null : transB ? matmulRaw(g!, a!, { transA: true, transB: transA }) : matmulRaw(a!, g!, { transA: !transA });
    return [ga && sumTo(ga, a!.shape), gb && sumTo(gb, b!.shape)];
  },
});

function matmulRaw(a: Tensor, b: Tensor, opts: MatmulOptions): Tensor {
  return runOp(matmulOp, [a, b], opts)[0]!;
}

/**
 * Matrix product of the last two axes. With a rank-2 `b` (a weight), `a`'s leading axes are folded into rows,
 * so x [B, T, d] · Wᵀ runs as one [B·T, d] product.
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  if (b.rank === 2 && a.rank > 2 && !opts.transA) {
    // Intermediates are disposed here: a function called outside any tidy scope must not leave handles behind.
    const rows = reshape(a, [-1, a.shape[a.rank - 1]!]);
    const flat = matmulRaw(rows, b, opts);
    rows.dispose();
    const out = reshape(flat, [...a.shape.slice(0, -1), flat.shape[1]!]);
    flat.dispose();
    return out;
  }
  return matmulRaw(a, b, opts);
}

/** x·Wᵀ (+ bias): a linear layer with PyTorch's weight layout [out, in]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  const y = matmul(x, weight, { transB: true });
  if (!bias) return y;
  const out = add(y, bias);
  y.dispose();
  return out;
}
