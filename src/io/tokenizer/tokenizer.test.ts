import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FactlabError } from '../../tensor/errors.js';
import { loadTokenizer, tokenizerFromJson, type FactTokenizer, type Offset } from './index.js';
import { knownRecords, neoxTokenizerPath, skipWithoutData } from '../shared-data.js';

let neoxCache: Promise<FactTokenizer> | undefined;
const neox = () => (neoxCache ??= loadTokenizer(neoxTokenizerPath!));

// Texts beyond the ROME prompts that stress offsets: multi-byte characters split over tokens, runs of spaces
// (added tokens in GPT-NeoX-20B), newlines, a special token inside the text, decomposed accents.
const hardTexts = [
  'Hello world',
  'café 🤗 日本語',
  '👩‍👩‍👧 family emoji and a flag 🇫🇷.',
  'Ελληνικά και русский текст',
  'a  b   c    d\n\n\te',
  '<|endoftext|> Vinson Massif is located in',
  'x<|endoftext|>y<|padding|>z',
  '   leading and trailing   ',
  "Rock 'n' roll's ‘curly’ “quotes” — dash…",
  'Cafe\u0301 au lait',
];

const expectError = (fn: () => unknown, ...parts: string[]) =>
  assert.throws(fn, (e: unknown) => e instanceof FactlabError && parts.every((p) => e.message.includes(p)));

async function expectRejects(p: Promise<unknown>, ...parts: string[]) {
  await assert.rejects(p, (e: unknown) => e instanceof FactlabError && parts.every((s) => e.message.includes(s)));
}

/** Offsets start at 0, end at the text's end, and follow each other with no gap; neighbours overlap only by
 *  one character whose bytes they share. */
function checkTiling(text: string, offsets: Offset[]) {
  assert.ok(offsets.length > 0, JSON.stringify(text));
  assert.equal(offsets[0]![0], 0, JSON.stringify(text));
  assert.equal(offsets[offsets.length - 1]![1], text.length, JSON.stringify(text));
  for (let k = 0; k < offsets.length; k++) {
    const [a, b] = offsets[k]!;
    assert.ok(a < b, `${JSON.stringify(text)} token ${k} is empty`);
    if (k === 0) continue;
    const [pa, pb] = offsets[k - 1]!;
    assert.ok(a >= pa && b >= pb, `${JSON.stringify(text)} offsets go backwards at ${k}`);
    if (a !== pb) {
      assert.ok(a < pb, `${JSON.stringify(text)} gap before token ${k}`);
      assert.equal([...text.slice(a, pb)].length, 1, `${JSON.stringify(text)} tokens ${k - 1},${k} overlap by more than a character`);
    }
  }
}

test('GPT-NeoX-20B: known ids and special tokens', { skip: skipWithoutData }, async () => {
  const tok = await neox();
  assert.deepEqual(tok.encode('Hello world').ids, [12092, 1533]);
  assert.deepEqual(tok.encode('Hello world').offsets, [[0, 5], [5, 11]]);
  assert.equal(tok.vocabSize, 50277);
  assert.equal(tok.eosId, 0);
  assert.equal(tok.padId, 0);
  assert.equal(tok.tokenToId('<|endoftext|>'), 0);
  assert.equal(tok.tokenToId('<|padding|>'), 1);
  assert.equal(tok.idToToken(0), '<|endoftext|>');
  assert.equal(tok.idToToken(1533), 'Ġworld');
  assert.equal(tok.tokenToId('no such token'), undefined);
  assert.equal(tok.idToToken(10 ** 6), undefined);
  // The post-processor adds nothing for GPT-NeoX, with or without special tokens.
  assert.deepEqual(tok.encode('Hello world', { addSpecialTokens: false }).ids, [12092, 1533]);
  assert.deepEqual(tok.encode('<|endoftext|> Hello').ids.slice(0, 1), [0]);
  assert.deepEqual(tok.encode(''), { ids: [], offsets: [] });
});

