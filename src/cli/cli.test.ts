import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../io/config/config.js';
import { randomModel } from '../models/random.js';
import { saveModel } from '../models/save.js';
import { loadTokenizer } from '../io/tokenizer/index.js';
import { generate } from '../interventions/generate.js';
import { tensor } from '../tensor/creation.js';
import { neoxTokenizerPath, skipWithoutData } from '../io/shared-data.js';

const main = join(dirname(fileURLToPath(import.meta.url)), 'main.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });

test('factlab generate continues a prompt exactly as the library does, and info describes the model', { skip: skipWithoutData }, async () => {
  const config = parseConfig({ model_type: 'mamba', hidden_size: 16, num_hidden_layers: 2, vocab_size: 50280, state_size: 4 });
  const model = randomModel(config, 3);
  const dir = join(mkdtempSync(join(tmpdir(), 'factlab-cli-')), 'model');
  await saveModel(model, dir, { tokenizerFrom: dirname(neoxTokenizerPath!) });
  const r = cli('generate', '--model', dir, '--prompt', 'The Eiffel Tower is in', '-n', '4', '--json');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const tok = await loadTokenizer(dir);
  const { ids } = tok.encode('The Eiffel Tower is in');
  const [expected] = await generate(model, tensor(Int32Array.from(ids), [1, ids.length]), { maxNewTokens: 4, eosId: 0 });
  assert.deepEqual(out.newIds, expected);
  assert.equal(out.completion, tok.decode(expected!));
  const info = cli('info', '--model', dir, '--json');
  assert.equal(info.status, 0, info.stderr);
  const described = JSON.parse(info.stdout);
  assert.equal(described.config.arch, 'mamba');
  assert.ok(described.sites.some((s: { name: string; paper?: string }) => s.name === 'blocks.{l}.mixer.hook_s' && s.paper === 's'));
  model.dispose();
});

test('bad command lines give one line on stderr and a non-zero exit', () => {
  const missing = cli('generate', '--model', 'x');
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /required option '-p, --prompt <text>' not specified/);
  const nodir = cli('info', '--model', join(tmpdir(), 'factlab-no-such-dir'));
  assert.equal(nodir.status, 1);
  assert.match(nodir.stderr, /^factlab: .*no config.json/);
  assert.doesNotMatch(nodir.stderr, /\n\s+at /, 'no stack trace');
  const badInt = cli('generate', '--model', 'x', '--prompt', 'y', '-n', 'many');
  assert.match(badInt.stderr, /--max-new-tokens must be an integer ≥ 0, got "many"/);
  for (const r of [missing, nodir, badInt]) assert.equal(r.stderr.trimEnd().split('\n').length, 1, `not one line:\n${r.stderr}`);
  assert.match(badInt.stderr, /^factlab: /);
  const help = cli('generate', '--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--top-k <k>/);
});

test('the factlab command that package.json names is executable, so that npx factlab runs it', () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const bin = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin.factlab!;
  assert.equal(join(root, bin), main);
  assert.ok((statSync(main).mode & 0o111) !== 0, `${bin} is not executable (mode ${(statSync(main).mode & 0o777).toString(8)})`);
  const r = spawnSync(main, ['--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Usage: factlab/);
});
