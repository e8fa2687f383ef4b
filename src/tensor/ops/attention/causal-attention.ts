import { defineOp, runOp } from '../../op.js';
import { opError } from '../../errors.js';
import { fmt } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { cpuF32 } from '../../backends/cpu/cpu-backend.js';

/**
 * Scaled dot-product attention with a causal mask, as one fused op that also returns the attention pattern
 * (a hook site, and what attention knockout edits through `blockMask`).
 *
 * Query i may attend key j when j ≤ i + offset, keyMask[b, j] ≠ 0 and blockMask[b, h, i, j] ≠ 0; every other score
 * is −∞ before the softmax. A row whose keys are all masked (a left-padding query with keyMask, or a query whose
 * every key is knocked out) has no distribution to normalise: its probabilities and its output are defined as
 * zeros rather than the 0/0 = NaN a plain softmax would give, and it passes no gradient.
 */

interface AttnAttrs { scale: number; offset: number; hasKeyMask: boolean; hasBlockMask: boolean }

interface Dims { B: number; H: number; T: number; S: number; dk: number; dv: number }

function check(inputs: readonly Tensor[], { scale, offset, hasKeyMask, hasBlockMask }: AttnAttrs): Dims {
  const op = 'causalAttention';
  const [q, k, v] = inputs as [Tensor, Tensor, Tensor];
  if (inputs.some((t) => t.dtype !== 'float32')) throw opError(op, 'q, k, v and the masks must all be float32', inputs);
  for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) {
    if (t.rank !== 4) throw opError(op, `${name} must be [B, H, ${name === 'q' ? 'T' : 'S'}, dh], got ${fmt(t.shape)}`, inputs);
  }
  const [B, H, T, dk] = q.shape as [number, number, number, number];
  const S = k.shape[2]!, dv = v.shape[3]!;
  if (k.shape[0] !== B || k.shape[1] !== H || k.shape[3] !== dk) throw opError(op, `k ${fmt(k.shape)} must be [B, H, S, dh] with B, H, dh of q ${fmt(q.shape)}`, inputs);
  if (v.shape[0] !== B || v.shape[1] !== H || v.shape[2] !== S) throw opError(op, `v ${fmt(v.shape)} must be [B, H, S, dv] with B, H, S of k ${fmt(k.shape)}`, inputs);
  if (!Number.isFinite(scale)) throw opError(op, `scale must be a finite number, got ${scale}`, inputs);
  if (!Number.isInteger(offset)) throw opError(op, `offset must be an integer, got ${offset}`, inputs);
  if (inputs.length !== 3 + Number(hasKeyMask) + Number(hasBlockMask)) throw opError(op, 'internal: mask inputs do not match the mask flags', inputs);
  if (hasKeyMask) {
    const m = inputs[3]!;
    if (m.rank !== 2 || m.shape[0] !== B || m.shape[1] !== S) throw opError(op, `keyMask must be [B, S] = ${fmt([B, S])}, got ${fmt(m.shape)}`, inputs);
  }
  if (hasBlockMask) {
    const m = inputs[3 + Number(hasKeyMask)]!;
    const ok = m.rank === 4 && (m.shape[0] === B || m.shape[0] === 1) && (m.shape[1] === H || m.shape[1] === 1) && m.shape[2] === T && m.shape[3] === S;
    if (!ok) throw opError(op, `blockMask must be [B or 1, H or 1, T, S] with B = ${B}, H = ${H}, T = ${T}, S = ${S}, got ${fmt(m.shape)}`, inputs);
  }
  return { B, H, T, S, dk, dv };
}

