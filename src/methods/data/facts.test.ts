import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFacts, isNontrivialPrefix } from './facts.js';
import { sharedPath, skipWithoutData } from '../../io/shared-data.js';

const dir = () => mkdtempSync(join(tmpdir(), 'factlab-facts-'));

test('LRE relation files, a folder of them, and ROME\'s known_1000 load as facts', { skip: skipWithoutData }, () => {
  const capital = loadFacts(sharedPath('relations', 'factual', 'country_capital_city.json')!);
  assert.equal(capital.length, 24);
  assert.deepEqual(capital[1], { key: 'country_capital_city/1', subject: 'Canada', prompt: 'The capital city of Canada is', object: 'Ottawa', relation: 'country_capital_city' });
  const factual = loadFacts(sharedPath('relations', 'factual')!);
  assert.equal(factual.length, 9696); // the 26 factual relations' samples
  assert.ok(factual.some((f) => f.key === 'country_capital_city/1' && f.relation === 'country_capital_city'));
  const known = loadFacts(sharedPath('known', 'known_1000.json')!);
  assert.equal(known.length, 1209);
  assert.deepEqual(known[0], { key: 'known/0', subject: 'Vinson Massif', prompt: 'Vinson Massif is located in the continent of', object: 'Antarctica', relation: 'P30' });
});

test("a user's JSON or JSON lines of {subject, prompt or template, object}", () => {
  const d = dir();
  writeFileSync(join(d, 'a.json'), JSON.stringify([{ subject: 'Paris', template: '{} is the capital of', object: 'France' }, { subject: 'Rome', prompt: 'Rome is in', object: 'Italy', relation: 'r' }]));
  assert.deepEqual(loadFacts(join(d, 'a.json')), [
    { key: '0', subject: 'Paris', prompt: 'Paris is the capital of', object: 'France' },
    { key: '1', subject: 'Rome', prompt: 'Rome is in', object: 'Italy', relation: 'r' },
  ]);
  writeFileSync(join(d, 'b.jsonl'), '{"subject": "Oslo", "prompt": "Oslo is in", "object": "Norway"}\n\n{"subject": "Bern", "template": "{} is in", "object": "Switzerland"}\n');
  assert.deepEqual(loadFacts(join(d, 'b.jsonl')).map((f) => f.prompt), ['Oslo is in', 'Bern is in']);
});

test('bad dataset files are one error naming the file and the record', () => {
  const d = dir();
  const bad: [string, string, RegExp][] = [
    ['no-subject.json', '[{"prompt": "x", "object": "y"}]', /no-subject.json: record 0 has no "subject" string/],
    ['absent.json', '[{"subject": "Oslo", "prompt": "Bern is in", "object": "y"}]', /record 0: subject "Oslo" does not occur in prompt "Bern is in"/],
    ['no-slot.json', '[{"subject": "Oslo", "template": "is in", "object": "y"}]', /template "is in" has no \{\} for the subject/],
    ['broken.json', '[{"subject": ', /broken.json: not JSON/],
    ['lines.jsonl', '{"subject": "a", "prompt": "a", "object": "b"}\nnope\n', /lines.jsonl: line 2 is not JSON/],
    ['relation.json', '{"samples": [], "prompt_templates": "x"}', /relation.json: prompt_templates must be a non-empty list/],
    ['scalar.json', '3', /expected an LRE relation/],
  ];
  for (const [name, text, message] of bad) {
    writeFileSync(join(d, name), text);
    assert.throws(() => loadFacts(join(d, name)), message);
  }
  assert.throws(() => loadFacts(join(d, 'none.json')), /dataset .*none.json does not exist/);
  mkdirSync(join(d, 'empty'));
  assert.throws(() => loadFacts(join(d, 'empty')), /holds no .json relation files/);
});

test('a prediction is known when, lower-cased and stripped, it is a non-empty prefix of the object', () => {
  assert.equal(isNontrivialPrefix(' Par', 'Paris'), true);
  assert.equal(isNontrivialPrefix(' PARIS ', 'paris'), true);
  assert.equal(isNontrivialPrefix(' ', 'Paris'), false);
  assert.equal(isNontrivialPrefix(' London', 'Paris'), false);
});