test('GPT-NeoX-20B: decode inverts encode on the 1209 known_1000 prompts and hard texts', { skip: skipWithoutData }, async () => {
  const tok = await neox();
  const records = knownRecords();
  assert.equal(records.length, 1209);
  for (const text of [...records.map((r) => r.prompt), ...hardTexts.filter((t) => t === t.normalize('NFC'))]) {
    assert.equal(tok.decode(tok.encode(text).ids), text);
  }
  assert.equal(tok.decode([]), '');
  assert.equal(tok.decode([0, 12092, 1533, 1]), '<|endoftext|>Hello world<|padding|>');
  assert.equal(tok.decode([0, 12092, 1533, 1], { skipSpecialTokens: true }), 'Hello world');
  // No clean-up of spaces, so that decode stays the inverse of encode.
  assert.equal(tok.decode(tok.encode("Rock 'n' roll , he said .").ids), "Rock 'n' roll , he said .");
  expectError(() => tok.decode([12092, 60000]), 'cannot decode id 60000', 'tokenizer.json');
  expectError(() => tok.decode([1.5]), 'cannot decode id 1.5');
});

test('GPT-NeoX-20B: offsets tile every prompt and match each whole-character token', { skip: skipWithoutData }, async () => {
  const tok = await neox();
  const texts = [...knownRecords().map((r) => r.prompt), ...hardTexts];
  for (const text of texts) {
    const { ids, offsets } = tok.encode(text);
    assert.equal(offsets.length, ids.length);
    checkTiling(text, offsets);
    if (text !== text.normalize('NFC')) continue;
    for (let k = 0; k < ids.length; k++) {
      const piece = tok.decode([ids[k]!]);
      // A token holding part of a character decodes to U+FFFD; the rest spell their text exactly.
      if (!piece.includes('\uFFFD')) assert.equal(text.slice(...offsets[k]!), piece, `${JSON.stringify(text)} token ${k}`);
    }
  }
});

test('GPT-NeoX-20B: tokens splitting a character each cover the whole character', { skip: skipWithoutData }, async () => {
  const tok = await neox();
  const text = 'café 🤗 日本語';
  const { ids, offsets } = tok.encode(text);
  assert.deepEqual(ids, [68, 2320, 860, 22692, 99, 234, 209, 49868, 19119, 241]);
  const pieces = offsets.map((o) => text.slice(...o));
  assert.deepEqual(pieces, ['c', 'af', 'é', ' 🤗', '🤗', '🤗', ' ', '日本', '語', '語']);
  // The emoji is a surrogate pair; no token's range cuts it.
  assert.deepEqual(offsets.slice(3, 6), [[4, 7], [5, 7], [5, 7]]);
});

test('GPT-NeoX-20B: offsets refer to the text as given, before NFC normalization', { skip: skipWithoutData }, async () => {
  const tok = await neox();
  const text = 'Cafe\u0301 au lait';
  const { ids, offsets } = tok.encode(text);
  assert.deepEqual(ids, tok.encode('Café au lait').ids);
  assert.deepEqual(offsets.map((o) => text.slice(...o)), ['C', 'af', 'e\u0301', ' au', ' la', 'it']);
});

test('GPT-NeoX-20B: offsets by decoding agree with the byte-level offsets', { skip: skipWithoutData }, async () => {
  const json = JSON.parse(readFileSync(neoxTokenizerPath!, 'utf8')) as unknown;
  const byDecode = tokenizerFromJson(json, {}, { offsets: 'decode' });
  const tok = await neox();
  for (const text of [...knownRecords().map((r) => r.prompt), ...hardTexts]) {
    assert.deepEqual(byDecode.encode(text), tok.encode(text), JSON.stringify(text));
  }
});

// A hand-written WordPiece tokenizer: not byte-level, lowercases and strips accents, adds [CLS] and [SEP].
const wordPiece = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: ['[UNK]', '[CLS]', '[SEP]'].map((content, id) => ({
    id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  })),
  normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
  pre_tokenizer: { type: 'BertPreTokenizer' },
  post_processor: {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
    pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: {
      '[CLS]': { id: '[CLS]', ids: [1], tokens: ['[CLS]'] },
      '[SEP]': { id: '[SEP]', ids: [2], tokens: ['[SEP]'] },
    },
  },
  decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
  model: {
    type: 'WordPiece',
    unk_token: '[UNK]',
    continuing_subword_prefix: '##',
    max_input_chars_per_word: 100,
    vocab: { '[UNK]': 0, '[CLS]': 1, '[SEP]': 2, hello: 3, ',': 4, world: 5, '!': 6, play: 7, '##ing': 8, cafe: 9 },
  },
};

