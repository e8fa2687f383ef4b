import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomModel } from './random.js';
import { tinyMamba, tinyNeox } from './testing/tiny-configs.js';
import { tensor } from '../tensor/creation.js';
import { tidyAsync } from '../tensor/lifetime.js';
import { run } from '../interventions/run.js';

const ids = () => tensor(new Int32Array([0, 0, 3, 17, 8, 22, 5, 6, 9, 1, 2, 30]), [2, 6]);
const mask = () => tensor(new Int32Array([0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]), [2, 6]);

for (const [name, model] of [['mamba', randomModel(tinyMamba, 11)], ['gpt-neox', randomModel(tinyNeox(), 12)], ['gpt-neox sequential', randomModel(tinyNeox(false), 13)]] as const) {
  test(`${name}: a forward started at layer k from the captured residual gives the full forward's logits exactly`, async () => {
    await tidyAsync(async () => {
      const n = model.config.nLayer;
      const full = run(model, ids(), { attentionMask: mask(), capture: [{ site: 'hook_resid_pre', layers: [0, 1, 2] }, `blocks.${n - 1}.hook_resid_post`] });
      const want = Array.from(await full.logits.data());
      for (let k = 0; k <= n; k++) {
        const residual = k < n ? full.captures.get(`blocks.${k}.hook_resid_pre`)! : full.captures.get(`blocks.${n - 1}.hook_resid_post`)!;
        const r = run(model, ids(), { attentionMask: mask(), start: { layer: k, residual } });
        assert.deepEqual(Array.from(await r.logits.data()), want, `start at layer ${k}`);
        assert.equal(residual.isDisposed, false, 'the caller keeps its residual');
      }
    });
  });

  test(`${name}: hooks below the start layer are not reached, and a bad start is refused`, () => {
    const residual = tensor(new Float32Array(2 * 6 * 16), [2, 6, 16]);
    assert.throws(() => run(model, ids(), { start: { layer: 2, residual }, capture: ['blocks.1.hook_resid_post'] }), /never reached .*blocks\.1\.hook_resid_post/);
    assert.throws(() => run(model, ids(), { start: { layer: 4, residual } }), /start layer 4 is outside 0\.\.3/);
    assert.throws(() => run(model, ids(), { start: { layer: 1, residual: tensor(new Float32Array(6 * 16), [1, 6, 16]) } }), /must be \[2, 6, 16\]/);
    residual.dispose();
  });
}

for (const [name, model] of [['mamba', randomModel(tinyMamba, 21)], ['gpt-neox', randomModel(tinyNeox(), 22)]] as const) {
  test(`${name}: logits 'last' is the last row of 'all', and 'none' gives [B, 0] with the same captures`, async () => {
    await tidyAsync(async () => {
      const site = `blocks.${model.config.nLayer - 1}.hook_resid_post`;
      const all = run(model, ids(), { attentionMask: mask(), capture: [site] });
      const last = run(model, ids(), { attentionMask: mask(), logits: 'last' });
      const none = run(model, ids(), { attentionMask: mask(), capture: [site], logits: 'none' });
      const V = model.config.vocabSize;
      const a = await all.logits.data(), l = await last.logits.data();
      assert.deepEqual(last.logits.shape, [2, V]);
      for (const b of [0, 1]) assert.deepEqual(Array.from(l.subarray(b * V, (b + 1) * V)), Array.from(a.subarray((b * 6 + 5) * V, (b * 6 + 6) * V)));
      assert.deepEqual(none.logits.shape, [2, 0]);
      assert.deepEqual(Array.from(await none.captures.get(site)!.data()), Array.from(await all.captures.get(site)!.data()));
    });
  });
}
