import { defineOp, runOp } from '../../op.js';
import { opError } from '../../errors.js';
import { fmt } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { cpuF32 } from '../../backends/cpu/cpu-backend.js';
import { arenaBudgetBytes, callKernel, threadCount } from '../../backends/cpu/wasm.js';
import { causalAttentionBackwardGpu, causalAttentionGpu } from './causal-attention.wgsl.js';

/**
 * Scaled dot-product attention with a causal mask, as one fused op that also returns the attention pattern
 * (a hook site, and what attention knockout edits through `blockMask`).
 *
 * Query i may attend key j when j ≤ i + offset, keyMask[b, j] ≠ 0 and blockMask[b, h, i, j] ≠ 0; every other score
 * is −∞ before the softmax. A row whose keys are all masked (a left-padding query with keyMask, or a query whose
 * every key is knocked out) has no distribution to normalise: its probabilities and its output are defined as
 * zeros rather than the 0/0 = NaN a plain softmax would give, and it passes no gradient.
 */

// The loops are WebAssembly SIMD (causal-attention.as.ts). Operands are copied into the kernels' arena, which has a
// budget (wasm.ts), so the batch is cut into row chunks that fit it; a (b, h) pair is the unit split over threads,
// and a thread's share should be worth ~50 µs (≈ T·S·(dk+dv) multiply-adds per pair at a few GFLOP/s).
const EMPTY = new Float32Array(0);
const minUnitsPerThread = (T: number, S: number, dk: number, dv: number) => Math.ceil(2e5 / Math.max(1, T * S * (dk + dv)));
function rowsPerChunk(B: number, fixedBytes: number, rowBytes: number): number {
  return Math.max(1, Math.min(B, Math.floor((arenaBudgetBytes() - fixedBytes) / rowBytes)));
}

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
      const [q, k, v] = inputs.slice(0, 3).map(cpuF32) as [Float32Array, Float32Array, Float32Array];
      const km = attrs.hasKeyMask ? cpuF32(inputs[3]!) : EMPTY;
      const bmT = attrs.hasBlockMask ? inputs[3 + Number(attrs.hasKeyMask)]! : null;
      const bm = bmT ? cpuF32(bmT) : EMPTY;
      const bmPerBatch = !!bmT && bmT.shape[0] !== 1, bmPerHead = !!bmT && bmT.shape[1] !== 1;
      const bmRow = bmT ? (bmPerHead ? H : 1) * T * S : 0;
      const out = cpuF32(outputs[0]!), probs = cpuF32(outputs[1]!);
      const perRow = H * (T * dk + S * dk + S * dv + T * dv + T * S) + S + (bmPerBatch ? bmRow : 0);
      const rows = rowsPerChunk(B, bmPerBatch ? 0 : bmRow * 4, perRow * 4 + 7 * 64);
      for (let b0 = 0; b0 < B; b0 += rows) {
        const nb = Math.min(rows, B - b0), b1 = b0 + nb;
        callKernel('causalAttentionForward', {
          inputs: [q.subarray(b0 * H * T * dk, b1 * H * T * dk), k.subarray(b0 * H * S * dk, b1 * H * S * dk), v.subarray(b0 * H * S * dv, b1 * H * S * dv),
            attrs.hasKeyMask ? km.subarray(b0 * S, b1 * S) : EMPTY, bmPerBatch ? bm.subarray(b0 * bmRow, b1 * bmRow) : bm],
          outputs: [out.subarray(b0 * H * T * dv, b1 * H * T * dv), probs.subarray(b0 * H * T * S, b1 * H * T * S)],
          zeroOutputs: true,
          scalars: [H, T, S, dk, dv, attrs.scale, attrs.offset, Number(attrs.hasKeyMask), Number(attrs.hasBlockMask), Number(bmPerBatch), Number(bmPerHead)],
          split: { units: nb * H, minUnitsPerThread: minUnitsPerThread(T, S, dk, dv) },
        });
      }
    },
    webgpu({ inputs, outputs, attrs }) {
      check(inputs, attrs);
      causalAttentionGpu(inputs, outputs[0]!, outputs[1]!, attrs);
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
      const [q, k, v, P] = inputs.slice(0, 4).map(cpuF32) as [Float32Array, Float32Array, Float32Array, Float32Array];
      const gOut = hasGOut ? cpuF32(inputs[4]!) : null;
      const gP = hasGProbs ? cpuF32(inputs[4 + Number(hasGOut)]!) : null;
      const [gq, gk, gv] = outputs.map(cpuF32) as [Float32Array, Float32Array, Float32Array];
      const perRow = H * (2 * T * dk + 2 * S * dk + 2 * S * dv + T * S + (gOut ? T * dv : 0) + (gP ? T * S : 0));
      const rows = rowsPerChunk(B, threadCount() * (S * 4 + 64), perRow * 4 + 10 * 64);
      for (let b0 = 0; b0 < B; b0 += rows) {
        const nb = Math.min(rows, B - b0), b1 = b0 + nb;
        const qs = (a: Float32Array) => a.subarray(b0 * H * T * dk, b1 * H * T * dk);
        const ks = (a: Float32Array) => a.subarray(b0 * H * S * dk, b1 * H * S * dk);
        const vs = (a: Float32Array) => a.subarray(b0 * H * S * dv, b1 * H * S * dv);
        callKernel('causalAttentionBackward', {
          inputs: [qs(q), ks(k), vs(v), P.subarray(b0 * H * T * S, b1 * H * T * S),
            gOut ? gOut.subarray(b0 * H * T * dv, b1 * H * T * dv) : EMPTY, gP ? gP.subarray(b0 * H * T * S, b1 * H * T * S) : EMPTY],
          outputs: [qs(gq), ks(gk), vs(gv)],
          zeroOutputs: true,
          scratchBytes: S * 4,
          scalars: [H, T, S, dk, dv, scale, Number(hasGOut), Number(hasGProbs)],
          split: { units: nb * H, minUnitsPerThread: minUnitsPerThread(T, S, dk, dv) },
        });
      }
    },
    webgpu({ inputs, outputs, attrs: { scale, hasGOut, hasGProbs } }) {
      const [q, k, v, p] = inputs as [Tensor, Tensor, Tensor, Tensor];
      causalAttentionBackwardGpu(q, k, v, p, hasGOut ? inputs[4]! : null, hasGProbs ? inputs[4 + Number(hasGOut)]! : null, scale, outputs[0]!, outputs[1]!, outputs[2]!);
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
