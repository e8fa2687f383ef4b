import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../random.js';
import { FactlabError } from '../errors.js';
import { matrix, type Matrix } from './dense.js';
import { build, jacobiEigenvalues, maxAbs, maxAbsDiff, naiveMatmul, naiveTranspose } from './naive.js';
import { lowRank, lowRankFromSvd, pinv, pinvFromSvd } from './pinv.js';
import { svd, truncatedSvd, type Svd } from './svd.js';

function randomMatrix(m: number, n: number, seed: number): Matrix {
  const rng = new Rng(seed);
  return matrix(m, n, build(m, n, () => rng.normal()));
}

/** A (m×r)·B (r×n): rank r exactly. */
function rankR(m: number, n: number, r: number, seed: number): Matrix {
  const a = randomMatrix(m, r, seed), b = randomMatrix(r, n, seed + 1);
  return matrix(m, n, naiveMatmul(a.data, b.data, m, r, n));
}

/** U·diag(σ)·Vᵀ with chosen singular values, from random orthonormal bases. */
function withSpectrum(m: number, n: number, sigma: number[], seed: number): Matrix {
  const k = sigma.length;
  const q = (rows: number, s: number): Float64Array => {
    // Gram–Schmidt on random columns, in the test itself so that it depends on nothing under test.
    const rng = new Rng(s);
    const cols: number[][] = [];
    for (let j = 0; j < k; j++) {
      let v = Array.from({ length: rows }, () => rng.normal());
      for (let pass = 0; pass < 2; pass++) {
        for (const c of cols) { const d = v.reduce((a, x, i) => a + x * c[i]!, 0); v = v.map((x, i) => x - d * c[i]!); }
      }
      const nrm = Math.hypot(...v);
      cols.push(v.map((x) => x / nrm));
    }
    return build(rows, k, (i, j) => cols[j]![i]!);
  };
  const u = q(m, seed), v = q(n, seed + 7);
  const us = build(m, k, (i, j) => u[i * k + j]! * sigma[j]!);
  return matrix(m, n, naiveMatmul(us, naiveTranspose(v, n, k), m, k, n));
}

/** Singular values from the eigenvalues of the smaller Gram matrix, by Jacobi rotations. */
function referenceSingularValues(w: Matrix): number[] {
  const { rows: m, cols: n, data } = w;
  const wt = naiveTranspose(data, m, n);
  const gram = m >= n ? naiveMatmul(wt, data, n, m, n) : naiveMatmul(data, wt, m, n, m);
  return jacobiEigenvalues(gram, Math.min(m, n)).map((l) => Math.sqrt(Math.max(0, l)));
}

function checkSvd(w: Matrix, s: Svd, label: string): void {
  const { rows: m, cols: n } = w;
  const k = Math.min(m, n);
  assert.deepEqual([s.U.rows, s.U.cols, s.S.length, s.V.rows, s.V.cols], [m, k, k, n, k], `${label}: shapes`);
  const scale = Math.max(1, s.S[0] ?? 0);
  for (let i = 0; i < k; i++) {
    assert.ok(s.S[i]! >= 0, `${label}: σ${i} ≥ 0`);
    if (i > 0) assert.ok(s.S[i]! <= s.S[i - 1]!, `${label}: descending at ${i}`);
  }
  const us = build(m, k, (i, j) => s.U.data[i * k + j]! * s.S[j]!);
  const rec = naiveMatmul(us, naiveTranspose(s.V.data, n, k), m, k, n);
  assert.ok(maxAbsDiff(rec, w.data) <= 1e-13 * scale * Math.max(m, n), `${label}: |UΣVᵀ − W| = ${maxAbsDiff(rec, w.data)}`);
  const eye = build(k, k, (i, j) => (i === j ? 1 : 0));
  const utu = naiveMatmul(naiveTranspose(s.U.data, m, k), s.U.data, k, m, k);
  const vtv = naiveMatmul(naiveTranspose(s.V.data, n, k), s.V.data, k, n, k);
  assert.ok(maxAbsDiff(utu, eye) <= 1e-12, `${label}: |UᵀU − I| = ${maxAbsDiff(utu, eye)}`);
  assert.ok(maxAbsDiff(vtv, eye) <= 1e-12, `${label}: |VᵀV − I| = ${maxAbsDiff(vtv, eye)}`);
  // The reference squares W, so it resolves σ² to about ε·σ₁² only; compare there.
  const ref = referenceSingularValues(w);
  for (let i = 0; i < k; i++) {
    assert.ok(Math.abs(s.S[i]! ** 2 - ref[i]! ** 2) <= 1e-11 * scale * scale, `${label}: σ${i} = ${s.S[i]} vs reference ${ref[i]}`);
  }
  // Sign convention: the largest-magnitude entry of each uᵢ is positive.
  for (let j = 0; j < k; j++) {
    let best = 0;
    for (let i = 0; i < m; i++) if (Math.abs(s.U.data[i * k + j]!) > Math.abs(best)) best = s.U.data[i * k + j]!;
    assert.ok(best > 0, `${label}: sign of u${j}`);
  }
}

