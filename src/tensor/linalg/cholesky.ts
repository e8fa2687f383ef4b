import { FactlabError } from '../errors.js';
import { assertFinite, dot, gemmNT, shapeOf, type Matrix } from './dense.js';

export interface CholeskyOptions {
  /**
   * λ ≥ 0 added to the diagonal before factorising, i.e. the factor of C + λI. ROME's key covariance E[kkᵀ] is
   * often near-singular (few distinct keys, or a dimension the keys never use); a small ridge makes it solvable.
   */
  ridge?: number;
}

/**
 * Panel width of the blocked factorisation. Each panel's update is one call of the GEMM kernel over all earlier
 * columns, which carries the n³/3 flops at kernel speed; only the O(n²·NB) work inside panels runs as plain loops.
 */
const NB = 64;

/**
 * The lower-triangular L with L·Lᵀ = C (+ ridge·I) of a symmetric positive-definite C; its strict upper triangle is
 * zero. Only the lower triangle of C is read, but C must be symmetric up to rounding: a grossly asymmetric matrix is
 * refused, because it usually means a wrongly oriented argument rather than rounding in E[kkᵀ].
 *
 * A pivot (C's diagonal entry minus what earlier columns explain) that is not above n·ε times that diagonal entry
 * means C is not positive definite, or is singular to working precision; the error names the pivot so that a ridge
 * can be chosen.
 */
export function cholesky(c: Matrix, opts: CholeskyOptions = {}): Matrix {
  const n = c.rows;
  if (c.cols !== n) throw new FactlabError(`cholesky: matrix ${shapeOf(c)} is not square`);
  const ridge = opts.ridge ?? 0;
  if (!(ridge >= 0) || !Number.isFinite(ridge)) throw new FactlabError(`cholesky: ridge must be a finite number ≥ 0, got ${ridge} (matrix ${shapeOf(c)})`);
  assertFinite('cholesky', 'matrix', c);
  checkSymmetric(c);

  const L = new Float64Array(n * n);
  const src = c.data;
  for (let i = 0; i < n; i++) {
    const r = i * n;
    for (let j = 0; j <= i; j++) L[r + j] = src[r + j]!;
    L[r + i] += ridge;
  }
  const diag = new Float64Array(n);
  for (let i = 0; i < n; i++) diag[i] = L[i * n + i]!;
  const tol = n * Number.EPSILON;

  for (let j0 = 0; j0 < n; j0 += NB) {
    const j1 = Math.min(n, j0 + NB);
    const jb = j1 - j0;
    // Left-looking: bring columns j0..j1 of every row i ≥ j0 up to date with all finished columns < j0 at once.
    // This also writes the strict upper part of the diagonal block, which is cleared at the end.
    if (j0 > 0) gemmNT(n - j0, jb, j0, -1, L, j0 * n, n, L, j0 * n, n, L, j0 * n + j0, n);
    for (let j = j0; j < j1; j++) {
      const rj = j * n;
      const pivot = L[rj + j]! - dot(L, rj + j0, L, rj + j0, j - j0);
      if (!(pivot > tol * diag[j]!)) {
        const how = pivot > 0 ? `is only ${pivot.toExponential(3)}, below n·ε·C[${j},${j}] = ${(tol * diag[j]!).toExponential(3)} (singular to working precision)` : `is ${pivot.toExponential(3)}`;
        throw new FactlabError(
          `cholesky: matrix ${shapeOf(c)} is not positive definite: pivot ${j} ${how}` +
          `${ridge ? ` with ridge ${ridge}` : ''}; ${ridge ? 'use a larger ridge' : 'pass a ridge (λ·I) such as 1e-6·mean(diag)'}`,
        );
      }
      const ljj = Math.sqrt(pivot);
      L[rj + j] = ljj;
      for (let i = j + 1; i < j1; i++) {
        const ri = i * n;
        L[ri + j] = (L[ri + j]! - dot(L, ri + j0, L, rj + j0, j - j0)) / ljj;
      }
    }
    // Rows below the diagonal block, one row at a time: the row's panel segment and the diagonal block stay in L1.
    for (let i = j1; i < n; i++) {
      const ri = i * n;
      for (let j = j0; j < j1; j++) {
        const rj = j * n;
        L[ri + j] = (L[ri + j]! - dot(L, ri + j0, L, rj + j0, j - j0)) / L[rj + j]!;
      }
    }
  }
  for (let i = 0; i < n; i++) L.fill(0, i * n + i + 1, (i + 1) * n);
  return { rows: n, cols: n, data: L };
}

/**
 * Solves L·Lᵀ·x = b given the Cholesky factor L, for one right-hand side (a vector of length n) or several
 * (the columns of an n×r matrix).
 */
