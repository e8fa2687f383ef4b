import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveModel, SHIPPED_MODELS } from './options.js';

const here = dirname(fileURLToPath(import.meta.url));
const main = join(here, 'main.js');
const root = resolve(here, '../../..');
const shipped = (name: string) => existsSync(join(root, SHIPPED_MODELS[name]!, 'config.json'));

test('--model: a path is taken as it is; no --model, "mamba" and "neox" name the shipped organisms inside the package', () => {
  const dir = mkdtempSync(join(tmpdir(), 'factlab-model-'));
  assert.equal(resolveModel(dir), dir);
  assert.equal(resolveModel('some/other/dir'), 'some/other/dir');
  for (const [spec, name] of [[undefined, 'mamba'], ['mamba', 'mamba'], ['neox', 'neox'], ['neox-organism', 'neox'], ['gptneox', 'neox']] as const) {
    if (shipped(name)) assert.equal(resolveModel(spec), join(root, SHIPPED_MODELS[name]!));
    else assert.throws(() => resolveModel(spec), new RegExp(`${SHIPPED_MODELS[name]} is not in this installation .*docs/organisms.md`));
  }
});

test('factlab info without --model describes the Mamba organism, from any working directory', () => {
  const r = spawnSync(process.execPath, [main, 'info', '--json'], { encoding: 'utf8', cwd: tmpdir() });
  if (shipped('mamba')) {
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).config.arch, 'mamba');
  } else {
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^factlab: no --model given, and the default model models\/mamba-organism is not in this installation/);
  }
});
