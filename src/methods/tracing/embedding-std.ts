import type { LanguageModel } from '../../models/model.js';
import { param } from '../../models/common.js';
import { cast } from '../../tensor/ops/shape/cast.js';

const cache = new WeakMap<LanguageModel, number>();

/**
 * The standard deviation of every entry of the embedding matrix: the σ of noise corruption. ROME takes it over the
 * embeddings of its data set's subject tokens instead; the whole matrix needs no data set and differs little.
 */
export async function embeddingStd(model: LanguageModel): Promise<number> {
  const known = cache.get(model);
  if (known !== undefined) return known;
  const name = model.config.arch === 'mamba' ? 'backbone.embeddings.weight' : 'gpt_neox.embed_in.weight';
  const p = param(model.params, name);
  // Checkpoints may keep 16-bit weights, whose data() is their raw bits.
  const f32 = p.dtype === 'float32' ? null : cast(p, 'float32');
  const w = await (f32 ?? p).data();
  f32?.dispose();
  let sum = 0, sq = 0;
  for (let i = 0; i < w.length; i++) { const v = w[i]!; sum += v; sq += v * v; }
  const mean = sum / w.length;
  const std = Math.sqrt(Math.max(0, sq / w.length - mean * mean));
  cache.set(model, std);
  return std;
}
