import type { Backend } from '../backends/backend.js';
import { tensor } from '../creation.js';
import { FactlabError } from '../errors.js';
import { fmt } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { solveSpd as solveSpd64, type CholeskyOptions } from './cholesky.js';
import { matrix, type Matrix } from './dense.js';
import { lowRank as lowRank64, pinv as pinv64, type DecompositionOptions, type PinvOptions } from './pinv.js';
import { svd as svd64 } from './svd.js';

/*
 * Tensor front ends of the float64 routines. Inputs are read with the asynchronous `data()`, so tensors on any
 * backend work; the arithmetic runs on the CPU in float64 and results are float32 tensors on the backend of the
 * first input, ready for the ops that use them.
 */

/** u with (C + ridge·I)·u = k, for C [n,n] symmetric positive definite and k [n] or [n,r]; u has k's shape. */
export async function solveSpd(c: Tensor, k: Tensor, opts: CholeskyOptions = {}): Promise<Tensor> {
  const fn = 'solveSpd';
  check(fn, [c, k]);
  if (c.rank !== 2 || c.shape[0] !== c.shape[1]) throw new FactlabError(`${fn}: C must be a square matrix, got ${c.describe()} (k ${k.describe()})`);
  const n = c.shape[0]!;
  if ((k.rank !== 1 && k.rank !== 2) || k.shape[0] !== n) throw new FactlabError(`${fn}: k must be [${n}] or [${n},r] to match C ${c.describe()}, got ${k.describe()}`);
  const cm = await toMatrix(c);
  const kd = Float64Array.from(await k.data());
  const u = k.rank === 1 ? solveSpd64(cm, kd, opts) : solveSpd64(cm, matrix(n, k.shape[1]!, kd), opts).data;
  return toTensor(fn, u, k.shape, c.backend);
}

/** W [m,n] = U·diag(S)·Vᵀ with U [m,k], S [k] descending, V [n,k], k = min(m, n) (see linalg `svd`). */
export async function svd(w: Tensor): Promise<{ U: Tensor; S: Tensor; V: Tensor }> {
  const fn = 'svd';
  check(fn, [w]);
  checkMatrix(fn, w);
  const s = svd64(await toMatrix(w));
  const k = s.S.length;
  return {
    U: toTensor(fn, s.U.data, [s.U.rows, k], w.backend),
    S: toTensor(fn, s.S, [k], w.backend),
    V: toTensor(fn, s.V.data, [s.V.rows, k], w.backend),
  };
}

/** The best rank-r approximation U_r·Σ_r·V_rᵀ of W [m,n]. */
export async function lowRank(w: Tensor, r: number, opts: DecompositionOptions = {}): Promise<Tensor> {
  const fn = 'lowRank';
  check(fn, [w]);
  checkMatrix(fn, w);
  const out = lowRank64(await toMatrix(w), r, opts);
  return toTensor(fn, out.data, [out.rows, out.cols], w.backend);
}

/**
 * The pseudo-inverse [n,m] of W [m,n], over at most `rank` singular values and those above rcond·σ₁. rcond
 * defaults to max(m, n)·ε of float32 (as torch.linalg.pinv does for float32), because the values came from
 * float32: smaller singular values are rounding noise of the input, not of the arithmetic.
 */
export async function pinv(w: Tensor, opts: PinvOptions = {}): Promise<Tensor> {
  const fn = 'pinv';
  check(fn, [w]);
  checkMatrix(fn, w);
  const [m, n] = w.shape as [number, number];
  const out = pinv64(await toMatrix(w), { ...opts, rcond: opts.rcond ?? Math.max(m, n) * 2 ** -23 });
  return toTensor(fn, out.data, [out.rows, out.cols], w.backend);
}

function check(fn: string, ts: Tensor[]): void {
  for (const t of ts) {
    t.assertAlive(fn);
    if (t.dtype !== 'float32') {
      throw new FactlabError(`${fn}: expects float32 tensors, got ${ts.map((x) => x.describe()).join(', ')} (cast 16-bit tensors first)`);
    }
  }
}

function checkMatrix(fn: string, w: Tensor): void {
  if (w.rank !== 2) throw new FactlabError(`${fn}: W must be a matrix [m,n], got ${w.describe()}`);
}

async function toMatrix(t: Tensor): Promise<Matrix> {
  return matrix(t.shape[0]!, t.shape[1]!, Float64Array.from(await t.data()));
}

function toTensor(fn: string, data: Float64Array, shape: readonly number[], backend: Backend): Tensor {
  const f = Float32Array.from(data);
  for (let i = 0; i < f.length; i++) {
    if (!Number.isFinite(f[i]!)) throw new FactlabError(`${fn}: result ${fmt(shape)} has element ${i} = ${data[i]}, which float32 cannot hold`);
  }
  return tensor(f, shape, { backend });
}
