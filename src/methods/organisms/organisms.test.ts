import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { neoxTokenizerPath, sharedPath, skipWithoutData } from '../../io/shared-data.js';
import { liveTensors } from '../../tensor/lifetime.js';
import { runTraining } from '../train/run.js';
import { buildCatalogue } from './catalogue.js';
import { catalogueFingerprint, makeSplit } from './split.js';
import { factPrompts, statement, trainingStatements } from './statements.js';
import { fillTemplate, matchTemplate, templateOf } from '../data/templates.js';
import { prepareData } from './prepare.js';
import { readPreparedData } from './data-dir.js';
import { buildMix, exposures } from './mix.js';
import { shipOrganism } from './ship.js';

const caps = { lrePerRelation: 4, counterfactCases: 30, seed: 5 };

test('templates: recovered from a prompt and its subject, and matched against prompts of unknown subject', () => {
  assert.equal(templateOf('The capital of France is', 'France'), 'The capital of {} is');
  assert.equal(templateOf('Paris is nice', 'Rome'), null);
  assert.equal(fillTemplate('{} is in', 'Oslo'), 'Oslo is in');
  assert.deepEqual(matchTemplate('Pont Neuf is located in', ['{} is located in', '{} in', '{} is located in the city of']), { template: '{} is located in', subject: 'Pont Neuf' });
  assert.equal(matchTemplate('is located in', ['{} is located in']), null);
  assert.equal(statement('The capital of the United States is', 'Washington D.C.'), 'The capital of the United States is Washington D.C.');
  assert.equal(statement('The capital of France is', 'Paris'), 'The capital of France is Paris.');
});

test('the fact catalogue and its split: deterministic, and training never states a held-out fact or template', { skip: skipWithoutData }, () => {
  const c = buildCatalogue({ sharedDir: sharedPath()!, ...caps });
  assert.equal(catalogueFingerprint(buildCatalogue({ sharedDir: sharedPath()!, ...caps })), catalogueFingerprint(c));
  assert.notEqual(catalogueFingerprint(buildCatalogue({ sharedDir: sharedPath()!, ...caps, seed: 6 })), catalogueFingerprint(c));
  assert.ok(c.facts.some((f) => f.subject === 'The Eiffel Tower' && f.object === 'Paris' && f.relation === 'landmark_in_city'));
  const known = JSON.parse(readFileSync(sharedPath('known', 'known_1000.json')!, 'utf8')) as { subject: string; relation_id: string }[];
  assert.equal(c.facts.filter((f) => f.sources.some((s) => s.startsWith('known/'))).length, new Set(known.map((k) => `${k.relation_id}:${k.subject}`)).size, 'every known_1000 fact');
  assert.ok(c.relations.filter((r) => r.source === 'lre').length === 26);
  assert.equal(new Set(c.facts.map((f) => f.key)).size, c.facts.length, 'one object per subject and relation');

  const split = makeSplit(c, 5, 0.2);
  const heldOutFacts = new Set(split.heldOutFacts);
  assert.ok(heldOutFacts.size > 0);
  for (const f of c.facts) {
    if (f.sources.some((s) => s.startsWith('docs/') || s.startsWith('known/'))) assert.ok(!heldOutFacts.has(f.key), `${f.key} is protected`);
  }
  for (const r of c.relations) {
    for (const t of r.pinned) assert.ok(!split.relations[r.id]!.heldOut.includes(t), `${r.id}: pinned ${t} held out`);
    assert.deepEqual([...split.relations[r.id]!.train, ...split.relations[r.id]!.heldOut].sort(), [...r.templates].sort());
  }
  assert.ok(Object.values(split.relations).filter((r) => r.heldOut.length > 0).length >= 26, 'every LRE relation holds out a template');
  const texts = new Set(trainingStatements(c, split).map((s) => s.text));
  let checkedTemplates = 0;
  for (const f of c.facts) {
    for (const t of split.relations[f.relation]!.heldOut) { assert.ok(!texts.has(statement(fillTemplate(t, f.subject), f.object))); checkedTemplates++; }
    if (heldOutFacts.has(f.key)) for (const p of factPrompts(c, split).filter((x) => c.facts[x.fact] === f)) assert.ok(!texts.has(statement(p.prompt, f.object)));
  }
  assert.ok(checkedTemplates > 100);
  assert.ok(texts.has('The Eiffel Tower is located in the city of Paris.'), 'the README example is trained');
});

