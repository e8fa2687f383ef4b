import type { Tensor } from '../tensor/tensor.js';
import { FactlabError } from '../tensor/errors.js';
import { cast } from '../tensor/ops/shape/cast.js';
import { reshape } from '../tensor/ops/shape/reshape.js';
import { slice } from '../tensor/ops/shape/slice.js';
import { concat } from '../tensor/ops/shape/concat.js';
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
  const joins = start.joins ?? [];
  let joined = 0, last = layer;
  joins.forEach((j, i) => {
    if (!Number.isInteger(j.layer) || j.layer < last || j.layer > config.nLayer) throw new FactlabError(`forward: join ${i} is at layer ${j.layer}; joins must come in order of layer, from the start layer ${layer} to ${config.nLayer}`);
    const r = j.residual;
    if (r.rank !== 3 || r.shape[0]! < 1 || r.shape[1] !== T || r.shape[2] !== config.dModel) {
      throw new FactlabError(`forward: the residual of join ${i} ${r.describe()} must be [k ≥ 1, ${T}, ${config.dModel}] (rows, the ids' tokens, the model's width)`);
    }
    last = j.layer;
    joined += r.shape[0]!;
  });
  if (residual.rank !== 3 || residual.shape[0] !== B - joined || residual.shape[1] !== T || residual.shape[2] !== config.dModel) {
    throw new FactlabError(`forward: the start residual ${residual.describe()} must be [${B - joined}, ${T}, ${config.dModel}] (the ids' batch${joined ? ` less the ${joined} joining rows` : ''}, tokens, the model's width)`);
  }
  return reshape(residual, residual.shape);
}

/**
 * The rows that join a forward at later layers (`ForwardStart.joins`): `enter(l, h)` appends those of layer l
 * below h (disposing h), so that h always holds the rows computed so far, in the batch's order.
 */
export class Joins {
  private next = 0;

  constructor(private readonly list: readonly { layer: number; residual: Tensor }[] = []) {}

  enter(layer: number, h: Tensor): Tensor {
    const here: Tensor[] = [];
    while (this.next < this.list.length && this.list[this.next]!.layer === layer) here.push(this.list[this.next++]!.residual);
    if (here.length === 0) return h;
    const out = concat([h, ...here], 0);
    h.dispose();
    return out;
  }
}

/** The first `rows` rows of a per-row tensor: a view (a new handle for the caller to dispose). */
export function firstRows(x: Tensor, rows: number): Tensor {
  return slice(x, 0, 0, rows);
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
