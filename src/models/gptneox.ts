import type { Tensor } from '../tensor/tensor.js';
import { FactlabError } from '../tensor/errors.js';
import type { GptNeoxConfig } from '../io/config/config.js';
import { embedding } from '../tensor/ops/shape/embedding.js';
import { layerNorm } from '../tensor/ops/norm/layer-norm.js';
import { linear } from '../tensor/ops/linear/matmul.js';
import { slice } from '../tensor/ops/shape/slice.js';
import { reshape } from '../tensor/ops/shape/reshape.js';
import { transpose } from '../tensor/ops/shape/transpose.js';
import { rotary } from '../tensor/ops/attention/rotary.js';
import { causalAttention } from '../tensor/ops/attention/causal-attention.js';
import { gelu } from '../tensor/ops/elementwise/unary.js';
import { add } from '../tensor/ops/elementwise/binary.js';
import { arange, tensor } from '../tensor/creation.js';
import type { Backend } from '../tensor/backends/backend.js';
import type { EdgeCut } from './hooks.js';
import { noHooks } from './hooks.js';
import type { ForwardOptions, LanguageModel } from './model.js';
import { GPTNEOX_SITES } from './sites.js';
import { Temps } from './temps.js';
import { checkIds, firstRows, floatMask, Joins, param, startResidual, unembedAs } from './common.js';

/**
 * GPT-NeoX (Pythia), computed as transformers' GPTNeoXForCausalLM computes it: pre-LayerNorm blocks with a
 * parallel or sequential residual, rotary embeddings on the first `rotaryDims` dimensions of each head in the
 * rotate-half convention, exact GELU, untied unembedding. Position ids are 0..T−1 as transformers uses when none
 * are given; with left padding the padded keys are masked, and since RoPE is relative the real tokens' outputs do
 * not depend on where they start. A padded query whose keys are all masked gets a zero attention output.
 * Flow cuts (attention knockout, Geva et al. 2023) remove the edges target ← source from the attention of every
 * head, so the target's softmax renormalises over the keys it keeps.
 */
export class GptNeoxModel implements LanguageModel {
  readonly sites = GPTNEOX_SITES;

  constructor(readonly config: GptNeoxConfig, readonly params: ReadonlyMap<string, Tensor>) {}

