import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomModel } from '../../models/random.js';
import { parseConfig } from '../../io/config/config.js';
import { byteTokenizer } from '../../models/testing/byte-tokenizer.js';
import { sweepRelation } from './sweep.js';
import { splitSamples } from './split.js';
import type { Relation } from '../data/relations.js';

const tok = byteTokenizer();
const model = randomModel(parseConfig({ model_type: 'mamba', hidden_size: 16, num_hidden_layers: 2, vocab_size: 257, state_size: 4 }), 9);
const relation: Relation = {
  id: 'toy', kind: 'factual', name: 'toy', file: 'toy.json', templates: ['{} ->'], zeroShotTemplates: [],
  samples: ['Ab', 'Cd', 'Ef', 'Gh', 'Ij', 'Kl', 'Mn', 'Op'].map((s, i) => ({ subject: s, object: 'xyz'[i % 3]! })),
};
const opts = { layers: ['emb', 0, 1] as const, nTrain: 3, trials: 2, betas: [0, 1, 2], ranks: [0, 4, 16], seed: 4, chunk: 8 };

test('the split covers distinct objects first and keeps train and test apart', () => {
  const s = splitSamples(relation.samples, 3, 1);
  assert.equal(new Set(s.train.map((x) => x.object)).size, 3);
  assert.equal(s.train.length + s.test.length, relation.samples.length);
  assert.ok(s.test.every((t) => !s.train.includes(t)));
  assert.deepEqual(splitSamples(relation.samples, 3, 1), s);
});

test('an LRE sweep is deterministic, resumes from its cache, and recomputes a damaged entry', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'factlab-lre-'));
  const a = await sweepRelation(model, tok, relation, { ...opts, layers: [...opts.layers] });
  assert.equal(a.cells.length, 6);
  for (const c of a.cells) {
    assert.ok([0, 1, 2].includes(c.bestBeta));
    assert.deepEqual(c.efficacyByRank.map((r) => r.rank), [0, 4, 16]);
  }
  const b = await sweepRelation(model, tok, relation, { ...opts, layers: [...opts.layers], cacheDir: dir });
  assert.deepEqual(b, a);
  assert.equal(readdirSync(dir).filter((f) => f.includes('.layer-')).length, 6);
  writeFileSync(join(dir, 'toy.trial1.layer-0.json'), '{"trial": 1, "layer"');
  let steps = 0;
  const c = await sweepRelation(model, tok, relation, { ...opts, layers: [...opts.layers], cacheDir: dir, onStep: () => steps++ });
  assert.deepEqual(c, a);
  assert.equal(steps, 6);
  // The cache holds results of 5 test samples per trial: a sweep that would score fewer is refused, not mixed in.
  await assert.rejects(sweepRelation(model, tok, relation, { ...opts, layers: [...opts.layers], cacheDir: dir, maxTests: 2 }), /holds LRE results of toy with other settings \(tests\)/);
  assert.deepEqual(await sweepRelation(model, tok, relation, { ...opts, layers: [...opts.layers], cacheDir: dir, maxTests: 50 }), a);
});

test('the comparison takes each run\'s best layer per relation and averages over the relations each run has', async () => {
  const { compareLre } = await import('./compare.js');
  const result = (relation: string, faithfulness: number | null, efficacy: number | null) => ({ relation, cells: [], best: { layer: 0 as const, faithfulness, efficacy, beta: 1, rank: 8 } });
  const cmp = compareLre([
    { label: 'Mamba', results: [result('a', 0.9, 0.5), result('b', 0.3, null)] },
    { label: 'Pythia', results: [result('b', 0.7, 0.2)] },
  ]);
  assert.deepEqual(cmp.rows, [
    { relation: 'a', faithfulness: [0.9, null], causality: [0.5, null] },
    { relation: 'b', faithfulness: [0.3, 0.7], causality: [null, 0.2] },
  ]);
  assert.ok(Math.abs(cmp.means.faithfulness[0]! - 0.6) < 1e-12);
  assert.deepEqual(cmp.means.causality, [0.5, 0.2]);
});
