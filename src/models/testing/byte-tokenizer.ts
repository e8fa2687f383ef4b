import { tokenizerFromJson, type FactTokenizer } from '../../io/tokenizer/index.js';

/** GPT-2's byte→character table, which byte-level BPE tokenizers use to make every byte a printable token. */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) { bs.push(b); cs.push(256 + n++); }
  const table = new Array<string>(256);
  bs.forEach((b, i) => { table[b] = String.fromCharCode(cs[i]!); });
  return table;
}

/**
 * A byte-level BPE tokenizer without merges (each byte is a token, ids 0..255, and <|endoftext|> is 256), in the
 * Hugging Face format: it pairs with random-weight test models of vocabulary ≥ 257 wherever a method needs text.
 */
export function byteTokenizer(): FactTokenizer {
  const vocab: Record<string, number> = {};
  bytesToUnicode().forEach((c, b) => { vocab[c] = b; });
  vocab['<|endoftext|>'] = 256;
  return tokenizerFromJson({
    version: '1.0', truncation: null, padding: null, normalizer: null, post_processor: null,
    added_tokens: [{ id: 256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', vocab, merges: [], dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false },
  }, {}, { source: 'byte tokenizer (tests)' });
}
