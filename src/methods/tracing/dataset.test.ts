import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseConfig } from '../../io/config/config.js';
import { loadTokenizer, type FactTokenizer } from '../../io/tokenizer/index.js';
import { neoxTokenizerPath, skipWithoutData } from '../../io/shared-data.js';
import { randomModel } from '../../models/random.js';
import type { LanguageModel } from '../../models/model.js';
import { predictNext } from '../data/known.js';
import type { Fact } from '../data/facts.js';
import { traceDataset, type DatasetTraceOptions } from './dataset.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'factlab-trace-'));

async function setup(): Promise<{ model: LanguageModel; tok: FactTokenizer; facts: Fact[] }> {
  const tok = await loadTokenizer(dirname(neoxTokenizerPath!));
  const model = randomModel(parseConfig({ model_type: 'mamba', hidden_size: 16, num_hidden_layers: 3, vocab_size: 50280, state_size: 4 }), 5);
  const rows = [
    ['Paris', 'city', 'The city of {} is in'], ['Rome', 'city', 'The city of {} is in'], ['Berlin', 'city', 'The city of {} is in'], ['Madrid', 'city', 'The city of {} is in'],
    ['Danube', 'river', 'The river {} flows through'], ['Rhine', 'river', 'The river {} flows through'], ['Seine', 'river', 'The river {} flows through'],
  ] as const;
  const prompts = rows.map(([s, , t]) => t.replace('{}', s));
  const preds = await predictNext(model, tok, prompts);
  // The random model "knows" a fact whose object starts with its prediction: all but Madrid and Seine.
  const facts = rows.map(([subject, relation], i) => ({ key: `${relation}/${i}`, subject, prompt: prompts[i]!, relation,
    object: subject === 'Madrid' || subject === 'Seine' ? '@@@' : `${preds[i]!.text.trim()}${i}` }));
  return { model, tok, facts };
}

const options = (out: string, more: Partial<DatasetTraceOptions> = {}): DatasetTraceOptions => ({ out, sites: ['residual', 'o:2'], batchSize: 8, seed: 3, ...more });

test('a data set run filters known facts, swaps subjects within a relation, and averages in six rows', { skip: skipWithoutData }, async () => {
  const { model, tok, facts } = await setup();
  const { summary, traces } = await traceDataset(model, tok, facts, options(tmp()));
  assert.deepEqual(summary.facts, { total: 7, known: 5, traced: 5, skipped: 0 });
  assert.deepEqual(summary.traced.map((t) => t.key), ['city/0', 'city/1', 'city/2', 'river/4', 'river/5']);
  for (const t of traces) {
    const fact = facts.find((f) => f.prompt === t.prompt)!;
    const alt = facts.find((f) => f.subject === t.altSubject)!;
    assert.equal(alt.relation, fact.relation, 'the alternative comes from the same relation');
    assert.notEqual(alt.object, fact.object);
    assert.ok(!['Madrid', 'Seine'].includes(t.altSubject!), 'alternatives are known facts, as romba picks them');
  }
  assert.deepEqual(summary.sites.map((s) => [s.name, s.window]), [['residual', 1], ['o:2', 2]]);
  assert.equal(summary.sites[0]!.ie.mean.length, 6);
});

test('an interrupted run, run again, ends with the result of an uninterrupted one; so does a run with a limit', { skip: skipWithoutData }, async () => {
  const { model, tok, facts } = await setup();
  const whole = await traceDataset(model, tok, facts, options(tmp()));
  const out = tmp();
  const stop = new AbortController();
  await assert.rejects(traceDataset(model, tok, facts, options(out, { signal: stop.signal, onProgress: (e) => { if (e.stage === 'trace' && e.done === 2) stop.abort(); } })), { name: 'AbortError' });
  const files = readdirSync(join(out, 'facts')).filter((f) => f.endsWith('.json'));
  assert.equal(files.length, 2);
  const before = files.map((f) => statSync(join(out, 'facts', f)).mtimeMs);
  const warnings: string[] = [];
  const resumed = await traceDataset(model, tok, facts, options(out, { onWarning: (m) => warnings.push(m) }));
  assert.deepEqual(resumed, whole);
  assert.deepEqual(warnings, []);
  assert.deepEqual(files.map((f) => statSync(join(out, 'facts', f)).mtimeMs), before, 'cached facts are not traced again');
  const limited = tmp();
  const first = await traceDataset(model, tok, facts, options(limited, { limit: 2 }));
  assert.equal(first.summary.facts.traced, 2);
  assert.deepEqual(await traceDataset(model, tok, facts, options(limited)), whole);
});

test('a corrupt cache file is reported and traced again; other settings in the same folder are refused', { skip: skipWithoutData }, async () => {
  const { model, tok, facts } = await setup();
  const out = tmp();
  const whole = await traceDataset(model, tok, facts, options(out));
  writeFileSync(join(out, 'facts', '1.json'), '{"key": "city/1", "status": "tra');
  writeFileSync(join(out, 'facts', '2.json'), JSON.stringify({ key: 'city/2', status: 'done', result: { ...whole.traces[2], sites: [] } }));
  writeFileSync(join(out, 'known.jsonl'), `${readFileSync(join(out, 'known.jsonl'), 'utf8')}{"i": 3, "key"`);
  const warnings: string[] = [];
  assert.deepEqual(await traceDataset(model, tok, facts, options(out, { onWarning: (m) => warnings.push(m) })), whole);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0]!, /facts\/1.json: not JSON .*computing fact city\/1 again/);
  assert.match(warnings[1]!, /facts\/2.json: its matrices are incomplete/);
  await assert.rejects(traceDataset(model, tok, facts, options(out, { seed: 4 })), /holds a run with other settings \(seed\)/);
  await assert.rejects(traceDataset(model, tok, facts, options(out, { sites: ['residual'] })), /other settings \(sites\)/);
  const again = await traceDataset(model, tok, facts, options(out, { seed: 4, restart: true }));
  assert.equal(again.summary.settings.seed, 4);
});
