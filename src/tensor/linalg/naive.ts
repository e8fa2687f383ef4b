/**
 * Deliberately simple float64 reference algorithms for the linalg tests. They share no code with the routines
 * under test (not even the GEMM kernel), so that agreement means something.
 */

/** Row-major rows×cols from a generator. */
export function build(rows: number, cols: number, f: (i: number, j: number) => number): Float64Array {
  const a = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) a[i * cols + j] = f(i, j);
  return a;
}

/** a (m×k) · b (k×n), triple loop. */
export function naiveMatmul(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[i * k + t]! * b[t * n + j]!;
      c[i * n + j] = s;
    }
  }
  return c;
}

export function naiveTranspose(a: Float64Array, rows: number, cols: number): Float64Array {
  return build(cols, rows, (i, j) => a[j * cols + i]!);
}

/** Solves A·X = B (A n×n, B n×r) by Gaussian elimination with partial pivoting on copies. */
export function gaussSolve(a: Float64Array, b: Float64Array, n: number, r: number): Float64Array {
  const A = Float64Array.from(a), X = Float64Array.from(b);
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let i = col + 1; i < n; i++) if (Math.abs(A[i * n + col]!) > Math.abs(A[piv * n + col]!)) piv = i;
    if (piv !== col) {
      for (let j = 0; j < n; j++) { const t = A[col * n + j]!; A[col * n + j] = A[piv * n + j]!; A[piv * n + j] = t; }
      for (let j = 0; j < r; j++) { const t = X[col * r + j]!; X[col * r + j] = X[piv * r + j]!; X[piv * r + j] = t; }
    }
    for (let i = col + 1; i < n; i++) {
      const f = A[i * n + col]! / A[col * n + col]!;
      if (f === 0) continue;
      for (let j = col; j < n; j++) A[i * n + j] -= f * A[col * n + j]!;
      for (let j = 0; j < r; j++) X[i * r + j] -= f * X[col * r + j]!;
    }
  }
  for (let i = n - 1; i >= 0; i--) {
    for (let j = 0; j < r; j++) {
      let s = X[i * r + j]!;
      for (let t = i + 1; t < n; t++) s -= A[i * n + t]! * X[t * r + j]!;
      X[i * r + j] = s / A[i * n + i]!;
    }
  }
  return X;
}

/** Eigenvalues of a symmetric n×n matrix by cyclic Jacobi rotations, sorted descending. */
export function jacobiEigenvalues(s: Float64Array, n: number): number[] {
  const A = Float64Array.from(s);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0, total = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) { const v = A[i * n + j]! ** 2; total += v; if (i !== j) off += v; }
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q]!;
        if (apq === 0) continue;
        const theta = (A[q * n + q]! - A[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), sn = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p]!, akq = A[k * n + q]!;
          A[k * n + p] = c * akp - sn * akq;
          A[k * n + q] = sn * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k]!, aqk = A[q * n + k]!;
          A[p * n + k] = c * apk - sn * aqk;
          A[q * n + k] = sn * apk + c * aqk;
        }
      }
    }
  }
  return Array.from({ length: n }, (_, i) => A[i * n + i]!).sort((x, y) => y - x);
}

export function maxAbs(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s = Math.max(s, Math.abs(a[i]!));
  return s;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths ${a.length} and ${b.length} differ`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s = Math.max(s, Math.abs(a[i]! - b[i]!));
  return s;
}