test('a WordPiece tokenizer gets offsets by decoding, in the original text', () => {
  const tok = tokenizerFromJson(wordPiece, {}, { source: 'wordpiece.json' });
  assert.equal(tok.vocabSize, 10);
  assert.equal(tok.eosId, null);
  assert.equal(tok.padId, null);

  const text = 'Hello, World!';
  const enc = tok.encode(text);
  assert.deepEqual(enc.ids, [1, 3, 4, 5, 6, 2]);
  // [CLS] and [SEP] spell nothing of the text: empty ranges where they stand.
  assert.deepEqual(enc.offsets, [[0, 0], [0, 5], [5, 6], [6, 12], [12, 13], [13, 13]]);
  assert.deepEqual(tok.encode(text, { addSpecialTokens: false }).ids, [3, 4, 5, 6]);

  const accented = 'Playing CAFÉ';
  const enc2 = tok.encode(accented, { addSpecialTokens: false });
  assert.deepEqual(enc2.ids, [7, 8, 9]);
  assert.deepEqual(enc2.offsets.map((o) => accented.slice(...o)), ['Play', 'ing', ' CAFÉ']);
});

test('tokenizerFromJson: clear errors for things that are not tokenizers', () => {
  expectError(() => tokenizerFromJson([1, 2], {}, { source: 'x.json' }), 'x.json', 'not a tokenizer.json');
  expectError(() => tokenizerFromJson({ version: '1.0' }, {}, { source: 'x.json' }), 'x.json', 'no "model"');
  expectError(() => tokenizerFromJson({ ...wordPiece, model: { type: 'Nonsense' } }, {}, { source: 'x.json' }), 'x.json', 'cannot build');
  expectError(() => tokenizerFromJson(wordPiece, { eos_token: '</s>' }, { source: 'x.json' }), 'x.json', 'eos_token "</s>"');
  const tok = tokenizerFromJson(wordPiece, {}, { source: 'wp.json' });
  expectError(() => tok.encode(42 as unknown as string), 'wp.json', 'expects a string');
});

test('loadTokenizer: directory or file, tokenizer_config.json, and errors naming the path', { skip: skipWithoutData }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'factlab-tok-'));
  try {
    await expectRejects(loadTokenizer(join(dir, 'absent')), join(dir, 'absent'), 'no such');
    await expectRejects(loadTokenizer(dir), dir, 'has no tokenizer.json');

    const broken = join(dir, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'tokenizer.json'), '{"model": ');
    await expectRejects(loadTokenizer(broken), join(broken, 'tokenizer.json'), 'not valid JSON');

    const model = join(dir, 'model');
    mkdirSync(model);
    writeFileSync(join(model, 'tokenizer.json'), readFileSync(neoxTokenizerPath!));
    const fromDir = await loadTokenizer(model);
    assert.equal(fromDir.source, join(model, 'tokenizer.json'));
    assert.deepEqual(fromDir.encode('Hello world').ids, [12092, 1533]);
    assert.equal(fromDir.padId, 0);

    // A config that names its own pad token wins over the EOS default.
    writeFileSync(join(model, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|endoftext|>', pad_token: { content: '<|padding|>' } }));
    const withConfig = await loadTokenizer(join(model, 'tokenizer.json'));
    assert.equal(withConfig.eosId, 0);
    assert.equal(withConfig.padId, 1);

    writeFileSync(join(model, 'tokenizer_config.json'), '{oops');
    await expectRejects(loadTokenizer(model), join(model, 'tokenizer_config.json'), 'not valid JSON');

    const fromFile = await loadTokenizer(neoxTokenizerPath!);
    assert.equal(fromFile.source, neoxTokenizerPath);
    assert.equal(dirname(fromFile.source), dirname(neoxTokenizerPath!));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
