import { defineOp, runOp } from '../../op.js';
import { opError } from '../../errors.js';
import { fmt } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { cpuF32, cpuI32 } from '../../backends/cpu/cpu-backend.js';
import { zeros } from '../../creation.js';
import { concat } from '../shape/concat.js';
import { slice } from '../shape/slice.js';
import { indexAdd, indexSelect } from '../shape/index-select.js';
import { checkPastRows, pastRowsFault } from './past-rows.js';
import { unaryGrad } from '../elementwise/unary.js';
import { sigmoid as sigmoid64 } from '../elementwise/unary-math.js';
import { causalConv1dBackwardGpu, causalConv1dGpu } from './causal-conv1d.wgsl.js';

/**
 * Mamba's depthwise causal convolution over time: out[b,t,c] = bias[c] + Σ_k w[c,k]·x[b, t-K+1+k, c], with x = 0
 * before t = 0 (PyTorch's Conv1d with padding K-1, groups = D, truncated to the first L outputs). The weight is
 * taken as [D, K]; checkpoints store it as [D, 1, K] and the model reshapes it.
 *
 * With `past` [R, k, D] (k ≤ K − 1) the positions before t = 0 are the past's k inputs, the last of them at
 * t = −1 (zeros before those): the conv of a run continued from an earlier one (`ForwardOptions.past`), read in
 * place where concatenating the past before x, convolving and slicing copied every activation twice. Row b of x
 * continues the past's row rows[b] (int32 [B]), or row b without `rows` (R = B then): tracing continues hundreds
 * of patched rows from a few runs without a copy of the past per row.
 *
 * With activation 'silu' the output is silu(conv): Mamba's activated x in one kernel, computed as the silu op
 * computes it, where nothing needs the conv's own output (no hook at `mixer.hook_conv`).
 */

interface ConvDims { B: number; L: number; D: number; K: number; kp: number }

/** Inputs: x, weight, bias, then the past and its rows if given. */
function checkInputs(op: string, inputs: readonly Tensor[]): ConvDims {
  const [x, w, bias, past, rows] = inputs as [Tensor, Tensor, Tensor, Tensor | undefined, Tensor | undefined];
  if ([x, w, bias, past].some((t) => t && t.dtype !== 'float32')) throw opError(op, `x, weight and bias${past ? ' and the past' : ''} must all be float32`, inputs);
  if (x.rank !== 3) throw opError(op, `x must be [B, L, D], got ${fmt(x.shape)}`, inputs);
  const [B, L, D] = x.shape as [number, number, number];
  if (w.rank !== 2 || w.shape[0] !== D) throw opError(op, `weight must be [D, K] with D = ${D} (x's channels), got ${fmt(w.shape)}`, inputs);
  const K = w.shape[1]!;
  if (K < 1) throw opError(op, `weight's kernel width K must be at least 1, got ${fmt(w.shape)}`, inputs);
  if (bias.rank !== 1 || bias.shape[0] !== D) throw opError(op, `bias must be [D] with D = ${D} (x's channels), got ${fmt(bias.shape)}`, inputs);
  if (past && (past.rank !== 3 || (!rows && past.shape[0] !== B) || past.shape[1]! > K - 1 || past.shape[2] !== D)) {
    throw opError(op, `the past must be [${rows ? 'R' : B}, k ≤ ${K - 1}, ${D}] (${rows ? 'any rows' : 'x\'s rows'}, up to K − 1 positions, x's channels), got ${fmt(past.shape)}`, inputs);
  }
  if (rows) checkPastRows(op, rows, B, past!.shape[0]!, inputs);
  return { B, L, D, K, kp: past?.shape[1] ?? 0 };
}

/** The weight transposed to [K, D], so that the innermost loops of both kernels run over contiguous channels. */
function taps(w: Float32Array, D: number, K: number): Float32Array {
  const wt = new Float32Array(K * D);
  for (let c = 0; c < D; c++) for (let k = 0; k < K; k++) wt[k * D + c] = w[c * K + k]!;
  return wt;
}

interface ConvAttrs { activation?: 'silu' }

/** Inputs: x, weight, bias, then the past and its rows if given. */
const causalConv1dOp = defineOp<ConvAttrs>({
  name: 'causalConv1d',
  infer(inputs) {
    const { B, L, D } = checkInputs('causalConv1d', inputs);
    return [{ shape: [B, L, D], dtype: 'float32' }];
  },
  kernels: {
    cpu({ inputs, outputs, attrs }) {
      const { B, L, D, K, kp } = checkInputs('causalConv1d', inputs);
      const x = cpuF32(inputs[0]!), wt = taps(cpuF32(inputs[1]!), D, K), bias = cpuF32(inputs[2]!), o = cpuF32(outputs[0]!);
      const past = inputs[3] ? cpuF32(inputs[3]) : null, rows = inputs[4] ? cpuI32(inputs[4]) : null;
      for (let b = 0; b < B; b++) {
        const pb = rows ? rows[b]! : b;
        for (let t = 0; t < L; t++) {
          const oi = (b * L + t) * D;
          o.set(bias, oi);
          for (let k = Math.max(0, K - 1 - t - kp); k < K; k++) {
            const at = t - K + 1 + k, wi = k * D;
            // Positions before 0 are the past's, its last at −1.
            const [src, xi] = at >= 0 ? [x, (b * L + at) * D] : [past!, (pb * kp + kp + at) * D];
            for (let c = 0; c < D; c++) o[oi + c] += wt[wi + c]! * src[xi + c]!;
          }
        }
      }
      // As the silu op computes it, from the float32 conv output.
      if (attrs.activation === 'silu') for (let i = 0; i < o.length; i++) { const v = o[i]!; o[i] = v * sigmoid64(v); }
    },
    webgpu: ({ inputs: [x, w, b, past, rows], outputs: [o], attrs }) => causalConv1dGpu(x!, w!, b!, past ?? null, rows ?? null, o!, pastRowsFault('causalConv1d', past?.shape[0] ?? 0), attrs.activation === 'silu'),
  },
  backward([gOut], { inputs, outputs, attrs }): (Tensor | null)[] {
    if (!attrs.activation) return convBackward(gOut!, inputs);
    // Through silu: its derivative at the conv's output, recomputed (one more conv; nothing saved).
    const pre = runOp(causalConv1dOp, inputs, {})[0]!;
    const g = unaryGrad('silu', gOut!, pre, outputs[0]!);
    pre.dispose();
    const grads = convBackward(g, inputs);
    g.dispose();
    return grads;
  },
});

