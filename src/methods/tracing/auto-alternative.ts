import { FactlabError } from '../../tensor/errors.js';
import { Rng } from '../../tensor/random.js';
import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import type { Fact } from '../data/facts.js';
import { hash32 } from '../data/cache.js';
import { predictNext } from '../data/known.js';
import { fillTemplate, templateOf } from '../data/templates.js';
import { prepareSwap } from './prepare.js';

export interface AutoAlternative {
  alt: string;
  /** Whether the alternative's fact was stated with the prompt's own template (the same relation). */
  sameTemplate: boolean;
}

/**
 * A subject to swap into a prompt that came without one, so that tracing one prompt works with no more than the
 * prompt and its subject. Subjects of facts stated with the same template (the same relation) come first, then the
 * other subjects of the pool, each group in an order drawn from the seed and the prompt. The first whose swapped
 * prompt aligns with the clean one (prepareSwap) and changes the model's top next token is taken: a swap that left
 * the prediction as it was would give nothing to restore. Null when none of the first `tries` qualifies.
 */
export async function pickAlternative(model: LanguageModel, tok: FactTokenizer, prompt: string, subject: string, pool: readonly Fact[], o: { seed?: number; mask?: boolean; tries?: number } = {}): Promise<AutoAlternative | null> {
  const template = templateOf(prompt, subject);
  if (template === null) throw new FactlabError(`--subject ${JSON.stringify(subject)} does not occur in the prompt ${JSON.stringify(prompt)}`);
  const rng = new Rng(hash32(prompt, (o.seed ?? 0) >>> 0));
  const group = (same: boolean) => rng.shuffle([...new Set(pool.filter((f) => f.subject !== subject && (templateOf(f.prompt, f.subject) === template) === same).map((f) => f.subject))]);
  const same = group(true);
  const ordered = [...same.map((alt) => ({ alt, sameTemplate: true })), ...group(false).map((alt) => ({ alt, sameTemplate: false }))];
  const aligned: AutoAlternative[] = [];
  for (const c of ordered) {
    if (aligned.length === (o.tries ?? 32)) break;
    try { prepareSwap(tok, prompt, subject, c.alt, { mask: o.mask }); aligned.push(c); } catch (e) { if (!(e instanceof FactlabError)) throw e; }
  }
  if (!aligned.length) return null;
  const preds = await predictNext(model, tok, [prompt, ...aligned.map((c) => fillTemplate(template, c.alt))]);
  const k = preds.slice(1).findIndex((p) => p.id !== preds[0]!.id);
  return k < 0 ? null : aligned[k]!;
}
