// A tokenizer trained by factlab, used through the same loader as GPT-NeoX-20B's (@huggingface/tokenizers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FactlabError } from '../../tensor/errors.js';
import { knownRecords, sharedPath, skipWithoutData } from '../shared-data.js';
import { textPrefix } from '../text-stream.js';
import { romeFindTokenRange } from './rome-token-range.js';
import {
  findSubjectSpan, loadTokenizer, serializeTokenizerJson, tokenizerFromJson, trainByteLevelBpe, writeTokenizerDir, writeTokenizerJson,
  type FactTokenizer, type Offset, type TokenizerJson,
} from './index.js';

const VOCAB = 4096;

async function enwikiTexts(shard: string, chars: number): Promise<string[]> {
  const text = await textPrefix(join(sharedPath('enwiki')!, shard), chars);
  return text.split(/^<doc [^>]*>\n|^<\/doc>\n/m).filter((t) => t.trim() !== '');
}

let trained: Promise<{ json: TokenizerJson; tok: FactTokenizer }> | undefined;
// 400 KB of Wikipedia: seconds to train, and enough for 4096 tokens.
const trainedTokenizer = () => (trained ??= (async () => {
  const json = await trainByteLevelBpe(await enwikiTexts('shard_00.xz', 400_000), { vocabSize: VOCAB });
  return { json, tok: tokenizerFromJson(JSON.parse(serializeTokenizerJson(json)), {}, { source: 'trained.json' }) };
})());

const hardTexts = [
  'Hello world',
  'café 🤗 日本語',
  '👩‍👩‍👧 family emoji and a flag 🇫🇷.',
  'Ελληνικά και русский текст',
  'a  b   c    d\n\n\te',
  '<|endoftext|> Vinson Massif is located in',
  'x<|endoftext|>y<|endoftext|><|endoftext|>z',
  '   leading and trailing   ',
  "Rock 'n' roll's ‘curly’ “quotes” — dash… don't WE'LL",
  'Cafe\u0301 au lait',
  'Numbers 1234567890, 3.14159 and 1,000,000; dates 1999–2024.',
  '\u00a0non-breaking\u00a0spaces\u2003em space\ttab\r\nCRLF\u2028line separator',
  'zero\u200bwidth and \ufeffBOM and control \u0001\u007f chars',
];

/** Offsets start at 0, end at the text's end, follow each other with no gap, and overlap only by a shared character. */
function checkTiling(text: string, offsets: Offset[]) {
  assert.equal(offsets[0]![0], 0, JSON.stringify(text));
  assert.equal(offsets[offsets.length - 1]![1], text.length, JSON.stringify(text));
  for (let k = 1; k < offsets.length; k++) {
    const [a] = offsets[k]!;
    const [, pb] = offsets[k - 1]!;
    assert.ok(a <= pb, `${JSON.stringify(text)}: gap before token ${k}`);
    if (a < pb) assert.equal([...text.slice(a, pb)].length, 1, `${JSON.stringify(text)}: tokens ${k - 1},${k} overlap by more than a character`);
  }
}


test('a trained tokenizer loads with the Hugging Face library: size, end of text at id 0', { skip: skipWithoutData }, async () => {
  const { tok } = await trainedTokenizer();
  assert.equal(tok.vocabSize, VOCAB);
  assert.equal(tok.eosId, 0);
  assert.equal(tok.padId, 0);
  assert.equal(tok.tokenToId('<|endoftext|>'), 0);
  assert.equal(tok.idToToken(0), '<|endoftext|>');
  // The paper's prompts start with "<|endoftext|> ": one id, then the text.
  const { ids } = tok.encode('<|endoftext|> The Eiffel Tower is in');
  assert.equal(ids[0], 0);
  assert.ok(!ids.slice(1).includes(0));
  assert.deepEqual(tok.encode('x<|endoftext|>y').ids, [tok.tokenToId('x'), 0, tok.tokenToId('y')]);
  assert.equal(tok.decode([0]), '<|endoftext|>');
  assert.equal(tok.decode([0, ...tok.encode(' Paris').ids], { skipSpecialTokens: true }), ' Paris');
  // Common words are single tokens; every byte is in the vocabulary, so nothing is unknown.
  assert.equal(tok.encode(' the').ids.length, 1);
  const allBytes = String.fromCharCode(...Array.from({ length: 128 }, (_, i) => i)) + 'ÿ€𝄞';
  assert.equal(tok.decode(tok.encode(allBytes).ids), allBytes);
});

