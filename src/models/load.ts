import { readConfig } from '../io/config/config.js';
import { openCheckpoint } from '../io/checkpoint/index.js';
import { loadTokenizer, type FactTokenizer } from '../io/tokenizer/index.js';
import type { LanguageModel } from './model.js';
import { modelFromCheckpoint, type ModelLoadOptions } from './load-checkpoint.js';

export { modelFromCheckpoint, type ModelLoadOptions } from './load-checkpoint.js';

/**
 * Loads a Hugging Face model directory (config.json + model.safetensors, sharded safetensors or
 * pytorch_model.bin). The checkpoint is checked against the config before any tensor is read: a missing or
 * unexpected tensor name, or a wrong shape, is one error naming the directory and the tensors.
 */
export async function loadModel(dir: string, opts: ModelLoadOptions = {}): Promise<LanguageModel> {
  return modelFromCheckpoint(readConfig(dir), await openCheckpoint(dir), dir, opts);
}

/** A model directory's model and tokenizer (tokenizer.json must be there). */
export async function loadPretrained(dir: string, opts: ModelLoadOptions = {}): Promise<{ model: LanguageModel; tokenizer: FactTokenizer }> {
  const tokenizer = await loadTokenizer(dir);
  const model = await loadModel(dir, opts);
  return { model, tokenizer };
}
