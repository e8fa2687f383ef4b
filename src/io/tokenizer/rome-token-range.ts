import type { FactTokenizer } from './tokenizer.js';

/**
 * ROME's find_token_range, written independently of our offset-based spans (tests compare the two): decode each
 * token alone, join, and count characters.
 */
export function romeFindTokenRange(tok: FactTokenizer, ids: number[], subject: string): { start: number; end: number } | null {
  const pieces = ids.map((id) => tok.decode([id]));
  if (pieces.some((p) => p.includes('\uFFFD'))) return null;
  const whole = pieces.join('');
  const at = whole.indexOf(subject);
  let loc = 0;
  let start = -1;
  for (let i = 0; i < pieces.length; i++) {
    loc += pieces[i]!.length;
    if (start < 0 && loc > at) start = i;
    if (loc >= at + subject.length) return { start, end: i + 1 };
  }
  return null;
}
