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
const tmp = () => mkdtempSync(join(tmpdir(), 'factlab-cli-trace-'));

async function modelDir(): Promise<string> {
  const dir = join(tmp(), 'model');
  const config = parseConfig({ model_type: 'mamba', hidden_size: 16, num_hidden_layers: 3, vocab_size: 50280, state_size: 4 });
  await saveModel(randomModel(config, 9), dir, { tokenizerFrom: dirname(neoxTokenizerPath!) });
  return dir;
}

const PNG = [0x89, 0x50, 0x4e, 0x47];

test('factlab trace --prompt writes every number and a figure per site', { skip: skipWithoutData }, async () => {
  const model = await modelDir();
  const out = tmp();
  const r = cli('trace', '--model', model, '--out', out, '--prompt', 'The Eiffel Tower is located in', '--subject', 'Eiffel Tower', '--alt-subject', 'Colosseum', '--object', 'Paris', '--json');
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.deepEqual(summary.peaks.map((p: { site: string }) => p.site), ['residual', 's', 'g', 'o']);
  const trace = JSON.parse(readFileSync(join(out, 'trace.json'), 'utf8'));
  assert.deepEqual(trace.tokens, ['The', ' E', 'iff', 'el', ' Tower', ' is', ' located', ' in']);
  assert.deepEqual(trace.subjectRange, [1, 5]);
  assert.equal(trace.sites[0].scores.length, 8);
  assert.equal(trace.sites[0].scores[0].length, 3);
  assert.equal(trace.effects[0][7][2], 1, "the last layer's residual at the last token restores the clean probability");
  for (const s of ['residual', 's', 'g', 'o']) {
    assert.match(readFileSync(join(out, 'figures', `${s}.svg`), 'utf8'), /^<svg[^>]*>[\s\S]*Eiffel[\s\S]*<\/svg>$/);
    assert.deepEqual([...readFileSync(join(out, 'figures', `${s}.png`)).subarray(0, 4)], PNG);
  }
});

test('factlab trace --prompt without --alt-subject swaps in a known_1000 subject that changes the prediction, and says which', { skip: skipWithoutData }, async () => {
  const model = await modelDir();
  const r = cli('trace', '--model', model, '--out', tmp(), '--prompt', 'The Eiffel Tower is located in', '--subject', 'Eiffel Tower', '--sites', 'residual', '--json');
  assert.equal(r.status, 0, r.stderr);
  const alt = /swapping in "([^"]+)"/.exec(r.stderr)?.[1];
  assert.ok(alt, r.stderr);
  assert.equal(JSON.parse(r.stdout).altSubject, alt);
  assert.ok(JSON.parse(r.stdout).high !== JSON.parse(r.stdout).low);
});

test('factlab trace --dataset resumes: a run with --limit, then without, gives the summary of one whole run', { skip: skipWithoutData }, async () => {
  const model = await modelDir();
  const data = join(tmp(), 'facts.jsonl');
  const cities = ['Paris', 'Rome', 'Berlin', 'Vienna'];
  writeFileSync(data, cities.map((c, i) => JSON.stringify({ subject: c, template: 'The city of {} lies in', object: `country ${i}` })).join('\n'));
  const args = ['--model', model, '--dataset', data, '--all-facts', '--sites', 'residual,o', '--window', '2', '--json'];
  const whole = tmp(), parts = tmp();
  const a = cli('trace', ...args, '--out', whole);
  assert.equal(a.status, 0, a.stderr);
  assert.equal(JSON.parse(a.stdout).facts.traced, 4);
  const b1 = cli('trace', ...args, '--out', parts, '--limit', '2');
  assert.equal(JSON.parse(b1.stdout).facts.traced, 2);
  const b2 = cli('trace', ...args, '--out', parts);
  assert.equal(b2.status, 0, b2.stderr);
  assert.deepEqual(JSON.parse(readFileSync(join(parts, 'summary.json'), 'utf8')), JSON.parse(readFileSync(join(whole, 'summary.json'), 'utf8')));
  assert.ok(existsSync(join(parts, 'figures', 'aie-residual.png')) && existsSync(join(parts, 'figures', 'aie-o.svg')));
  const other = cli('trace', ...args, '--out', parts, '--seed', '1');
  assert.equal(other.status, 1);
  assert.match(other.stderr, /^factlab: .* holds a run with other settings \(seed\); use another output folder, or restart to clear it\n$/);
});

test('factlab trace errors are one line', { skip: skipWithoutData }, async () => {
  const model = await modelDir();
  const bad = join(tmp(), 'bad.json');
  writeFileSync(bad, '[{"subject": "Oslo"}]');
  const cases: [string[], RegExp][] = [
    [['--prompt', 'The Eiffel Tower is in', '--subject', 'Big Ben', '--alt-subject', 'X'], /^factlab: subject "Big Ben" does not occur in prompt "The Eiffel Tower is in"\n$/],
    [['--prompt', 'The Eiffel Tower is in', '--subject', 'Eiffel Tower', '--alt-subject', 'X', '--sites', 'residual,mlp'], /^factlab: unknown trace site "mlp" for a mamba model: use residual, s, g, o or a per-layer hook site \(/],
    [['--prompt', 'The Eiffel Tower is in', '--subject', 'Eiffel Tower', '--alt-subject', ''], /^factlab: subject swap needs an alternative subject/],
    [['--dataset', bad], /^factlab: bad dataset file .*bad.json: record 0 has no "prompt" or "template" string\n$/],
    [['--dataset', bad, '--prompt', 'x'], /^factlab: give either --prompt \(with --subject\) or --dataset\n$/],
  ];
  for (const [args, message] of cases) {
    const r = cli('trace', '--model', model, '--out', tmp(), ...args);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
});

test('factlab trace: an --out that cannot be written is one line naming it, not an internal error', { skip: skipWithoutData }, async () => {
  const model = await modelDir();
  const r = cli('trace', '--model', model, '--out', '/dev/null/trace', '--prompt', 'The Eiffel Tower is located in', '--subject', 'Eiffel Tower', '--alt-subject', 'Colosseum', '--object', 'Paris');
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^factlab: \/dev\/null\/trace\S*: not a directory \(\w+\)\n$/);
});