test('svd: random square, tall and wide matrices', () => {
  const shapes: [number, number][] = [[1, 1], [1, 6], [6, 1], [2, 2], [3, 3], [8, 8], [30, 30], [40, 25], [25, 40], [70, 70], [131, 67], [67, 131]];
  for (const [m, n] of shapes) checkSvd(randomMatrix(m, n, m * 1000 + n), svd(randomMatrix(m, n, m * 1000 + n)), `[${m},${n}]`);
});

test('svd: rank-deficient matrices give numerically zero trailing singular values and orthonormal U, V', () => {
  for (const [m, n, r] of [[40, 30, 5], [30, 40, 5], [50, 50, 1], [64, 33, 32], [20, 20, 19]] as [number, number, number][]) {
    const w = rankR(m, n, r, m + n + r);
    const s = svd(w);
    checkSvd(w, s, `rank ${r} [${m},${n}]`);
    for (let i = r; i < Math.min(m, n); i++) assert.ok(s.S[i]! <= 1e-13 * s.S[0]! * Math.max(m, n), `rank ${r} [${m},${n}]: σ${i} = ${s.S[i]}`);
  }
});

test('svd: the zero matrix, repeated singular values and a graded spectrum', () => {
  const z = svd(matrix(4, 3));
  assert.deepEqual(Array.from(z.S), [0, 0, 0]);
  checkSvd(matrix(4, 3), z, 'zero');
  const eye = matrix(6, 6, build(6, 6, (i, j) => (i === j ? 1 : 0)));
  checkSvd(eye, svd(eye), 'identity');
  const sigma = [1e3, 100, 100, 10, 1, 1e-2, 1e-4, 1e-6];
  const w = withSpectrum(20, 12, sigma, 5);
  const s = svd(w);
  checkSvd(w, s, 'graded');
  // Backward stability resolves small singular values to about ε·σ₁, far below what squaring W would allow.
  for (let i = 0; i < sigma.length; i++) assert.ok(Math.abs(s.S[i]! - sigma[i]!) <= 1e-12 * sigma[0]!, `graded σ${i} = ${s.S[i]} vs ${sigma[i]}`);
});

test('svd: bad input is refused with the function and the shape in the message', () => {
  assert.throws(() => svd(matrix(2, 2, [1, Infinity, 0, 1])), (e: unknown) => e instanceof FactlabError && /^svd: matrix \[2,2\] has a non-finite element Infinity at \(0, 1\)$/.test(e.message));
  assert.deepEqual(svd(matrix(0, 3)).V.rows, 3);
});

test('pinv: Moore–Penrose conditions for full-rank square, tall and wide matrices', () => {
  for (const [m, n] of [[5, 5], [40, 40], [50, 20], [20, 50], [130, 70]] as [number, number][]) {
    const w = randomMatrix(m, n, 17 * m + n);
    const p = pinv(w);
    assert.deepEqual([p.rows, p.cols], [n, m]);
    const wp = naiveMatmul(w.data, p.data, m, n, m);
    const pw = naiveMatmul(p.data, w.data, n, m, n);
    const tol = 1e-10;
    assert.ok(maxAbsDiff(naiveMatmul(wp, w.data, m, m, n), w.data) <= tol * maxAbs(w.data), `[${m},${n}]: W·P·W = W`);
    assert.ok(maxAbsDiff(naiveMatmul(pw, p.data, n, n, m), p.data) <= tol * maxAbs(p.data), `[${m},${n}]: P·W·P = P`);
    assert.ok(maxAbsDiff(wp, naiveTranspose(wp, m, m)) <= tol, `[${m},${n}]: W·P symmetric`);
    assert.ok(maxAbsDiff(pw, naiveTranspose(pw, n, n)) <= tol, `[${m},${n}]: P·W symmetric`);
  }
});

