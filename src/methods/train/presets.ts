import { FactlabError } from '../../tensor/errors.js';
import { parseConfig, type ModelConfig } from '../../io/config/config.js';
import { paramSpecs } from '../../models/params.js';

export type Arch = 'mamba' | 'gptneox';
export const ARCHS: readonly Arch[] = ['mamba', 'gptneox'];

/**
 * Model sizes that `factlab train` builds, each as a matched pair: a Mamba with twice the layers of the GPT-NeoX
 * (a Mamba block has about half the parameters of a transformer layer, as in Mamba-2.8b's 64 layers against
 * Pythia-2.8b's 32), the same width and the same embedding. Both tie the unembedding to the embedding, so the pair
 * differs only in its blocks. `organism` is the size of the shipped models: about 5.5M parameters with an 8k
 * vocabulary, 11 MB in bfloat16, small enough for git and for running experiments on a CPU.
 */
export const PRESETS = {
  organism: { dModel: 256, mambaLayers: 8, neoxLayers: 4, heads: 8, dState: 16 },
  small: { dModel: 128, mambaLayers: 4, neoxLayers: 2, heads: 4, dState: 16 },
  tiny: { dModel: 32, mambaLayers: 2, neoxLayers: 1, heads: 2, dState: 4 },
} as const;

export type PresetName = keyof typeof PRESETS;

export function isPreset(name: string): name is PresetName {
  return Object.hasOwn(PRESETS, name);
}

/** The config of a preset for a vocabulary (rounded up to a multiple of 8, as real checkpoints pad it). */
export function presetConfig(arch: Arch, preset: string, vocabSize: number): ModelConfig {
  if (!isPreset(preset)) throw new FactlabError(`unknown size preset "${preset}" (presets: ${Object.keys(PRESETS).join(', ')})`);
  if (!Number.isInteger(vocabSize) || vocabSize < 2) throw new FactlabError(`preset ${preset}: the vocabulary size must be an integer ≥ 2, got ${vocabSize}`);
  const p = PRESETS[preset];
  const V = Math.ceil(vocabSize / 8) * 8;
  const name = `${preset} ${arch} preset`;
  if (arch === 'mamba') {
    return parseConfig({ model_type: 'mamba', hidden_size: p.dModel, num_hidden_layers: p.mambaLayers, vocab_size: V, state_size: p.dState, expand: 2, conv_kernel: 4, tie_word_embeddings: true }, name);
  }
  if (arch === 'gptneox') {
    return parseConfig({ model_type: 'gpt_neox', hidden_size: p.dModel, num_hidden_layers: p.neoxLayers, num_attention_heads: p.heads, intermediate_size: 4 * p.dModel, vocab_size: V,
      rotary_pct: 0.25, use_parallel_residual: true, tie_word_embeddings: true, max_position_embeddings: 2048 }, name);
  }
  throw new FactlabError(`unknown architecture "${String(arch)}" (mamba or gptneox)`);
}

/** Parameters of a config, counted from its tensor list. */
export function parameterCount(config: ModelConfig): number {
  return paramSpecs(config).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
}
