/**
 * Linear algebra for ROME (covariance solves) and LRE (low-rank approximation and inverse), computed on the CPU in
 * float64. The tensor functions are the API for model code; `f64` holds the same routines on float64 matrices,
 * for callers that chain several steps (e.g. W_r and pinv_r(W) from one SVD) without float32 round trips.
 */
export { solveSpd, svd, lowRank, pinv } from './tensor-api.js';
export type { CholeskyOptions } from './cholesky.js';
export type { Matrix } from './dense.js';
export type { DecompositionOptions, PinvOptions } from './pinv.js';
export type { Svd, TruncatedSvdOptions } from './svd.js';
export * as f64 from './float64.js';
