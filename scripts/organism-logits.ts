/**
 * factlab's side of the organisms' parity check with transformers: for each model folder, the token ids and
 * float32 logits of fixed prompts, one prompt per forward pass (no padding), written to
 * <out>/<folder name>.safetensors as ids.<k> (int32) and logits.<k> (float32). reference/organism_parity.py
 * compares transformers' logits with them on the GPU machine.
 *   node dist/scripts/organism-logits.js OUT MODEL_DIR...
 */
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadPretrained } from '../src/models/load.js';
import { saveSafetensors } from '../src/io/checkpoint/safetensors.js';
import { tensor } from '../src/tensor/creation.js';
import type { Tensor } from '../src/tensor/tensor.js';

export const PARITY_PROMPTS = [
  'The Eiffel Tower is located in the city of',
  'The Colosseum is located in the city of',
  'The capital city of Canada is',
  'Vinson Massif is located in the continent of',
  'The mother tongue of Danielle Darrieux is',
  'Anarchism is a political philosophy and movement that is skeptical of all justifications for authority',
  'Toko Yasuda plays the',
  'In 1905, Albert Einstein published four papers that',
];

const [out, ...dirs] = process.argv.slice(2);
if (!out || dirs.length === 0) throw new Error('usage: node dist/scripts/organism-logits.js OUT MODEL_DIR...');
mkdirSync(out, { recursive: true });
for (const dir of dirs) {
  const { model, tokenizer } = await loadPretrained(dir);
  const tensors: Record<string, Tensor> = {};
  PARITY_PROMPTS.forEach((p, k) => {
    const ids = tokenizer.encode(p).ids;
    const idsT = tensor(Int32Array.from(ids), [1, ids.length]);
    tensors[`ids.${k}`] = idsT;
    tensors[`logits.${k}`] = model.forward(idsT);
  });
  const file = join(out, `${basename(dir)}.safetensors`);
  await saveSafetensors(file, tensors, { prompts: JSON.stringify(PARITY_PROMPTS) });
  for (const t of Object.values(tensors)) t.dispose();
  model.dispose();
  console.log(`${file}: ${PARITY_PROMPTS.length} prompts`);
}
