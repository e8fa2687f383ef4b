import { parseConfig, type GptNeoxConfig, type MambaConfig } from '../../io/config/config.js';

/** Small configurations for tests that need a model but no checkpoint (see random.ts). */
export const tinyMamba = parseConfig({ model_type: 'mamba', hidden_size: 16, num_hidden_layers: 3, vocab_size: 40, state_size: 4, expand: 2, conv_kernel: 4, time_step_rank: 3 }, 'tiny mamba') as MambaConfig;

export const tinyNeox = (parallel = true) => parseConfig({ model_type: 'gpt_neox', hidden_size: 16, num_hidden_layers: 3, num_attention_heads: 2, intermediate_size: 32,
  vocab_size: 40, rotary_pct: 0.5, use_parallel_residual: parallel }, 'tiny gpt-neox') as GptNeoxConfig;
