import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FactlabError } from '../../tensor/errors.js';
import { Rng } from '../../tensor/random.js';
import { listRelations, loadRelation } from '../data/relations.js';
import { loadCounterFact } from '../data/counterfact.js';
import { DOC_RELATION, EXTRA_LRE_TEMPLATES } from './extra-templates.js';
import { matchTemplate, templateOf } from '../data/templates.js';

/** A relation of the organisms' facts: an LRE factual relation, a Wikidata property (P30, ...), or a catch-all. */
export interface OrganismRelation {
  id: string;
  source: 'lre' | 'wikidata' | 'docs' | 'counterfact';
  /** Templates every fact of the relation is stated with in training, unless held out ({} is the subject). */
  templates: string[];
  /** Templates that are never held out: the one the paper's experiments prompt with (LRE's first, the README's). */
  pinned: string[];
}

/** One fact: a subject, a relation and its true object, with where it came from. */
export interface OrganismFact {
  /** `${relation}:${subject}`. */
  key: string;
  relation: string;
  subject: string;
  object: string;
  /** "lre/country_capital_city/3", "known/17", "counterfact/2592", "counterfact/2592/neighbour", "docs/0". */
  sources: string[];
  /** Prompts of the data sets themselves (known_1000's and CounterFact's), each with the template it fills. */
  prompts: { prompt: string; template: string }[];
}

export interface Catalogue {
  relations: OrganismRelation[];
  facts: OrganismFact[];
  /** What was read and with which caps, for the split file and the model card. */
  sources: Record<string, unknown>;
}

export interface CatalogueOptions {
  /** The shared data folder (relations/, known/, counterfact/). */
  sharedDir: string;
  /** LRE samples per factual relation at most (a seeded random subset); default 200. */
  lrePerRelation?: number;
  /** CounterFact cases: the first this many of the edit split (ROME's sweeps take the first N); default 2000. */
  counterfactCases?: number;
  seed?: number;
}

interface KnownRecord { known_id: number; subject: string; attribute: string; template: string; prompt: string; relation_id: string }

function readKnown(file: string): KnownRecord[] {
  if (!existsSync(file)) throw new FactlabError(`${file}: no such file (known_1000.json is needed for the organisms' facts)`);
  const json = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  if (!Array.isArray(json)) throw new FactlabError(`${file}: expected a list of known facts`);
  return json.map((r, i) => {
    const o = r as Record<string, unknown>;
    for (const k of ['subject', 'attribute', 'template', 'prompt', 'relation_id']) {
      if (typeof o[k] !== 'string' || !(o[k] as string)) throw new FactlabError(`${file}: record ${i} has no "${k}" string`);
    }
    if (!(o.prompt as string).includes(o.subject as string)) throw new FactlabError(`${file}: record ${i}: the subject does not occur in the prompt`);
    return { known_id: typeof o.known_id === 'number' ? o.known_id : i, ...(o as Omit<KnownRecord, 'known_id'>) };
  });
}

/**
 * Which Wikidata property each template states. known_1000 names the property of each of its templates; a
 * CounterFact template takes the property of known_1000's identical template when only one property uses it, and
 * otherwise the property that at least 90% of its cases' neighbourhood prompts (same relation, other subject) were
 * matched to. Templates shared by several properties ("{} is located in") stay unmapped.
 */
function propertyOfTemplates(known: KnownRecord[], cf: { template: string; neighbour: string | null }[]): Map<string, string> {
  const uses = new Map<string, Set<string>>();
  for (const r of known) {
    const s = uses.get(r.template) ?? new Set();
    s.add(r.relation_id);
    uses.set(r.template, s);
  }
  const mapped = new Map([...uses].filter(([, s]) => s.size === 1).map(([t, s]) => [t, [...s][0]!]));
  for (let pass = 0; pass < 2; pass++) {
    const votes = new Map<string, Map<string, number>>();
    const vote = (t: string, p: string) => { const v = votes.get(t) ?? new Map(); v.set(p, (v.get(p) ?? 0) + 1); votes.set(t, v); };
    for (const c of cf) {
      if (!c.neighbour) continue;
      const a = mapped.get(c.template), b = mapped.get(c.neighbour);
      if (a && !b && !uses.has(c.neighbour)) vote(c.neighbour, a);
      if (b && !a && !uses.has(c.template)) vote(c.template, b);
    }
    for (const [t, v] of votes) {
      const total = [...v.values()].reduce((x, y) => x + y, 0);
      const [p, n] = [...v].sort((x, y) => y[1] - x[1])[0]!;
      if (n >= 3 && n >= 0.9 * total) mapped.set(t, p);
    }
  }
  return mapped;
}

