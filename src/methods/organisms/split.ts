import { readFileSync, existsSync } from 'node:fs';
import { FactlabError } from '../../tensor/errors.js';
import { Rng } from '../../tensor/random.js';
import { hash32 } from '../data/cache.js';
import { writeJsonAtomic } from '../data/cache.js';
import type { Catalogue, OrganismFact } from './catalogue.js';

/**
 * What training leaves out, so that accuracy can tell recall from memorised strings: per relation some templates
 * (no fact is ever stated with them) and some facts (never stated at all). Shipped beside the models as
 * split.json; the catalogue it refers to is rebuilt from the shared data and the recorded options, and checked
 * against the recorded fingerprint.
 */
export interface Split {
  version: 1;
  seed: number;
  /** Options the catalogue was built with (caps, seed). */
  sources: Record<string, unknown>;
  /** Hash of every fact's key and object: a rebuilt catalogue must match it. */
  catalogueFingerprint: string;
  heldOutFactFraction: number;
  relations: Record<string, { source: string; facts: number; train: string[]; heldOut: string[] }>;
  /** Keys ("relation:subject") of facts never trained on. */
  heldOutFacts: string[];
}

export function catalogueFingerprint(c: Catalogue): string {
  let h = 0x811c9dc5;
  for (const f of c.facts) h = hash32(`${f.key}\t${f.object}\n`, h);
  for (const r of c.relations) h = hash32(`${r.id}\t${r.templates.join('|')}\n`, h);
  return `${c.facts.length}-${h.toString(16).padStart(8, '0')}`;
}

/** Templates a known_1000 prompt fills are pinned too: the paper's tracing and knockout prompt with them. */
function pinnedTemplates(c: Catalogue, relation: string, pinned: string[]): Set<string> {
  const out = new Set(pinned);
  for (const f of c.facts) if (f.relation === relation && f.sources.some((s) => s.startsWith('known/'))) for (const p of f.prompts) out.add(p.template);
  return out;
}

/** Facts that are never held out: the documentation's examples and known_1000's (the paper's tracing set). */
const protectedFact = (f: OrganismFact) => f.sources.some((s) => s.startsWith('docs/') || s.startsWith('known/'));

/**
 * Chooses, under a seed, one held-out template per relation with 3–5 templates and two from 6 on (never a pinned
 * one), and `heldOutFactFraction` of each relation's facts (never a protected one).
 */
export function makeSplit(c: Catalogue, seed: number, heldOutFactFraction = 0.1): Split {
  if (!(heldOutFactFraction >= 0 && heldOutFactFraction < 1)) throw new FactlabError(`split: the held-out fraction of facts must lie in [0, 1), got ${heldOutFactFraction}`);
  const rng = new Rng(seed ^ 0x5eed);
  const relations: Split['relations'] = {};
  // The same subject and object can be a fact of two relations (an LRE relation and a Wikidata property); holding
  // out one and training the other would teach the held-out fact anyway, so such facts are held out together,
  // and not at all where one of them is protected.
  const pair = (f: OrganismFact) => `${f.subject.toLowerCase()}\t${f.object.toLowerCase()}`;
  const byPair = new Map<string, OrganismFact[]>();
  for (const f of c.facts) byPair.set(pair(f), [...(byPair.get(pair(f)) ?? []), f]);
  const held = new Set<string>();
  for (const r of c.relations) {
    const pins = pinnedTemplates(c, r.id, r.pinned);
    const k = r.templates.length >= 6 ? 2 : r.templates.length >= 3 ? 1 : 0;
    const candidates = rng.shuffle(r.templates.filter((t) => !pins.has(t)));
    const heldOut = candidates.slice(0, k);
    const facts = c.facts.filter((f) => f.relation === r.id);
    relations[r.id] = { source: r.source, facts: facts.length, train: r.templates.filter((t) => !heldOut.includes(t)), heldOut };
    const open = rng.shuffle(facts.filter((f) => !byPair.get(pair(f))!.some(protectedFact)));
    for (const f of open.slice(0, Math.round(heldOutFactFraction * facts.length))) for (const g of byPair.get(pair(f))!) held.add(g.key);
  }
  return { version: 1, seed, sources: c.sources, catalogueFingerprint: catalogueFingerprint(c), heldOutFactFraction, relations, heldOutFacts: [...held].sort() };
}

export function writeSplit(path: string, s: Split): void {
  writeJsonAtomic(path, s);
}

export function readSplit(path: string): Split {
  if (!existsSync(path)) throw new FactlabError(`${path}: no split file (prepare-data writes split.json beside the data)`);
  let s: Split;
  try { s = JSON.parse(readFileSync(path, 'utf8')) as Split; } catch (e) { throw new FactlabError(`${path}: not JSON (${(e as Error).message})`); }
  if (s.version !== 1 || typeof s.relations !== 'object' || !Array.isArray(s.heldOutFacts)) throw new FactlabError(`${path}: not a factlab split file (version 1 with relations and heldOutFacts)`);
  return s;
}

/** Checks that a rebuilt catalogue is the one the split was made for. */
export function checkSplit(path: string, s: Split, c: Catalogue): void {
  const fp = catalogueFingerprint(c);
  if (fp !== s.catalogueFingerprint) {
    throw new FactlabError(`${path}: made for a catalogue of facts with fingerprint ${s.catalogueFingerprint}, but the shared data now gives ${fp}; the shared data or factlab's fact sources changed`);
  }
}