/** Gradients of x, weight, bias and the past (and none for its rows) from g, the conv output's gradient. */
function convBackward(g: Tensor, [x, w, , past, rows]: readonly Tensor[]): (Tensor | null)[] {
  if (!past) {
    const [gx, gw, gb] = runOp(causalConv1dBackwardOp, [g, x!, w!], {});
    return [gx!, gw!, gb!];
  }
  // With a past: the gradient of the conv over [past, x] with no gradient reaching the past's outputs.
  const [B, L, D] = x!.shape as [number, number, number];
  const kp = past.shape[1]!;
  const own: Tensor[] = [];
  const o = (t: Tensor) => { own.push(t); return t; };
  const xx = o(concat([rows ? o(indexSelect(past, 0, rows)) : past, x!], 1));
  const gg = o(concat([o(zeros([B, kp, D], { backend: g.backend })), g], 1));
  const [gxx, gw, gb] = runOp(causalConv1dBackwardOp, [gg, xx, w!], {});
  o(gxx!);
  const gPast = slice(gxx!, 1, 0, kp);
  const grads = [slice(gxx!, 1, kp, kp + L), gw!, gb!, rows ? indexAdd(o(gPast), rows, 0, past.shape[0]!) : gPast, ...(rows ? [null] : [])];
  for (const t of own) t.dispose();
  return grads;
}

/** Gradients of x, weight and bias in one pass over g: the transposed (anti-causal) convolution and two sums. */
const causalConv1dBackwardOp = defineOp<Record<string, never>>({
  name: 'causalConv1dBackward',
  internal: true,
  infer(inputs) {
    const [g, x, w] = inputs as [Tensor, Tensor, Tensor];
    if (g.rank !== 3 || g.shape.some((d, i) => d !== x.shape[i])) throw opError('causalConv1dBackward', 'the gradient must have x\'s shape', inputs);
    return [{ shape: [...x.shape], dtype: 'float32' }, { shape: [...w.shape], dtype: 'float32' }, { shape: [x.shape[2]!], dtype: 'float32' }];
  },
  kernels: {
    cpu({ inputs, outputs }) {
      const [gT, xT, wT] = inputs as [Tensor, Tensor, Tensor];
      const [B, L, D] = xT.shape as [number, number, number];
      const K = wT.shape[1]!;
      const g = cpuF32(gT), x = cpuF32(xT), wt = taps(cpuF32(wT), D, K);
      const gx = cpuF32(outputs[0]!), gw = cpuF32(outputs[1]!), gb = cpuF32(outputs[2]!);
      // Sums over B·L terms are kept in float64 so that large batches do not lose the small contributions.
      const accW = new Float64Array(K * D), accB = new Float64Array(D);
      gx.fill(0);
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < L; t++) {
          const gi = (b * L + t) * D;
          for (let c = 0; c < D; c++) accB[c] += g[gi + c]!;
          for (let k = Math.max(0, K - 1 - t); k < K; k++) {
            const xi = (b * L + t - K + 1 + k) * D, wi = k * D;
            for (let c = 0; c < D; c++) {
              const gv = g[gi + c]!;
              gx[xi + c] += wt[wi + c]! * gv;
              accW[wi + c] += gv * x[xi + c]!;
            }
          }
        }
      }
      for (let c = 0; c < D; c++) {
        gb[c] = accB[c]!;
        for (let k = 0; k < K; k++) gw[c * K + k] = accW[k * D + c]!;
      }
    },
    webgpu: ({ inputs: [g, x, w], outputs: [gx, gw, gb] }) => causalConv1dBackwardGpu(g!, x!, w!, gx!, gw!, gb!),
  },
});

export interface ConvOptions {
  /** The inputs before position 0, [R, k ≤ K − 1, D], and the row each row of x continues (int32 [B]; default b). */
  past?: { inputs: Tensor; rows?: Tensor };
  /** silu applied to the output in the same kernel. */
  activation?: 'silu';
}

/**
 * Depthwise causal convolution of x [B, L, D] with weight [D, K] and bias [D]: each channel c is filtered by its
 * own K taps over the current and K-1 previous positions. Positions before 0 count as zeros, or are the inputs of
 * `past`, its last position just before x's first: row b of x continues the past's row `rows[b]`, or row b.
 */
export function causalConv1d(x: Tensor, weight: Tensor, bias: Tensor, { past, activation }: ConvOptions = {}): Tensor {
  const attrs = activation ? { activation } : {};
  if (!past || past.inputs.shape[1] === 0) return runOp(causalConv1dOp, [x, weight, bias], attrs)[0]!;
  return runOp(causalConv1dOp, [x, weight, bias, past.inputs, ...(past.rows ? [past.rows] : [])], attrs)[0]!;
}
