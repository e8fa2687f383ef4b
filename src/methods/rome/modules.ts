import type { ModelConfig } from '../../io/config/config.js';
import type { RomeMatrix } from './hparams.js';

/**
 * Where ROME reads keys and values and which rows of which parameter it rewrites (paper-method.md §5, "Keys and
 * values for each edited matrix"). W_a and W_g are row blocks of in_proj, which the model multiplies by whole at
 * every forward (x and z as the two outputs of one product), so rewriting those rows of in_proj is rewriting W_a or W_g.
 */
export interface EditTarget {
  layer: number;
  matrix: RomeMatrix;
  param: string;
  /** Rows [start, end) of the parameter that form the edited matrix. */
  rows: [number, number];
  /** The matrix's input (the key k). */
  keySite: string;
  /** The matrix's output (the value v), where v*'s δ is added. */
  valueSite: string;
  keyDim: number;
  valueDim: number;
}

export function editTarget(config: ModelConfig, layer: number, matrix: RomeMatrix): EditTarget {
  const s = `blocks.${layer}.`;
  if (config.arch === 'gptneox') {
    return { layer, matrix, param: `gpt_neox.layers.${layer}.mlp.dense_4h_to_h.weight`, rows: [0, config.dModel], keySite: `${s}mlp.hook_post`, valueSite: `${s}hook_mlp_out`, keyDim: config.dMlp, valueDim: config.dModel };
  }
  const d = config.dModel, D = config.dInner, p = `backbone.layers.${layer}.mixer.`;
  if (matrix === 'o') return { layer, matrix, param: `${p}out_proj.weight`, rows: [0, d], keySite: `${s}mixer.hook_gated`, valueSite: `${s}hook_mixer_out`, keyDim: D, valueDim: d };
  if (matrix === 'a') return { layer, matrix, param: `${p}in_proj.weight`, rows: [0, D], keySite: `${s}hook_norm`, valueSite: `${s}mixer.hook_x`, keyDim: d, valueDim: D };
  return { layer, matrix, param: `${p}in_proj.weight`, rows: [D, 2 * D], keySite: `${s}hook_norm`, valueSite: `${s}mixer.hook_z`, keyDim: d, valueDim: D };
}
