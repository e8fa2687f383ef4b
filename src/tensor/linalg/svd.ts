import { FactlabError } from '../errors.js';
import { Rng } from '../random.js';
import { assertFinite, gemmNT, matrix, shapeOf, transpose, type Matrix } from './dense.js';
import { orthonormalizeRows } from './orthonormalize.js';

/** W = U·diag(S)·Vᵀ with U m×k and V n×k orthonormal columns, k = min(m, n), S descending and ≥ 0. */
export interface Svd {
  U: Matrix;
  S: Float64Array;
  V: Matrix;
}

/**
 * Left singular vectors whose singular value is below σ₁/REORTH_KAPPA are re-orthogonalised. U is computed as
 * W·V·Σ⁻¹, which puts an error of about ε·σ₁/σᵢ (times a modest factor of the size) into uᵢ: up to this ratio that
 * stays near 1e-14, and re-orthogonalising only the rest keeps the cost small for well-conditioned W.
 */
const REORTH_KAPPA = 32;
const MAX_SWEEPS = 75;

/**
 * The thin singular value decomposition. Singular values are sorted descending; each pair (uᵢ, vᵢ) is signed so
 * that the entry of uᵢ with the largest magnitude is positive, which makes the result deterministic.
 *
 * Golub–Kahan Householder bidiagonalisation, then implicit-shift QR on the bidiagonal (Golub–Reinsch) with the
 * right rotations accumulated into V; this is backward stable, so singular values are accurate to about ε·σ₁
 * (forming WᵀW would square that error). Left rotations are not accumulated: U = W·V·Σ⁻¹ by one GEMM costs less
 * than rotating an m×k matrix, and its columns for small σ are then re-orthogonalised. Columns for singular
 * values below max(m, n)·ε·σ₁ (numerically zero) are completed to an orthonormal basis.
 */
export function svd(w: Matrix): Svd {
  assertFinite('svd', 'matrix', w);
  const { rows: m, cols: n } = w;
  if (m === 0 || n === 0) return { U: matrix(m, 0), S: new Float64Array(0), V: matrix(n, 0) };
  // Work on the tall orientation: the bidiagonal then has min(m, n) columns.
  const tall = m >= n ? svdTall(w) : swap(svdTall(transpose(w)));
  fixSigns(tall);
  return tall;
}

export interface TruncatedSvdOptions {
  /**
   * Extra random directions beyond r. Default max(10, r): with a slowly decaying spectrum (σ₁₁₀/σ₁₀₀ ≈ 0.86)
   * 10 extra left W_100 wrong by 3e-2 relative, r extra by 5e-8, for under 30% more time.
   */
  oversample?: number;
  /** Power (subspace) iterations; each sharpens the separation between σ_r and the tail. Default 4. */
  powerIterations?: number;
  /** Seed of the random test matrix, so that results are reproducible. Default 0. */
  seed?: number;
}

/**
 * The top-r singular triplets by randomised subspace iteration (Halko, Martinsson & Tropp 2011, algorithm 4.4):
 * O(m·n·(r + oversample)·(2·powerIterations + 2)) flops instead of O(m·n·min(m, n)), so for r ≪ min(m, n) it is
 * much faster than `svd`. The result is an approximation whose accuracy depends on the spectral decay past σ_r;
 * when r + oversample reaches min(m, n) the exact `svd` is used and truncated instead.
 */