const causalAttentionOp = defineOp<AttnAttrs>({
  name: 'causalAttention',
  infer(inputs, attrs) {
    const { B, H, T, S, dv } = check(inputs, attrs);
    return [{ shape: [B, H, T, dv], dtype: 'float32' }, { shape: [B, H, T, S], dtype: 'float32' }];
  },
  kernels: {
    cpu({ inputs, outputs, attrs }) {
      const { B, H, T, S, dk, dv } = check(inputs, attrs);
      const q = cpuF32(inputs[0]!), k = cpuF32(inputs[1]!), v = cpuF32(inputs[2]!);
      const km = attrs.hasKeyMask ? cpuF32(inputs[3]!) : null;
      const bmT = attrs.hasBlockMask ? inputs[3 + Number(attrs.hasKeyMask)]! : null;
      const bm = bmT ? cpuF32(bmT) : null;
      const bmB = bmT && bmT.shape[0] !== 1 ? 1 : 0, bmH = bmT && bmT.shape[1] !== 1 ? 1 : 0;
      const out = cpuF32(outputs[0]!), probs = cpuF32(outputs[1]!);
      const { scale, offset } = attrs;
      const score = new Float64Array(S);
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          const bh = b * H + h;
          const bmRow = ((bmB * b) * (bmH ? H : 1) + bmH * h) * T;
          for (let i = 0; i < T; i++) {
            const qi = (bh * T + i) * dk, pi = (bh * T + i) * S, oi = (bh * T + i) * dv;
            let max = -Infinity;
            for (let j = 0; j < S; j++) {
              const allowed = j <= i + offset && (!km || km[b * S + j] !== 0) && (!bm || bm[(bmRow + i) * S + j] !== 0);
              if (!allowed) { score[j] = -Infinity; continue; }
              const kj = (bh * S + j) * dk;
              let dot = 0;
              for (let e = 0; e < dk; e++) dot += q[qi + e]! * k[kj + e]!;
              score[j] = dot * scale;
              if (score[j]! > max) max = score[j]!;
            }
            out.fill(0, oi, oi + dv);
            if (max === -Infinity) { probs.fill(0, pi, pi + S); continue; }
            let sum = 0;
            for (let j = 0; j < S; j++) { const p = Math.exp(score[j]! - max); score[j] = p; sum += p; }
            for (let j = 0; j < S; j++) {
              const p = score[j]! / sum;
              probs[pi + j] = p;
              if (p === 0) continue;
              const vj = (bh * S + j) * dv;
              for (let e = 0; e < dv; e++) out[oi + e] += p * v[vj + e]!;
            }
          }
        }
      }
    },
  },
  backward([gOut, gProbs], { inputs, outputs, attrs }) {
    const extra = [gOut, gProbs].filter((g): g is Tensor => !!g);
    const [gq, gk, gv] = runOp(causalAttentionBackwardOp, [inputs[0]!, inputs[1]!, inputs[2]!, outputs[1]!, ...extra],
      { scale: attrs.scale, hasGOut: !!gOut, hasGProbs: !!gProbs });
    return [gq!, gk!, gv!, ...inputs.slice(3).map(() => null)];
  },
});

interface BackwardAttrs { scale: number; hasGOut: boolean; hasGProbs: boolean }

/**
 * Gradients of q, k, v from the saved probabilities P: with dP = gOut·vᵀ + gProbs, the softmax gives
 * dS = P ⊙ (dP − rowsum(P ⊙ dP)), then gq = scale·dS·k, gk = scale·dSᵀ·q, gv = Pᵀ·gOut. Masked entries have P = 0,
 * so they pass nothing, and fully masked rows need no special case.
 * Inputs: q, k, v, probs, then gOut if hasGOut, then gProbs if hasGProbs.
 */
