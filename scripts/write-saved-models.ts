/**
 * Saves random-weight models with factlab's saveModel, with factlab's own logits beside them, for
 * reference/check_saved.py to load with transformers and compare.  node dist/scripts/write-saved-models.js OUT_DIR
 */
import { join } from 'node:path';
import { parseConfig } from '../src/io/config/config.js';
import { saveSafetensors } from '../src/io/checkpoint/index.js';
import { randomModel } from '../src/models/random.js';
import { saveModel } from '../src/models/save.js';
import { tensor } from '../src/tensor/creation.js';

const out = process.argv[2];
if (!out) throw new Error('usage: node dist/scripts/write-saved-models.js OUT_DIR');
const configs = {
  mamba: parseConfig({ model_type: 'mamba', hidden_size: 64, num_hidden_layers: 3, vocab_size: 320, state_size: 8, time_step_rank: 5 }),
  'gptneox-parallel': parseConfig({ model_type: 'gpt_neox', hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 256, vocab_size: 320, rotary_pct: 0.25, use_parallel_residual: true }),
  'gptneox-sequential': parseConfig({ model_type: 'gpt_neox', hidden_size: 48, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 96, vocab_size: 320, rotary_pct: 0.5, use_parallel_residual: false }),
};
for (const [name, config] of Object.entries(configs)) {
  const model = randomModel(config, 5);
  const dir = join(out, name);
  await saveModel(model, dir);
  const ids = tensor(Int32Array.from({ length: 14 }, (_, i) => (i * 37 + 11) % 320), [2, 7]);
  await saveSafetensors(join(dir, 'factlab-logits.safetensors'), { input_ids: ids, logits: model.forward(ids) });
  console.log(`saved ${dir}`);
}
