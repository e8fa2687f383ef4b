/**
 * Writes {text, ids, decoded} triples encoded by factlab (through @huggingface/tokenizers) for
 * reference/check_tokenizer.py, which encodes the same texts with the Rust tokenizers library and transformers.
 *   node dist/scripts/tokenizer-fixture.js TOKENIZER_JSON_OR_DIR OUT.json
 * Texts: hand-picked hard cases, the known_1000 prompts (with and without "<|endoftext|> " in front) and
 * paragraphs of an enwiki shard that training with --enwiki up to 15 shards never reads (when shared data exists).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTokenizer } from '../src/io/tokenizer/index.js';
import { knownRecords, sharedPath } from '../src/io/shared-data.js';
import { textPrefix } from '../src/io/text-stream.js';

const [source, out] = process.argv.slice(2);
if (!source || !out) throw new Error('usage: node dist/scripts/tokenizer-fixture.js TOKENIZER_JSON_OR_DIR OUT.json');

const hard = [
  '', 'Hello world', ' Hello', 'café 🤗 日本語', '👩‍👩‍👧 family emoji and a flag 🇫🇷.', 'Ελληνικά και русский текст',
  'a  b   c    d\n\n\te', '<|endoftext|> Vinson Massif is located in', 'x<|endoftext|>y<|endoftext|><|endoftext|>z',
  '   leading and trailing   ', "Rock 'n' roll's ‘curly’ “quotes” — dash… don't WE'LL I'd", 'Cafe\u0301 au lait',
  'Numbers 1234567890, 3.14159 and 1,000,000; dates 1999–2024.', '\u00a0non-breaking\u00a0spaces\u2003em\ttab\r\nCRLF',
  'zero\u200bwidth and control \u0001\u007f chars', '𝐀𝐁𝐂 mathematical letters and ① circled digits ½ fractions',
  // Where JavaScript's \s and the Rust library's regex engine may disagree: NEL, BOM, line separator, Mongolian vowel separator.
  'next\u0085line', '\ufeffbyte order mark', 'line\u2028separator', 'mongolian\u180evowel',
];

const tok = await loadTokenizer(source);
const texts = [...hard];
const known = knownRecords();
texts.push(...known.map((r) => r.prompt), ...known.slice(0, 200).map((r) => `<|endoftext|> ${r.prompt}`));
const shard = sharedPath('enwiki', 'shard_15.xz');
if (shard !== null) {
  const raw = await textPrefix(shard, 300_000);
  texts.push(...raw.replace(/^<doc [^>]*>\n|^<\/doc>\n/gm, '').split(/\n\n+/).filter((t) => t.trim() !== ''));
}
const cases = texts.map((text) => {
  const { ids } = tok.encode(text);
  return { text, ids, decoded: tok.decode(ids) };
});
writeFileSync(out, `${JSON.stringify({ tokenizer: tok.source, vocabSize: tok.vocabSize, eosId: tok.eosId, cases }, null, 1)}\n`);
console.log(`${out}: ${cases.length} texts, ${cases.reduce((a, c) => a + c.ids.length, 0)} tokens (${join(tok.source)})`);
