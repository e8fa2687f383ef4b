import type { CounterFactCase } from '../data/counterfact.js';
import { textCorpus } from '../data/corpus.js';
import { predictNext } from '../data/known.js';
import type { LanguageModel } from '../../models/model.js';
import type { SyntheticWorld } from '../train/synthetic.js';
import type { RomeHparams } from './hparams.js';

/** Statistics and context settings small enough for the tiny trained models (tests only). */
export function tinyRomeOptions(world: SyntheticWorld, hparams: Partial<RomeHparams> = {}) {
  return {
    corpus: textCorpus('synthetic-docs-1000', world.documents(1000, 7)),
    hparams: { mom2NSamples: 1000, mom2MaxLength: 64, mom2Ridge: 1e-3, ...hparams },
    modelId: 'tiny',
  };
}

/** The model's answer (top token, trimmed) to each relation-template-0 prompt of the world's facts. */
export async function answers(model: LanguageModel, world: SyntheticWorld, template = 0): Promise<string[]> {
  const prompts = world.facts.map((f) => world.relation(f.relation).templates[template]!.replace('{}', f.subject));
  return (await predictNext(model, world.tokenizer, prompts)).map((p) => p.text.trim());
}

/** CounterFact-style cases from the synthetic world: rewrite a person's city; paraphrase by template 1; neighbours share the city. */
export function syntheticCases(world: SyntheticWorld, n: number): CounterFactCase[] {
  const rel = world.relation('lives_in');
  const out: CounterFactCase[] = [];
  for (const [i, subject] of world.subjects.entries()) {
    if (out.length >= n) break;
    const truth = world.object(subject, 'lives_in');
    const neighbour = world.subjects.find((s) => s !== subject && world.object(s, 'lives_in') === truth);
    if (!neighbour) continue;
    const objects = rel.objects.filter((o) => o !== truth);
    out.push({
      caseId: i, prompt: rel.templates[0]!.replace('{}', subject), subject, targetTrue: truth, targetNew: objects[i % objects.length]!,
      paraphrases: [rel.templates[1]!.replace('{}', subject)], neighbourhood: [rel.templates[0]!.replace('{}', neighbour)],
    });
  }
  return out;
}
