import type { Tensor } from '../../tensor/tensor.js';
import { FactlabError } from '../../tensor/errors.js';
import { fmt, sameShape } from '../../tensor/shape.js';
import type { LanguageModel } from '../../models/model.js';

/**
 * Puts a new tensor in place of a parameter and returns the one it replaces (the caller decides whether to dispose
 * or keep it). Models read their parameters by name at every forward pass, so the swap takes effect at once;
 * tensors are immutable in the engine, so this is how training steps and weight edits change a model.
 */
export function replaceParam(model: LanguageModel, name: string, value: Tensor): Tensor {
  const params = model.params;
  if (!(params instanceof Map)) throw new FactlabError('replaceParam: this model keeps its parameters in a read-only collection');
  const old = params.get(name);
  if (!old) throw new FactlabError(`replaceParam: the model has no parameter ${name}`);
  if (!sameShape(old.shape, value.shape) || old.dtype !== value.dtype) {
    throw new FactlabError(`replaceParam: ${name} is ${old.dtype}${fmt(old.shape)}, the replacement ${value.dtype}${fmt(value.shape)}`);
  }
  (params as Map<string, Tensor>).set(name, value);
  return old;
}

/** Norm weights and biases are usually exempt from weight decay. */
export function decays(name: string): boolean {
  return !/(norm|layernorm|norm_f)\.weight$|\.bias$|\.A_log$|\.D$/.test(name);
}