export function truncatedSvd(w: Matrix, r: number, opts: TruncatedSvdOptions = {}): Svd {
  const { rows: m, cols: n } = w;
  const k = Math.min(m, n);
  if (!Number.isInteger(r) || r < 0 || r > k) throw new FactlabError(`truncatedSvd: rank ${r} must be an integer in [0, ${k}] for matrix ${shapeOf(w)}`);
  const p = opts.oversample ?? Math.max(10, r), q = opts.powerIterations ?? 4;
  if (!Number.isInteger(p) || p < 0) throw new FactlabError(`truncatedSvd: oversample must be a non-negative integer, got ${p} (matrix ${shapeOf(w)})`);
  if (!Number.isInteger(q) || q < 0) throw new FactlabError(`truncatedSvd: powerIterations must be a non-negative integer, got ${q} (matrix ${shapeOf(w)})`);
  assertFinite('truncatedSvd', 'matrix', w);
  if (r === 0) return { U: matrix(m, 0), S: new Float64Array(0), V: matrix(n, 0) };
  const l = r + p;
  if (l >= k) return truncate(svd(w), r);

  const rng = new Rng(opts.seed ?? 0);
  const omega = new Float64Array(l * n);
  for (let i = 0; i < omega.length; i++) omega[i] = rng.normal();
  const wt = transpose(w);
  // Bases are kept as rows (Qᵀ, l×m) so that every product is a row-by-row GEMM.
  let qT = new Float64Array(l * m);
  gemmNT(l, m, n, 1, omega, 0, n, w.data, 0, n, qT, 0, m); // Qᵀ = Ωᵀ·Wᵀ
  orthonormalizeRows(qT, l, m);
  for (let it = 0; it < q; it++) {
    const zT = new Float64Array(l * n);
    gemmNT(l, n, m, 1, qT, 0, m, wt.data, 0, m, zT, 0, n); // Zᵀ = Qᵀ·W
    orthonormalizeRows(zT, l, n);
    qT = new Float64Array(l * m);
    gemmNT(l, m, n, 1, zT, 0, n, w.data, 0, n, qT, 0, m); // Qᵀ = Zᵀ·Wᵀ
    orthonormalizeRows(qT, l, m);
  }
  const b = matrix(l, n);
  gemmNT(l, n, m, 1, qT, 0, m, wt.data, 0, m, b.data, 0, n); // B = Qᵀ·W, so W ≈ Q·B
  const small = svd(b);
  const u = matrix(m, l);
  gemmNT(m, l, l, 1, transpose({ rows: l, cols: m, data: qT }).data, 0, l, transpose(small.U).data, 0, l, u.data, 0, l);
  const out = truncate({ U: u, S: small.S, V: small.V }, r);
  fixSigns(out);
  return out;
}

/** The first r singular triplets of `s`. */
export function truncate(s: Svd, r: number): Svd {
  const k = s.S.length;
  if (!Number.isInteger(r) || r < 0 || r > k) throw new FactlabError(`truncate: rank ${r} must be an integer in [0, ${k}] (U ${shapeOf(s.U)}, V ${shapeOf(s.V)})`);
  const cut = (a: Matrix): Matrix => {
    const out = matrix(a.rows, r);
    for (let i = 0; i < a.rows; i++) out.data.set(a.data.subarray(i * a.cols, i * a.cols + r), i * r);
    return out;
  };
  return { U: cut(s.U), S: s.S.slice(0, r), V: cut(s.V) };
}

function swap(s: Svd): Svd {
  return { U: s.V, S: s.S, V: s.U };
}

function fixSigns(s: Svd): void {
  const { U, V, S } = s;
  const k = S.length;
  for (let j = 0; j < k; j++) {
    let best = 0;
    for (let i = 0; i < U.rows; i++) {
      const x = U.data[i * k + j]!;
      if (Math.abs(x) > Math.abs(best)) best = x;
    }
    if (best < 0) {
      for (let i = 0; i < U.rows; i++) U.data[i * k + j] = -U.data[i * k + j]!;
      for (let i = 0; i < V.rows; i++) V.data[i * k + j] = -V.data[i * k + j]!;
    }
  }
}

/** m ≥ n. */
function svdTall(w: Matrix): Svd {
  const { rows: m, cols: n } = w;
  const a = Float64Array.from(w.data);
  const d = new Float64Array(n); // diagonal of the bidiagonal
  const e = new Float64Array(n); // e[i] = B[i−1][i], the superdiagonal; e[0] = 0
  const tauR = new Float64Array(n);
  bidiagonalize(a, m, n, d, e, tauR);
  const vT = formVt(a, n, tauR);
  bidiagonalQr(d, e, vT, n, `svd: matrix ${shapeOf(w)}`);

  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[y]! - d[x]! || x - y);
  const S = new Float64Array(n);
  const vs = new Float64Array(n * n);
  order.forEach((src, dst) => { S[dst] = d[src]!; vs.set(vT.subarray(src * n, src * n + n), dst * n); });

  // Uᵀ = Vᵀ·Wᵀ·Σ⁻¹, row i being W·vᵢ/σᵢ.
  const uT = new Float64Array(n * m);
  gemmNT(n, m, n, 1, vs, 0, n, w.data, 0, n, uT, 0, m);
  const s1 = S[0]!;
  const zero = Math.max(m, n) * Number.EPSILON * s1;
  let start = n;
  for (let i = 0; i < n; i++) {
    const o = i * m;
    const nil = S[i]! <= zero || S[i] === 0;
    if (nil) uT.fill(0, o, o + m);
    else { const inv = 1 / S[i]!; for (let k = 0; k < m; k++) uT[o + k] *= inv; }
    if (start === n && (nil || S[i]! * REORTH_KAPPA < s1)) start = i;
  }
  orthonormalizeRows(uT, n, m, start);
  return {
    U: transpose({ rows: n, cols: m, data: uT }),
    S,
    V: transpose({ rows: n, cols: n, data: vs }),
  };
}

