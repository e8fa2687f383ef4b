import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../tensor/creation.js';
import { Rng } from '../../tensor/random.js';
import { randomModel } from '../../models/random.js';
import { tinyMamba, tinyNeox } from '../../models/testing/tiny-configs.js';
import { generate } from '../../interventions/generate.js';
import { scoreBatch, type ScoredPrompt } from './evaluate.js';

// The reference is greedy decoding of each prompt alone, unpadded: a batch of prompts of different lengths, left-padded
// together, must score the model's own greedy continuation as right, token for token, and a changed token as wrong.
for (const [name, config] of [['mamba', tinyMamba], ['gptneox', tinyNeox()]] as const) {
  test(`scoreBatch (${name}): left-padded rows score each prompt as greedy decoding of it alone`, async () => {
    const model = randomModel(config, 4);
    const rng = new Rng(9);
    const items: ScoredPrompt[] = [];
    for (const len of [2, 5, 3, 7, 4]) {
      const prompt = Array.from({ length: len }, () => 1 + rng.int(config.vocabSize - 1));
      const ids = tensor(new Int32Array(prompt), [1, len]);
      const [target] = await generate(model, ids, { maxNewTokens: 1 + (len % 3) });
      ids.dispose();
      items.push({ prompt, target: target! });
    }
    const right = await scoreBatch(model, items, 0);
    assert.deepEqual(right, items.map(() => ({ first: true, object: true })));
    const wrongFirst = items.map((it) => ({ prompt: it.prompt, target: [(it.target[0]! + 1) % config.vocabSize, ...it.target.slice(1)] }));
    assert.ok((await scoreBatch(model, wrongFirst, 0)).every((r) => !r.first && !r.object));
    const long = items.filter((it) => it.target.length > 1);
    assert.ok(long.length >= 2);
    const wrongLast = long.map((it) => ({ prompt: it.prompt, target: [...it.target.slice(0, -1), (it.target.at(-1)! + 1) % config.vocabSize] }));
    assert.deepEqual(await scoreBatch(model, wrongLast, 0), long.map(() => ({ first: true, object: false })));
    model.dispose();
  });
}
