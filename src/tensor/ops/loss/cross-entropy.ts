import { defineOp, runOp } from '../../op.js';
import { opError } from '../../errors.js';
import type { Tensor } from '../../tensor.js';
import { cpuF32, cpuI32 } from '../../backends/cpu/cpu-backend.js';
import { hostInt32 } from '../../backends/webgpu/webgpu-backend.js';
import { crossEntropyGpu, crossEntropyGradGpu } from './cross-entropy.wgsl.js';

export type Reduction = 'mean' | 'sum' | 'none';

export interface CrossEntropyOptions {
  /** 'mean' (default) over the rows not ignored, 'sum', or 'none' for one loss per row. */
  reduction?: Reduction;
  /** Rows whose target is this value contribute no loss and no gradient (default -100, as in PyTorch). */
  ignoreIndex?: number;
}

interface CeAttrs { reduction: Reduction; ignoreIndex: number }

function checkTarget(t: number, row: number, v: number, attrs: CeAttrs, inputs: readonly Tensor[]): void {
  if (t !== attrs.ignoreIndex && (t < 0 || t >= v)) {
    throw opError('crossEntropy', `target ${t} of row ${row} is out of range for ${v} classes (ignoreIndex is ${attrs.ignoreIndex})`, inputs);
  }
}

/** On the GPU, uploaded targets are checked at once (the same message as the CPU's); others by the kernel. */
function checkGpuTargets(inputs: readonly Tensor[], attrs: CeAttrs): (value: number, row: number) => string {
  const v = inputs[0]!.shape[1]!;
  const host = hostInt32(inputs[1]!);
  if (host) for (let r = 0; r < host.length; r++) checkTarget(host[r]!, r, v, attrs, inputs);
  return (t, row) => `crossEntropy: target ${t} of row ${row} is out of range for ${v} classes (ignoreIndex is ${attrs.ignoreIndex})`;
}

const crossEntropyGradOp = defineOp<CeAttrs>({
  name: 'crossEntropyGrad',
  internal: true,
  infer: ([logits]) => [{ shape: logits!.shape, dtype: 'float32' }],
  kernels: {
    cpu({ inputs: [logits, targets, lse, g], outputs: [o], attrs }) {
      const x = cpuF32(logits!), t = cpuI32(targets!), l = cpuF32(lse!), gd = cpuF32(g!), od = cpuF32(o!);
      const [n, v] = logits!.shape as [number, number];
      let count = 0;
      for (let r = 0; r < n; r++) if (t[r] !== attrs.ignoreIndex) count++;
      for (let r = 0, b = 0; r < n; r++, b += v) {
        const tr = t[r]!;
        if (tr === attrs.ignoreIndex) { od.fill(0, b, b + v); continue; }
        const scale = attrs.reduction === 'none' ? gd[r]! : attrs.reduction === 'sum' ? gd[0]! : gd[0]! / count;
        const lr = l[r]!;
        for (let j = b; j < b + v; j++) od[j] = Math.exp(x[j]! - lr) * scale;
        od[b + tr] = od[b + tr]! - scale;
      }
    },
    webgpu({ inputs: [logits, targets, lse, g], outputs: [o], attrs }) {
      crossEntropyGradGpu(logits!, targets!, lse!, g!, o!, attrs, checkGpuTargets([logits!, targets!], attrs));
    },
  },
});

/**
 * Cross-entropy of logits [N, V] against int32 targets [N], fused: each row's log-sum-exp is computed in one
 * pass over the row (shifted by its max, summed in float64), and the loss is lse − logit[target], so the
 * [N, V] softmax is never materialised in the forward pass — V is 50k for the models here. The op's second
 * output, the rows' lse, is kept for the backward, which forms (softmax − onehot)·g/count row by row.
 */
const crossEntropyOp = defineOp<CeAttrs>({
  name: 'crossEntropy',
  infer(inputs, attrs) {
    const [logits, targets] = inputs as [Tensor, Tensor];
    if (logits.dtype !== 'float32' || logits.rank !== 2) throw opError('crossEntropy', 'logits must be float32 [N, V]', inputs);
    if (targets.dtype !== 'int32' || targets.rank !== 1) throw opError('crossEntropy', 'targets must be int32 [N]', inputs);
    const [n, v] = logits.shape as [number, number];
    if (targets.shape[0] !== n) throw opError('crossEntropy', `logits have ${n} rows but targets have ${targets.shape[0]}`, inputs);
    if (v === 0) throw opError('crossEntropy', 'logits have no classes', inputs);
    if (!['mean', 'sum', 'none'].includes(attrs.reduction)) throw opError('crossEntropy', `reduction must be 'mean', 'sum' or 'none', got ${String(attrs.reduction)}`, inputs);
    if (!Number.isInteger(attrs.ignoreIndex)) throw opError('crossEntropy', `ignoreIndex must be an integer, got ${attrs.ignoreIndex}`, inputs);
    return [{ shape: attrs.reduction === 'none' ? [n] : [], dtype: 'float32' }, { shape: [n], dtype: 'float32' }];
  },
  kernels: {
    cpu({ inputs, outputs: [loss, lse], attrs }) {
      const [logits, targets] = inputs as [Tensor, Tensor];
      const x = cpuF32(logits), t = cpuI32(targets), out = cpuF32(loss!), l = cpuF32(lse!);
      const [n, v] = logits.shape as [number, number];
      for (let r = 0; r < n; r++) checkTarget(t[r]!, r, v, attrs, inputs);
      let total = 0, count = 0;
      for (let r = 0, b = 0; r < n; r++, b += v) {
        let m = -Infinity;
        for (let j = b; j < b + v; j++) { const e = x[j]!; if (e > m || e !== e) m = e; }
        let s = 0;
        for (let j = b; j < b + v; j++) s += Math.exp(x[j]! - m);
        // A row of -∞ has lse -∞ (not NaN from -∞ − -∞), so that only its own loss is undefined.
        const lr = m === -Infinity ? m : m + Math.log(s);
        l[r] = lr;
        const tr = t[r]!;
        const ignored = tr === attrs.ignoreIndex;
        const rowLoss = ignored ? 0 : lr - x[b + tr]!;
        if (attrs.reduction === 'none') out[r] = rowLoss;
        else if (!ignored) { total += rowLoss; count++; }
      }
      // With every row ignored the mean is 0/0 = NaN, as in PyTorch.
      if (attrs.reduction === 'mean') out[0] = total / count;
      else if (attrs.reduction === 'sum') out[0] = total;
    },
    webgpu({ inputs: [logits, targets], outputs: [loss, lse], attrs }) {
      crossEntropyGpu(logits!, targets!, loss!, lse!, attrs, checkGpuTargets([logits!, targets!], attrs));
    },
  },
  backward: ([g], { inputs: [logits, targets], outputs: [, lse], attrs }) =>
    [runOp(crossEntropyGradOp, [logits!, targets!, lse!, g!], attrs)[0]!, null],
});

/**
 * Cross-entropy between logits [N, V] and int32 class indices [N]: the mean (default), sum, or per-row ('none')
 * of −log softmax(logits)[target]. Rows whose target is `ignoreIndex` (default -100) are left out, and the mean
 * divides by the number of rows kept. A target outside [0, V) that is not ignoreIndex is an error.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const [loss, lse] = runOp(crossEntropyOp, [logits, targets], { reduction: opts.reduction ?? 'mean', ignoreIndex: opts.ignoreIndex ?? -100 });
  lse!.dispose();
  return loss!;
}