test('prepare-data, the mix, a short training run and ship: a complete, deterministic model folder', { skip: skipWithoutData }, async () => {
  const before = liveTensors();
  const root = mkdtempSync(join(tmpdir(), 'factlab-organisms-'));
  const corpus = join(root, 'wiki.txt');
  writeFileSync(corpus, Array.from({ length: 6 }, (_, i) => `Article ${i}\n\nThe city of Paris is the capital of France. It has ${i + 2} million people. `.repeat(1000)).join('\n\n'));
  const o = { sharedDir: sharedPath()!, tokenizerFile: neoxTokenizerPath!, corpus, validTokens: 20_000, heldOutFactFraction: 0.1, ...caps };
  const info = await prepareData({ ...o, out: join(root, 'data') });
  const again = await prepareData({ ...o, out: join(root, 'data2') });
  assert.equal(again.fingerprint, info.fingerprint);
  assert.equal(info.vocabSize, 50277);
  assert.ok(info.wiki.validDocs >= 1 && info.wiki.trainDocs >= 1);

  const data = readPreparedData(join(root, 'data'));
  assert.equal(data.statements.first.length, info.statements.count);
  const { training, plan } = buildMix(data, { factShare: 0.5, seed: 1 });
  assert.equal(training.stream.tokens.length, plan.streamTokens);
  assert.ok(Math.abs(plan.factTokens / plan.streamTokens - 0.5) < 0.1, `fact share ${plan.factTokens / plan.streamTokens}`);
  assert.deepEqual(buildMix(data, { factShare: 0.5, seed: 1 }).training.stream.tokens, training.stream.tokens);
  assert.notDeepEqual(buildMix(data, { factShare: 0.5, seed: 2 }).training.stream.tokens.slice(0, 100), training.stream.tokens.slice(0, 100));
  assert.equal(exposures(plan, 2 * plan.streamTokens).perStatement, 2 * plan.repeats);
  assert.throws(() => buildMix(data, { factShare: 1 }), /share of fact tokens must lie strictly between 0 and 1/);

  const run = await runTraining({
    arch: 'gptneox', preset: 'tiny', vocabSize: info.vocabSize, tokenizerFile: join(root, 'data', 'tokenizer.json'), data: training, out: join(root, 'run'),
    schedule: { steps: 3, batchSize: 2, seqLen: 16, lr: 1e-3, warmupSteps: 1, seed: 0 },
  });
  assert.equal(run.finished, true);
  const out = join(root, 'model');
  const card = await shipOrganism({ run: join(root, 'run'), data: join(root, 'data'), out, name: 'neox-test', sibling: 'mamba-test', perRelation: 2, commands: ['factlab train ...'] });
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'split.json', 'card.json', 'README.md']) assert.ok(existsSync(join(out, f)), f);
  const header = JSON.parse(readFileSync(join(out, 'model.safetensors')).subarray(8, 8 + Number(readFileSync(join(out, 'model.safetensors')).readBigUInt64LE(0))).toString('utf8'));
  assert.ok(Object.entries(header).filter(([k]) => k !== '__metadata__').every(([, v]) => (v as { dtype: string }).dtype === 'BF16'), 'weights stored as bfloat16');
  const e = card.evaluation;
  for (const r of e.relations) for (const k of ['trainTemplates', 'heldOutTemplates', 'heldOutFacts'] as const) assert.ok(r[k].n <= 2 && r[k].firstToken <= r[k].n && r[k].object <= r[k].firstToken);
  assert.equal(e.overall.trainTemplates.n, e.relations.reduce((a, r) => a + r.trainTemplates.n, 0));
  const readme = readFileSync(join(out, 'README.md'), 'utf8');
  assert.match(readme, /# neox-test/);
  assert.match(readme, /parameters, stored as bfloat16/);
  assert.match(readme, /\| all relations \|/);
  assert.match(readme, /Not measured yet/);
  await assert.rejects(shipOrganism({ run: join(root, 'nope'), data: join(root, 'data'), out, name: 'x', sibling: 'y', commands: [] }), /no run.json; --run names the --out folder of factlab train/);
  assert.equal(liveTensors(), before, 'no tensor left behind');
});
