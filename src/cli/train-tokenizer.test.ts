import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTokenizer, serializeTokenizerJson, trainByteLevelBpe, type TokenizerJson } from '../io/tokenizer/index.js';
import { skipWithoutData } from '../io/shared-data.js';

const main = join(dirname(fileURLToPath(import.meta.url)), 'main.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [main, 'train-tokenizer', ...args], { encoding: 'utf8' });

const text = [
  'The Eiffel Tower is located in Paris, the capital of France.',
  'Paris is the largest city of France; its tower was built in 1889.',
  "Vinson Massif is located in the continent of Antarctica. It's cold there.",
].join('\n').repeat(40);

function withDir(fn: (dir: string) => Promise<void> | void) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'factlab-train-tok-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('factlab train-tokenizer: a text file to a folder, the same tokenizer as the library trains', withDir(async (dir) => {
  const input = join(dir, 'corpus.txt');
  writeFileSync(input, text);
  const out = join(dir, 'tok');
  const r = cli(input, '--vocab-size', '300', '--min-frequency', '1', '-o', out, '--json');
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.vocabSize, 300);
  assert.equal(summary.out, join(out, 'tokenizer.json'));
  assert.equal(summary.texts, 1);
  assert.deepEqual(readdirSync(out).sort(), ['tokenizer.json', 'tokenizer_config.json']);
  const expected = await trainByteLevelBpe([text], { vocabSize: 300, minFrequency: 1 });
  assert.equal(readFileSync(join(out, 'tokenizer.json'), 'utf8'), serializeTokenizerJson(expected));
  const tok = await loadTokenizer(out);
  assert.equal(tok.decode(tok.encode(text).ids), text);
}));

test('factlab train-tokenizer: enwiki shards with a size limit, WikiExtractor blocks as texts, to a .json file', { skip: skipWithoutData }, withDir(async (dir) => {
  const out = join(dir, 'enwiki.json');
  const r = cli('--enwiki', '1', '--max-mb', '0.3', '--vocab-size', '1000', '-o', out, '--json');
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.ok(summary.megabytes >= 0.3 && summary.megabytes < 1.5, String(summary.megabytes));
  // The first 0.33 MB of shard_00 hold 7 whole <doc> blocks and the start of an eighth.
  assert.equal(summary.texts, 8, 'one text per <doc> block');
  const json = JSON.parse(readFileSync(out, 'utf8')) as TokenizerJson;
  assert.equal(Object.keys(json.model.vocab).length, 1000);
  assert.ok(!Object.keys(json.model.vocab).some((t) => t.includes('doc')), 'no markup learned');
  assert.deepEqual(readdirSync(dir), ['enwiki.json']);
}));

test('factlab train-tokenizer: a small corpus gives a smaller vocabulary, with a warning', withDir((dir) => {
  const input = join(dir, 'tiny.txt');
  writeFileSync(input, 'abc abc abd');
  const r = cli(input, '--vocab-size', '5000', '-o', join(dir, 't.json'));
  assert.equal(r.status, 0, r.stderr);
  // "abc", " abc", " abd": "a b" (3 times), then "Ġ ab" (2, tied with "ab c" but Ġ has the smaller id), then
  // no pair occurs twice.
  assert.match(r.stderr, /^factlab: warning: the vocabulary has 259 entries, not 5000: no pair .* 2 times/);
  assert.match(r.stdout, /t\.json: 259 tokens \(2 merges\)/);
}));

test('factlab train-tokenizer: bad arguments are one line naming them, and nothing is written', withDir((dir) => {
  const input = join(dir, 'corpus.txt');
  writeFileSync(input, text);
  const out = join(dir, 'out');
  const cases: [string[], RegExp][] = [
    [[join(dir, 'missing.txt'), '-o', out], /^factlab: .*missing\.txt: no such file\n$/],
    [[input, '--vocab-size', '100', '-o', out], /^factlab: --vocab-size must be an integer from 257 .* got 100\n$/],
    [[input, '--special', '<a>,<a>', '-o', out], /^factlab: --special: "<a>" is given twice\n$/],
    [['-o', out], /^factlab: train-tokenizer: no input/],
    [[input, '-o', join(dir, 'no', 'such', 't.json')], /^factlab: --out .*t\.json: the folder .*such does not exist\n$/],
    [[input, '-o', input], /^factlab: --out .*corpus\.txt: a file that is not \.json/],
    [[join(dir), '-o', out], /^factlab: .*: no such file\n$/],
  ];
  for (const [args, expected] of cases) {
    const r = cli(...args);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, expected, args.join(' '));
  }
  const empty = join(dir, 'empty.txt');
  writeFileSync(empty, '');
  const r = cli(empty, '-o', out);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /empty\.txt: no text to train on/);
  const badXz = join(dir, 'bad.xz');
  writeFileSync(badXz, 'not xz at all');
  const x = cli(badXz, '-o', out);
  assert.equal(x.status, 1);
  assert.match(x.stderr, /^factlab: .*bad\.xz: cannot read it as xz/);
  assert.doesNotMatch(x.stderr, /\n\s+at /, 'no stack trace');
  assert.ok(!existsSync(out), 'no output after a failure');
}));