/**
 * Householder reflector H = I − τ·v·vᵀ with v = (1, x[1..]/(x₀ − β)) and H·x = β·e₁ (LAPACK's dlarfg), for the
 * `len` values x[off], x[off + stride], ...; it overwrites x[1..] with v[1..] and returns [β, τ, 1/(x₀ − β)]
 * (τ = 0 when x[1..] is already zero).
 */
function reflector(x: Float64Array, off: number, stride: number, len: number): [number, number, number] {
  const alpha = x[off]!;
  let scale = 0;
  for (let i = 1; i < len; i++) scale = Math.max(scale, Math.abs(x[off + i * stride]!));
  if (scale === 0) return [alpha, 0, 0];
  scale = Math.max(scale, Math.abs(alpha));
  // Scaling guards the sum of squares against overflow and underflow.
  let ss = 0;
  for (let i = 0; i < len; i++) { const t = x[off + i * stride]! / scale; ss += t * t; }
  const norm = scale * Math.sqrt(ss);
  const beta = alpha >= 0 ? -norm : norm;
  const tau = (beta - alpha) / beta;
  const inv = 1 / (alpha - beta);
  for (let i = 1; i < len; i++) x[off + i * stride] *= inv;
  return [beta, tau, inv];
}

/**
 * Reduces the m×n (m ≥ n) row-major `a` to upper bidiagonal form (d, e) by Householder reflections alternately from
 * the left (zeroing below the diagonal) and right (zeroing right of the superdiagonal). Left reflectors are not
 * kept (U is recomputed from V); right reflector p is left in row p, columns p+2.., with τ in tauR[p].
 *
 * Level-2 work bound by memory traffic at n = 2560 (the trailing matrix does not fit in cache), so each step makes
 * a single pass over it: row i gets the left reflector, then the right one, and meanwhile contributes to wᵀ = vᵀ·A
 * of the next step's left reflector, whose v is the next column up to a scale known only after the pass.
 */
function bidiagonalize(a: Float64Array, m: number, n: number, d: Float64Array, e: Float64Array, tauR: Float64Array): void {
  const wv = new Float64Array(n); // vᵀ·A of the current left reflector, columns p+1..
  const acc = new Float64Array(n); // Σ_{i>p+1} A[i][p+1]·A[i][·], gathered for the next step
  for (let p = 0; p < n; p++) {
    const c0 = p + 1, w = n - c0, up = p * n;
    const [betaL, tauL, inv] = reflector(a, up + p, n, m - p);
    d[p] = betaL;
    if (tauL !== 0 && w > 0) {
      if (p === 0) {
        for (let j = c0; j < n; j++) wv[j] = a[j]!;
        for (let i = 1; i < m; i++) {
          const vi = a[i * n]!, o = i * n;
          if (vi !== 0) for (let j = c0; j < n; j++) wv[j] += vi * a[o + j]!;
        }
      } else {
        for (let j = c0; j < n; j++) wv[j] = a[up + j]! + inv * acc[j]!;
      }
      for (let j = c0; j < n; j++) a[up + j] -= tauL * wv[j]!;
    }
    if (w === 0) break;
    let tr = 0;
    if (w > 1) {
      const [betaR, t] = reflector(a, up + c0, 1, w);
      e[c0] = betaR;
      tr = t;
    } else {
      e[c0] = a[up + c0]!;
    }
    tauR[p] = tr;
    acc.fill(0, c0 + 1, n);
    for (let i = p + 1; i < m; i++) {
      const o = i * n;
      const f = tauL !== 0 ? tauL * a[o + p]! : 0;
      // Left reflector, and the dot product with the right reflector's u = (1, a[up + c0 + 1..]).
      const x0 = a[o + c0]! - f * wv[c0]!;
      let s = x0;
      for (let j = c0 + 1; j < n; j++) {
        const t = a[o + j]! - f * wv[j]!;
        a[o + j] = t;
        s += t * a[up + j]!;
      }
      s *= tr;
      const x = x0 - s;
      a[o + c0] = x;
      if (i > c0) {
        for (let j = c0 + 1; j < n; j++) {
          const t = a[o + j]! - s * a[up + j]!;
          a[o + j] = t;
          acc[j] += x * t;
        }
      } else if (s !== 0) {
        for (let j = c0 + 1; j < n; j++) a[o + j] -= s * a[up + j]!;
      }
    }
  }
}

