/** The float64 routines on row-major `Matrix` values, gathered so that `index.ts` can export them as one namespace. */
export { matrix, identity, transpose, matmul, matmulNT, shapeOf, type Matrix } from './dense.js';
export { cholesky, choleskySolve, solveSpd, type CholeskyOptions } from './cholesky.js';
export { svd, truncatedSvd, truncate, type Svd, type TruncatedSvdOptions } from './svd.js';
export { lowRank, pinv, lowRankFromSvd, pinvFromSvd, defaultRcond, type DecompositionOptions, type PinvOptions } from './pinv.js';
export { orthonormalizeRows } from './orthonormalize.js';