  forward(ids: Tensor, opts: ForwardOptions = {}): Tensor {
    const c = this.config;
    checkIds(c, ids, opts.attentionMask);
    if (opts.past) throw new FactlabError('forward: GPT-NeoX cannot continue a run from a past state (that would need a key/value cache); run the whole sequence');
    const hooks = opts.hooks ?? noHooks;
    const P = (n: string) => param(this.params, n);
    const T = ids.shape[1]!;
    const { nHead: H, headDim: dh, dModel: d } = c;
    const top = new Temps(hooks);
    const keyMask = opts.attentionMask ? top.t(floatMask(opts.attentionMask)) : undefined;
    const positions = top.t(arange(T, { backend: ids.backend }));
    let h = opts.start ? startResidual(c, ids, opts.start) : top.release(top.at('hook_embed', embedding(P('gpt_neox.embed_in.weight'), ids)));
    const joins = new Joins(opts.start?.joins);
    for (let l = opts.start?.layer ?? 0; l < c.nLayer; l++) {
      h = joins.enter(l, h);
      // Rows that join at later layers (ForwardStart.joins) are not here yet: per-row inputs take the first B.
      const B = h.shape[0]!;
      const t = new Temps(hooks);
      const keyMaskL = keyMask && (B < keyMask.shape[0]! ? t.t(firstRows(keyMask, B)) : keyMask);
      const p = `gpt_neox.layers.${l}.`, s = `blocks.${l}.`;
      const hIn = t.at(`${s}hook_resid_pre`, h);
      const a = t.at(`${s}ln1.hook_normalized`, layerNorm(hIn, P(`${p}input_layernorm.weight`), P(`${p}input_layernorm.bias`), c.eps));
      const qkv = t.t(linear(a, P(`${p}attention.query_key_value.weight`), P(`${p}attention.query_key_value.bias`)));
      // Each head's slice of qkv is [q | k | v]; one transpose brings the three to the front as [3, B, H, T, dh].
      const split = t.t(transpose(t.t(reshape(qkv, [B, T, H, 3, dh])), [3, 0, 2, 1, 4]));
      const part = (i: number) => t.t(reshape(t.t(slice(split, 0, i, i + 1)), [B, H, T, dh]));
      const rope = { rotaryDims: c.rotaryDims, base: c.rotaryBase };
      const q = t.at(`${s}attn.hook_q`, rotary(part(0), positions, rope));
      const k = t.at(`${s}attn.hook_k`, rotary(part(1), positions, rope));
      const v = t.at(`${s}attn.hook_v`, part(2));
      const cuts = hooks.cuts?.(l, B, T) ?? [];
      const blockMask = cuts.length > 0 ? t.t(attentionKeepMask(cuts, B, T, ids.backend)) : undefined;
      const [heads, probs] = causalAttention(q, k, v, { ...(keyMaskL ? { keyMask: keyMaskL } : {}), ...(blockMask ? { blockMask } : {}) });
      t.t(heads);
      t.at(`${s}attn.hook_pattern`, probs!);
      const zed = t.at(`${s}attn.hook_z`, reshape(t.t(transpose(heads!, [0, 2, 1, 3])), [B, T, d]));
      const attnOut = t.at(`${s}hook_attn_out`, linear(zed, P(`${p}attention.dense.weight`), P(`${p}attention.dense.bias`)));
      const mlpIn = c.parallelResidual ? hIn : t.at(`${s}hook_resid_mid`, add(hIn, attnOut));
      const m = t.at(`${s}ln2.hook_normalized`, layerNorm(mlpIn, P(`${p}post_attention_layernorm.weight`), P(`${p}post_attention_layernorm.bias`), c.eps));
      const pre = t.at(`${s}mlp.hook_pre`, linear(m, P(`${p}mlp.dense_h_to_4h.weight`), P(`${p}mlp.dense_h_to_4h.bias`)));
      const post = t.at(`${s}mlp.hook_post`, gelu(pre));
      const mlpOut = t.at(`${s}hook_mlp_out`, linear(post, P(`${p}mlp.dense_4h_to_h.weight`), P(`${p}mlp.dense_4h_to_h.bias`)));
      const next = c.parallelResidual ? add(t.t(add(hIn, attnOut)), mlpOut) : add(mlpIn, mlpOut);
      h = t.release(t.at(`${s}hook_resid_post`, next));
      t.dispose();
    }
    h = joins.enter(c.nLayer, h);
    top.t(h);
    const hf = top.at('hook_norm_final', layerNorm(h, P('gpt_neox.final_layer_norm.weight'), P('gpt_neox.final_layer_norm.bias'), c.eps));
    const head = c.tieEmbeddings ? P('gpt_neox.embed_in.weight') : P('embed_out.weight');
    const logits = unembedAs(opts.logits, hf, head);
    top.dispose();
    return logits;
  }

  unembed(h: Tensor): Tensor {
    const P = (n: string) => param(this.params, n);
    const hf = layerNorm(h, P('gpt_neox.final_layer_norm.weight'), P('gpt_neox.final_layer_norm.bias'), this.config.eps);
    const logits = linear(hf, this.config.tieEmbeddings ? P('gpt_neox.embed_in.weight') : P('embed_out.weight'));
    hf.dispose();
    return logits;
  }

  dispose(): void {
    for (const t of this.params.values()) t.dispose();
  }
}

/** [B, 1, T, T] with 0 where a cut removes the edge target ← source in every head, 1 elsewhere. */
function attentionKeepMask(cuts: readonly EdgeCut[], B: number, T: number, backend: Backend): Tensor {
  const keep = new Float32Array(B * T * T).fill(1);
  for (const c of cuts) for (const j of c.sources) keep[(c.row * T + c.target) * T + j] = 0;
  return tensor(keep, [B, 1, T, T], { backend });
}
