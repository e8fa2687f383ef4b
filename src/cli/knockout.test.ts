import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../io/config/config.js';
import { randomModel } from '../models/random.js';
import { saveModel } from '../models/save.js';
import { neoxTokenizerPath, skipWithoutData } from '../io/shared-data.js';

const main = join(dirname(fileURLToPath(import.meta.url)), 'main.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });
const tmp = () => mkdtempSync(join(tmpdir(), 'factlab-cli-knockout-'));

async function modelDir(arch: 'mamba' | 'gpt_neox'): Promise<string> {
  const dir = join(tmp(), 'model');
  const config = parseConfig(arch === 'mamba'
    ? { model_type: 'mamba', hidden_size: 16, num_hidden_layers: 3, vocab_size: 50280, state_size: 4 }
    : { model_type: 'gpt_neox', hidden_size: 16, num_hidden_layers: 3, num_attention_heads: 2, intermediate_size: 32, vocab_size: 50280, rotary_pct: 0.5 });
  await saveModel(randomModel(config, 9), dir, { tokenizerFrom: dirname(neoxTokenizerPath!) });
  return dir;
}

test('factlab knockout --prompt: both methods for Mamba, path blocking with --alt-subject, figures', { skip: skipWithoutData }, async () => {
  const out = tmp();
  const r = cli('knockout', '--model', await modelDir('mamba'), '--out', out, '--prompt', 'The Eiffel Tower is located in', '--subject', 'The Eiffel Tower',
    '--alt-subject', 'The Colosseum', '--corpus', 'wikitext103', '--mean-docs', '2', '--mean-tokens', '16', '--window', '2', '--json');
  assert.equal(r.status, 0, r.stderr);
  const k = JSON.parse(readFileSync(join(out, 'knockout.json'), 'utf8'));
  assert.equal(k.prompt, '<|endoftext|> The Eiffel Tower is located in');
  assert.deepEqual(k.subjectRange, [1, 6]); // EOS, then ' The', ' E', 'iff', 'el', ' Tower'
  assert.deepEqual(k.curves.map((c: { method: string; set: string }) => `${c.method}/${c.set}`), ['mean/subject', 'mean/subject_last', 'mean/non_subject', 'mean/last', 'cut/subject', 'cut/subject_last', 'cut/non_subject', 'cut/last']);
  assert.equal(k.pathBlocking.curves.length, 2);
  for (const f of ['knockout-mean.png', 'knockout-cut.png', 'path-blocking-last.png']) assert.deepEqual([...readFileSync(join(out, 'figures', f)).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
});

test('factlab knockout --dataset: attention knockout for GPT-NeoX, resumable, with a summary', { skip: skipWithoutData }, async () => {
  const dir = tmp(), out = tmp();
  const data = join(dir, 'facts.jsonl');
  writeFileSync(data, ['Paris', 'Rome', 'Berlin'].map((s, i) => JSON.stringify({ subject: s, prompt: `The city of ${s} is in`, object: ['France', 'Italy', 'Germany'][i], relation: 'city_in' })).join('\n'));
  const model = await modelDir('gpt_neox');
  const r = cli('knockout', '--model', model, '--out', out, '--dataset', data, '--all-facts', '--path-blocking', '--json');
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.deepEqual(s.facts, { total: 3, known: 3, done: 3, skipped: 0 });
  assert.deepEqual(s.knockout.map((a: { method: string }) => a.method), ['cut', 'cut', 'cut', 'cut']);
  assert.deepEqual(Object.keys(s.pathBlocking[0].severed), ['attn', 'mlp']);
  assert.ok(existsSync(join(out, 'figures', 'knockout-cut.svg')));
  const again = cli('knockout', '--model', model, '--out', out, '--dataset', data, '--all-facts', '--path-blocking', '--json');
  assert.deepEqual(JSON.parse(again.stdout).knockout, s.knockout);
});

test('factlab knockout: bad input gets one line naming it', { skip: skipWithoutData }, async () => {
  const neox = await modelDir('gpt_neox');
  const cases: [string[], RegExp][] = [
    [['--prompt', 'The city of Paris is in', '--subject', 'Paris', '--methods', 'mean'], /factlab: knockout: method mean ablates Mamba's SSM input; for gptneox use method cut/],
    [['--prompt', 'The city of Paris is in', '--subject', 'Paris', '--sets', 'subject,verb'], /factlab: knockout: unknown source set "verb"/],
    [['--prompt', 'The city of Paris is in', '--subject', 'Paris', '--methods', 'zero'], /factlab: --methods: unknown method "zero"/],
    [['--prompt', 'The city of Paris is in'], /factlab: --prompt needs --subject/],
    [['--prompt', 'x', '--dataset', 'y'], /give either --prompt \(with --subject\) or --dataset/],
  ];
  for (const [args, re] of cases) {
    const r = cli('knockout', '--model', neox, '--out', tmp(), ...args);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
