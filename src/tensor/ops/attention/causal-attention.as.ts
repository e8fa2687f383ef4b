// Hot loops of causal attention (causal-attention.ts), compiled to WebAssembly SIMD by scripts/build-wasm.mjs.
// Pointers first, then sizes, then the range [start, end) of (batch·head) units a thread takes: every (b, h) pair
// is independent, and the backward's sums over queries (gk, gv) stay inside one pair, so threads never share an
// output element. Head dims are taken four at a time (f32x4); the softmax over keys is scalar, as it is S
// exponentials per query against S·dh multiply-adds.

// @ts-ignore: decorator
@inline function at(base: usize, index: i32): usize {
  return base + (<usize>index << 2);
}

/** Σ a[e]·b[e] over n floats. */
// @ts-ignore: decorator
@inline function dot(a: usize, b: usize, n: i32): f32 {
  const n4 = n & ~3;
  let acc = f32x4.splat(0);
  for (let e = 0; e < n4; e += 4) acc = f32x4.add(acc, f32x4.mul(v128.load(at(a, e)), v128.load(at(b, e))));
  let s = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  for (let e = n4; e < n; e++) s += load<f32>(at(a, e)) * load<f32>(at(b, e));
  return s;
}

/** y[e] += alpha·x[e] over n floats. */
// @ts-ignore: decorator
@inline function axpy(y: usize, alpha: f32, x: usize, n: i32): void {
  const n4 = n & ~3;
  const a4 = f32x4.splat(alpha);
  for (let e = 0; e < n4; e += 4) v128.store(at(y, e), f32x4.add(v128.load(at(y, e)), f32x4.mul(a4, v128.load(at(x, e)))));
  for (let e = n4; e < n; e++) store<f32>(at(y, e), load<f32>(at(y, e)) + alpha * load<f32>(at(x, e)));
}

/**
 * out [B,H,T,dv] and probs [B,H,T,S] for units [start, end) of B·H. keyMask [B,S] and blockMask [B|1, H|1, T, S]
 * are read only when hasKeyMask / hasBlockMask; bmPerBatch / bmPerHead say whether blockMask has those dims.
 * Scores are kept in the probs row until the softmax turns them into probabilities.
 */
export function causalAttentionForward(
  q: usize, k: usize, v: usize, keyMask: usize, blockMask: usize, out: usize, probs: usize,
  H: i32, T: i32, S: i32, dk: i32, dv: i32, scale: f32, offset: i32,
  hasKeyMask: i32, hasBlockMask: i32, bmPerBatch: i32, bmPerHead: i32, start: i32, end: i32,
): void {
  for (let bh = start; bh < end; bh++) {
    const b = bh / H, h = bh % H;
    const bmRow = ((bmPerBatch ? b : 0) * (bmPerHead ? H : 1) + (bmPerHead ? h : 0)) * T;
    for (let i = 0; i < T; i++) {
      const row = bh * T + i;
      const qi = at(q, row * dk), pr = at(probs, row * S), oi = at(out, row * dv);
      let max: f32 = -Infinity;
      for (let j = 0; j < S; j++) {
        const visible = j <= i + offset
          && (!hasKeyMask || load<f32>(at(keyMask, b * S + j)) != 0)
          && (!hasBlockMask || load<f32>(at(blockMask, (bmRow + i) * S + j)) != 0);
        const s: f32 = visible ? dot(qi, at(k, (bh * S + j) * dk), dk) * scale : -Infinity;
        store<f32>(at(pr, j), s);
        if (s > max) max = s;
      }
      memory.fill(oi, 0, <usize>dv << 2);
      // No visible key: zeros, not the NaN of 0/0 (see causal-attention.ts).
      if (max == -Infinity) { memory.fill(pr, 0, <usize>S << 2); continue; }
      let sum: f32 = 0;
      for (let j = 0; j < S; j++) {
        const p = Mathf.exp(load<f32>(at(pr, j)) - max);
        store<f32>(at(pr, j), p);
        sum += p;
      }
      const inv: f32 = 1 / sum;
      for (let j = 0; j < S; j++) {
        const p = load<f32>(at(pr, j)) * inv;
        store<f32>(at(pr, j), p);
        if (p != 0) axpy(oi, p, at(v, (bh * S + j) * dv), dv);
      }
    }
  }
}

/**
 * gq, gk, gv for units [start, end) of B·H from the saved probabilities and the adjoints gOut / gProbs (read only
 * when hasGOut / hasGProbs). `work` is scratch for S floats (dP of one query row).
 */
export function causalAttentionBackward(
  q: usize, k: usize, v: usize, probs: usize, gOut: usize, gProbs: usize, gq: usize, gk: usize, gv: usize, work: usize,
  H: i32, T: i32, S: i32, dk: i32, dv: i32, scale: f32, hasGOut: i32, hasGProbs: i32, start: i32, end: i32,
): void {
  for (let bh = start; bh < end; bh++) {
    memory.fill(at(gq, bh * T * dk), 0, <usize>(T * dk) << 2);
    memory.fill(at(gk, bh * S * dk), 0, <usize>(S * dk) << 2);
    memory.fill(at(gv, bh * S * dv), 0, <usize>(S * dv) << 2);
    for (let i = 0; i < T; i++) {
      const row = bh * T + i;
      const pr = at(probs, row * S), go = at(gOut, row * dv);
      let r: f32 = 0;
      for (let j = 0; j < S; j++) {
        const p = load<f32>(at(pr, j));
        if (p == 0) { store<f32>(at(work, j), 0); continue; }
        let dp: f32 = hasGProbs ? load<f32>(at(gProbs, row * S + j)) : 0;
        if (hasGOut) {
          const vj = (bh * S + j) * dv;
          dp += dot(go, at(v, vj), dv);
          axpy(at(gv, vj), p, go, dv);
        }
        store<f32>(at(work, j), dp);
        r += p * dp;
      }
      const qi = at(q, row * dk), gqi = at(gq, row * dk);
      for (let j = 0; j < S; j++) {
        const p = load<f32>(at(pr, j));
        if (p == 0) continue;
        const ds = p * (load<f32>(at(work, j)) - r) * scale;
        const kj = (bh * S + j) * dk;
        axpy(gqi, ds, at(k, kj), dk);
        axpy(at(gk, kj), ds, qi, dk);
      }
    }
  }
}
