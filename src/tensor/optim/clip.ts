import type { Tensor } from '../tensor.js';
import { FactlabError } from '../errors.js';
import { add, div, mul } from '../ops/elementwise/binary.js';
import { sqrt, square } from '../ops/elementwise/unary.js';
import { sum } from '../ops/reduce/sum.js';
import { max } from '../ops/reduce/max.js';
import { concat } from '../ops/shape/concat.js';
import { reshape } from '../ops/shape/reshape.js';
import { ones } from '../creation.js';
import { tidy } from '../lifetime.js';

/** The global L2 norm of a list of tensors, accumulated in float64 across tensors. */
export async function globalNorm(ts: readonly Tensor[]): Promise<number> {
  let total = 0;
  for (const t of ts) {
    const sq = square(t), s = sum(sq);
    total += await s.item();
    sq.dispose(); s.dispose();
  }
  return Math.sqrt(total);
}

/**
 * torch.nn.utils.clip_grad_norm_: when the global norm exceeds maxNorm, every gradient is scaled by
 * maxNorm/(norm + 1e-6). Returns the norm before clipping and the gradients to use: new tensors when scaled (the
 * caller disposes both lists), the same tensors otherwise.
 */
export async function clipGradNorm(grads: readonly Tensor[], maxNorm: number): Promise<{ norm: number; grads: Tensor[]; clipped: boolean }> {
  if (!(maxNorm > 0)) throw new FactlabError(`clipGradNorm: maxNorm must be positive, got ${maxNorm}`);
  const norm = await globalNorm(grads);
  if (!Number.isFinite(norm)) throw new FactlabError(`clipGradNorm: the gradient norm is ${norm}; the loss has diverged`);
  if (norm <= maxNorm) return { norm, grads: [...grads], clipped: false };
  const scale = maxNorm / (norm + 1e-6);
  return { norm, grads: grads.map((g) => mul(g, scale)), clipped: true };
}

/**
 * The factor torch's clip_grad_norm_ scales gradients by, min(1, maxNorm/(norm + 1e-6)), computed where the
 * gradients live and left there as a one-element tensor with the norm beside it: a training step on the GPU then
 * never waits for the GPU (AdamW.step takes the factor as its gradScale), and the norm is read when it is logged.
 * The caller disposes both.
 */
export function gradClipScale(grads: readonly Tensor[], maxNorm: number): { norm: Tensor; scale: Tensor } {
  if (!(maxNorm > 0)) throw new FactlabError(`clipGradNorm: maxNorm must be positive, got ${maxNorm}`);
  const [norm, scale] = tidy(() => {
    const squares = concat(grads.map((g) => reshape(sum(square(g)), [1])), 0);
    const n = sqrt(sum(squares));
    // min(1, maxNorm/(n + eps)) written with the ops at hand: 1 / max(1, (n + eps)/maxNorm).
    const ratio = reshape(div(add(n, 1e-6), maxNorm), [1]);
    return [n, div(1, max(concat([ratio, ones([1], { backend: n.backend })], 0)))];
  });
  return { norm, scale };
}

/** clipGradNorm on the device: new gradient tensors scaled by gradClipScale's factor (a factor of 1 leaves them exact). */
export function clipGradNormOnDevice(grads: readonly Tensor[], maxNorm: number): { norm: Tensor; grads: Tensor[] } {
  const { norm, scale } = gradClipScale(grads, maxNorm);
  const out = grads.map((g) => mul(g, scale));
  scale.dispose();
  return { norm, grads: out };
}
