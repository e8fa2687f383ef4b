import type { Tensor } from '../tensor/tensor.js';
import type { HookRunner } from './hooks.js';

/**
 * The intermediates of one layer, disposed together when the layer is done. A forward pass frees activations as
 * it goes (a 64-layer model must not hold every layer's), and that is safe under autodiff: the tape keeps its own
 * handles on what it saved, and captures take their own view.
 */
export class Temps {
  private readonly held = new Set<Tensor>();

  constructor(private readonly hooks: HookRunner) {}

  /** Holds a tensor until `dispose`. */
  t(x: Tensor): Tensor {
    this.held.add(x);
    return x;
  }

  /** Passes an activation through its hook site; both the original and a patched replacement are held. */
  at(site: string, x: Tensor): Tensor {
    this.held.add(x);
    return this.t(this.hooks.at(site, x));
  }

  /** Lets a tensor outlive this layer (the residual stream carried to the next one). */
  release(x: Tensor): Tensor {
    this.held.delete(x);
    return x;
  }

  dispose(): void {
    for (const x of this.held) x.dispose();
    this.held.clear();
  }
}