const causalAttentionBackwardOp = defineOp<BackwardAttrs>({
  name: 'causalAttentionBackward',
  internal: true,
  infer(inputs, { hasGOut, hasGProbs }) {
    const [q, k, v, p] = inputs as [Tensor, Tensor, Tensor, Tensor];
    if (inputs.length !== 4 + Number(hasGOut) + Number(hasGProbs)) throw opError('causalAttentionBackward', 'inputs do not match hasGOut/hasGProbs', inputs);
    const want = [...(hasGOut ? [[...q.shape.slice(0, 3), v.shape[3]!]] : []), ...(hasGProbs ? [p.shape] : [])];
    want.forEach((shape, i) => {
      const g = inputs[4 + i]!;
      if (g.rank !== shape.length || g.shape.some((d, j) => d !== shape[j])) throw opError('causalAttentionBackward', `gradient ${fmt(g.shape)} should be ${fmt(shape)}`, inputs);
    });
    return [q, k, v].map((t) => ({ shape: [...t.shape], dtype: 'float32' as const }));
  },
  kernels: {
    cpu({ inputs, outputs, attrs: { scale, hasGOut, hasGProbs } }) {
      const [qT, kT, vT] = inputs as [Tensor, Tensor, Tensor];
      const [B, H, T, dk] = qT.shape as [number, number, number, number];
      const S = kT.shape[2]!, dv = vT.shape[3]!;
      const q = cpuF32(qT), k = cpuF32(kT), v = cpuF32(vT), P = cpuF32(inputs[3]!);
      const gOut = hasGOut ? cpuF32(inputs[4]!) : null;
      const gP = hasGProbs ? cpuF32(inputs[4 + Number(hasGOut)]!) : null;
      const gq = cpuF32(outputs[0]!), gk = cpuF32(outputs[1]!), gv = cpuF32(outputs[2]!);
      gq.fill(0); gk.fill(0); gv.fill(0);
      const dS = new Float64Array(S);
      for (let bh = 0; bh < B * H; bh++) {
        for (let i = 0; i < T; i++) {
          const qi = (bh * T + i) * dk, pi = (bh * T + i) * S, oi = (bh * T + i) * dv;
          let r = 0;
          for (let j = 0; j < S; j++) {
            const p = P[pi + j]!;
            if (p === 0) { dS[j] = 0; continue; }
            let dp = gP ? gP[pi + j]! : 0;
            if (gOut) {
              const vj = (bh * S + j) * dv;
              for (let e = 0; e < dv; e++) dp += gOut[oi + e]! * v[vj + e]!;
              for (let e = 0; e < dv; e++) gv[vj + e] += p * gOut[oi + e]!;
            }
            dS[j] = dp;
            r += p * dp;
          }
          for (let j = 0; j < S; j++) {
            const p = P[pi + j]!;
            if (p === 0) continue;
            const ds = p * (dS[j]! - r) * scale;
            const kj = (bh * S + j) * dk;
            for (let e = 0; e < dk; e++) {
              gq[qi + e] += ds * k[kj + e]!;
              gk[kj + e] += ds * q[qi + e]!;
            }
          }
        }
      }
    },
  },
});

export interface CausalAttentionOptions {
  /** Multiplies q·k before the softmax; default 1/√dh. */
  scale?: number;
  /** [B, S]: 1 = attend, 0 = masked (left padding). Any non-zero value attends. */
  keyMask?: Tensor;
  /** Query i sees keys j ≤ i + offset; default S − T, so that T = S is the usual causal mask (and a cache works). */
  offset?: number;
  /** [B or 1, H or 1, T, S]: 1 = allow, 0 = block (attention knockout). Any non-zero value allows. */
  blockMask?: Tensor;
}

/**
 * Causal attention of q [B,H,T,dh] over k [B,H,S,dh] and v [B,H,S,dv]. Returns [out [B,H,T,dv], probs [B,H,T,S]];
 * both are differentiable (gradients reach q, k and v; the masks get none). A query with no visible key gets
 * zero probabilities and a zero output.
 */
export function causalAttention(q: Tensor, k: Tensor, v: Tensor, opts: CausalAttentionOptions = {}): [Tensor, Tensor] {
  const dh = q.shape[q.rank - 1] ?? 0;
  const S = k.shape[2] ?? 0, T = q.shape[2] ?? 0;
  const masks = [opts.keyMask, opts.blockMask].filter((m): m is Tensor => !!m);
  const [out, probs] = runOp(causalAttentionOp, [q, k, v, ...masks], {
    scale: opts.scale ?? 1 / Math.sqrt(dh), offset: opts.offset ?? S - T,
    hasKeyMask: !!opts.keyMask, hasBlockMask: !!opts.blockMask,
  });
  return [out!, probs!];
}
