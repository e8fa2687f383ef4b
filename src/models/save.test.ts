import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveModel } from './save.js';
import { loadModel } from './load.js';
import { randomModel } from './random.js';
import { tinyMamba, tinyNeox } from './testing/tiny-configs.js';
import { tensor } from '../tensor/creation.js';

for (const [name, config] of [['mamba', tinyMamba], ['gpt-neox', tinyNeox(false)]] as const) {
  test(`${name}: a saved model loads back with identical logits, and no temporary file is left`, async () => {
    const model = randomModel(config, 11);
    const dir = join(mkdtempSync(join(tmpdir(), 'factlab-save-')), 'model');
    await saveModel(model, dir);
    assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'model.safetensors']);
    const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.equal(json.model_type, name === 'mamba' ? 'mamba' : 'gpt_neox');
    const back = await loadModel(dir);
    const ids = tensor(new Int32Array([1, 5, 9, 3]), [1, 4]);
    assert.deepEqual(Array.from(await back.forward(ids).data()), Array.from(await model.forward(ids).data()));
    model.dispose(); back.dispose();
  });
}
