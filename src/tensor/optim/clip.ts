import type { Tensor } from '../tensor.js';
import { FactlabError } from '../errors.js';
import { mul } from '../ops/elementwise/binary.js';
import { square } from '../ops/elementwise/unary.js';
import { sum } from '../ops/reduce/sum.js';

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
