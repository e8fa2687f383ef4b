import { FactlabError } from '../../tensor/errors.js';
import type { TokenSpan } from '../../io/tokenizer/span.js';

/**
 * The token sets whose flow to the last token is knocked out (the paper's §7 and Geva et al. 2023):
 * the subject's tokens, its last token, every other token before the last (the EOS prefix included), and the last
 * token itself.
 */
export const SOURCE_SETS = ['subject', 'subject_last', 'non_subject', 'last'] as const;
export type SourceSet = (typeof SOURCE_SETS)[number];

/** The positions of a source set in a prompt of T tokens whose subject spans `subject`. */
export function sourcePositions(set: SourceSet, subject: TokenSpan, T: number): number[] {
  const range = (a: number, b: number) => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
  switch (set) {
    case 'subject': return range(subject.start, subject.end);
    case 'subject_last': return [subject.end - 1];
    case 'non_subject': return range(0, T - 1).filter((t) => t < subject.start || t >= subject.end);
    case 'last': return [T - 1];
    default: throw new FactlabError(`knockout: unknown source set ${JSON.stringify(set)} (use ${SOURCE_SETS.join(', ')})`);
  }
}

export function parseSourceSets(spec: string): SourceSet[] {
  const sets = spec.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of sets) if (!(SOURCE_SETS as readonly string[]).includes(s)) throw new FactlabError(`knockout: unknown source set ${JSON.stringify(s)} (use ${SOURCE_SETS.join(', ')})`);
  if (sets.length === 0) throw new FactlabError('knockout: no source set given');
  return sets as SourceSet[];
}
