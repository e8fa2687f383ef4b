import type { Tensor } from '../../tensor/tensor.js';
import { tensor } from '../../tensor/creation.js';
import { reshape } from '../../tensor/ops/shape/reshape.js';
import { slice } from '../../tensor/ops/shape/slice.js';
import type { LanguageModel } from '../../models/model.js';
import { run } from '../../interventions/run.js';
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
function vectorAt(x: Tensor, pos: number): Tensor {
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
 */
export function hToZ(model: LanguageModel, ids: readonly number[], layer: HLayer, subjectLast: number): (hBatch: Tensor) => Tensor {
  return (hBatch: Tensor) => {
    const [B, d] = hBatch.shape as [number, number];
    const input = tensor(Int32Array.from({ length: B * ids.length }, (_, i) => ids[i % ids.length]!), [B, ids.length]);
    const value = reshape(hBatch, [B, 1, d]);
    const r = run(model, input, {
      interventions: [{ site: hSite(layer), positions: [subjectLast], kind: 'replace', value }],
      capture: [zSite(model)], logits: 'last',
    });
    const zAll = r.captures.get(zSite(model))!;
    const last = slice(zAll, 1, ids.length - 1, ids.length);
    const z = reshape(last, [B, d]);
    last.dispose();
    r.dispose();
    value.dispose();
    input.dispose();
    return z;
  };
}
