import { FactlabError } from '../../tensor/errors.js';
import { Rng } from '../../tensor/random.js';
import type { TrainingData } from '../train/run.js';
import type { PreparedData } from './data-dir.js';

export interface MixOptions {
  /** The share of the stream's tokens that are fact statements (default 0.5). */
  factShare?: number;
  seed?: number;
}

export interface MixPlan {
  factShare: number;
  /** Times each training statement occurs in one pass over the stream. */
  repeats: number;
  streamTokens: number;
  wikiTokens: number;
  factTokens: number;
  statements: number;
  facts: number;
  /** Mean statements per fact. */
  statementsPerFact: number;
}

/** How often, in expectation, a run of `tokensSeen` tokens shows each statement and each fact. */
export function exposures(plan: MixPlan, tokensSeen: number): { passes: number; perStatement: number; perFact: number } {
  const passes = tokensSeen / plan.streamTokens;
  return { passes, perStatement: passes * plan.repeats, perFact: passes * plan.repeats * plan.statementsPerFact };
}

/**
 * The training stream: Wikipedia articles and fact documents, shuffled together under a seed. Each training
 * statement occurs `repeats` times, enough for facts to make up `factShare` of the tokens; the occurrences are
 * shuffled and grouped into documents of one to eight statements, each document after an end-of-text token, its
 * first statement without a leading space (as a prompt begins) and the others after one. Training windows start
 * anywhere, so a fact is seen both at the start of a window and deep in one.
 */
export function buildMix(data: PreparedData, o: MixOptions = {}): { training: TrainingData; plan: MixPlan } {
  const factShare = o.factShare ?? 0.5, seed = o.seed ?? 0;
  if (!(factShare > 0 && factShare < 1)) throw new FactlabError(`mix: the share of fact tokens must lie strictly between 0 and 1, got ${factShare}`);
  const { first, spaced } = data.statements;
  const n = first.length;
  if (n === 0) throw new FactlabError(`${data.dir}: holds no training statements`);
  const wiki = data.wikiTrain;
  const meanLen = spaced.reduce((a, s) => a + s.length, 0) / n;
  const repeats = Math.max(1, Math.round((factShare / (1 - factShare)) * (wiki.length / (n * meanLen))));
  const rng = new Rng(seed);

  const order = rng.shuffle(Array.from({ length: n * repeats }, (_, i) => i % n));
  const factDocs: number[][] = [];
  for (let at = 0; at < order.length;) {
    const k = 1 + rng.int(8);
    factDocs.push(order.slice(at, at + k));
    at += k;
  }
  // Article boundaries: every end-of-text token starts one.
  const articles: [number, number][] = [];
  let start = 0;
  for (let i = 1; i <= wiki.length; i++) if (i === wiki.length || wiki[i] === data.info.eosId) { articles.push([start, i]); start = i; }
  const docs = rng.shuffle([...articles.map((a) => ({ wiki: a })), ...factDocs.map((f) => ({ facts: f }))] as ({ wiki: [number, number] } | { facts: number[] })[]);

  let total = wiki.length;
  for (const d of factDocs) { total += 1 + first[d[0]!]!.length; for (let j = 1; j < d.length; j++) total += spaced[d[j]!]!.length; }
  const tokens = new Int32Array(total);
  let at = 0, factTokens = 0;
  for (const d of docs) {
    if ('wiki' in d) { tokens.set(wiki.subarray(d.wiki[0], d.wiki[1]), at); at += d.wiki[1] - d.wiki[0]; continue; }
    const begin = at;
    tokens[at++] = data.info.eosId;
    d.facts.forEach((s, j) => { const ids = j === 0 ? first[s]! : spaced[s]!; tokens.set(ids, at); at += ids.length; });
    factTokens += at - begin;
  }
  const facts = new Set(data.statements.fact).size;
  const plan: MixPlan = { factShare, repeats, streamTokens: total, wikiTokens: wiki.length, factTokens, statements: n, facts, statementsPerFact: n / facts };
  return { training: { stream: { tokens }, fingerprint: `${data.info.fingerprint}/mix-${factShare}-${seed}` }, plan };
}
