import { FactlabError } from '../../tensor/errors.js';
import type { FactTokenizer } from '../../io/tokenizer/index.js';
import { subjectSpanInOffsets } from '../../io/tokenizer/index.js';

export interface IclPrompt {
  text: string;
  ids: number[];
  /** Token index of the subject's last token (where h is read and edited). */
  subjectLast: number;
}

export function fill(template: string, subject: string): string {
  if (!template.includes('{}')) throw new FactlabError(`LRE: template ${JSON.stringify(template)} has no {} for the subject`);
  return template.replace('{}', subject);
}

/**
 * The in-context prompt of Hernandez et al. (L:src/functional.py make_prompt): each example as
 * "template(subject) object" on its own line, then the query subject's line without its object, after an EOS
 * token where the tokenizer has one (GPT-style tokenizers add no BOS of their own).
 */
export function iclPrompt(tok: FactTokenizer, template: string, examples: readonly { subject: string; object: string }[], subject: string): IclPrompt {
  const context = examples.map((e) => `${fill(template, e.subject)} ${e.object}`).join('\n');
  const query = fill(template, subject);
  const body = context ? `${context}\n${query}` : query;
  const eos = tok.eosId !== null ? tok.idToToken(tok.eosId) ?? '' : '';
  const text = eos + body;
  const { ids, offsets } = tok.encode(text);
  // The query line comes last, so the subject's last occurrence is the query's even when an example shares it.
  const subjectLast = subjectSpanInOffsets(text, offsets, subject, { occurrence: 'last' }).end - 1;
  return { text, ids, subjectLast };
}
