import type { Tensor } from '../../tensor/tensor.js';
import { tensor } from '../../tensor/creation.js';
import { reshape } from '../../tensor/ops/shape/reshape.js';
import { slice } from '../../tensor/ops/shape/slice.js';
import type { LanguageModel } from '../../models/model.js';
import { run } from '../../interventions/run.js';
import { where } from '../../tensor/ops/shape/where.js';
import { noGrad } from '../../tensor/autodiff.js';
import type { HLayer } from './types.js';

/** The hook site holding h at a layer: the embeddings or a layer's output (residual stream). */
export function hSite(layer: HLayer): string {
  return layer === 'emb' ? 'hook_embed' : `blocks.${layer}.hook_resid_post`;
}

/** The site of z: the last layer's output, before the final norm. */
export function zSite(model: LanguageModel): string {
  return `blocks.${model.config.nLayer - 1}.hook_resid_post`;
}

/** Row `pos` of a [1, T, d] activation as a [d] vector. */
export function vectorAt(x: Tensor, pos: number): Tensor {
  const row = slice(x, 1, pos, pos + 1);
  const v = reshape(row, [x.shape[2]!]);
  row.dispose();
  return v;
}

/** h (at the subject's last token) and z (at the last token) of one prompt, each a [d] vector. */
export function readHz(model: LanguageModel, ids: readonly number[], layer: HLayer, subjectLast: number): { h: Tensor; z: Tensor } {
  const input = tensor(Int32Array.from(ids), [1, ids.length]);
  const r = run(model, input, { capture: [hSite(layer), zSite(model)], logits: 'last' });
  const h = vectorAt(r.captures.get(hSite(layer))!, subjectLast);
  const z = vectorAt(r.captures.get(zSite(model))!, ids.length - 1);
  r.dispose();
  input.dispose();
  return { h, z };
}

/**
 * The map h ↦ z through the model for one prompt, batched: row b of `hBatch` [B, d] replaces h at the subject's
 * last token of its own copy of the prompt, and row b of the result [B, d] is that copy's z. Rows are
 * independent, which is what `jacobian` needs to compute B rows of ∂z/∂h in one backward pass.
 *
 * Layers up to h's do not depend on h: the prompt's residual stream there is computed once, and every call starts
 * the forward pass at the layer after h, from that residual with h put in place. `dispose` frees that residual.
 */
export function hToZ(model: LanguageModel, ids: readonly number[], layer: HLayer, subjectLast: number): ((hBatch: Tensor) => Tensor) & { dispose(): void } {
  const T = ids.length, first = layer === 'emb' ? 0 : layer + 1;
  const prompt = tensor(Int32Array.from(ids), [1, T]);
  const r0 = noGrad(() => run(model, prompt, { capture: [hSite(layer)], logits: 'last' }));
  const clean = reshape(r0.captures.get(hSite(layer))!, r0.captures.get(hSite(layer))!.shape);
  r0.dispose(); prompt.dispose();
  const at = tensor(Float32Array.from({ length: T }, (_, t) => (t === subjectLast ? 1 : 0)), [1, T, 1]);
  const f = (hBatch: Tensor) => {
    const [B, d] = hBatch.shape as [number, number];
    const value = reshape(hBatch, [B, 1, d]);
    const residual = where(at, value, clean);
    value.dispose();
    if (first === model.config.nLayer) {
      // h is the last layer's output: z is the residual itself at the last token.
      const last = slice(residual, 1, T - 1, T), z = reshape(last, [B, d]);
      last.dispose(); residual.dispose();
      return z;
    }
    const input = tensor(Int32Array.from({ length: B * T }, (_, i) => ids[i % T]!), [B, T]);
    const r = run(model, input, { start: { layer: first, residual }, capture: [zSite(model)], logits: 'last' });
    const zAll = r.captures.get(zSite(model))!;
    const last = slice(zAll, 1, T - 1, T);
    const z = reshape(last, [B, d]);
    last.dispose(); r.dispose(); residual.dispose(); input.dispose();
    return z;
  };
  return Object.assign(f, { dispose: () => { clean.dispose(); at.dispose(); } });
}
