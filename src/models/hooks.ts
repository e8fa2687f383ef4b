import type { Tensor } from '../tensor/tensor.js';

/**
 * Flow cut inside one layer: in batch row `row`, what the token at each of `sources` contributes to the layer's
 * output at `target` is removed (every source is at or before the target; the target itself names its own term). How a model honours it is its own
 * matter: GPT-NeoX masks the attention edges, Mamba leaves the sources' terms out of the convolution and the scan.
 */
export interface EdgeCut {
  row: number;
  target: number;
  sources: readonly number[];
}

/**
 * What a forward pass asks at each hook site, and all that models know of interventions: the interventions
 * layer implements it (capturing, patching, cutting), so model code stays a plain sequence of ops with named sites.
 */
export interface HookRunner {
  /** Whether anything is attached to this site; lets a model skip optional work (the SSM state per position). */
  wants(site: string): boolean;
  /**
   * Receives the activation at a site and returns the one the model continues with (itself or a patched one). The
   * model must not use `x` again: a patch may change its storage in place (copyRowsInPlace) when nothing else holds it.
   */
  at(site: string, x: Tensor): Tensor;
  /**
   * The flow cuts of a layer, one entry per (row, target) at most, checked against the batch's B rows and T
   * positions; empty when nothing is cut there.
   */
  cuts?(layer: number, B: number, T: number): readonly EdgeCut[];
}

export const noHooks: HookRunner = {
  wants: () => false,
  at: (_site, x) => x,
};
