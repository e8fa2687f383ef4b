import { FactlabError } from '../../tensor/errors.js';
import { Rng } from '../../tensor/random.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import { subjectSpanInOffsets, tokenSpanForChars, type TokenSpan } from '../../io/tokenizer/span.js';
import type { NoiseSettings, TraceInput } from './types.js';
import type { Fact } from '../data/facts.js';
import { hash32 } from '../data/cache.js';

export interface Prepared {
  input: TraceInput;
  /** The clean prompt's tokens, decoded one by one. */
  tokens: string[];
  /** Subject swap: the corrupted prompt. */
  altPrompt?: string;
  /** Noise: how it was drawn. */
  noise?: NoiseSettings;
}

function encodeSubject(tok: FactTokenizer, prompt: string, at: number, subject: string): { ids: number[]; span: TokenSpan } {
  const { ids, offsets } = tok.encode(prompt);
  const span = tokenSpanForChars(offsets, at, at + subject.length);
  if (span === null) throw new FactlabError(`no token of prompt ${JSON.stringify(prompt)} covers subject ${JSON.stringify(subject)}`);
  return { ids, span };
}

const decodeEach = (tok: FactTokenizer, ids: readonly number[]) => ids.map((id) => tok.decode([id]));

/**
 * The clean prompt and the prompt with its subject replaced by `altSubject` (the first occurrence, where the
 * subject span is found), left-padded to one width so that the subjects end in the same column, as romba's batch
 * is. The text after the subject is the same in both, so its tokens must be too: then the last tokens share a
 * column and every column after the subject holds the same token in both rows. Where the tokenizer merges across
 * the subject's end differently (romba asserts it does not), this throws, and a data set tries another subject.
 */
export function prepareSwap(tok: FactTokenizer, prompt: string, subject: string, altSubject: string, opts: { mask?: boolean; padId?: number } = {}): Prepared {
  const clean = tok.encode(prompt);
  const span = subjectSpanInOffsets(prompt, clean.offsets, subject);
  const at = prompt.indexOf(subject);
  const altPrompt = prompt.slice(0, at) + altSubject + prompt.slice(at + subject.length);
  const alt = encodeSubject(tok, altPrompt, at, altSubject);
  const cleanTail = clean.ids.slice(span.end), altTail = alt.ids.slice(alt.span.end);
  if (cleanTail.length !== altTail.length || cleanTail.some((id, i) => id !== altTail[i])) {
    throw new FactlabError(`subject swap: the tokens after ${JSON.stringify(subject)} and after ${JSON.stringify(altSubject)} differ, so the prompts cannot be aligned at the subject's last token`);
  }
  const padId = opts.padId ?? tok.padId ?? 0;
  const T = Math.max(clean.ids.length, alt.ids.length);
  const ids = new Int32Array(2 * T).fill(padId);
  const mask = new Int32Array(2 * T);
  const padC = T - clean.ids.length, padA = T - alt.ids.length;
  ids.set(clean.ids, padC); mask.fill(1, padC, T);
  ids.set(alt.ids, T + padA); mask.fill(1, T + padA, 2 * T);
  return {
    input: { ids, mask: opts.mask === false ? null : mask, T, subject: { start: span.start + padC, end: span.end + padC }, first: padC, noise: null },
    tokens: decodeEach(tok, clean.ids),
    altPrompt,
  };
}

/**
 * The clean prompt in both rows; the corrupted row gets `samples` draws of N(0, std²) added to the embeddings of
 * the subject's tokens (ROME's corruption, with its 10 samples by default), drawn from `seed`.
 */
export function prepareNoise(tok: FactTokenizer, prompt: string, subject: string, opts: { samples: number; std: number; dModel: number; seed: number }): Prepared {
  const { ids: clean, offsets } = tok.encode(prompt);
  const span = subjectSpanInOffsets(prompt, offsets, subject);
  const T = clean.length;
  const ids = new Int32Array(2 * T);
  ids.set(clean, 0); ids.set(clean, T);
  const rng = new Rng(opts.seed);
  const noise = Array.from({ length: opts.samples }, () => {
    const x = new Float32Array(T * opts.dModel);
    for (let t = span.start; t < span.end; t++) for (let j = 0; j < opts.dModel; j++) x[t * opts.dModel + j] = opts.std * rng.normal();
    return x;
  });
  return { input: { ids, mask: null, T, subject: span, first: 0, noise }, tokens: decodeEach(tok, clean) };
}

/** Another subject of the fact's relation, with another object, whose prompt aligns; seeded by the fact, so resuming changes nothing. */
export function chooseAlternative(tok: FactTokenizer, fact: Fact, pool: readonly Fact[], seed: number, mask: boolean): { alt: string; prepared: Prepared } | null {
  const candidates = [...new Set(pool.filter((f) => (f.relation ?? '') === (fact.relation ?? '') && f.subject !== fact.subject && f.object !== fact.object).map((f) => f.subject))];
  new Rng(hash32(fact.key, seed >>> 0)).shuffle(candidates);
  for (const alt of candidates) {
    try { return { alt, prepared: prepareSwap(tok, fact.prompt, fact.subject, alt, { mask }) }; } catch (e) { if (!(e instanceof FactlabError)) throw e; }
  }
  return null;
}
