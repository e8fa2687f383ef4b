import { FactlabError } from '../errors.js';
import { gemmNT, matrix, shapeOf, type Matrix } from './dense.js';
import { svd, truncatedSvd, type Svd, type TruncatedSvdOptions } from './svd.js';

export interface DecompositionOptions extends TruncatedSvdOptions {
  /**
   * 'exact' (default) takes the full SVD; 'randomized' only the top singular triplets by `truncatedSvd`, much
   * faster for a rank far below min(m, n) but approximate (see `truncatedSvd` for the knobs it reads).
   */
  method?: 'exact' | 'randomized';
}

export interface PinvOptions extends DecompositionOptions {
  /** Keep at most this many singular values (LRE's rank-r inverse). Default: all. */
  rank?: number;
  /**
   * Singular values at or below rcond·σ₁ are treated as zero. Default max(m, n)·ε (float64 ε), as in NumPy's
   * matrix_rank; pass a larger one for data that carries fewer digits.
   */
  rcond?: number;
}

/** W_r = U_r·Σ_r·V_rᵀ, the best rank-r approximation of W (Eckart–Young). */
export function lowRank(w: Matrix, r: number, opts: DecompositionOptions = {}): Matrix {
  const k = Math.min(w.rows, w.cols);
  if (!Number.isInteger(r) || r < 0 || r > k) throw new FactlabError(`lowRank: rank ${r} must be an integer in [0, ${k}] for matrix ${shapeOf(w)}`);
  return lowRankFromSvd(decompose('lowRank', w, r, opts), r);
}

/**
 * The Moore–Penrose pseudo-inverse V_r·Σ_r⁻¹·U_rᵀ (n×m) over the singular values kept by `rank` and `rcond`.
 * With a rank it is LRE's rank-r inverse pinv_r(W).
 */
export function pinv(w: Matrix, opts: PinvOptions = {}): Matrix {
  const k = Math.min(w.rows, w.cols);
  const rank = opts.rank ?? k;
  if (!Number.isInteger(rank) || rank < 0 || rank > k) throw new FactlabError(`pinv: rank ${rank} must be an integer in [0, ${k}] for matrix ${shapeOf(w)}`);
  return pinvFromSvd(decompose('pinv', w, rank, opts), { rank, rcond: opts.rcond ?? defaultRcond(w.rows, w.cols) });
}

/** U_r·Σ_r·V_rᵀ from an existing SVD, so that LRE can take W_r and pinv_r(W) from one decomposition. */
export function lowRankFromSvd(s: Svd, r: number): Matrix {
  const k = s.S.length;
  if (!Number.isInteger(r) || r < 0 || r > k) throw new FactlabError(`lowRankFromSvd: rank ${r} must be an integer in [0, ${k}] (U ${shapeOf(s.U)}, V ${shapeOf(s.V)})`);
  const m = s.U.rows, n = s.V.rows;
  const us = scaledColumns(s.U, s.S, r, (x) => x);
  const out = matrix(m, n);
  gemmNT(m, n, r, 1, us, 0, r, s.V.data, 0, k, out.data, 0, n);
  return out;
}

/** V_r·Σ_r⁻¹·U_rᵀ from an existing SVD (see `pinv` for the options). */
export function pinvFromSvd(s: Svd, opts: { rank?: number; rcond?: number } = {}): Matrix {
  const k = s.S.length;
  const m = s.U.rows, n = s.V.rows;
  const rank = opts.rank ?? k;
  const rcond = opts.rcond ?? defaultRcond(m, n);
  if (!Number.isInteger(rank) || rank < 0 || rank > k) throw new FactlabError(`pinvFromSvd: rank ${rank} must be an integer in [0, ${k}] (U ${shapeOf(s.U)}, V ${shapeOf(s.V)})`);
  if (!(rcond >= 0)) throw new FactlabError(`pinvFromSvd: rcond must be ≥ 0, got ${rcond} (U ${shapeOf(s.U)}, V ${shapeOf(s.V)})`);
  const cutoff = rcond * (k > 0 ? s.S[0]! : 0);
  let r = 0;
  while (r < rank && s.S[r]! > cutoff && s.S[r]! > 0) r++;
  const vs = scaledColumns(s.V, s.S, r, (x) => 1 / x);
  const out = matrix(n, m);
  gemmNT(n, m, r, 1, vs, 0, r, s.U.data, 0, k, out.data, 0, m);
  return out;
}

export function defaultRcond(m: number, n: number): number {
  return Math.max(m, n) * Number.EPSILON;
}

function decompose(fn: string, w: Matrix, r: number, opts: DecompositionOptions): Svd {
  const method = opts.method ?? 'exact';
  if (method === 'exact') return svd(w);
  if (method === 'randomized') return truncatedSvd(w, r, opts);
  throw new FactlabError(`${fn}: method must be 'exact' or 'randomized', got '${String(method)}' (matrix ${shapeOf(w)})`);
}

/** The first r columns of a (rows×k), column j multiplied by f(S[j]), packed as rows×r. */
function scaledColumns(a: Matrix, S: Float64Array, r: number, f: (x: number) => number): Float64Array {
  const k = a.cols;
  const out = new Float64Array(a.rows * r);
  const scale = Array.from(S.subarray(0, r), f);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < r; j++) out[i * r + j] = a.data[i * k + j]! * scale[j]!;
  }
  return out;
}
