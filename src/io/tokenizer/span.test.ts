import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FactlabError } from '../../tensor/errors.js';
import { findSubjectSpan, loadTokenizer, subjectSpanInOffsets, tokenSpanForChars, type FactTokenizer } from './index.js';
import { knownRecords, neoxTokenizerPath, skipWithoutData } from '../shared-data.js';
import { romeFindTokenRange } from './rome-token-range.js';

let neoxCache: Promise<FactTokenizer> | undefined;
const neox = () => (neoxCache ??= loadTokenizer(neoxTokenizerPath!));

const expectError = (fn: () => unknown, ...parts: string[]) =>
  assert.throws(fn, (e: unknown) => e instanceof FactlabError && parts.every((p) => e.message.includes(p)));


test('subject spans on all 1209 known_1000 records', { skip: skipWithoutData }, async () => {
  const tok = await neox();
  const records = knownRecords();
  assert.equal(records.length, 1209);
  let comparedWithRome = 0;
  for (const { subject, prompt, known_id } of records) {
    const where = `known_id ${known_id}`;
    const { ids, offsets } = tok.encode(prompt);
    const span = findSubjectSpan(tok, prompt, subject);
    assert.ok(span.start >= 0 && span.start < span.end && span.end <= ids.length, where);
    const decoded = tok.decode(ids.slice(span.start, span.end));
    assert.ok(decoded.includes(subject), `${where}: ${JSON.stringify(decoded)} lacks ${JSON.stringify(subject)}`);
    const at = prompt.indexOf(subject);
    const last = at + subject.length - 1;
    const [a, b] = offsets[span.end - 1]!;
    assert.ok(a <= last && last < b, `${where}: the span's last token does not hold the subject's last character`);
    const [fa, fb] = offsets[span.start]!;
    assert.ok(fa <= at && at < fb, `${where}: the span's first token does not hold the subject's first character`);
    const rome = romeFindTokenRange(tok, ids, subject);
    if (rome !== null) {
      assert.deepEqual(span, rome, where);
      comparedWithRome++;
    }
  }
  assert.equal(comparedWithRome, records.length);
});

test('subjects at the start of the prompt, before "\'s", and inside a longer word', { skip: skipWithoutData }, async () => {
  const tok = await neox();
  // ["V","inson"," Mass","if"," is", ...]
  assert.deepEqual(findSubjectSpan(tok, 'Vinson Massif is located in the continent of', 'Vinson Massif'), { start: 0, end: 4 });
  // ["Apple","'s"," CEO"," is"]: the possessive is not part of the subject.
  assert.deepEqual(findSubjectSpan(tok, "Apple's CEO is", 'Apple'), { start: 0, end: 1 });
  // ["The"," Mass","ifs"," are"]: the last subject token is the one holding the subject's last character.
  assert.deepEqual(findSubjectSpan(tok, 'The Massifs are', 'Massif'), { start: 1, end: 3 });
  // A leading special token shifts the span by one.
  assert.deepEqual(findSubjectSpan(tok, "<|endoftext|> Apple's CEO is", 'Apple'), { start: 1, end: 2 });
  const possessives = knownRecords().filter((r) => r.prompt.includes(`${r.subject}'s`));
  assert.ok(possessives.length > 50);
  for (const { subject, prompt } of possessives) {
    const { ids } = tok.encode(prompt);
    const span = findSubjectSpan(tok, prompt, subject);
    assert.ok(!tok.decode(ids.slice(span.start, span.end)).endsWith("'s"), prompt);
    // After a letter or digit, "'s" is its own token; after punctuation such as ")" the pre-tokenizer glues
    // the apostrophe to it, so the subject's last token is ")'" there.
    if (/[\p{L}\p{N}]$/u.test(subject)) assert.equal(tok.decode([ids[span.end]!]), "'s", prompt);
  }
  // "Co-operative Commonwealth Federation (Ontario Section)'s": [..., ")'", "s", ...]
  const glued = "Federation (Ontario Section)'s headquarters";
  const span = findSubjectSpan(tok, glued, 'Federation (Ontario Section)');
  assert.equal(tok.decode(tok.encode(glued).ids.slice(span.end - 1, span.end + 1)), ")'s");
});

test('a subject that appears twice: first by default, or the last', { skip: skipWithoutData }, async () => {
  const tok = await neox();
  // ["Paris"," is"," Paris",","," and"," Paris"]
  const prompt = 'Paris is Paris, and Paris';
  assert.deepEqual(findSubjectSpan(tok, prompt, 'Paris'), { start: 0, end: 1 });
  assert.deepEqual(findSubjectSpan(tok, prompt, 'Paris', { occurrence: 'first' }), { start: 0, end: 1 });
  assert.deepEqual(findSubjectSpan(tok, prompt, 'Paris', { occurrence: 'last' }), { start: 5, end: 6 });
});

test('a subject that is not in the prompt, or empty, is one error naming both', { skip: skipWithoutData }, async () => {
  const tok = await neox();
  expectError(() => findSubjectSpan(tok, 'Beats Music is owned by', 'Apple Music'), '"Apple Music"', '"Beats Music is owned by"', 'does not occur');
  expectError(() => findSubjectSpan(tok, 'Beats Music is owned by', 'beats music'), '"beats music"');
  expectError(() => findSubjectSpan(tok, 'Beats Music is owned by', ''), 'subject is empty', '"Beats Music is owned by"');
});

test('tokenSpanForChars and subjectSpanInOffsets work on given offsets', () => {
  const offsets: [number, number][] = [[0, 0], [0, 3], [3, 7], [5, 7], [7, 10]];
  assert.deepEqual(tokenSpanForChars(offsets, 3, 6), { start: 2, end: 4 });
  assert.deepEqual(tokenSpanForChars(offsets, 0, 1), { start: 1, end: 2 });
  assert.equal(tokenSpanForChars(offsets, 10, 12), null);
  assert.deepEqual(subjectSpanInOffsets('abcdefghij', offsets, 'hij'), { start: 4, end: 5 });
  // Characters no token covers (an added token's stripped whitespace, say): an error rather than an empty span.
  expectError(() => subjectSpanInOffsets('abc  d', [[0, 3], [5, 6]], ' '), 'no token', '" "');
});
