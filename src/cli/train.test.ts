import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = join(dirname(fileURLToPath(import.meta.url)), 'main.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });

test('factlab train: bad input is one line on stderr naming the argument or the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'factlab-train-cli-'));
  const cases: [string[], RegExp][] = [
    [['train', '-a', 'rwkv', '-d', dir, '-o', join(dir, 'run')], /^factlab: --arch must be mamba or gptneox, got "rwkv"\n$/],
    [['train', '-a', 'mamba', '--preset', 'huge', '-d', dir, '-o', join(dir, 'run')], /^factlab: --preset must be one of organism, small, tiny, got "huge"\n$/],
    [['train', '-a', 'mamba', '--steps', '10', '--warmup', '20', '-d', dir, '-o', join(dir, 'run')], /^factlab: --warmup 20 is more than --steps 10\n$/],
    [['train', '-a', 'mamba', '--backend', 'tpu', '-d', dir, '-o', join(dir, 'run')], /^factlab: --backend must be cpu or webgpu, got "tpu"\n$/],
    [['train', '-a', 'mamba', '-d', join(dir, 'none'), '-o', join(dir, 'run')], /^factlab: .*none\/data.json: missing \(a prepared data folder comes from factlab prepare-data\)\n$/],
    [['train', '-a', 'mamba', '--lr', '-1', '-d', dir, '-o', join(dir, 'run')], /--lr must be a positive number, got "-1"/],
    [['ship', '-r', join(dir, 'run'), '-d', dir, '-o', join(dir, 'model')], /^factlab: .*run: no run.json; --run names the --out folder of factlab train\n$/],
    [['prepare-data', '-t', join(dir, 'no-tokenizer.json'), '-o', join(dir, 'data'), '--shared', dir], /^factlab: .*no-tokenizer.json: no such tokenizer file\n$/],
  ];
  for (const [args, message] of cases) {
    const r = cli(...args);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, message, args.join(' '));
  }
});
