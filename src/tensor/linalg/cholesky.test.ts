import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../random.js';
import { FactlabError } from '../errors.js';
import { cholesky, choleskySolve, solveSpd } from './cholesky.js';
import { matrix, type Matrix } from './dense.js';
import { build, gaussSolve, maxAbs, maxAbsDiff, naiveMatmul, naiveTranspose } from './naive.js';

/** A well-conditioned random SPD matrix X·Xᵀ/(n+5) + 0.1·I, so tight tolerances are fair. */
function randomSpd(n: number, seed: number): Matrix {
  const rng = new Rng(seed);
  const k = n + 5;
  const x = build(n, k, () => rng.normal());
  const c = naiveMatmul(x, naiveTranspose(x, n, k), n, k, n);
  for (let i = 0; i < n * n; i++) c[i] /= k;
  for (let i = 0; i < n; i++) c[i * n + i] += 0.1;
  return matrix(n, n, c);
}

function randomVector(n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => rng.normal());
}

// Sizes straddle the panel width (64) and the GEMM kernel's 4×2 register block and 256-wide K block.
const SIZES = [1, 2, 3, 5, 17, 63, 64, 65, 130, 300];

test('cholesky: L·Lᵀ = C, L lower triangular with a positive diagonal', () => {
  for (const n of SIZES) {
    const c = randomSpd(n, n);
    const l = cholesky(c);
    for (let i = 0; i < n; i++) {
      assert.ok(l.data[i * n + i]! > 0, `n=${n}: diagonal ${i} positive`);
      for (let j = i + 1; j < n; j++) assert.equal(l.data[i * n + j], 0, `n=${n}: upper (${i},${j}) zero`);
    }
    const llt = naiveMatmul(l.data, naiveTranspose(l.data, n, n), n, n, n);
    assert.ok(maxAbsDiff(llt, c.data) <= 1e-13 * maxAbs(c.data) * n, `n=${n}: |LLᵀ − C| = ${maxAbsDiff(llt, c.data)}`);
  }
});

test('choleskySolve: one right-hand side matches Gaussian elimination with partial pivoting', () => {
  for (const n of SIZES) {
    const c = randomSpd(n, 100 + n);
    const b = randomVector(n, 200 + n);
    const x = choleskySolve(cholesky(c), b);
    const ref = gaussSolve(c.data, b, n, 1);
    assert.ok(maxAbsDiff(x, ref) <= 1e-10 * Math.max(1, maxAbs(ref)), `n=${n}: |x − x_gauss| = ${maxAbsDiff(x, ref)}`);
    const residual = naiveMatmul(c.data, x, n, n, 1);
    assert.ok(maxAbsDiff(residual, b) <= 1e-11 * n, `n=${n}: residual ${maxAbsDiff(residual, b)}`);
  }
});

test('choleskySolve: several right-hand sides (columns) match Gaussian elimination', () => {
  for (const n of [1, 7, 65, 140]) {
    for (const r of [1, 2, 5]) {
      const c = randomSpd(n, 300 + n);
      const b = matrix(n, r, randomVector(n * r, 400 + n + r));
      const x = choleskySolve(cholesky(c), b);
      assert.deepEqual([x.rows, x.cols], [n, r]);
      const ref = gaussSolve(c.data, b.data, n, r);
      assert.ok(maxAbsDiff(x.data, ref) <= 1e-10 * Math.max(1, maxAbs(ref)), `n=${n} r=${r}: ${maxAbsDiff(x.data, ref)}`);
    }
  }
});

test('solveSpd: ridge solves (C + λI)·x = b', () => {
  const n = 40, lambda = 0.37;
  const c = randomSpd(n, 7);
  const b = randomVector(n, 8);
  const shifted = Float64Array.from(c.data);
  for (let i = 0; i < n; i++) shifted[i * n + i] += lambda;
  const x = solveSpd(c, b, { ridge: lambda });
  assert.ok(maxAbsDiff(x, gaussSolve(shifted, b, n, 1)) <= 1e-11);
  // The input must not be modified.
  assert.deepEqual(c.data, randomSpd(n, 7).data);
});

test('cholesky: a matrix with a negative pivot is refused, naming the pivot index and value', () => {
  const c = matrix(4, 4, [
    4, 2, 0, 0,
    2, 5, 0, 0,
    0, 0, -3, 0,
    0, 0, 0, 1,
  ]);
  assert.throws(() => cholesky(c), (e: unknown) => {
    assert.ok(e instanceof FactlabError);
    assert.match(e.message, /^cholesky: matrix \[4,4\] is not positive definite: pivot 2 is -3\.000e\+0/);
    assert.match(e.message, /ridge/);
    return true;
  });
});

test('cholesky: a singular (rank-deficient) covariance is refused, and solvable with a ridge', () => {
  const n = 12, rank = 8;
  const rng = new Rng(3);
  const x = build(n, rank, () => rng.normal());
  const c = matrix(n, n, naiveMatmul(x, naiveTranspose(x, n, rank), n, rank, n));
  assert.throws(() => cholesky(c), /cholesky: matrix \[12,12\] is not positive definite: pivot (8|9|10|11) /);
  const b = randomVector(n, 4);
  const u = solveSpd(c, b, { ridge: 1e-3 });
  const shifted = Float64Array.from(c.data);
  for (let i = 0; i < n; i++) shifted[i * n + i] += 1e-3;
  assert.ok(maxAbsDiff(u, gaussSolve(shifted, b, n, 1)) <= 1e-8 * maxAbs(u));
});

test('cholesky: bad input is refused with the function and the shapes in the message', () => {
  assert.throws(() => cholesky(matrix(2, 3)), /^FactlabError: cholesky: matrix \[2,3\] is not square$/);
  assert.throws(() => cholesky(matrix(2, 2, [1, 0.5, 0.7, 1])), /cholesky: matrix \[2,2\] is not symmetric: C\[1,0\] = 0\.7 but C\[0,1\] = 0\.5/);
  assert.throws(() => cholesky(matrix(2, 2, [1, NaN, NaN, 1])), /cholesky: matrix \[2,2\] has a non-finite element NaN at \(0, 1\)/);
  assert.throws(() => cholesky(matrix(2, 2, [1, 0, 0, 1]), { ridge: -1 }), /cholesky: ridge must be a finite number ≥ 0, got -1 \(matrix \[2,2\]\)/);
  const l = cholesky(randomSpd(3, 1));
  assert.throws(() => choleskySolve(l, new Float64Array(4)), /choleskySolve: right-hand side of length 4 does not match factor \[3,3\]/);
  assert.throws(() => choleskySolve(l, matrix(2, 2)), /choleskySolve: right-hand sides \[2,2\] do not match factor \[3,3\] \(need 3 rows\)/);
  assert.throws(() => solveSpd(randomSpd(3, 1), matrix(4, 1)), /solveSpd: right-hand sides \[4,1\] does not match matrix \[3,3\]/);
});

test('cholesky: only rounding-level asymmetry, as float32 accumulation leaves, is accepted', () => {
  const c = randomSpd(20, 9);
  const d = Float64Array.from(c.data);
  d[5 * 20 + 3] = d[5 * 20 + 3]! * (1 + 1e-7);
  const l = cholesky(matrix(20, 20, d));
  assert.equal(l.rows, 20);
});
