import type { Tensor } from '../tensor/tensor.js';
import type { ModelConfig } from '../io/config/config.js';
import type { LanguageModel } from './model.js';
import { MambaModel } from './mamba.js';
import { GptNeoxModel } from './gptneox.js';

/** A model from parameters already in memory (by transformers' names); it takes ownership of them. */
export function buildModel(config: ModelConfig, params: ReadonlyMap<string, Tensor>): LanguageModel {
  return config.arch === 'mamba' ? new MambaModel(config, params) : new GptNeoxModel(config, params);
}
