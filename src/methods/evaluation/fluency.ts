/**
 * Word tokens in the manner of NLTK's word_tokenize (Treebank rules, simplified): words, numbers with their inner
 * punctuation, contractions split off ("n't", "'s"), and every other punctuation mark on its own.
 */
export function wordTokens(text: string): string[] {
  const out: string[] = [];
  const re = /\d+(?:[.,]\d+)*|[\p{L}\p{M}]+(?=n't\b)|n't\b|'(?:s|m|d|ll|re|ve)\b|[\p{L}\p{M}\p{N}_]+(?:-[\p{L}\p{M}\p{N}_]+)*|\.\.\.|--|[^\s\p{L}\p{M}\p{N}_]/giu;
  for (const m of text.matchAll(re)) out.push(m[0]);
  return out;
}

/** Shannon entropy in bits of the n-gram frequency distribution of a token list (0 when there is no n-gram). */
export function ngramEntropy(tokens: readonly string[], n: number): number {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const g = tokens.slice(i, i + n).join('\u0000');
    counts.set(g, (counts.get(g) ?? 0) + 1);
  }
  const total = tokens.length - n + 1;
  if (total <= 0) return 0;
  let h = 0;
  for (const c of counts.values()) { const f = c / total; h -= f * Math.log2(f); }
  return h;
}

/**
 * ROME's generation entropy of one text (n_gram_entropy): a weighted mean of its bigram and trigram entropies,
 * mean(2/3·H₂, 4/3·H₃). Repetitive text scores low.
 */
export function textEntropy(text: string): number {
  const toks = wordTokens(text);
  return ((2 / 3) * ngramEntropy(toks, 2) + (4 / 3) * ngramEntropy(toks, 3)) / 2;
}

/** Fluency (GE): the mean of textEntropy over generations. */
export function fluency(texts: readonly string[]): number {
  return texts.length ? texts.reduce((a, t) => a + textEntropy(t), 0) / texts.length : NaN;
}
