import { FactlabError } from '../errors.js';

/**
 * A dense float64 matrix in row-major order: element (i, j) is `data[i * cols + j]`.
 * Everything in linalg works in float64, whatever the tensors around it hold, because ROME's covariance solve and
 * LRE's low-rank inverse lose too many digits in float32.
 */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

export function shapeOf(a: Matrix): string {
  return `[${a.rows},${a.cols}]`;
}

/** A matrix over `data` (kept, not copied, when it is already a Float64Array) or a new zero matrix. */
export function matrix(rows: number, cols: number, data?: ArrayLike<number>): Matrix {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new FactlabError(`matrix: invalid shape [${rows},${cols}] (dimensions must be non-negative integers)`);
  }
  if (data === undefined) return { rows, cols, data: new Float64Array(rows * cols) };
  if (data.length !== rows * cols) throw new FactlabError(`matrix: ${data.length} values do not fill shape [${rows},${cols}]`);
  return { rows, cols, data: data instanceof Float64Array ? data : Float64Array.from(data) };
}

export function identity(n: number): Matrix {
  const a = matrix(n, n);
  for (let i = 0; i < n; i++) a.data[i * n + i] = 1;
  return a;
}

export function transpose(a: Matrix): Matrix {
  const { rows, cols, data } = a;
  const out = new Float64Array(rows * cols);
  // Tiles keep both the strided reads and the strided writes inside the cache.
  const T = 32;
  for (let i0 = 0; i0 < rows; i0 += T) {
    const i1 = Math.min(rows, i0 + T);
    for (let j0 = 0; j0 < cols; j0 += T) {
      const j1 = Math.min(cols, j0 + T);
      for (let i = i0; i < i1; i++) {
        const r = i * cols;
        for (let j = j0; j < j1; j++) out[j * rows + i] = data[r + j]!;
      }
    }
  }
  return { rows: cols, cols: rows, data: out };
}

/** a · b. */
export function matmul(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) throw new FactlabError(`matmul: inner dimensions differ: ${shapeOf(a)} · ${shapeOf(b)}`);
  // The kernel wants both operands walked along their rows; transposing b costs O(kn) against O(mkn) for the product.
  return matmulNT(a, transpose(b));
}

/** a · bᵀ (both operands read along their rows, the fast case). */
export function matmulNT(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.cols) throw new FactlabError(`matmulNT: a ${shapeOf(a)} and b ${shapeOf(b)} need the same number of columns`);
  const c = matrix(a.rows, b.rows);
  gemmNT(a.rows, b.rows, a.cols, 1, a.data, 0, a.cols, b.data, 0, b.cols, c.data, 0, b.rows);
  return c;
}

const KC = 256; // a 4-row strip of A over KC columns stays in L1
const NC = 64; // NC rows of B over KC columns (128 KiB) stay in L2

/**
 * C[i][j] += alpha · Σₖ A[i][k] · B[j][k] for i < M, j < N, k < K, on sub-matrices given by offset and leading
 * dimension (row stride), so that Cholesky can update a panel of its own storage in place. The regions of C and of
 * A, B must not overlap. Measured at 3–4 GFLOP/s single-threaded in V8: a 4×2 register block (8 accumulators and
 * 6 loads fit x86-64's 16 vector registers; 4×4 spills) inside KC×NC cache blocks.
 */
export function gemmNT(
  M: number, N: number, K: number, alpha: number,
  a: Float64Array, aOff: number, lda: number,
  b: Float64Array, bOff: number, ldb: number,
  c: Float64Array, cOff: number, ldc: number,
): void {
  if (M === 0 || N === 0 || K === 0) return;
  for (let k0 = 0; k0 < K; k0 += KC) {
    const k1 = Math.min(K, k0 + KC);
    for (let j0 = 0; j0 < N; j0 += NC) {
      const j1 = Math.min(N, j0 + NC);
      let i = 0;
      for (; i + 3 < M; i += 4) {
        const r0 = aOff + i * lda, r1 = r0 + lda, r2 = r1 + lda, r3 = r2 + lda;
        let j = j0;
        for (; j + 1 < j1; j += 2) {
          const q0 = bOff + j * ldb, q1 = q0 + ldb;
          let s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0, s30 = 0, s31 = 0;
          for (let k = k0; k < k1; k++) {
            const b0 = b[q0 + k]!, b1 = b[q1 + k]!;
            const x0 = a[r0 + k]!, x1 = a[r1 + k]!, x2 = a[r2 + k]!, x3 = a[r3 + k]!;
            s00 += x0 * b0; s01 += x0 * b1;
            s10 += x1 * b0; s11 += x1 * b1;
            s20 += x2 * b0; s21 += x2 * b1;
            s30 += x3 * b0; s31 += x3 * b1;
          }
          let o = cOff + i * ldc + j;
          c[o] += alpha * s00; c[o + 1] += alpha * s01; o += ldc;
          c[o] += alpha * s10; c[o + 1] += alpha * s11; o += ldc;
          c[o] += alpha * s20; c[o + 1] += alpha * s21; o += ldc;
          c[o] += alpha * s30; c[o + 1] += alpha * s31;
        }
        if (j < j1) {
          const q0 = bOff + j * ldb;
          let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
          for (let k = k0; k < k1; k++) {
            const b0 = b[q0 + k]!;
            s0 += a[r0 + k]! * b0; s1 += a[r1 + k]! * b0; s2 += a[r2 + k]! * b0; s3 += a[r3 + k]! * b0;
          }
          const o = cOff + i * ldc + j;
          c[o] += alpha * s0; c[o + ldc] += alpha * s1; c[o + 2 * ldc] += alpha * s2; c[o + 3 * ldc] += alpha * s3;
        }
      }
      for (; i < M; i++) {
        const r0 = aOff + i * lda;
        for (let j = j0; j < j1; j++) {
          const q0 = bOff + j * ldb;
          let s = 0;
          for (let k = k0; k < k1; k++) s += a[r0 + k]! * b[q0 + k]!;
          c[cOff + i * ldc + j] += alpha * s;
        }
      }
    }
  }
}

export function dot(a: Float64Array, aOff: number, b: Float64Array, bOff: number, n: number): number {
  let s0 = 0, s1 = 0;
  let k = 0;
  // Two accumulators break the add dependency chain, which otherwise bounds a dot product in V8.
  for (; k + 1 < n; k += 2) { s0 += a[aOff + k]! * b[bOff + k]!; s1 += a[aOff + k + 1]! * b[bOff + k + 1]!; }
  if (k < n) s0 += a[aOff + k]! * b[bOff + k]!;
  return s0 + s1;
}

/** y[yOff + k] += alpha · x[xOff + k] for k < n. */
export function axpy(n: number, alpha: number, x: Float64Array, xOff: number, y: Float64Array, yOff: number): void {
  for (let k = 0; k < n; k++) y[yOff + k] += alpha * x[xOff + k]!;
}

/** Throws naming `fn` and the shape when any element is NaN or infinite. */
export function assertFinite(fn: string, what: string, a: Matrix): void {
  const d = a.data;
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i]!)) {
      const r = Math.floor(i / Math.max(1, a.cols));
      throw new FactlabError(`${fn}: ${what} ${shapeOf(a)} has a non-finite element ${d[i]} at (${r}, ${i - r * a.cols})`);
    }
  }
}
