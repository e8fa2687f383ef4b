import { FactlabError } from '../../tensor/errors.js';
import { tensor } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import { tokenSpanForChars } from '../../io/tokenizer/span.js';

/** An edit: "{subject} ... " (or a prompt in which the subject occurs), the subject, and the new object. */
export interface RomeRequest {
  prompt: string;
  subject: string;
  target: string;
}

/** The prompt with the subject in place, and where the subject's characters are. */
export function fillPrompt(prompt: string, subject: string): { text: string; at: number } {
  if (prompt.includes('{}')) return { text: prompt.replace('{}', subject), at: prompt.indexOf('{}') };
  const at = prompt.indexOf(subject);
  if (at < 0) throw new FactlabError(`ROME: prompt ${JSON.stringify(prompt)} has neither {} nor the subject ${JSON.stringify(subject)}`);
  return { text: prompt, at };
}

/** Token ids of a text, and the index of the subject's last token (ROME's "subject_last" lookup). */
export interface Located {
  ids: number[];
  subjectLast: number;
}

/**
 * Encodes `context` with the prompt put in for its {} and finds the subject's last token by character offsets (the
 * subject's own occurrence, not an earlier one in sampled context text).
 */
export function locate(tok: FactTokenizer, context: string, prompt: string, subject: string): Located {
  const { text, at } = fillPrompt(prompt, subject);
  const slot = context.indexOf('{}');
  if (slot < 0) throw new FactlabError(`ROME: context template ${JSON.stringify(context)} has no {}`);
  const full = context.slice(0, slot) + text + context.slice(slot + 2);
  const { ids, offsets } = tok.encode(full);
  const span = tokenSpanForChars(offsets, slot + at, slot + at + subject.length);
  if (!span) throw new FactlabError(`ROME: no token covers the subject ${JSON.stringify(subject)} in ${JSON.stringify(full)}`);
  return { ids, subjectLast: span.end - 1 };
}

/** The target's tokens, with the leading space ROME gives it. */
export function targetIds(tok: FactTokenizer, target: string): number[] {
  const ids = tok.encode(target.startsWith(' ') ? target : ` ${target}`).ids;
  if (ids.length === 0) throw new FactlabError(`ROME: the target ${JSON.stringify(target)} has no tokens`);
  return ids;
}

/**
 * Right-padded rows: every row's real tokens are computed exactly as if alone (causal models, no mask needed), so
 * Mamba and GPT-NeoX are both exact.
 */
export function rightPadded(rows: readonly number[][], padId: number): { ids: Tensor; T: number } {
  const T = Math.max(...rows.map((r) => r.length));
  const data = new Int32Array(rows.length * T).fill(padId);
  rows.forEach((r, b) => data.set(r, b * T));
  return { ids: tensor(data, [rows.length, T]), T };
}

/** Decodes generated ids, dropping those past the tokenizer's vocabulary (the padding rows of a model's embedding). */
export function decodeGenerated(tok: FactTokenizer, ids: readonly number[]): string {
  return tok.decode(ids.filter((i) => i < tok.vocabSize && tok.idToToken(i) !== undefined));
}
