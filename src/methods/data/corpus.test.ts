import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedPath } from '../../io/shared-data.js';
import { corpusFromSpec, enwikiCorpus, splitWikiDocs, wikitextArticles } from './corpus.js';
import { loadCounterFact } from './counterfact.js';

const skip = sharedPath() === null ? 'shared data not found' : false;

test('WikiText is split at first-level headings, and @-joins are undone', () => {
  const text = ' \n = Alpha = \n \n Alpha is a 3 @,@ 000 @-@ year old thing . \n \n = = History = = \n More . \n = Beta = \n Beta text . \n';
  const docs = wikitextArticles(text);
  assert.equal(docs.length, 2);
  assert.match(docs[0]!, /^= Alpha =/);
  assert.match(docs[0]!, /3,000-year old/);
  assert.match(docs[0]!, /= = History = =/);
  assert.match(docs[1]!, /^= Beta =/);
});

test('WikiExtractor blocks are split, and a block cut by the end of a shard is carried over', () => {
  const { docs, rest } = splitWikiDocs('<doc id="1" title="A">\nA\n\nAlpha.\n</doc>\n<doc id="2" title="B">\nB\nBe');
  assert.deepEqual(docs, ['A\n\nAlpha.']);
  assert.equal(splitWikiDocs(`${rest}ta.\n</doc>\n`).docs[0], 'B\nBeta.');
});

test('the shared corpora read: WikiText articles and enwiki documents in page order', { skip }, async () => {
  let n = 0, first = '';
  for await (const d of corpusFromSpec('wikitext103', sharedPath()).documents()) { if (n++ === 0) first = d; if (n > 5) break; }
  assert.match(first, /^= Robert Boulter =/);
  const wiki = enwikiCorpus(sharedPath('enwiki')!, [0]);
  const it = wiki.documents()[Symbol.asyncIterator]();
  const a = (await it.next()).value as string;
  assert.match(a, /^Anarchism\n/);
  await it.return?.();
  assert.equal(wiki.id, 'enwiki-0');
});

test('CounterFact: 21,919 cases over the three splits, each with a paraphrase and a neighbourhood prompt', { skip }, () => {
  const cases = loadCounterFact(sharedPath('counterfact')!);
  assert.equal(cases.length, 21919);
  assert.equal(new Set(cases.map((c) => c.caseId)).size, 21919);
  const c = cases[0]!;
  assert.deepEqual(c, {
    caseId: 0, prompt: 'The mother tongue of Danielle Darrieux is', subject: 'Danielle Darrieux', targetTrue: 'French', targetNew: 'English',
    paraphrases: ['Where Danielle Darrieux is from, people speak the language of'], neighbourhood: ['Michel Rocard is a native speaker of'],
  });
  assert.ok(cases.every((x) => x.prompt.includes(x.subject) && x.paraphrases.length === 1 && x.neighbourhood.length === 1));
  assert.equal(loadCounterFact(sharedPath('counterfact')!, { split: 'val' }).length, 1919);
});
