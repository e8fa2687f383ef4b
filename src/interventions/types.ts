import type { Tensor } from '../tensor/tensor.js';

/**
 * Interventions are plain data: where (site, layers, batch rows, token positions) and what (replace, add, scale,
 * copy from another row, or a function). A batch whose rows carry different patches runs as one forward pass:
 * each row selects its own positions, and patches at one site are applied in the order given.
 */
export interface Where {
  /**
   * A hook site: a concrete name ('blocks.3.hook_resid_post', 'hook_embed') or, with `layers`, a per-layer name
   * without the layer ('hook_resid_post', 'mixer.hook_s').
   */
  site: string;
  /** Layers, for a per-layer site given without its layer. */
  layers?: readonly number[];
  /** Batch rows (default: every row). */
  rows?: readonly number[];
  /**
   * Token positions (default: every position). One list for every selected row, or one list per selected row
   * (in the order of `rows`), so that each row can be patched at its own positions.
   */
  positions?: Positions;
}

/** Token positions: one list for every selected row, or one list per selected row (in the order of `rows`). */
export type Positions = readonly number[] | readonly (readonly number[])[];

export type Intervention =
  /**
   * Set the selected activations to `value`: one vector ([...features]) for every selected position, or a full
   * activation of the site's shape ([B, T, ...features]) read at the selected places.
   */
  | (Where & { kind: 'replace'; value: Tensor })
  /** Add `value` (shaped as for replace) to the selected activations. */
  | (Where & { kind: 'add'; value: Tensor })
  /** Multiply the selected activations by a number (0 ablates). */
  | (Where & { kind: 'scale'; factor: number })
  /** Take the selected activations from batch row `fromRow` of the same forward pass (same site, same positions). */
  | (Where & { kind: 'copyRow'; fromRow: number })
  /** Replace the selected activations by `fn(activation)` (fn gets and returns the whole site activation). */
  | (Where & { kind: 'map'; fn: (x: Tensor) => Tensor });

/** A site to record (all layers listed, or the concrete site). */
export interface CaptureSpec {
  site: string;
  layers?: readonly number[];
}

/**
 * Cut the flow of information from the tokens at `sources` into the tokens at `targets`, inside each of `layers`:
 * for GPT-NeoX the attention edges target ← source are removed in every head (attention knockout, Geva et al.
 * 2023); for Mamba the sources' terms are left out of the target's convolution and of its scan output (exact SSM
 * path blocking; see models/mamba-cuts.ts). For each target only the sources at or before it count: a later token
 * has no path into it. A target that is its own source loses its own term too (its self-attention edge; in Mamba
 * its own x in the convolution and its own scan and skip terms). Positions may be negative (−1 is the last token).
 */
export interface Cut {
  layers: readonly number[];
  /** Batch rows (default: every row). */
  rows?: readonly number[];
  sources: Positions;
  /** Default: the last position. */
  targets?: Positions;
}
