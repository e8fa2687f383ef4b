import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FactlabError } from '../../tensor/errors.js';
import { batchSubjectSpan, encodeBatch, findSubjectSpan, loadTokenizer, shiftSpan, tokenizerFromJson, type FactTokenizer } from './index.js';
import { knownRecords, neoxTokenizerPath, skipWithoutData } from '../shared-data.js';

let neoxCache: Promise<FactTokenizer> | undefined;
const neox = () => (neoxCache ??= loadTokenizer(neoxTokenizerPath!));

const expectError = (fn: () => unknown, ...parts: string[]) =>
  assert.throws(fn, (e: unknown) => e instanceof FactlabError && parts.every((p) => e.message.includes(p)));

const row = (a: Int32Array, T: number, r: number) => [...a.subarray(r * T, (r + 1) * T)];

test('left padding with EOS (id 0), as romba batches', { skip: skipWithoutData }, async () => {
  const tok = await neox();
  const texts = ['Hello world', 'Vinson Massif is located in the continent of', 'Beats Music is owned by'];
  const b = encodeBatch(tok, texts, { padding: 'left' });
  const lengths = texts.map((t) => tok.encode(t).ids.length);
  const T = Math.max(...lengths);
  assert.deepEqual(b.shape, [3, T]);
  assert.deepEqual(b.lengths, lengths);
  assert.deepEqual(b.padOffsets, lengths.map((n) => T - n));
  assert.deepEqual(row(b.ids, T, 0), [...new Array(T - 2).fill(0), 12092, 1533]);
  assert.deepEqual(row(b.attentionMask, T, 0), [...new Array(T - 2).fill(0), 1, 1]);
  for (let r = 0; r < 3; r++) {
    assert.deepEqual(row(b.ids, T, r).slice(b.padOffsets[r]), tok.encode(texts[r]!).ids);
    assert.deepEqual(b.offsets[r], tok.encode(texts[r]!).offsets);
    assert.equal(row(b.attentionMask, T, r).reduce((s, x) => s + x, 0), lengths[r]);
  }
});

test('right padding and an explicit pad id', { skip: skipWithoutData }, async () => {
  const tok = await neox();
  const b = encodeBatch(tok, ['Hello world', 'Beats Music is owned by'], { padding: 'right', padId: 1 });
  const T = b.shape[1];
  assert.deepEqual(b.padOffsets, [0, 0]);
  assert.deepEqual(row(b.ids, T, 0), [12092, 1533, ...new Array(T - 2).fill(1)]);
  assert.deepEqual(row(b.attentionMask, T, 0), [1, 1, ...new Array(T - 2).fill(0)]);
  assert.deepEqual(row(b.attentionMask, T, 1), new Array(T).fill(1));
});

test('subject spans move with each row\'s padding', { skip: skipWithoutData }, async () => {
  const tok = await neox();
  const records = knownRecords().slice(0, 64);
  for (const padding of ['left', 'right'] as const) {
    const b = encodeBatch(tok, records.map((r) => r.prompt), { padding });
    const T = b.shape[1];
    records.forEach(({ subject, prompt }, r) => {
      const own = findSubjectSpan(tok, prompt, subject);
      const span = batchSubjectSpan(b, r, subject);
      assert.deepEqual(span, shiftSpan(b, r, own));
      assert.deepEqual(span, { start: own.start + b.padOffsets[r]!, end: own.end + b.padOffsets[r]! });
      const ids = row(b.ids, T, r).slice(span.start, span.end);
      assert.ok(tok.decode(ids).includes(subject), prompt);
      assert.ok(row(b.attentionMask, T, r).slice(span.start, span.end).every((m) => m === 1));
    });
  }
  const b = encodeBatch(tok, ['Paris is Paris'], { padding: 'left' });
  assert.deepEqual(batchSubjectSpan(b, 0, 'Paris', { occurrence: 'last' }), { start: 2, end: 3 });
  expectError(() => shiftSpan(b, 3, { start: 0, end: 1 }), 'row 3', '1 rows');
  expectError(() => batchSubjectSpan(b, 1, 'Paris'), 'row 1');
  expectError(() => batchSubjectSpan(b, 0, 'London'), '"London"', '"Paris is Paris"');
});

test('a batch needs a pad id and a padding side', () => {
  const tok = tokenizerFromJson(
    {
      model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', vocab: { '[UNK]': 0, a: 1, b: 2 } },
      pre_tokenizer: { type: 'BertPreTokenizer' },
      decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    },
    {},
    { source: 'wp.json' },
  );
  expectError(() => encodeBatch(tok, ['a b'], { padding: 'left' }), 'wp.json', 'pass padId');
  expectError(() => encodeBatch(tok, ['a b'], { padding: 'middle' as 'left', padId: 0 }), "'left' or 'right'", '"middle"');
  const b = encodeBatch(tok, ['a b', 'b'], { padding: 'left', padId: 0 });
  assert.deepEqual([...b.ids], [1, 2, 0, 2]);
  assert.deepEqual([...b.attentionMask], [1, 1, 0, 1]);
  assert.deepEqual(b.offsets, [[[0, 1], [1, 3]], [[0, 1]]]);
  assert.deepEqual(encodeBatch(tok, [], { padding: 'right', padId: 0 }).shape, [0, 0]);
});
