import { Rng } from '../random.js';
import { axpy, dot, gemmNT } from './dense.js';

/** Rows handled per block: the projections against earlier blocks are GEMMs, so they run at kernel speed. */
const BS = 32;

/**
 * Makes the rows [start, rows) of the rows×len row-major `q` (rows ≤ len) orthonormal, and orthogonal to rows
 * [0, start), which must already be orthonormal; rows keep their order, so row i ends up spanning what rows 0..i
 * spanned (as in Gram–Schmidt). A row that is zero or in the span of the rows before it (numerically: less than
 * `degenerate` of its length survives the projections) is replaced by a seeded random vector orthogonalised against
 * all the others, so the result always has orthonormal rows; those rows' indices are returned.
 *
 * Block classical Gram–Schmidt, twice ("twice is enough"), with modified Gram–Schmidt inside a block: the block
 * projections are GEMMs, which matters for 2560-row bases where row-by-row Gram–Schmidt is memory-bound.
 */
export function orthonormalizeRows(q: Float64Array, rows: number, len: number, start = 0, seed = 0x5eed, degenerate = 1e-6): number[] {
  const replaced = blockGramSchmidt(q, rows, len, start, degenerate);
  let bad = replaced;
  const rng = new Rng(seed);
  // Replacements go through the same blocked path: good rows first (already orthonormal), then random rows. A random
  // row only fails again if the good rows nearly span everything, so a few attempts suffice.
  for (let attempt = 0; bad.length > 0 && attempt < 8; attempt++) {
    const isBad = new Set(bad);
    const order = [...Array.from({ length: rows }, (_, i) => i).filter((i) => !isBad.has(i)), ...bad];
    const good = rows - bad.length;
    const packed = new Float64Array(rows * len);
    order.forEach((src, dst) => {
      if (dst < good) packed.set(q.subarray(src * len, src * len + len), dst * len);
      else for (let k = 0; k < len; k++) packed[dst * len + k] = rng.normal();
    });
    const again = blockGramSchmidt(packed, rows, len, good, degenerate);
    for (let dst = good; dst < rows; dst++) q.set(packed.subarray(dst * len, dst * len + len), order[dst]! * len);
    bad = again.map((dst) => order[dst]!);
  }
  return replaced;
}

/** The blocked pass of `orthonormalizeRows`; degenerate rows are left zero and their indices returned. */
function blockGramSchmidt(q: Float64Array, rows: number, len: number, start: number, degenerate: number): number[] {
  if (rows - start <= 0) return [];
  const initialNorm = new Float64Array(rows);
  for (let i = start; i < rows; i++) initialNorm[i] = Math.sqrt(dot(q, i * len, q, i * len, len));
  // qt holds the finished rows transposed (len × rows), the layout the GEMM kernel needs for "X −= C·P".
  const qt = new Float64Array(len * rows);
  writeTransposed(q, len, qt, rows, 0, start);
  const c = new Float64Array(BS * Math.max(1, rows));
  const bad: number[] = [];
  for (let b0 = start; b0 < rows; b0 += BS) {
    const b1 = Math.min(rows, b0 + BS), bs = b1 - b0;
    if (b0 > 0) {
      for (let pass = 0; pass < 2; pass++) {
        c.fill(0, 0, bs * b0);
        gemmNT(bs, b0, len, 1, q, b0 * len, len, q, 0, len, c, 0, b0); // C = X·Pᵀ
        gemmNT(bs, len, b0, -1, c, 0, b0, qt, 0, rows, q, b0 * len, len); // X −= C·P
      }
    }
    for (let i = b0; i < b1; i++) {
      const oi = i * len;
      for (let pass = 0; pass < 2; pass++) {
        for (let j = b0; j < i; j++) axpy(len, -dot(q, oi, q, j * len, len), q, j * len, q, oi);
      }
      const nrm = Math.sqrt(dot(q, oi, q, oi, len));
      // Zeroed rows contribute nothing to later projections, so the others still come out orthonormal.
      if (!(nrm > degenerate * initialNorm[i]!) || nrm === 0) {
        q.fill(0, oi, oi + len);
        bad.push(i);
      } else {
        const inv = 1 / nrm;
        for (let k = 0; k < len; k++) q[oi + k] *= inv;
      }
    }
    writeTransposed(q, len, qt, rows, b0, b1);
  }
  return bad;
}

function writeTransposed(q: Float64Array, len: number, qt: Float64Array, rows: number, r0: number, r1: number): void {
  for (let k0 = 0; k0 < len; k0 += 64) {
    const k1 = Math.min(len, k0 + 64);
    for (let i = r0; i < r1; i++) {
      const oi = i * len;
      for (let k = k0; k < k1; k++) qt[k * rows + i] = q[oi + k]!;
    }
  }
}
