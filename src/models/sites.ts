import type { ModelConfig } from '../io/config/config.js';
import { FactlabError } from '../tensor/errors.js';

/**
 * The hook sites of each architecture, in one table: the name (TransformerLens style), the tensor's shape, the
 * paper's symbol and the name romba's code uses. Per-layer sites are written with `{l}`.
 * B = batch, T = tokens, d = model width, D = Mamba's inner width, N = state size, H = heads, V = vocabulary.
 */
export interface SiteInfo {
  name: string;
  shape: string;
  description: string;
  /** The symbol in Sen Sharma et al. (h, s, g, o) or in ROME/LRE, where there is one. */
  paper?: string;
  /** romba's hook name (src/hooking/mamba.py) or module path. */
  romba?: string;
  /** Capture only: patching this site is refused. */
  captureOnly?: boolean;
  /** The axis of token positions (1 unless the heads come first, as in [B,H,T,dh]). */
  posAxis?: number;
}

export const MAMBA_SITES: readonly SiteInfo[] = [
  { name: 'hook_embed', shape: '[B,T,d]', description: 'token embeddings (h_0)', romba: 'embedding' },
  { name: 'blocks.{l}.hook_resid_pre', shape: '[B,T,d]', description: 'residual stream entering layer l' },
  { name: 'blocks.{l}.hook_norm', shape: '[B,T,d]', description: 'RMSNorm output: the input of in_proj (ROME key of W_a and W_g)', paper: 'key of W_a, W_g' },
  { name: 'blocks.{l}.mixer.hook_x', shape: '[B,T,D]', description: 'x branch: rows 0..D−1 of in_proj, before the convolution (the knockout site)', paper: 'W_a output', romba: 'ssm_after_up_proj' },
  { name: 'blocks.{l}.mixer.hook_z', shape: '[B,T,D]', description: 'gate branch: rows D..2D−1 of in_proj, before SiLU', paper: 'W_g output', romba: 'mlp_after_up_proj' },
  { name: 'blocks.{l}.mixer.hook_conv', shape: '[B,T,D]', description: 'causal depthwise convolution output, before SiLU', romba: 'ssm_after_conv1D' },
  { name: 'blocks.{l}.mixer.hook_x_act', shape: '[B,T,D]', description: "x'' = SiLU(conv): the input of x_proj and of the scan", romba: 'ssm_after_silu' },
  { name: 'blocks.{l}.mixer.hook_delta', shape: '[B,T,D]', description: 'Δ = softplus(dt_proj(dt)): the step size' },
  { name: 'blocks.{l}.mixer.hook_B', shape: '[B,T,N]', description: 'input matrix B_t' },
  { name: 'blocks.{l}.mixer.hook_C', shape: '[B,T,N]', description: 'output matrix C_t' },
  { name: 'blocks.{l}.mixer.hook_ssm_state', shape: '[B,T,D,N]', description: 'the SSM state after each position', captureOnly: true },
  { name: 'blocks.{l}.mixer.hook_s', shape: '[B,T,D]', description: "SSM output: scan plus D·x'', before the gate", paper: 's', romba: 'ssm_after_ssm' },
  { name: 'blocks.{l}.mixer.hook_g', shape: '[B,T,D]', description: 'gate g = SiLU(z)', paper: 'g', romba: 'mlp_after_silu' },
  { name: 'blocks.{l}.mixer.hook_gated', shape: '[B,T,D]', description: 's ⊙ g: the input of out_proj (ROME key of W_o)', paper: 'key of W_o', romba: 'before_down_proj' },
  { name: 'blocks.{l}.hook_mixer_out', shape: '[B,T,d]', description: 'out_proj output, added to the residual stream', paper: 'o', romba: 'after_down_proj' },
  { name: 'blocks.{l}.hook_resid_post', shape: '[B,T,d]', description: 'residual stream after layer l (h_{l+1})', paper: 'h', romba: 'layers.{l} output ("residual")' },
  { name: 'hook_norm_final', shape: '[B,T,d]', description: 'final RMSNorm output, before the unembedding' },
];

