import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = join(dirname(fileURLToPath(import.meta.url)), 'main.js');

test('FACTLAB_BACKEND picks the backend of every verb; an unknown one is one line naming the variable', () => {
  const r = spawnSync(process.execPath, [main, 'info', '--model', 'nowhere'], { encoding: 'utf8', env: { ...process.env, FACTLAB_BACKEND: 'tpu' } });
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim(), 'factlab: FACTLAB_BACKEND must be cpu or webgpu, got "tpu"');
});
