import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../io/config/config.js';
import { randomModel } from '../../models/random.js';
import { byteTokenizer } from '../../models/testing/byte-tokenizer.js';
import { textCorpus } from '../data/corpus.js';
import type { Fact } from '../data/facts.js';
import { knockoutDataset, type KnockoutDatasetOptions } from './dataset.js';

const tok = byteTokenizer();
const tmp = () => mkdtempSync(join(tmpdir(), 'factlab-knockout-'));
const model = randomModel(parseConfig({ model_type: 'mamba', hidden_size: 16, num_hidden_layers: 3, vocab_size: 264, state_size: 4, tie_word_embeddings: false }), 3);
const facts: Fact[] = [['Rome', 'Italy'], ['Oslo', 'Norway'], ['Lima', 'Peru'], ['Kyiv', 'Ukraine'], ['Bern', 'Switzerland']]
  .map(([s, o], i) => ({ key: `capital/${i}`, subject: s!, prompt: `${s} is the capital of`, object: o!, relation: 'capital' }));
const options = (out: string, more: Partial<KnockoutDatasetOptions> = {}): KnockoutDatasetOptions => ({
  out, knownOnly: false, window: 2, batchSize: 9, pathBlocking: true, corpus: textCorpus('tiny', ['Paris is in France.', 'The Nile is long.']), ...more,
});

test('knockout over a data set: averages with standard errors, the methods compared, path blocking, all resumable', async () => {
  const whole = await knockoutDataset(model, tok, facts, options(tmp()));
  const s = whole.summary;
  assert.deepEqual(s.facts, { total: 5, known: 5, done: 5, skipped: 0 });
  assert.deepEqual(s.knockout.map((a) => `${a.method}/${a.set}`), ['mean/subject', 'mean/subject_last', 'mean/non_subject', 'mean/last', 'cut/subject', 'cut/subject_last', 'cut/non_subject', 'cut/last']);
  // The average and its standard error, recomputed by hand from the per-fact curves.
  const xs = whole.results.map((r) => r.knockout.curves[4]!.relative[1]!);
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const se = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1) / xs.length);
  assert.ok(Math.abs(s.knockout[4]!.mean[1]! - m) < 1e-12 && Math.abs(s.knockout[4]!.se[1]! - se) < 1e-12);
  assert.equal(s.comparison.length, 4);
  assert.ok(s.comparison.every((c) => c.difference.length === 3 && c.largest.length === 3));
  assert.deepEqual(s.pathBlocking.map((p) => [p.token, Object.keys(p.severed)]), [['subject_last', ['s', 'g', 'o']], ['last', ['s', 'g', 'o']]]);
  for (const r of whole.results) assert.ok(r.pathBlocking && 'altSubject' in r.pathBlocking && r.pathBlocking.altSubject !== r.knockout.subject);

  // Interrupted after two facts, then run again: the same summary, and the cached facts are not recomputed.
  const out = tmp();
  const stop = new AbortController();
  await assert.rejects(knockoutDataset(model, tok, facts, options(out, { signal: stop.signal, onProgress: (e) => { if (e.stage === 'fact' && e.done === 2) stop.abort(); } })), { name: 'AbortError' });
  assert.equal(readdirSync(join(out, 'facts')).length, 2);
  const warnings: string[] = [];
  writeFileSync(join(out, 'facts', '1.json'), '{"key": "capital/1", "sta');
  const resumed = await knockoutDataset(model, tok, facts, options(out, { onWarning: (w) => warnings.push(w) }));
  assert.deepEqual(resumed.summary, { ...s, settings: resumed.summary.settings });
  assert.deepEqual(resumed.summary.settings, s.settings);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /facts\/1.json: not JSON/);
  assert.ok(JSON.parse(readFileSync(join(out, 'means.json'), 'utf8')).means.length === 3, 'the means are cached');
  await assert.rejects(knockoutDataset(model, tok, facts, options(out, { window: 4 })), /holds a run with other settings \(window\)/);
});

test('knockout over a data set: errors name what is missing', async () => {
  await assert.rejects(knockoutDataset(model, tok, [], options(tmp())), /the data set has no facts/);
  await assert.rejects(knockoutDataset(model, tok, facts, options(tmp(), { corpus: undefined })), /method mean needs a corpus/);
});
