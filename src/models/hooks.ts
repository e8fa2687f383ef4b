import type { Tensor } from '../tensor/tensor.js';

/**
 * What a forward pass asks at each hook site, and all that models know of interventions: the interventions
 * layer implements it (capturing, patching), so model code stays a plain sequence of ops with named sites.
 */
export interface HookRunner {
  /** Whether anything is attached to this site; lets a model skip optional work (the SSM state per position). */
  wants(site: string): boolean;
  /** Receives the activation at a site and returns the one the model continues with (itself or a patched one). */
  at(site: string, x: Tensor): Tensor;
}

export const noHooks: HookRunner = {
  wants: () => false,
  at: (_site, x) => x,
};
