import { tensor } from '../../tensor/creation.js';
import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import { generate } from '../../interventions/generate.js';
import { fluency } from './fluency.js';
import { consistency, type TfIdf } from './consistency.js';
import { decodeGenerated } from '../rome/prompts.js';

const EOS_TEXT = (tok: FactTokenizer) => (tok.eosId === null ? '\u0000' : tok.decode([tok.eosId]));

export interface GenerationMetrics {
  texts: string[];
  /** GE: mean n-gram entropy of the texts (bits; ROME reports ×100). */
  fluency: number;
  /** RS: TF-IDF cosine with the reference texts about the new object (NaN without references). */
  consistency: number;
}

/**
 * Generates one text per prompt (top-k sampling, new tokens counted, seeded) and scores the texts, prompt included,
 * as ROME scores its generation prompts. The shared CounterFact copy has no generation prompts, so callers pass the
 * rewrite prompt and its paraphrases.
 */
export async function generationMetrics(model: LanguageModel, tok: FactTokenizer, prompts: readonly string[], o: { maxNewTokens: number; topK?: number; seed?: number; tfidf?: TfIdf; references?: readonly string[] }): Promise<GenerationMetrics> {
  const texts: string[] = [];
  for (const [i, p] of prompts.entries()) {
    const ids = tok.encode(p).ids;
    const input = tensor(Int32Array.from(ids), [1, ids.length]);
    const [out] = await generate(model, input, { maxNewTokens: o.maxNewTokens, topK: o.topK ?? 5, seed: (o.seed ?? 0) + i });
    input.dispose();
    texts.push(decodeGenerated(tok, [...ids, ...out!]).replaceAll(EOS_TEXT(tok), ''));
  }
  return { texts, fluency: fluency(texts), consistency: o.tfidf && o.references ? consistency(o.tfidf, texts, o.references) : NaN };
}
