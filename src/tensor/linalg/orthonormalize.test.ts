import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../random.js';
import { build, maxAbsDiff, naiveMatmul, naiveTranspose } from './naive.js';
import { orthonormalizeRows } from './orthonormalize.js';

function gramError(q: Float64Array, rows: number, len: number): number {
  const g = naiveMatmul(q, naiveTranspose(q, rows, len), rows, len, rows);
  return maxAbsDiff(g, build(rows, rows, (i, j) => (i === j ? 1 : 0)));
}

test('orthonormalizeRows: rows come out orthonormal and each spans what the rows up to it spanned', () => {
  const rng = new Rng(1);
  for (const [rows, len] of [[1, 1], [5, 9], [40, 40], [70, 100]] as [number, number][]) {
    const a = build(rows, len, () => rng.normal());
    const q = Float64Array.from(a);
    assert.deepEqual(orthonormalizeRows(q, rows, len), []);
    assert.ok(gramError(q, rows, len) <= 1e-13, `[${rows},${len}]`);
    // Gram–Schmidt order: row i of the input lies in the span of output rows 0..i (lower-triangular coefficients).
    const coef = naiveMatmul(a, naiveTranspose(q, rows, len), rows, len, rows);
    for (let i = 0; i < rows; i++) for (let j = i + 1; j < rows; j++) assert.ok(Math.abs(coef[i * rows + j]!) <= 1e-12, `[${rows},${len}] (${i},${j})`);
  }
});

test('orthonormalizeRows: zero and dependent rows are replaced, and a full square basis is completed', () => {
  const rng = new Rng(2);
  const len = 50, rows = 50;
  const q = build(rows, len, (i) => (i % 3 === 2 ? 0 : rng.normal()));
  for (let k = 0; k < len; k++) q[4 * len + k] = 2 * q[k]! - q[len + k]!; // row 4 = 2·row 0 − row 1
  const replaced = orthonormalizeRows(q, rows, len);
  assert.ok(replaced.includes(4) && replaced.includes(2) && replaced.includes(47), `replaced ${replaced}`);
  assert.equal(replaced.length, 16 + 1); // rows 2, 5, ..., 47 and row 4
  assert.ok(gramError(q, rows, len) <= 1e-12);
});

test('orthonormalizeRows: rows before start are kept as they are', () => {
  const rng = new Rng(3);
  const len = 30;
  const q = build(10, len, () => rng.normal());
  orthonormalizeRows(q, 4, len);
  const head = q.slice(0, 4 * len);
  orthonormalizeRows(q, 10, len, 4);
  assert.deepEqual(q.slice(0, 4 * len), head);
  assert.ok(gramError(q, 10, len) <= 1e-13);
});
