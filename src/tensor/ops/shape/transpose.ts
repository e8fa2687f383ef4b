import { defineOp, runOp } from '../../op.js';
import { opError } from '../../errors.js';
import { stridesOf, type Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { cpuData } from '../../backends/cpu/cpu-backend.js';
import type { AnyTypedArray } from '../../dtype.js';
import { mapElements } from '../../backends/webgpu/elementwise.js';

/** Permutes axes: output axis k is input axis perm[k]. A copy, since tensors are always contiguous. */
interface TransposeAttrs { perm: readonly number[] }

/** Validates `perm` against x (negative entries allowed) and gives it with every entry in [0, rank). */
function resolvePerm(x: Tensor, perm: readonly number[]): number[] {
  const r = x.rank;
  const bad = () => opError('transpose', `[${perm.join(',')}] is not a permutation of the ${r} axes`, [x]);
  if (!Array.isArray(perm) || perm.length !== r) throw bad();
  const seen = new Array<boolean>(r).fill(false);
  return perm.map((p) => {
    const a = p < 0 ? p + r : p;
    if (!Number.isInteger(a) || a < 0 || a >= r || seen[a]) throw bad();
    seen[a] = true;
    return a;
  });
}

const TILE = 32;

/**
 * Copies x into its permuted layout. Output axes that stay adjacent and in order in the input are merged first,
 * so that [B,L,H,D]→[B,H,L,D] copies whole D-rows, and a trailing 2-D transpose runs in cache-sized tiles.
 */
function transposeCpu(src: AnyTypedArray, dst: AnyTypedArray, shape: Shape, perm: readonly number[]): void {
  const inStrides = stridesOf(shape);
  const dims: number[] = [], strides: number[] = [];
  for (const p of perm) {
    const d = shape[p]!;
    if (d === 1) continue;
    const k = dims.length - 1;
    if (k >= 0 && strides[k] === inStrides[p]! * d) { dims[k] = dims[k]! * d; strides[k] = inStrides[p]!; continue; }
    dims.push(d); strides.push(inStrides[p]!);
  }
  if (dst.length === 0) return;
  if (dims.length <= 1) { dst.set(src as never); return; }
  const n = dims.length;
  const rows = dims[n - 2]!, cols = dims[n - 1]!;
  const sr = strides[n - 2]!, sc = strides[n - 1]!;
  const outerDims = dims.slice(0, n - 2), outerStrides = strides.slice(0, n - 2);
  const outer = outerDims.reduce((a, b) => a * b, 1);
  const idx = new Array<number>(outerDims.length).fill(0);
  let base = 0;
  for (let o = 0; o < outer; o++) {
    const ob = o * rows * cols;
    if (sc === 1) {
      for (let i = 0; i < rows; i++) dst.set(src.subarray(base + i * sr, base + i * sr + cols) as never, ob + i * cols);
    } else {
      for (let i0 = 0; i0 < rows; i0 += TILE) {
        const i1 = Math.min(rows, i0 + TILE);
        for (let j0 = 0; j0 < cols; j0 += TILE) {
          const j1 = Math.min(cols, j0 + TILE);
          for (let i = i0; i < i1; i++) {
            const di = ob + i * cols, si = base + i * sr;
            for (let j = j0; j < j1; j++) dst[di + j] = src[si + j * sc]!;
          }
        }
      }
    }
    for (let d = outerDims.length - 1; d >= 0; d--) {
      idx[d]!++;
      base += outerStrides[d]!;
      if (idx[d]! < outerDims[d]!) break;
      base -= outerStrides[d]! * outerDims[d]!;
      idx[d] = 0;
    }
  }
}

const transposeOp = defineOp<TransposeAttrs>({
  name: 'transpose',
  infer([x], { perm }) {
    const p = resolvePerm(x!, perm);
    return [{ shape: p.map((a) => x!.shape[a]!), dtype: x!.dtype }];
  },
  kernels: {
    cpu({ inputs: [x], outputs: [o], attrs }) {
      transposeCpu(cpuData(x!), cpuData(o!), x!.shape, resolvePerm(x!, attrs.perm));
    },
    webgpu({ inputs: [x], outputs: [o], attrs }) {
      // A gather over the output; the source is swept in windows when it exceeds one binding, since the source
      // elements of any run of outputs are spread over all of it.
      const st = stridesOf(x!.shape);
      const strides = resolvePerm(x!, attrs.perm).map((a) => st[a]!);
      mapElements({ op: 'transpose', out: o!, inputs: [{ tensor: x!, strides, mode: 'bits', sweep: true }], outMode: 'bits', body: 'return v0;' });
    },
  },
  backward([g], { inputs: [x], attrs }) {
    const p = resolvePerm(x!, attrs.perm);
    const inv = new Array<number>(p.length);
    p.forEach((a, k) => { inv[a] = k; });
    return [transpose(g!, inv)];
  },
});

/** Permutes the axes of x (output axis k = input axis perm[k]); by default swaps the last two axes. */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  if (!perm) {
    if (x.rank < 2) throw opError('transpose', `needs at least 2 axes to swap the last two; give a permutation for rank ${x.rank}`, [x]);
    perm = [...Array(x.rank - 2).keys(), x.rank - 1, x.rank - 2];
  }
  return runOp(transposeOp, [x], { perm: [...perm] })[0]!;
}
