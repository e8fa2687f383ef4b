import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tensor } from '../tensor/creation.js';
import { loadPretrained } from './load.js';
import { loadPretrainedFromFiles } from './load-files.js';

const ORGANISM = 'models/neox-organism';
const bytesOf = (dir: string) => new Map(readdirSync(dir).map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]));

test('a model folder given as bytes loads the same model and tokenizer as its directory', async () => {
  const fromFiles = await loadPretrainedFromFiles(bytesOf(ORGANISM), 'neox-organism');
  const fromDir = await loadPretrained(ORGANISM);
  try {
    const ids = fromDir.tokenizer.encode('The Eiffel Tower is located in').ids;
    assert.deepEqual(fromFiles.tokenizer.encode('The Eiffel Tower is located in').ids, ids);
    const run = (m: typeof fromDir.model) => m.forward(tensor(Int32Array.from(ids), [1, ids.length]), { logits: 'last' }).data();
    assert.deepEqual(await run(fromFiles.model), await run(fromDir.model));
  } finally {
    fromFiles.model.dispose();
    fromDir.model.dispose();
  }
});

test('a folder without its files, or with a checkpoint read only from a directory, is one error naming what is missing', async () => {
  const all = bytesOf(ORGANISM);
  const without = (name: string) => new Map([...all].filter(([f]) => f !== name));
  await assert.rejects(loadPretrainedFromFiles(without('config.json'), 'org'), /^FactlabError: org: has no config\.json \(a model folder needs/);
  await assert.rejects(loadPretrainedFromFiles(without('tokenizer.json'), 'org'), /org: has no tokenizer\.json/);
  await assert.rejects(loadPretrainedFromFiles(new Map([...without('model.safetensors'), ['pytorch_model.bin', new Uint8Array(8)]]), 'org'),
    /org: has no model\.safetensors \(it has pytorch_model\.bin: sharded and PyTorch checkpoints load from a directory/);
  await assert.rejects(loadPretrainedFromFiles(new Map([...all, ['config.json', new TextEncoder().encode('{"model_type": ')]]), 'org'), /org\/config\.json: not valid JSON/);
  // Bytes cut short name the file, as a truncated file does.
  await assert.rejects(loadPretrainedFromFiles(new Map([...all, ['model.safetensors', all.get('model.safetensors')!.subarray(0, 1000)]]), 'org'), /^FactlabError: org\/model\.safetensors: the header length says/);
});