test('decode inverts encode on unseen Wikipedia text, the known_1000 prompts and hard texts', { skip: skipWithoutData }, async () => {
  const { tok } = await trainedTokenizer();
  const unseen = await enwikiTexts('shard_01.xz', 200_000);
  const texts = [...unseen, ...knownRecords().map((r) => r.prompt), ...hardTexts];
  let tokens = 0;
  let chars = 0;
  for (const text of texts) {
    const { ids } = tok.encode(text);
    // No normalizer: even decomposed accents come back exactly.
    assert.equal(tok.decode(ids), text, JSON.stringify(text.slice(0, 80)));
    tokens += ids.length;
    chars += text.length;
  }
  // A 4k vocabulary trained on 400 KB still compresses English well beyond bytes.
  assert.ok(chars / tokens > 3, `${(chars / tokens).toFixed(2)} characters per token`);
});

test('offsets tile the text and subject spans are found on all 1209 known_1000 prompts', { skip: skipWithoutData }, async () => {
  const { tok } = await trainedTokenizer();
  for (const text of hardTexts) checkTiling(text, tok.encode(text).offsets);
  const records = knownRecords();
  assert.equal(records.length, 1209);
  for (const { subject, prompt, known_id } of records) {
    const where = `known_id ${known_id}`;
    const { ids, offsets } = tok.encode(prompt);
    checkTiling(prompt, offsets);
    const span = findSubjectSpan(tok, prompt, subject);
    assert.ok(tok.decode(ids.slice(span.start, span.end)).includes(subject), where);
    const at = prompt.indexOf(subject);
    const last = at + subject.length - 1;
    assert.ok(offsets[span.start]![0] <= at && at < offsets[span.start]![1], `${where}: first token`);
    assert.ok(offsets[span.end - 1]![0] <= last && last < offsets[span.end - 1]![1], `${where}: last token`);
    const rome = romeFindTokenRange(tok, ids, subject);
    if (rome !== null) assert.deepEqual(span, rome, where);
  }
  // With "<|endoftext|> " in front, the span moves by exactly the special token and the text's first word.
  const prompt = 'Vinson Massif is located in the continent of';
  const plain = findSubjectSpan(tok, prompt, 'Vinson Massif');
  const prefixed = findSubjectSpan(tok, `<|endoftext|> ${prompt}`, 'Vinson Massif');
  assert.equal(plain.start, 0);
  assert.equal(prefixed.start, 1);
});

test('an NFC tokenizer normalizes, and the default one does not', async () => {
  const texts = ['Café au lait, café noir, cafés. '.repeat(5)];
  const nfc = tokenizerFromJson(await trainByteLevelBpe(texts, { vocabSize: 300, nfc: true }));
  const raw = tokenizerFromJson(await trainByteLevelBpe(texts, { vocabSize: 300 }));
  assert.deepEqual(nfc.encode('Cafe\u0301').ids, nfc.encode('Café').ids);
  assert.notDeepEqual(raw.encode('Cafe\u0301').ids, raw.encode('Café').ids);
  assert.equal(raw.decode(raw.encode('Cafe\u0301').ids), 'Cafe\u0301');
});

test('written to a folder or a file, atomically, and loaded back with loadTokenizer', { skip: skipWithoutData }, async () => {
  const { json, tok } = await trainedTokenizer();
  const dir = mkdtempSync(join(tmpdir(), 'factlab-bpe-'));
  try {
    const model = join(dir, 'model');
    await writeTokenizerDir(model, json);
    assert.deepEqual(readdirSync(model).sort(), ['tokenizer.json', 'tokenizer_config.json']);
    const config = JSON.parse(readFileSync(join(model, 'tokenizer_config.json'), 'utf8'));
    assert.equal(config.eos_token, '<|endoftext|>');
    assert.equal(config.clean_up_tokenization_spaces, false);
    const loaded = await loadTokenizer(model);
    const text = 'The Eiffel Tower is located in the city of';
    assert.deepEqual(loaded.encode(text), tok.encode(text));
    assert.equal(loaded.eosId, 0);

    // Writing again replaces the file whole; the bytes are the serialization, nothing else.
    const file = join(dir, 'alone.json');
    await writeTokenizerJson(file, json);
    await writeTokenizerJson(file, json);
    assert.equal(readFileSync(file, 'utf8'), serializeTokenizerJson(json));
    assert.deepEqual((await loadTokenizer(file)).encode(text).ids, tok.encode(text).ids);

    // A failed write names the file and leaves no temporary file behind.
    const blocked = join(dir, 'blocked');
    mkdirSync(join(blocked, 'tokenizer.json'), { recursive: true });
    await assert.rejects(writeTokenizerDir(blocked, json), (e: unknown) => e instanceof FactlabError && e.message.includes(join(blocked, 'tokenizer.json')));
    assert.deepEqual(readdirSync(blocked).sort(), ['tokenizer.json', 'tokenizer_config.json']);
    assert.ok(readdirSync(dir).every((f) => !f.endsWith('.tmp')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
