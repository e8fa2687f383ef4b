import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from './generate.js';
import { run } from './run.js';
import { randomModel } from '../models/random.js';
import { tinyMamba, tinyNeox } from '../models/testing/tiny-configs.js';
import { tensor } from '../tensor/creation.js';
import { liveTensors } from '../tensor/lifetime.js';

for (const [name, model] of [['mamba', randomModel(tinyMamba, 7)], ['gpt-neox', randomModel(tinyNeox(), 8)]] as const) {
  test(`${name}: greedy generation picks the argmax of each successive forward pass`, async () => {
    const prompt = [3, 17, 8, 22];
    const [gen] = await generate(model, tensor(new Int32Array(prompt), [1, 4]), { maxNewTokens: 5 });
    const seq = [...prompt];
    for (let i = 0; i < 5; i++) {
      const r = run(model, tensor(new Int32Array(seq), [1, seq.length]), { logits: 'last' });
      const l = Array.from(await r.logits.data());
      seq.push(l.indexOf(Math.max(...l)));
      r.dispose();
    }
    assert.deepEqual(gen, seq.slice(4));
  });

  test(`${name}: top-k sampling is reproducible from its seed, and left padding with a mask changes nothing`, async () => {
    const ids = tensor(new Int32Array([0, 0, 3, 17, 8, 22, 5, 6]), [2, 4]);
    const mask = tensor(new Int32Array([0, 0, 1, 1, 1, 1, 1, 1]), [2, 4]);
    const a = await generate(model, ids, { maxNewTokens: 6, topK: 5, seed: 3, attentionMask: mask });
    const b = await generate(model, ids, { maxNewTokens: 6, topK: 5, seed: 3, attentionMask: mask });
    assert.deepEqual(a, b);
    const padded = await generate(model, ids, { maxNewTokens: 4, attentionMask: mask });
    const alone = await generate(model, tensor(new Int32Array([3, 17]), [1, 2]), { maxNewTokens: 4 });
    assert.deepEqual(padded[0], alone[0]);
  });

  test(`${name}: interventions stay active while generating`, async () => {
    const ids = tensor(new Int32Array([3, 17, 8, 22]), [1, 4]);
    const plain = await generate(model, ids, { maxNewTokens: 4 });
    const ablated = await generate(model, ids, { maxNewTokens: 4, interventions: [{ site: 'hook_resid_post', layers: [0, 1, 2], kind: 'scale', factor: 0 }] });
    assert.notDeepEqual(ablated, plain);
    await assert.rejects(generate(model, ids, { maxNewTokens: -1 }), /maxNewTokens must be a non-negative integer/);
  });
}

test('mamba: generation that carries the recurrent state gives the tokens of recomputing every step', async () => {
  const model = randomModel(tinyMamba, 9);
  const before = liveTensors();
  const ids = tensor(new Int32Array([0, 0, 3, 17, 8, 22, 5, 6, 9, 1, 2, 30]), [2, 6]);
  const mask = tensor(new Int32Array([0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]), [2, 6]);
  for (const o of [{ maxNewTokens: 8 }, { maxNewTokens: 8, topK: 5, seed: 4, attentionMask: mask }, { maxNewTokens: 3, attentionMask: mask }]) {
    const carried = await generate(model, ids, o);
    const recomputed = await generate(model, ids, { ...o, recompute: true });
    assert.deepEqual(carried, recomputed);
  }
  const one = tensor(new Int32Array([7]), [1, 1]);
  assert.deepEqual(await generate(model, one, { maxNewTokens: 6 }), await generate(model, one, { maxNewTokens: 6, recompute: true }), 'a one-token prompt (the conv tail grows from one position)');
  ids.dispose(); mask.dispose(); one.dispose();
  assert.equal(liveTensors(), before, 'no tensor is left behind');
  model.dispose();
});
