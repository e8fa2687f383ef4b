import type { GptNeoxConfig, MambaConfig, ModelConfig } from '../io/config/config.js';

/**
 * The tensors a model needs, by transformers' names (factlab's canonical names), with their shapes.
 * Loading checks a checkpoint against this list, so a config that does not match the weights is caught by name.
 */
export interface ParamSpec {
  name: string;
  shape: number[];
  /** A block's projection weight, read only as a matmul operand: it may be kept in 16 bits (ModelLoadOptions.matrices). */
  matrix?: true;
}

function mambaParams(c: MambaConfig): ParamSpec[] {
  const { dModel: d, dInner: D, dState: N, dtRank: R, dConv: K, vocabSize: V } = c;
  const out: ParamSpec[] = [{ name: 'backbone.embeddings.weight', shape: [V, d] }];
  for (let l = 0; l < c.nLayer; l++) {
    const p = `backbone.layers.${l}.`;
    out.push(
      { name: `${p}norm.weight`, shape: [d] },
      { name: `${p}mixer.in_proj.weight`, matrix: true, shape: [2 * D, d] },
      ...(c.projBias ? [{ name: `${p}mixer.in_proj.bias`, shape: [2 * D] }] : []),
      { name: `${p}mixer.conv1d.weight`, shape: [D, 1, K] },
      ...(c.convBias ? [{ name: `${p}mixer.conv1d.bias`, shape: [D] }] : []),
      { name: `${p}mixer.x_proj.weight`, matrix: true, shape: [R + 2 * N, D] },
      { name: `${p}mixer.dt_proj.weight`, matrix: true, shape: [D, R] },
      { name: `${p}mixer.dt_proj.bias`, shape: [D] },
      { name: `${p}mixer.A_log`, shape: [D, N] },
      { name: `${p}mixer.D`, shape: [D] },
      { name: `${p}mixer.out_proj.weight`, matrix: true, shape: [d, D] },
      ...(c.projBias ? [{ name: `${p}mixer.out_proj.bias`, shape: [d] }] : []),
    );
  }
  out.push({ name: 'backbone.norm_f.weight', shape: [d] });
  if (!c.tieEmbeddings) out.push({ name: 'lm_head.weight', shape: [V, d] });
  return out;
}

function neoxParams(c: GptNeoxConfig): ParamSpec[] {
  const { dModel: d, dMlp: m, vocabSize: V } = c;
  const out: ParamSpec[] = [{ name: 'gpt_neox.embed_in.weight', shape: [V, d] }];
  for (let l = 0; l < c.nLayer; l++) {
    const p = `gpt_neox.layers.${l}.`;
    out.push(
      { name: `${p}input_layernorm.weight`, shape: [d] }, { name: `${p}input_layernorm.bias`, shape: [d] },
      { name: `${p}post_attention_layernorm.weight`, shape: [d] }, { name: `${p}post_attention_layernorm.bias`, shape: [d] },
      { name: `${p}attention.query_key_value.weight`, matrix: true, shape: [3 * d, d] }, { name: `${p}attention.query_key_value.bias`, shape: [3 * d] },
      { name: `${p}attention.dense.weight`, matrix: true, shape: [d, d] }, { name: `${p}attention.dense.bias`, shape: [d] },
      { name: `${p}mlp.dense_h_to_4h.weight`, matrix: true, shape: [m, d] }, { name: `${p}mlp.dense_h_to_4h.bias`, shape: [m] },
      { name: `${p}mlp.dense_4h_to_h.weight`, matrix: true, shape: [d, m] }, { name: `${p}mlp.dense_4h_to_h.bias`, shape: [d] },
    );
  }
  out.push({ name: 'gpt_neox.final_layer_norm.weight', shape: [d] }, { name: 'gpt_neox.final_layer_norm.bias', shape: [d] });
  if (!c.tieEmbeddings) out.push({ name: 'embed_out.weight', shape: [V, d] });
  return out;
}

export function paramSpecs(c: ModelConfig): ParamSpec[] {
  return c.arch === 'mamba' ? mambaParams(c) : neoxParams(c);
}

/**
 * Checkpoint names that are not parameters and may be dropped: RoPE and mask buffers of older transformers, and a
 * tied head stored beside the embedding.
 */
export function isIgnorableName(c: ModelConfig, name: string): boolean {
  if (/\.attention\.(rotary_emb\.inv_freq|bias|masked_bias)$/.test(name)) return true;
  if (c.tieEmbeddings && (name === 'lm_head.weight' || name === 'embed_out.weight')) return true;
  return false;
}

/** state-spaces' mamba_ssm checkpoints name the embedding `backbone.embedding`. */
export function canonicalName(name: string): string {
  return name.replace(/^backbone\.embedding\./, 'backbone.embeddings.');
}