/** Reflectors per compact-WY block when forming V. */
const WY = 32;

/**
 * Vᵀ = (H₀·H₁·…)ᵀ from the right reflectors. Blocks of WY reflectors are applied at once as I − Y·T·Yᵀ (compact WY,
 * LAPACK's dlarft/dlarfb), so the 4n³/3 flops run in the GEMM kernel. Blocks go backwards, so each touches only
 * the trailing rows and columns that are no longer the identity.
 */
function formVt(a: Float64Array, n: number, tauR: Float64Array): Float64Array {
  const vT = new Float64Array(n * n);
  for (let i = 0; i < n; i++) vT[i * n + i] = 1;
  const last = n - 3; // reflectors exist for p = 0..n−3
  if (last < 0) return vT;
  const yT = new Float64Array(WY * n);
  const y = new Float64Array(n * WY);
  const T = new Float64Array(WY * WY);
  const P = new Float64Array(n * WY);
  const P2 = new Float64Array(n * WY);
  const tmp = new Float64Array(WY);
  for (let p1 = last + 1; p1 > 0; p1 -= WY) {
    const p0 = Math.max(0, p1 - WY), nb = p1 - p0;
    const c0 = p0 + 1, len = n - c0; // coordinates c0.. are the only ones the block touches
    // Yᵀ rows: reflector p0+t has 1 at coordinate p0+t+1 and a[(p0+t)·n + j] beyond it; stored relative to c0.
    yT.fill(0, 0, nb * len);
    for (let t = 0; t < nb; t++) {
      const p = p0 + t, o = t * len;
      yT[o + t] = 1;
      for (let j = p + 2; j < n; j++) yT[o + j - c0] = a[p * n + j]!;
    }
    for (let j = 0; j < len; j++) for (let t = 0; t < nb; t++) y[j * nb + t] = yT[t * len + j]!;
    // T upper triangular with H_{p0}···H_{p1−1} = I − Y·T·Yᵀ: T[:t, t] = −τ_t·T[:t, :t]·(Y[:, :t]ᵀ·y_t).
    T.fill(0, 0, nb * nb);
    for (let t = 0; t < nb; t++) {
      const tau = tauR[p0 + t]!;
      T[t * nb + t] = tau;
      if (tau === 0) continue;
      for (let s = 0; s < t; s++) {
        let dotv = 0;
        for (let j = t; j < len; j++) dotv += yT[s * len + j]! * yT[t * len + j]!;
        tmp[s] = dotv;
      }
      for (let s = 0; s < t; s++) {
        let v = 0;
        for (let q = s; q < t; q++) v += T[s * nb + q]! * tmp[q]!;
        T[s * nb + t] = -tau * v;
      }
    }
    // Rows c of Vᵀ (columns of V), c ≥ c0: x ← x − x·Y·Tᵀ·Yᵀ.
    const rows = n - c0;
    P.fill(0, 0, rows * nb);
    gemmNT(rows, nb, len, 1, vT, c0 * n + c0, n, yT, 0, len, P, 0, nb); // P = X·Y
    P2.fill(0, 0, rows * nb);
    gemmNT(rows, nb, nb, 1, P, 0, nb, T, 0, nb, P2, 0, nb); // P2 = P·Tᵀ
    gemmNT(rows, len, nb, -1, P2, 0, nb, y, 0, nb, vT, c0 * n + c0, n); // X −= P2·Yᵀ
  }
  return vT;
}

/**
 * Diagonalises the upper bidiagonal (d, e) by implicit-shift QR sweeps (the Golub–Reinsch iteration of
 * Numerical Recipes' svdcmp), applying each right rotation to two rows of Vᵀ (contiguous, unlike columns of V).
 * Leaves d ≥ 0, unsorted.
 */
