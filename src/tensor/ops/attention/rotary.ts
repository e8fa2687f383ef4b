import { defineOp, runOp, type OpDef } from '../../op.js';
import { opError } from '../../errors.js';
import { fmt } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { cpuF32, cpuI32 } from '../../backends/cpu/cpu-backend.js';
import { rotaryGpu } from './rotary.wgsl.js';

/**
 * Rotary position embedding in GPT-NeoX's "rotate half" convention (paper-method §2): the first r = rotaryDims
 * dims of each head are split into halves a = x[0:r/2], b = x[r/2:r] (not interleaved pairs), and with
 * θ_i = pos·base^(−2i/r):  out_a = a·cos θ − b·sin θ,  out_b = b·cos θ + a·sin θ;  dims r.. pass through.
 * The angle tables are rounded through float32 at the same steps as Hugging Face's GPTNeoXRotaryEmbedding
 * (inv_freq, pos·inv_freq, cos/sin), so that long positions give the checkpoint's own angles, not more exact ones.
 * The op is a rotation, so its gradient is the same op with the angle negated (`transpose`).
 */

interface RotaryAttrs { rotaryDims: number; base: number; transpose: boolean }

function check(op: string, inputs: readonly Tensor[], { rotaryDims, base }: RotaryAttrs): void {
  const [x, pos] = inputs as [Tensor, Tensor];
  if (x.dtype !== 'float32') throw opError(op, 'x must be float32', inputs);
  if (pos.dtype !== 'int32') throw opError(op, 'positions must be int32', inputs);
  if (x.rank !== 4) throw opError(op, `x must be [B, H, T, dh], got ${fmt(x.shape)}`, inputs);
  const [B, , T, dh] = x.shape as [number, number, number, number];
  const okPos = (pos.rank === 1 && pos.shape[0] === T) || (pos.rank === 2 && (pos.shape[0] === B || pos.shape[0] === 1) && pos.shape[1] === T);
  if (!okPos) throw opError(op, `positions must be [T] or [B, T] with B = ${B}, T = ${T} (from x), got ${fmt(pos.shape)}`, inputs);
  if (!Number.isInteger(rotaryDims) || rotaryDims <= 0 || rotaryDims % 2 !== 0) throw opError(op, `rotaryDims must be a positive even integer, got ${rotaryDims}`, inputs);
  if (rotaryDims > dh) throw opError(op, `rotaryDims ${rotaryDims} exceeds the head size dh = ${dh}`, inputs);
  if (!(base > 0) || !Number.isFinite(base)) throw opError(op, `base must be a positive number, got ${base}`, inputs);
}

/** inv_freq_i = 1/base^(2i/r), rounded through float32 at Hugging Face's steps. */
function inverseFrequencies(r: number, base: number): Float32Array {
  const half = r / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = 1 / Math.fround(base ** Math.fround((2 * i) / r));
  return invFreq;
}

/** cos and sin tables [rows, T, r/2], one row per distinct positions row, rounded through float32 as HF does. */
function angleTables(pos: Int32Array, rows: number, T: number, r: number, base: number): [Float32Array, Float32Array] {
  const half = r / 2;
  const invFreq = inverseFrequencies(r, base);
  const cos = new Float32Array(rows * T * half), sin = new Float32Array(rows * T * half);
  for (let p = 0; p < rows * T; p++) {
    for (let i = 0; i < half; i++) {
      const theta = Math.fround(pos[p]! * invFreq[i]!);
      cos[p * half + i] = Math.cos(theta);
      sin[p * half + i] = Math.sin(theta);
    }
  }
  return [cos, sin];
}

const rotaryOp: OpDef<RotaryAttrs> = defineOp<RotaryAttrs>({
  name: 'rotary',
  infer(inputs, attrs) {
    check('rotary', inputs, attrs);
    return [{ shape: [...inputs[0]!.shape], dtype: 'float32' }];
  },
  kernels: {
    cpu({ inputs: [xT, posT], outputs: [oT], attrs: { rotaryDims: r, base, transpose } }) {
      const [B, H, T, dh] = xT!.shape as [number, number, number, number];
      const x = cpuF32(xT!), o = cpuF32(oT!), pos = cpuI32(posT!);
      const perBatch = posT!.rank === 2 && posT!.shape[0] === B && B > 1;
      const rows = perBatch ? B : 1;
      const [cos, sin] = angleTables(pos, rows, T, r, base);
      const half = r / 2, sign = transpose ? -1 : 1;
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          for (let t = 0; t < T; t++) {
            const xi = ((b * H + h) * T + t) * dh, ti = ((perBatch ? b : 0) * T + t) * half;
            for (let i = 0; i < half; i++) {
              const c = cos[ti + i]!, s = sign * sin[ti + i]!;
              const a = x[xi + i]!, bb = x[xi + half + i]!;
              o[xi + i] = a * c - bb * s;
              o[xi + half + i] = bb * c + a * s;
            }
            for (let i = r; i < dh; i++) o[xi + i] = x[xi + i]!;
          }
        }
      }
    },
    webgpu({ inputs: [x, pos], outputs: [o], attrs: { rotaryDims: r, base, transpose } }) {
      rotaryGpu(x!, pos!, o!, Array.from(inverseFrequencies(r, base)), r, transpose);
    },
  },
  backward([g], { inputs: [, pos], attrs }) {
    return [runOp(rotaryOp, [g!, pos!], { ...attrs, transpose: !attrs.transpose })[0]!, null];
  },
});

export interface RotaryOptions {
  /** Dims of each head that are rotated, from the first (even, ≤ dh); Pythia: 0.25·dh = 20 of 80. */
  rotaryDims: number;
  /** Frequency base (GPT-NeoX's rotary_emb_base, 10000). */
  base: number;
}

/**
 * Applies GPT-NeoX rotary embedding to x [B, H, T, dh] at integer positions [T] or [B, T] (per batch row, for
 * instance to start each left-padded row at 0). Differentiable in x.
 */
export function rotary(x: Tensor, positions: Tensor, opts: RotaryOptions): Tensor {
  return runOp(rotaryOp, [x, positions], { rotaryDims: opts.rotaryDims, base: opts.base, transpose: false })[0]!;
}