test('pinv: rank-r pseudo-inverse of a rank-r matrix equals its pseudo-inverse', () => {
  for (const [m, n, r] of [[30, 30, 4], [40, 25, 7], [25, 40, 7]] as [number, number, number][]) {
    const w = rankR(m, n, r, 3 * m + n);
    const full = pinv(w);
    const pr = pinv(w, { rank: r });
    assert.ok(maxAbsDiff(pr.data, full.data) <= 1e-10 * maxAbs(full.data), `[${m},${n}] rank ${r}`);
    const wpw = naiveMatmul(naiveMatmul(w.data, pr.data, m, n, m), w.data, m, m, n);
    assert.ok(maxAbsDiff(wpw, w.data) <= 1e-10 * maxAbs(w.data), `[${m},${n}] rank ${r}: W·P_r·W = W`);
  }
  // Truncating a full-rank matrix: pinv_r inverts exactly the top-r part.
  const w = randomMatrix(20, 20, 99);
  const s = svd(w);
  const pr = pinvFromSvd(s, { rank: 5 });
  const wr = lowRankFromSvd(s, 5);
  const back = naiveMatmul(naiveMatmul(wr.data, pr.data, 20, 20, 20), wr.data, 20, 20, 20);
  assert.ok(maxAbsDiff(back, wr.data) <= 1e-10 * maxAbs(wr.data), 'W_r·pinv_r(W)·W_r = W_r');
});

test('pinv: rcond drops small singular values', () => {
  const w = withSpectrum(10, 8, [1, 0.5, 1e-9], 1);
  const kept2 = pinv(w, { rcond: 1e-6 });
  const ref = pinv(w, { rank: 2 });
  assert.ok(maxAbsDiff(kept2.data, ref.data) <= 1e-9);
  assert.ok(maxAbs(pinv(w).data) > 1e8, 'default rcond keeps 1e-9·σ₁');
});

test('lowRank: W_r is exact for a rank-r W and leaves Σ_{i>r} σᵢ² behind otherwise', () => {
  const w = rankR(30, 20, 6, 11);
  assert.ok(maxAbsDiff(lowRank(w, 6).data, w.data) <= 1e-12 * maxAbs(w.data));
  const g = randomMatrix(25, 18, 12);
  const s = svd(g);
  const r = 7;
  const wr = lowRank(g, r);
  let resid = 0;
  for (let i = 0; i < g.data.length; i++) resid += (g.data[i]! - wr.data[i]!) ** 2;
  let tail = 0;
  for (let i = r; i < s.S.length; i++) tail += s.S[i]! ** 2;
  assert.ok(Math.abs(resid - tail) <= 1e-10 * tail);
  assert.equal(maxAbs(lowRank(g, 0).data), 0);
  assert.throws(() => lowRank(g, 19), /^FactlabError: lowRank: rank 19 must be an integer in \[0, 18\] for matrix \[25,18\]$/);
  assert.throws(() => pinv(g, { rank: 2.5 }), /pinv: rank 2.5 must be an integer in \[0, 18\] for matrix \[25,18\]/);
  assert.throws(() => lowRank(g, 2, { method: 'fast' as never }), /lowRank: method must be 'exact' or 'randomized', got 'fast' \(matrix \[25,18\]\)/);
});

test('truncatedSvd: top-r triplets match the full SVD on a decaying spectrum, and exactly on a rank-r matrix', () => {
  const sigma = Array.from({ length: 40 }, (_, i) => 0.7 ** i);
  for (const [m, n] of [[120, 80], [80, 120]] as [number, number][]) {
    const w = withSpectrum(m, n, sigma, m + n);
    const r = 8;
    const t = truncatedSvd(w, r, { seed: 3 });
    assert.deepEqual([t.U.rows, t.U.cols, t.S.length, t.V.rows, t.V.cols], [m, r, r, n, r]);
    for (let i = 0; i < r; i++) assert.ok(Math.abs(t.S[i]! - sigma[i]!) <= 1e-9, `[${m},${n}] σ${i} = ${t.S[i]} vs ${sigma[i]}`);
    const eye = build(r, r, (i, j) => (i === j ? 1 : 0));
    assert.ok(maxAbsDiff(naiveMatmul(naiveTranspose(t.U.data, m, r), t.U.data, r, m, r), eye) <= 1e-12);
    assert.ok(maxAbsDiff(naiveMatmul(naiveTranspose(t.V.data, n, r), t.V.data, r, n, r), eye) <= 1e-12);
    const full = svd(w);
    const wrFull = lowRankFromSvd(full, r), wrFast = lowRank(w, r, { method: 'randomized', seed: 3 });
    assert.ok(maxAbsDiff(wrFull.data, wrFast.data) <= 1e-8, `[${m},${n}] W_r`);
  }
  const w = rankR(60, 50, 5, 2);
  const exact = svd(w), fast = truncatedSvd(w, 5, { oversample: 5, powerIterations: 1 });
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(fast.S[i]! - exact.S[i]!) <= 1e-11 * exact.S[0]!);
  assert.throws(() => truncatedSvd(w, 51), /truncatedSvd: rank 51 must be an integer in \[0, 50\] for matrix \[60,50\]/);
});
