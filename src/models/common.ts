import type { Tensor } from '../tensor/tensor.js';
import { FactlabError } from '../tensor/errors.js';
import { cast } from '../tensor/ops/shape/cast.js';
import { reshape } from '../tensor/ops/shape/reshape.js';
import { slice } from '../tensor/ops/shape/slice.js';
import { linear } from '../tensor/ops/linear/matmul.js';
import { zeros } from '../tensor/creation.js';
import type { ModelConfig } from '../io/config/config.js';
import type { ForwardStart } from './model.js';

export function checkIds(config: ModelConfig, ids: Tensor, mask?: Tensor): void {
  if (ids.dtype !== 'int32' || ids.rank !== 2) throw new FactlabError(`forward: token ids must be int32 [batch, tokens], got ${ids.describe()}`);
  if (ids.shape[1] === 0) throw new FactlabError('forward: the prompt has no tokens');
  if (mask && (mask.rank !== 2 || mask.shape[0] !== ids.shape[0] || mask.shape[1] !== ids.shape[1])) {
    throw new FactlabError(`forward: attentionMask ${mask.describe()} does not match the token ids ${ids.describe()}`);
  }
}

/** The residual a forward begins from with `start`, as a view the forward owns (it disposes its residuals). */
export function startResidual(config: ModelConfig, ids: Tensor, start: ForwardStart): Tensor {
  const { layer, residual } = start;
  if (!Number.isInteger(layer) || layer < 0 || layer > config.nLayer) throw new FactlabError(`forward: start layer ${layer} is outside 0..${config.nLayer}`);
  const [B, T] = ids.shape as [number, number];
  if (residual.rank !== 3 || residual.shape[0] !== B || residual.shape[1] !== T || residual.shape[2] !== config.dModel) {
    throw new FactlabError(`forward: the start residual ${residual.describe()} must be [${B}, ${T}, ${config.dModel}] (the ids' batch and tokens, the model's width)`);
  }
  return reshape(residual, residual.shape);
}

/** The attention mask as float32 (1 real, 0 padding); the caller disposes it. */
export function floatMask(mask: Tensor): Tensor {
  return mask.dtype === 'float32' ? reshape(mask, mask.shape) : cast(mask, 'float32');
}

/**
 * The unembedding of the final hidden states `hf` [B, T, d] as `ForwardOptions.logits` asks: every position, the
 * last one ([B, V]), or none (an empty [B, 0], for runs that only capture hook sites).
 */
export function unembedAs(which: 'all' | 'last' | 'none' | undefined, hf: Tensor, head: Tensor): Tensor {
  if (which === 'none') return zeros([hf.shape[0]!, 0], { backend: hf.backend });
  if (which !== 'last') return linear(hf, head);
  const last = lastPosition(hf);
  const out = linear(last, head);
  last.dispose();
  return out;
}

/** The last position of [B, T, d] as [B, d]. */
export function lastPosition(h: Tensor): Tensor {
  const [B, T, d] = h.shape as [number, number, number];
  const last = slice(h, 1, T - 1, T);
  const out = reshape(last, [B, d]);
  last.dispose();
  return out;
}

export function param(params: ReadonlyMap<string, Tensor>, name: string): Tensor {
  const t = params.get(name);
  if (!t) throw new FactlabError(`internal: the model has no parameter ${name}`);
  return t;
}
