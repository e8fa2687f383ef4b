import type { Tensor } from '../tensor/tensor.js';
import type { ModelConfig } from '../io/config/config.js';
import type { HookRunner } from './hooks.js';
import type { SiteInfo } from './sites.js';

export interface ForwardOptions {
  /** [B, T], 1 for real tokens and 0 for padding (int32 or float32). */
  attentionMask?: Tensor;
  hooks?: HookRunner;
  /** Logits at every position (default), at the last position only ([B, V]), or none (hook captures only). */
  logits?: 'all' | 'last' | 'none';
  /**
   * Begin at `layer` from `residual`, the residual stream entering that layer ([B, T, d], what
   * `blocks.{layer}.hook_resid_pre` captures; layer = nLayer leaves only the final norm and the unembedding).
   * Layers below it are not computed, so none of their hooks is reached: tracing starts patched rows where their
   * first patch is, from a residual cached once. The ids still give the batch's shape and the mask's meaning.
   */
  start?: ForwardStart;
  /**
   * Mamba: continue a run over earlier positions from its recurrent state there (`MambaPast`). ids, the mask, the
   * start residual and every hook site then cover only the positions after them, and hook and patch positions count
   * from the first of these. Tracing uses it to run a patch at position t from t on. GPT-NeoX refuses it.
   */
  past?: MambaPast;
}

/**
 * A Mamba run's recurrent state after some position p − 1, per layer: what the layers need to go on from p as if
 * positions 0…p − 1 had been run with them. Only the layers a forward computes (from `start.layer`) need it.
 * `pastAt` (models/mamba-past.ts) cuts it from a run's captures.
 */
export interface MambaPast {
  /**
   * conv[l]: layer l's conv input (`mixer.hook_x`) at the positions p − k … p − 1, [B, k, D_inner] with
   * k ≤ dConv − 1; k is smaller only when p is (positions before 0 count as zeros, as in the conv's padding).
   */
  conv: readonly (Tensor | undefined)[];
  /** ssm[l]: layer l's SSM state after position p − 1, [B, D_inner, N] (that position of `mixer.hook_ssm_state`). */
  ssm: readonly (Tensor | undefined)[];
  /**
   * int32 [B]: batch row r continues the past's row rows[r] (conv and ssm then hold the past's own rows, any
   * number). The conv and the scan read each row's past in place, so a large batch that repeats a few runs (the
   * patched rows of tracing) never holds a copy of the past per row.
   */
  rows?: Tensor;
}

export interface ForwardStart {
  layer: number;
  /** [B0, T, d]: the rows that begin at `layer` (all of them unless `joins` adds more). */
  residual: Tensor;
  /**
   * Rows that join the batch at later layers, in order of layer (from `layer` to nLayer): each residual [k, T, d]
   * is appended below the rows so far as they enter its layer. ids and the mask describe the whole batch, joined
   * rows last. Tracing uses it so that a patched row is computed only from the first layer it patches on.
   */
  joins?: readonly { layer: number; residual: Tensor }[];
}

/** A causal language model with named hook sites. Parameters use transformers' names. */
export interface LanguageModel {
  readonly config: ModelConfig;
  readonly params: ReadonlyMap<string, Tensor>;
  readonly sites: readonly SiteInfo[];
  /** Token ids [B, T] (int32) → logits [B, T, V] (or [B, V] with logits: 'last'). */
  forward(ids: Tensor, opts?: ForwardOptions): Tensor;
  /** The final norm and the unembedding: residual vectors [..., d] → logits [..., V] (LRE decoding, logit lens). */
  unembed(h: Tensor): Tensor;
  /** Frees the parameters. */
  dispose(): void;
}
