/**
 * GPT-2's byte-level scheme, shared by GPT-2, GPT-NeoX-20B and the tokenizers factlab trains: text is split into
 * words by one regular expression, and each word's UTF-8 bytes are written as printable characters so that every
 * byte sequence is a string and every string can be encoded.
 */

/**
 * GPT-2's pre-tokenization pattern, as Hugging Face's ByteLevel pre-tokenizer (use_regex: true) applies it. Every
 * character of a text falls in exactly one match.
 */
export const GPT2_PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** CHAR_OF_BYTE[b] is the character that stands for byte b: printable Latin-1 bytes stand for themselves, the
 *  rest (controls, space, soft hyphen) are shifted to U+0100 and up, in byte order. */
export const CHAR_OF_BYTE: readonly string[] = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = [];
  let shifted = 0;
  for (let b = 0; b < 256; b++) out.push(String.fromCharCode(printable(b) ? b : 256 + shifted++));
  return out;
})();

export const BYTE_OF_CHAR: ReadonlyMap<string, number> = new Map(CHAR_OF_BYTE.map((c, b) => [c, b]));

/**
 * The 256 byte characters in code-point order, the order in which Hugging Face's trainer numbers its initial
 * alphabet (GPT-NeoX-20B: "!" is id 2 after its two special tokens).
 */
export function byteAlphabet(): string[] {
  return [...CHAR_OF_BYTE].sort((a, b) => a.charCodeAt(0) - b.charCodeAt(0));
}
