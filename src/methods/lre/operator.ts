import { f64 } from '../../tensor/linalg/index.js';
import type { Matrix, Svd } from '../../tensor/linalg/index.js';
import { FactlabError } from '../../tensor/errors.js';
import type { LreEstimate } from './estimate.js';

/**
 * An estimated LRE ready for use at any β and rank: W's SVD is computed once (truncated to the largest rank asked
 * for), so that sweeps over rank take W_r = U_r Σ_r V_rᵀ and pinv_r(W) = V_r Σ_r⁻¹ U_rᵀ without new decompositions.
 * The linear algebra is float64 on the CPU; h and z move as Float64Arrays.
 */
export class LreOperator {
  private readonly cache = new Map<string, Matrix>();

  private constructor(readonly estimate: LreEstimate, readonly W: Matrix, readonly b: Float64Array, private readonly decomposition: Svd, readonly maxRank: number) {}

  /** maxRank: the largest rank that will be asked for (default: full rank, an exact SVD). */
  static async from(estimate: LreEstimate, maxRank?: number): Promise<LreOperator> {
    const d = estimate.W.shape[0]!;
    const W = f64.matrix(d, d, await estimate.W.data());
    const b = Float64Array.from(await estimate.b.data());
    const r = Math.min(d, maxRank ?? d);
    const s = r >= d ? f64.svd(W) : f64.truncatedSvd(W, r, { seed: 0 });
    return new LreOperator(estimate, W, b, s, r);
  }

  private checkRank(rank: number | undefined): number | undefined {
    if (rank === undefined) return undefined;
    if (!Number.isInteger(rank) || rank < 0 || rank > this.maxRank) throw new FactlabError(`LRE: rank ${rank} is outside 0..${this.maxRank}`);
    return rank;
  }

  /** W, or its rank-r truncation. */
  weight(rank?: number): Matrix {
    const r = this.checkRank(rank);
    if (r === undefined) return this.W;
    const key = `w${r}`;
    if (!this.cache.has(key)) this.cache.set(key, f64.lowRankFromSvd(this.decomposition, r));
    return this.cache.get(key)!;
  }

  /** The pseudo-inverse of W_r (of W at full rank). */
  inverse(rank?: number): Matrix {
    const r = this.checkRank(rank) ?? this.maxRank;
    const key = `p${r}`;
    if (!this.cache.has(key)) this.cache.set(key, f64.pinvFromSvd(this.decomposition, { rank: r }));
    return this.cache.get(key)!;
  }

  /** LRE(h) = β·W_r·h + b. */
  apply(h: ArrayLike<number>, beta: number, rank?: number): Float64Array {
    const Wr = this.weight(rank);
    return mv(Wr, h, beta, this.b);
  }
}

/** scale·M·x (+ add). */
export function mv(M: Matrix, x: ArrayLike<number>, scale = 1, addend?: ArrayLike<number>): Float64Array {
  if (x.length !== M.cols) throw new FactlabError(`LRE: vector of length ${x.length} for a matrix with ${M.cols} columns`);
  const out = new Float64Array(M.rows);
  for (let i = 0; i < M.rows; i++) {
    let s = 0;
    const row = i * M.cols;
    for (let j = 0; j < M.cols; j++) s += M.data[row + j]! * x[j]!;
    out[i] = scale * s + (addend ? addend[i]! : 0);
  }
  return out;
}
