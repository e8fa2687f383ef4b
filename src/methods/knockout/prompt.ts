import { FactlabError } from '../../tensor/errors.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import { subjectSpanInOffsets, type TokenSpan } from '../../io/tokenizer/span.js';

export interface KnockoutPrompt {
  /** The text run: the prompt behind the EOS prefix, if any. */
  text: string;
  ids: number[];
  subject: TokenSpan;
  /** The tokens, decoded one by one. */
  tokens: string[];
}

/**
 * The prompt as the paper's knockout runs it: "<|endoftext|> " + prompt (romba's maybe_prefix_eos), so that the
 * first real token is not the first position, and the EOS is one of the non-subject tokens. Without an EOS token
 * in the tokenizer, or with `eosPrefix` false, the bare prompt.
 */
export function knockoutPrompt(tok: FactTokenizer, prompt: string, subject: string, eosPrefix = true): KnockoutPrompt {
  const eos = tok.eosId === null ? undefined : tok.idToToken(tok.eosId);
  const text = eosPrefix && eos !== undefined ? `${eos} ${prompt}` : prompt;
  const { ids, offsets } = tok.encode(text);
  if (ids.length < 2) throw new FactlabError(`knockout: prompt ${JSON.stringify(prompt)} has fewer than 2 tokens`);
  const span = subjectSpanInOffsets(text, offsets, subject);
  if (span.end >= ids.length) throw new FactlabError(`knockout: the subject ${JSON.stringify(subject)} ends the prompt ${JSON.stringify(prompt)}; the last token must follow it`);
  return { text, ids, subject: span, tokens: ids.map((id) => tok.decode([id])) };
}