export function choleskySolve(l: Matrix, b: Float64Array): Float64Array;
export function choleskySolve(l: Matrix, b: Matrix): Matrix;
export function choleskySolve(l: Matrix, b: Float64Array | Matrix): Float64Array | Matrix {
  const n = l.rows;
  if (l.cols !== n) throw new FactlabError(`choleskySolve: factor ${shapeOf(l)} is not square`);
  if (b instanceof Float64Array) {
    if (b.length !== n) throw new FactlabError(`choleskySolve: right-hand side of length ${b.length} does not match factor ${shapeOf(l)}`);
    const x = Float64Array.from(b);
    solveVectorInPlace(l.data, n, x);
    return x;
  }
  if (b.rows !== n) throw new FactlabError(`choleskySolve: right-hand sides ${shapeOf(b)} do not match factor ${shapeOf(l)} (need ${n} rows)`);
  const x = Float64Array.from(b.data);
  if (b.cols === 1) solveVectorInPlace(l.data, n, x);
  else solveMatrixInPlace(l.data, n, x, b.cols);
  return { rows: n, cols: b.cols, data: x };
}

/** x with (C + ridge·I)·x = b, for a symmetric positive-definite C (see `cholesky` for the conditions). */
export function solveSpd(c: Matrix, b: Float64Array, opts?: CholeskyOptions): Float64Array;
export function solveSpd(c: Matrix, b: Matrix, opts?: CholeskyOptions): Matrix;
export function solveSpd(c: Matrix, b: Float64Array | Matrix, opts: CholeskyOptions = {}): Float64Array | Matrix {
  const n = c.rows;
  const bn = b instanceof Float64Array ? b.length : b.rows;
  // Checked before factorising so that a mismatch does not cost an O(n³) factorisation first.
  if (bn !== n) {
    const what = b instanceof Float64Array ? `right-hand side of length ${b.length}` : `right-hand sides ${shapeOf(b)}`;
    throw new FactlabError(`solveSpd: ${what} does not match matrix ${shapeOf(c)}`);
  }
  const l = cholesky(c, opts);
  return b instanceof Float64Array ? choleskySolve(l, b) : choleskySolve(l, b);
}

function checkSymmetric(c: Matrix): void {
  const n = c.rows, d = c.data;
  let scale = 0;
  for (let i = 0; i < d.length; i++) scale = Math.max(scale, Math.abs(d[i]!));
  // Loose on purpose: float32 accumulation of E[kkᵀ] in different orders leaves asymmetry near 1e-7 relative.
  const tol = 1e-5 * scale;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const diff = Math.abs(d[i * n + j]! - d[j * n + i]!);
      if (diff > tol) {
        throw new FactlabError(`cholesky: matrix ${shapeOf(c)} is not symmetric: C[${i},${j}] = ${d[i * n + j]} but C[${j},${i}] = ${d[j * n + i]}`);
      }
    }
  }
}

function solveVectorInPlace(L: Float64Array, n: number, x: Float64Array): void {
  // Forward: L·y = b, each step a dot product with a contiguous row of L.
  for (let i = 0; i < n; i++) x[i] = (x[i]! - dot(L, i * n, x, 0, i)) / L[i * n + i]!;
  // Backward: Lᵀ·x = y, column-oriented so that it too walks rows of L rather than its columns.
  for (let j = n - 1; j >= 0; j--) {
    const xj = x[j]! / L[j * n + j]!;
    x[j] = xj;
    const r = j * n;
    for (let i = 0; i < j; i++) x[i] -= L[r + i]! * xj;
  }
}

function solveMatrixInPlace(L: Float64Array, n: number, x: Float64Array, r: number): void {
  // Row i of X is updated with whole rows of X (length r), so the inner loops are contiguous in both operands.
  for (let i = 0; i < n; i++) {
    const ri = i * n, xi = i * r;
    for (let j = 0; j < i; j++) {
      const lij = L[ri + j]!;
      if (lij !== 0) for (let k = 0; k < r; k++) x[xi + k] -= lij * x[j * r + k]!;
    }
    const inv = 1 / L[ri + i]!;
    for (let k = 0; k < r; k++) x[xi + k] *= inv;
  }
  for (let j = n - 1; j >= 0; j--) {
    const rj = j * n, xj = j * r;
    const inv = 1 / L[rj + j]!;
    for (let k = 0; k < r; k++) x[xj + k] *= inv;
    for (let i = 0; i < j; i++) {
      const lji = L[rj + i]!;
      if (lji !== 0) for (let k = 0; k < r; k++) x[i * r + k] -= lji * x[xj + k]!;
    }
  }
}
