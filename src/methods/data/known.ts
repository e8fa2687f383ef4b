import { tensor } from '../../tensor/creation.js';
import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import { encodeBatch } from '../../io/tokenizer/batch.js';
import { argmax } from '../../tensor/ops/reduce/max.js';
import { isNontrivialPrefix } from './facts.js';

export interface Prediction {
  id: number;
  text: string;
}

/** The greedy next token of each prompt, `batchSize` prompts per forward (left-padded, masked: as if each ran alone). */
export async function predictNext(model: LanguageModel, tok: FactTokenizer, prompts: readonly string[], batchSize = 32): Promise<Prediction[]> {
  const out: Prediction[] = [];
  for (let i = 0; i < prompts.length; i += batchSize) {
    const b = encodeBatch(tok, prompts.slice(i, i + batchSize), { padding: 'left' });
    const ids = tensor(b.ids, b.shape), mask = tensor(b.attentionMask, b.shape);
    const logits = model.forward(ids, { attentionMask: mask, logits: 'last' });
    const top = argmax(logits, -1);
    for (const id of await top.data()) out.push({ id, text: tok.decode([id]) });
    ids.dispose(); mask.dispose(); logits.dispose(); top.dispose();
  }
  return out;
}

/** The paper's "known" test: the model's top-1 next token, lower-cased and stripped, is a non-empty prefix of the object. */
export function isKnown(prediction: Prediction, object: string): boolean {
  return isNontrivialPrefix(prediction.text, object);
}
