import { FactlabError } from '../../tensor/errors.js';
import type { Offset } from './offsets.js';
import type { EncodeOptions, FactTokenizer } from './tokenizer.js';

/** Token indices [start, end): the subject's last token is end − 1. */
export interface TokenSpan {
  start: number;
  end: number;
}

export interface SubjectSpanOptions {
  /** Which occurrence when the subject appears more than once. Default 'first', as ROME's and romba's
   *  `find_token_range` (`str.index`). */
  occurrence?: 'first' | 'last';
}

/** The tokens whose ranges overlap [charStart, charEnd), or null if none does. */
export function tokenSpanForChars(offsets: readonly Offset[], charStart: number, charEnd: number): TokenSpan | null {
  let start = -1;
  let end = -1;
  for (let k = 0; k < offsets.length; k++) {
    const [a, b] = offsets[k]!;
    if (a < charEnd && b > charStart) {
      if (start < 0) start = k;
      end = k + 1;
    }
  }
  return start < 0 ? null : { start, end };
}

/**
 * The subject's token span in a prompt already encoded (offsets from `encode` of exactly `prompt`). Every
 * method locates the subject this way, so a prompt and its corrupted or edited variants agree on it.
 */
export function subjectSpanInOffsets(
  prompt: string,
  offsets: readonly Offset[],
  subject: string,
  options: SubjectSpanOptions = {},
): TokenSpan {
  if (subject.length === 0) throw new FactlabError(`subject span: the subject is empty (prompt ${JSON.stringify(prompt)})`);
  const occurrence = options.occurrence ?? 'first';
  const at = occurrence === 'first' ? prompt.indexOf(subject) : prompt.lastIndexOf(subject);
  if (at < 0) {
    throw new FactlabError(`subject span: subject ${JSON.stringify(subject)} does not occur in prompt ${JSON.stringify(prompt)}`);
  }
  const span = tokenSpanForChars(offsets, at, at + subject.length);
  if (span === null) {
    throw new FactlabError(
      `subject span: no token of prompt ${JSON.stringify(prompt)} covers subject ${JSON.stringify(subject)} (the tokenizer dropped those characters)`,
    );
  }
  return span;
}

/** Encodes the prompt and returns the token span of the subject inside it (ROME's `find_token_range`). */
export function findSubjectSpan(
  tok: FactTokenizer,
  prompt: string,
  subject: string,
  options: SubjectSpanOptions & EncodeOptions = {},
): TokenSpan {
  const { offsets } = tok.encode(prompt, { addSpecialTokens: options.addSpecialTokens });
  return subjectSpanInOffsets(prompt, offsets, subject, options);
}
