import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomModel } from './random.js';
import { tinyMamba, tinyNeox } from './testing/tiny-configs.js';
import { tensor } from '../tensor/creation.js';
import { tidyAsync } from '../tensor/lifetime.js';
import { run } from '../interventions/run.js';
import { slice } from '../tensor/ops/shape/slice.js';

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

  test(`${name}: rows that join at later layers give the full forward's logits exactly`, async () => {
    await tidyAsync(async () => {
      const n = model.config.nLayer, V = model.config.vocabSize;
      const full = run(model, ids(), { attentionMask: mask(), capture: [{ site: 'hook_resid_pre', layers: [0, 1, 2] }, `blocks.${n - 1}.hook_resid_post`] });
      const want = await full.logits.data();
      const resid = (l: number) => (l < n ? full.captures.get(`blocks.${l}.hook_resid_pre`)! : full.captures.get(`blocks.${n - 1}.hook_resid_post`)!);
      const row = (t: ReturnType<typeof ids>, r: number) => slice(t, 0, r, r + 1);
      // Batch rows: the full run's row 1 from layer 0, its row 0 joining at layer 2, its row 1 again at nLayer.
      const order = [1, 0, 1];
      const d = await ids().data(), m = await mask().data();
      const pick = (src: ArrayLike<number>) => Int32Array.from(order.flatMap((r) => Array.from(src).slice(r * 6, r * 6 + 6)));
      const r = run(model, tensor(pick(d), [3, 6]), {
        attentionMask: tensor(pick(m), [3, 6]),
        start: { layer: 0, residual: row(resid(0), 1), joins: [{ layer: 2, residual: row(resid(2), 0) }, { layer: n, residual: row(resid(n), 1) }] },
        capture: [`blocks.${n - 1}.hook_resid_post`],
      });
      const got = await r.logits.data();
      order.forEach((src, b) => assert.deepEqual(Array.from(got.subarray(b * 6 * V, (b + 1) * 6 * V)), Array.from(want.subarray(src * 6 * V, (src + 1) * 6 * V)), `row ${b}`));
      assert.deepEqual(r.captures.get(`blocks.${n - 1}.hook_resid_post`)!.shape, [2, 6, 16], 'the row joining after the last layer is not in its hooks');
    });
  });

  test(`${name}: hooks below the start layer are not reached, and a bad start is refused`, () => {
    const residual = tensor(new Float32Array(2 * 6 * 16), [2, 6, 16]);
    assert.throws(() => run(model, ids(), { start: { layer: 2, residual }, capture: ['blocks.1.hook_resid_post'] }), /never reached .*blocks\.1\.hook_resid_post/);
    assert.throws(() => run(model, ids(), { start: { layer: 4, residual } }), /start layer 4 is outside 0\.\.3/);
    assert.throws(() => run(model, ids(), { start: { layer: 1, residual: tensor(new Float32Array(6 * 16), [1, 6, 16]) } }), /must be \[2, 6, 16\]/);
    const one = tensor(new Float32Array(6 * 16), [1, 6, 16]);
    assert.throws(() => run(model, ids(), { start: { layer: 1, residual: one, joins: [{ layer: 3, residual: one }, { layer: 2, residual: one }] } }), /join 1 is at layer 2; joins must come in order of layer, from the start layer 1 to 3/);
    assert.throws(() => run(model, ids(), { start: { layer: 1, residual: one, joins: [{ layer: 2, residual: tensor(new Float32Array(5 * 16), [1, 5, 16]) }] } }), /the residual of join 0 .* must be \[k ≥ 1, 6, 16\]/);
    assert.throws(() => run(model, ids(), { start: { layer: 1, residual, joins: [{ layer: 2, residual: one }] } }), /must be \[1, 6, 16\] \(the ids' batch less the 1 joining rows/);
    one.dispose();
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
