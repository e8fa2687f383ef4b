import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPretrained } from '../../models/load.js';
import { predictNext } from '../../methods/data/known.js';
import { trainedTinyModel } from '../../methods/train/tiny.js';
import { syntheticCases } from '../../methods/rome/testing.js';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'main.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });

test('factlab edit rewrites a fact of a trained model, reports before and after, and saves the edited model', async () => {
  const { model, world, dir } = await trainedTinyModel('mamba');
  model.dispose();
  const tmp = mkdtempSync(join(tmpdir(), 'factlab-edit-'));
  const corpus = join(tmp, 'corpus.txt');
  writeFileSync(corpus, world.documents(1000, 7).join('\n\n'));
  const subject = world.subjects[3]!, truth = world.object(subject, 'lives_in');
  const target = world.relation('lives_in').objects.find((o) => o !== truth)!;
  const stats = ['--corpus', corpus, '--samples', '1000', '--max-length', '64', '--ridge', '1e-3', '--cache', join(tmp, 'cache')];
  const r = cli('edit', '--model', dir!, '--prompt', '{} lives in', '--subject', subject, '--target', target, '--true', truth, '--layer', '1', '--matrix', 'a',
    '--paraphrase', '{} resides in', '--neighbour', `${world.subjects[7]} lives in`, '-n', '3', '--save', join(tmp, 'edited'), ...stats, '--json');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.layer, 1);
  assert.equal(out.matrix, 'a');
  assert.ok(out.statsTokens > 0);
  const rewrite = out.prompts[0];
  assert.ok(rewrite.pTargetAfter > 0.2 && rewrite.pTargetBefore < 0.01 && rewrite.pTrueAfter < 0.01 && rewrite.pTrueBefore > 0.9, JSON.stringify(rewrite));
  assert.match(out.generations[0].after, new RegExp(`^ ${target}`));
  const edited = await loadPretrained(join(tmp, 'edited'));
  const [p] = await predictNext(edited.model, edited.tokenizer, [`${subject} lives in`]);
  assert.equal(p!.text.trim(), target);
  edited.model.dispose();
  // Text output, statistics from the cache this time.
  const text = cli('edit', '--model', dir!, '--prompt', '{} lives in', '--subject', subject, '--target', target, '--layer', '1', '--matrix', 'a', ...stats);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /ROME edit of backbone\.layers\.1\.mixer\.in_proj\.weight rows 0\.\.95/);
  const bad = cli('edit', '--model', dir!, '--prompt', '{} lives in', '--subject', subject, '--target', target, '--matrix', 'mlp', ...stats);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^factlab: ROME: matrix "mlp" does not exist in a mamba model/);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
});

test('factlab rome-sweep scores a CounterFact file over layers and writes results and plots', async () => {
  const { model, world, dir } = await trainedTinyModel('mamba');
  model.dispose();
  const tmp = mkdtempSync(join(tmpdir(), 'factlab-sweep-cli-'));
  const cf = join(tmp, 'cf.json');
  writeFileSync(cf, JSON.stringify(syntheticCases(world, 2).map((c) => ({ case_id: c.caseId, prompt: c.prompt, subject: c.subject, ground_truth: c.targetTrue, target_new: c.targetNew, rephrase_prompt: c.paraphrases[0], locality_prompt: c.neighbourhood[0], locality_ground_truth: c.targetTrue }))));
  const corpus = join(tmp, 'corpus.txt');
  writeFileSync(corpus, world.documents(500, 7).join('\n\n'));
  const r = cli('rome-sweep', '--model', dir!, '--counterfact', cf, '--cases', '2', '--layers', '0-1', '--matrices', 'a,g', '--corpus', corpus, '--samples', '500', '--max-length', '64', '--ridge', '1e-3', '--cache', join(tmp, 'cache'), '--out', join(tmp, 'out'), '--json');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.points.length, 4);
  assert.equal(out.points.find((p: { layer: number; matrix: string }) => p.layer === 1 && p.matrix === 'a').ES, 100);
  for (const p of out.plots) assert.ok(existsSync(p));
  const again = cli('rome-sweep', '--model', dir!, '--counterfact', cf, '--cases', '2', '--layers', 'all', '--matrices', 'o', '--corpus', corpus, '--out', join(tmp, 'out'));
  assert.equal(again.status, 1);
  assert.match(again.stderr, /^factlab: .* holds a sweep with other settings/);
});