export const GPTNEOX_SITES: readonly SiteInfo[] = [
  { name: 'hook_embed', shape: '[B,T,d]', description: 'token embeddings', romba: 'gpt_neox.embed_in' },
  { name: 'blocks.{l}.hook_resid_pre', shape: '[B,T,d]', description: 'residual stream entering layer l' },
  { name: 'blocks.{l}.ln1.hook_normalized', shape: '[B,T,d]', description: 'input LayerNorm output (attention input)' },
  { name: 'blocks.{l}.attn.hook_q', shape: '[B,H,T,dh]', posAxis: 2, description: 'queries after rotary embedding' },
  { name: 'blocks.{l}.attn.hook_k', shape: '[B,H,T,dh]', posAxis: 2, description: 'keys after rotary embedding' },
  { name: 'blocks.{l}.attn.hook_v', shape: '[B,H,T,dh]', posAxis: 2, description: 'values' },
  { name: 'blocks.{l}.attn.hook_pattern', shape: '[B,H,T,T]', posAxis: 2, description: 'attention probabilities (query × key); to cut edges use attention knockout', captureOnly: true },
  { name: 'blocks.{l}.attn.hook_z', shape: '[B,T,d]', description: 'heads concatenated, before the output projection' },
  { name: 'blocks.{l}.hook_attn_out', shape: '[B,T,d]', description: 'attention output (after dense)', paper: 'attn', romba: 'gpt_neox.layers.{l}.attention output[0]' },
  { name: 'blocks.{l}.hook_resid_mid', shape: '[B,T,d]', description: 'residual after attention (sequential-residual models only)' },
  { name: 'blocks.{l}.ln2.hook_normalized', shape: '[B,T,d]', description: 'post-attention LayerNorm output (MLP input)' },
  { name: 'blocks.{l}.mlp.hook_pre', shape: '[B,T,4d]', description: 'dense_h_to_4h output, before GELU' },
  { name: 'blocks.{l}.mlp.hook_post', shape: '[B,T,4d]', description: 'GELU output: the input of dense_4h_to_h (ROME key)', paper: 'key of the MLP edit' },
  { name: 'blocks.{l}.hook_mlp_out', shape: '[B,T,d]', description: 'MLP output', paper: 'mlp', romba: 'gpt_neox.layers.{l}.mlp output' },
  { name: 'blocks.{l}.hook_resid_post', shape: '[B,T,d]', description: 'residual stream after layer l', paper: 'h', romba: 'gpt_neox.layers.{l} output[0] ("residual")' },
  { name: 'hook_norm_final', shape: '[B,T,d]', description: 'final LayerNorm output, before the unembedding' },
];

export function siteTable(config: ModelConfig): readonly SiteInfo[] {
  return config.arch === 'mamba' ? MAMBA_SITES : GPTNEOX_SITES;
}

/** Every concrete site name of a model, layers expanded. */
export function siteNames(config: ModelConfig): string[] {
  return siteTable(config).flatMap((s) => (s.name.includes('{l}') ? Array.from({ length: config.nLayer }, (_, l) => s.name.replace('{l}', String(l))) : [s.name]));
}

export interface ParsedSite {
  info: SiteInfo;
  layer: number | null;
}

/** Resolves a concrete site name (`blocks.3.hook_resid_post`) or fails naming it and the nearest valid names. */
export function parseSite(config: ModelConfig, name: string): ParsedSite {
  const m = /^blocks\.(\d+)\.(.+)$/.exec(name);
  const table = siteTable(config);
  if (m) {
    const layer = Number(m[1]);
    const info = table.find((s) => s.name === `blocks.{l}.${m[2]}`);
    if (info && layer < config.nLayer) return { info, layer };
    if (info) throw new FactlabError(`unknown hook site "${name}": layer ${layer} is out of range (the model has ${config.nLayer} layers, 0..${config.nLayer - 1})`);
  } else {
    const info = table.find((s) => s.name === name);
    if (info) return { info, layer: null };
  }
  const kinds = table.map((s) => s.name).join(', ');
  throw new FactlabError(`unknown hook site "${name}" for a ${config.arch} model; sites are: ${kinds}`);
}

/** The site name at layer l for a per-layer site template ('hook_resid_post' or 'blocks.{l}.hook_resid_post'). */
export function siteAt(template: string, layer: number): string {
  const t = template.startsWith('blocks.{l}.') ? template : `blocks.{l}.${template}`;
  return t.replace('{l}', String(layer));
}
