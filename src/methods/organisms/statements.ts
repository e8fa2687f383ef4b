import type { Catalogue, OrganismFact } from './catalogue.js';
import type { Split } from './split.js';
import { fillTemplate } from '../data/templates.js';

/** A prompt about a fact, and whether its template is one the model was trained with. */
export interface FactPrompt {
  fact: number;
  prompt: string;
  /** The template it fills, or null for a data set's own prompt whose template is unknown. */
  template: string;
  heldOutTemplate: boolean;
}

/** "… is Paris." — the period is left out after an object that already ends in one ("Washington D.C."). */
export function statement(prompt: string, object: string): string {
  return `${prompt} ${object}${object.endsWith('.') ? '' : '.'}`;
}

/**
 * Every prompt of every fact: the relation's templates filled with the subject, and the data sets' own prompts
 * (known_1000's, CounterFact's), without duplicates. Training states each fact that is not held out with each of
 * its prompts whose template is not held out; the others are for evaluation.
 */
export function factPrompts(c: Catalogue, split: Split): FactPrompt[] {
  const out: FactPrompt[] = [];
  c.facts.forEach((f: OrganismFact, i) => {
    const rel = split.relations[f.relation];
    const heldOut = new Set(rel?.heldOut ?? []);
    const seen = new Set<string>();
    const add = (prompt: string, template: string) => {
      if (seen.has(prompt)) return;
      seen.add(prompt);
      out.push({ fact: i, prompt, template, heldOutTemplate: heldOut.has(template) });
    };
    for (const t of [...(rel?.train ?? []), ...(rel?.heldOut ?? [])]) add(fillTemplate(t, f.subject), t);
    for (const p of f.prompts) add(p.prompt, p.template);
  });
  return out;
}

/**
 * The statements training uses: facts not held out, with their prompts of templates not held out. A string that
 * also states something held out (another relation can share a template and a fact) is left out too, so that no
 * evaluation prompt of a held-out fact or template was ever seen with its answer.
 */
export function trainingStatements(c: Catalogue, split: Split): { fact: number; text: string }[] {
  const heldOutFacts = new Set(split.heldOutFacts);
  const all = factPrompts(c, split).map((p) => ({ ...p, text: statement(p.prompt, c.facts[p.fact]!.object), held: p.heldOutTemplate || heldOutFacts.has(c.facts[p.fact]!.key) }));
  const heldTexts = new Set(all.filter((p) => p.held).map((p) => p.text));
  const seen = new Set<string>();
  return all.filter((p) => !p.held && !heldTexts.has(p.text) && !seen.has(p.text) && seen.add(p.text)).map((p) => ({ fact: p.fact, text: p.text }));
}
