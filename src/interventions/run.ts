import type { Tensor } from '../tensor/tensor.js';
import type { ForwardOptions, LanguageModel } from '../models/model.js';
import type { CaptureSpec, Cut, Intervention } from './types.js';
import { InterventionHooks } from './hook-runner.js';

export interface RunOptions extends Omit<ForwardOptions, 'hooks'> {
  interventions?: readonly Intervention[];
  capture?: readonly (string | CaptureSpec)[];
  /** Flow cuts (attention knockout, SSM path blocking), applied in the same forward pass as the interventions. */
  cuts?: readonly Cut[];
}

export interface RunResult {
  logits: Tensor;
  /** Captured activations by concrete site name ('blocks.3.hook_resid_post'). */
  captures: Map<string, Tensor>;
  /** Frees the logits and every capture. */
  dispose(): void;
}

/**
 * One forward pass with interventions and captures, all given as data:
 *
 *   run(model, ids, { capture: [{ site: 'hook_resid_post', layers: [0, 1] }],
 *                     interventions: [{ site: 'blocks.1.mixer.hook_s', rows: [1], positions: [3], kind: 'copyRow', fromRow: 0 }],
 *                     cuts: [{ layers: [0, 1, 2], rows: [2], sources: [1, 2, 3], targets: [-1] }] })
 */
export function run(model: LanguageModel, ids: Tensor, opts: RunOptions = {}): RunResult {
  const hooks = new InterventionHooks(model.config, opts.interventions, opts.capture, opts.cuts);
  let logits: Tensor;
  try {
    logits = model.forward(ids, { ...opts, hooks });
    hooks.assertReached();
  } catch (e) {
    hooks.disposeCaptures();
    throw e;
  }
  const out = logits;
  return { logits: out, captures: hooks.captures, dispose: () => { out.dispose(); hooks.disposeCaptures(); } };
}