function bidiagonalQr(d: Float64Array, e: Float64Array, vT: Float64Array, n: number, what: string): void {
  let anorm = 0;
  for (let i = 0; i < n; i++) anorm = Math.max(anorm, Math.abs(d[i]!) + Math.abs(e[i]!));
  const tol = Number.EPSILON * anorm;
  const cs = new Float64Array(n), sn = new Float64Array(n);
  for (let k = n - 1; k >= 0; k--) {
    for (let its = 0; ; its++) {
      // Find l such that e[l] is negligible (block l..k splits off), or d[l−1] is, which needs cancelling first.
      let l = k;
      let cancel = true;
      for (; l >= 0; l--) {
        if (l === 0 || Math.abs(e[l]!) <= tol) { cancel = false; break; }
        if (Math.abs(d[l - 1]!) <= tol) break;
      }
      if (cancel) {
        // d[l−1] ≈ 0: chase e[l] out of row l−1 by left rotations, which only U would see.
        let c = 0, s = 1;
        for (let i = l; i <= k; i++) {
          const f = s * e[i]!;
          e[i] = c * e[i]!;
          if (Math.abs(f) <= tol) break;
          const g = d[i]!;
          const h = Math.hypot(f, g);
          d[i] = h;
          c = g / h;
          s = -f / h;
        }
      }
      const z = d[k]!;
      if (l === k) {
        if (z < 0) {
          d[k] = -z;
          for (let j = k * n; j < k * n + n; j++) vT[j] = -vT[j]!;
        }
        break;
      }
      if (its >= MAX_SWEEPS) throw new FactlabError(`${what}: the bidiagonal QR iteration did not converge for singular value ${k} in ${MAX_SWEEPS} sweeps`);
      // Shift from the trailing 2×2 of BᵀB (Wilkinson), then one chasing sweep over l..k.
      let x = d[l]!;
      const nm = k - 1;
      let y = d[nm]!, g = e[nm]!, h = e[k]!;
      let f = ((y - z) * (y + z) + (g - h) * (g + h)) / (2 * h * y);
      g = Math.hypot(f, 1);
      f = ((x - z) * (x + z) + h * (y / (f + (f >= 0 ? g : -g)) - h)) / x;
      let c = 1, s = 1;
      for (let j = l; j <= nm; j++) {
        const i = j + 1;
        g = e[i]!;
        y = d[i]!;
        h = s * g;
        g = c * g;
        let zz = Math.hypot(f, h);
        e[j] = zz;
        c = f / zz;
        s = h / zz;
        f = x * c + g * s;
        g = g * c - x * s;
        h = y * s;
        y *= c;
        cs[j] = c;
        sn[j] = s;
        zz = Math.hypot(f, h);
        d[j] = zz;
        if (zz !== 0) { c = f / zz; s = h / zz; }
        f = c * g + s * y;
        x = c * y - s * g;
      }
      applyRotations(vT, n, l, nm, cs, sn);
      e[l] = 0;
      e[k] = f;
      d[k] = x;
    }
  }
}

/**
 * Applies the rotations j = l..last of one sweep, each mixing rows j and j+1 of `vT` (row j ← c·row j + s·row j+1,
 * row j+1 ← c·row j+1 − s·row j), four at a time: row j is final once rotation j is done, so four consecutive
 * rotations need 5 loads and 5 stores per column instead of 8 and 8.
 */
function applyRotations(vT: Float64Array, n: number, l: number, last: number, cs: Float64Array, sn: Float64Array): void {
  let j = l;
  for (; j + 3 <= last; j += 4) {
    const c0 = cs[j]!, s0 = sn[j]!, c1 = cs[j + 1]!, s1 = sn[j + 1]!, c2 = cs[j + 2]!, s2 = sn[j + 2]!, c3 = cs[j + 3]!, s3 = sn[j + 3]!;
    const o0 = j * n, o1 = o0 + n, o2 = o1 + n, o3 = o2 + n, o4 = o3 + n;
    for (let k = 0; k < n; k++) {
      let x = vT[o0 + k]!;
      let z = vT[o1 + k]!;
      vT[o0 + k] = x * c0 + z * s0;
      x = z * c0 - x * s0;
      z = vT[o2 + k]!;
      vT[o1 + k] = x * c1 + z * s1;
      x = z * c1 - x * s1;
      z = vT[o3 + k]!;
      vT[o2 + k] = x * c2 + z * s2;
      x = z * c2 - x * s2;
      z = vT[o4 + k]!;
      vT[o3 + k] = x * c3 + z * s3;
      vT[o4 + k] = z * c3 - x * s3;
    }
  }
  for (; j <= last; j++) {
    const c = cs[j]!, s = sn[j]!, oj = j * n, oi = oj + n;
    for (let k = 0; k < n; k++) {
      const x = vT[oj + k]!, z = vT[oi + k]!;
      vT[oj + k] = x * c + z * s;
      vT[oi + k] = z * c - x * s;
    }
  }
}
