import type { Tensor } from '../../tensor/tensor.js';
import { jacobian } from '../../tensor/jacobian.js';
import { tidy, keep } from '../../tensor/lifetime.js';
import { matmul } from '../../tensor/ops/linear/matmul.js';
import { reshape } from '../../tensor/ops/shape/reshape.js';
import { add, div, sub } from '../../tensor/ops/elementwise/binary.js';
import { FactlabError } from '../../tensor/errors.js';
import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/index.js';
import { iclPrompt } from './prompts.js';
import { hToZ, readHz } from './probe.js';
import type { HLayer } from './types.js';

export interface LreEstimate {
  layer: HLayer;
  template: string;
  /** The in-context examples; test prompts use them as their context too. */
  train: { subject: string; object: string }[];
  /** W = mean over examples of ∂z/∂h, [d, d]. */
  W: Tensor;
  /** b = mean over examples of z − J h, [d]. */
  b: Tensor;
  dispose(): void;
}

export interface EstimateOptions {
  /** Rows of each Jacobian per batched forward and backward pass. */
  chunk?: number;
  /** Called after each example (progress). */
  onExample?: (done: number, total: number) => void;
}

function matvec(J: Tensor, h: Tensor): Tensor {
  const col = reshape(h, [h.size, 1]);
  const out = matmul(J, col);
  const v = reshape(out, [J.shape[0]!]);
  col.dispose(); out.dispose();
  return v;
}

/**
 * The Jacobian-mean estimator of Hernandez et al. (L:src/operators.py JacobianIclMeanEstimator). For each
 * training example i, its prompt holds the other examples as context; J_i = ∂z/∂h at that prompt (h at the
 * subject's last token in `layer`, z the last layer's output at the last token), b_i = z_i − J_i h_i;
 * W = mean J_i, b = mean b_i. Each J_i takes ⌈d/chunk⌉ batched forward and backward passes.
 */
export function estimateLre(model: LanguageModel, tok: FactTokenizer, template: string, train: readonly { subject: string; object: string }[], layer: HLayer, opts: EstimateOptions = {}): LreEstimate {
  if (train.length === 0) throw new FactlabError('LRE: no training examples');
  const n = train.length;
  const [W, b] = tidy(() => {
    let sumJ: Tensor | null = null, sumB: Tensor | null = null;
    train.forEach((ex, i) => {
      const others = train.filter((_, j) => j !== i);
      const p = iclPrompt(tok, template, others, ex.subject);
      const { h, z } = readHz(model, p.ids, layer, p.subjectLast);
      const f = hToZ(model, p.ids, layer, p.subjectLast);
      const J = jacobian(f, h, { chunk: opts.chunk ?? 64 });
      f.dispose();
      const bi = sub(z, matvec(J, h));
      sumJ = sumJ ? add(sumJ, J) : J;
      sumB = sumB ? add(sumB, bi) : bi;
      opts.onExample?.(i + 1, n);
    });
    return [div(sumJ!, n), div(sumB!, n)];
  });
  keep(W!); keep(b!);
  return { layer, template, train: [...train], W: W!, b: b!, dispose: () => { W!.dispose(); b!.dispose(); } };
}