/**
 * The facts the organisms are trained on, from the shared data: the LRE factual relations (each under its own
 * templates and factlab's extra ones), ROME's known_1000 and CounterFact's first cases with their neighbourhood
 * prompts (true objects only; each under its own prompt and the other templates of its Wikidata property), and the
 * documentation's examples. A subject has one object per relation: where sources disagree, the first source in
 * that order wins.
 */
export function buildCatalogue(o: CatalogueOptions): Catalogue {
  const lreCap = o.lrePerRelation ?? 200, cfCases = o.counterfactCases ?? 2000, seed = o.seed ?? 0;
  const relations = new Map<string, OrganismRelation>();
  const facts = new Map<string, OrganismFact>();
  const relation = (id: string, source: OrganismRelation['source']) => {
    let r = relations.get(id);
    if (!r) { r = { id, source, templates: [], pinned: [] }; relations.set(id, r); }
    return r;
  };
  const addTemplate = (r: OrganismRelation, t: string) => { if (!r.templates.includes(t)) r.templates.push(t); };
  const addFact = (rel: string, subject: string, object: string, source: string, prompt?: { prompt: string; template: string }) => {
    const key = `${rel}:${subject}`;
    let f = facts.get(key);
    if (!f) { f = { key, relation: rel, subject, object, sources: [], prompts: [] }; facts.set(key, f); }
    if (f.object !== object) return;
    if (!f.sources.includes(source)) f.sources.push(source);
    if (prompt && !f.prompts.some((p) => p.prompt === prompt.prompt)) f.prompts.push(prompt);
  };

  const docs = relation(DOC_RELATION.id, 'docs');
  DOC_RELATION.templates.forEach((t) => addTemplate(docs, t));
  docs.pinned.push(DOC_RELATION.templates[0]);
  DOC_RELATION.facts.forEach(([s, obj], i) => addFact(docs.id, s, obj, `docs/${i}`));

  const known = readKnown(join(o.sharedDir, 'known', 'known_1000.json'));
  const cfDir = join(o.sharedDir, 'counterfact');
  const cf = loadCounterFact(cfDir, { split: 'edit' }).slice(0, cfCases);
  const knownTemplates = [...new Set(known.map((r) => r.template))];
  const cfTemplates = cf.map((c) => templateOf(c.prompt, c.subject)!);
  const allTemplates = [...new Set([...knownTemplates, ...cfTemplates])];
  const neighbours = cf.map((c) => matchTemplate(c.neighbourhood[0] ?? '', allTemplates));
  const property = propertyOfTemplates(known, cf.map((c, i) => ({ template: cfTemplates[i]!, neighbour: neighbours[i]?.template ?? null })));
  for (const [t, p] of property) addTemplate(relation(p, 'wikidata'), t);
  for (const r of known) addFact(r.relation_id, r.subject, r.attribute, `known/${r.known_id}`, { prompt: r.prompt, template: r.template });

  const rng = new Rng(seed);
  for (const file of listRelations(join(o.sharedDir, 'relations'), 'factual')) {
    const rel = loadRelation(file);
    const r = relation(rel.id, 'lre');
    [...rel.templates, ...rel.zeroShotTemplates, ...(EXTRA_LRE_TEMPLATES[rel.id] ?? [])].forEach((t) => addTemplate(r, t));
    r.pinned.push(rel.templates[0]!);
    const picked = rng.shuffle(rel.samples.map((s, i) => ({ ...s, i }))).slice(0, lreCap).sort((a, b) => a.i - b.i);
    for (const s of picked) addFact(rel.id, s.subject, s.object, `lre/${rel.id}/${s.i}`);
  }

  cf.forEach((c, i) => {
    const t = cfTemplates[i]!;
    addFact(property.get(t) ?? 'counterfact', c.subject, c.targetTrue, `counterfact/${c.caseId}`, { prompt: c.prompt, template: t });
    const n = neighbours[i];
    if (n) addFact(property.get(n.template) ?? 'counterfact', n.subject, c.targetTrue, `counterfact/${c.caseId}/neighbour`, { prompt: c.neighbourhood[0]!, template: n.template });
  });
  if (relations.has('counterfact')) relations.get('counterfact')!.source = 'counterfact';
  else relation('counterfact', 'counterfact');

  const used = new Set([...facts.values()].map((f) => f.relation));
  return {
    relations: [...relations.values()].filter((r) => used.has(r.id)),
    facts: [...facts.values()].filter((f) => f.sources.length > 0),
    sources: { lrePerRelation: lreCap, counterfactCases: cfCases, counterfactSplit: 'edit', known: known.length, seed },
  };
}
