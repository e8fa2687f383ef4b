import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from './run.js';
import { randomModel } from '../models/random.js';
import { tinyMamba, tinyNeox } from '../models/testing/tiny-configs.js';
import { tensor } from '../tensor/creation.js';
import { liveTensors, tidyAsync } from '../tensor/lifetime.js';
import { valueAndGrad } from '../tensor/autodiff.js';
import { sum } from '../tensor/ops/reduce/sum.js';
import { slice } from '../tensor/ops/shape/slice.js';
import { mul } from '../tensor/ops/elementwise/binary.js';
import type { LanguageModel } from '../models/model.js';
import type { Intervention } from './types.js';

const models: [string, () => LanguageModel][] = [['mamba', () => randomModel(tinyMamba, 1)], ['gpt-neox', () => randomModel(tinyNeox(), 2)], ['gpt-neox sequential', () => randomModel(tinyNeox(false), 3)]];
const ids2 = () => tensor(new Int32Array([5, 9, 2, 7, 31, 4, 5, 9, 3, 8, 12, 4]), [2, 6]);

async function rows(t: ReturnType<typeof tensor>): Promise<number[][]> {
  const d = Array.from(await t.data()), B = t.shape[0]!, n = d.length / B;
  return Array.from({ length: B }, (_, r) => d.slice(r * n, r * n + n));
}

for (const [name, make] of models) {
  test(`${name}: copying the last layer's residual from row 0 makes row 1's logits row 0's`, async () => {
    const model = make();
    await tidyAsync(async () => {
      const L = model.config.nLayer - 1;
      const r = run(model, ids2(), { interventions: [{ site: `blocks.${L}.hook_resid_post`, rows: [1], kind: 'copyRow', fromRow: 0 }] });
      const [a, b] = await rows(r.logits);
      assert.deepEqual(b, a);
      r.dispose();
    });
    model.dispose();
  });

  test(`${name}: copyRow patches made in place equal those made by where while a gradient is taken`, async () => {
    const model = make();
    await tidyAsync(async () => {
      const interventions: Intervention[] = [
        { site: 'hook_resid_post', layers: [0, 2], rows: [1], positions: [1, 4], kind: 'copyRow', fromRow: 0 },
        { site: 'hook_embed', rows: [1], positions: [[0, 5]], kind: 'copyRow', fromRow: 0 },
      ];
      const inPlace = run(model, ids2(), { interventions });
      const w = tensor(Float32Array.from({ length: inPlace.logits.size }, (_, i) => Math.cos(i)), inPlace.logits.shape);
      const direct = await sum(mul(inPlace.logits, w)).item();
      // While a tape records, activations are never changed in place: the same patches go through where.
      const { value } = valueAndGrad(() => {
        const r = run(model, ids2(), { interventions });
        return sum(mul(r.logits, w));
      }, [w]);
      assert.equal(await value.item(), direct);
      // And the patches did something: row 1's logits differ from an unpatched row 1's.
      const plain = run(model, ids2());
      assert.notDeepEqual((await rows(inPlace.logits))[1], (await rows(plain.logits))[1]);
    });
    model.dispose();
  });

  test(`${name}: rows with different patches in one batch equal separate forwards`, async () => {
    const model = make();
    await tidyAsync(async () => {
      const base = ids2();
      const value = tensor(Float32Array.from({ length: 16 }, (_, i) => Math.sin(i)), [16]);
      const site = 'hook_resid_post';
      // Row 0 patched at layer 0, position 2; row 1 at layer 1, positions 1 and 4 — in one pass.
      const batched = run(model, base, { interventions: [
        { site, layers: [0], rows: [0], positions: [2], kind: 'replace', value },
        { site, layers: [1], rows: [1], positions: [1, 4], kind: 'add', value },
      ] });
      const one = run(model, base, { interventions: [{ site, layers: [0], positions: [2], kind: 'replace', value }] });
      const two = run(model, base, { interventions: [{ site, layers: [1], positions: [1, 4], kind: 'add', value }] });
      const [b0, b1] = await rows(batched.logits);
      assert.deepEqual(b0, (await rows(one.logits))[0]);
      assert.deepEqual(b1, (await rows(two.logits))[1]);
    });
    model.dispose();
  });

  test(`${name}: capturing changes nothing, and captures are the activations the model used`, async () => {
    const model = make();
    await tidyAsync(async () => {
      const plain = run(model, ids2());
      const r = run(model, ids2(), { capture: [{ site: 'hook_resid_post', layers: [0, 1, 2] }, 'hook_embed'] });
      assert.deepEqual(Array.from(await r.logits.data()), Array.from(await plain.logits.data()));
      assert.deepEqual(r.captures.get('blocks.2.hook_resid_post')!.shape, [2, 6, 16]);
      // Replacing layer 1's output with its own captured value is a no-op.
      const same = run(model, ids2(), { interventions: [{ site: 'blocks.1.hook_resid_post', kind: 'replace', value: r.captures.get('blocks.1.hook_resid_post')! }] });
      assert.deepEqual(Array.from(await same.logits.data()), Array.from(await plain.logits.data()));
    });
    model.dispose();
  });

  test(`${name}: bad interventions are refused with a message naming the site`, () => {
    const model = make();
    const ids = ids2();
    const bad: [Intervention, RegExp][] = [
      [{ site: 'blocks.0.hook_nothing', kind: 'scale', factor: 0 }, /unknown hook site "blocks.0.hook_nothing"/],
      [{ site: 'blocks.9.hook_resid_post', kind: 'scale', factor: 0 }, /layer 9 is out of range \(the model has 3 layers/],
      [{ site: 'blocks.0.hook_resid_post', rows: [2], kind: 'scale', factor: 0 }, /blocks.0.hook_resid_post: row 2 is outside the batch of 2/],
      [{ site: 'blocks.0.hook_resid_post', positions: [6], kind: 'scale', factor: 0 }, /position 6 is outside the 6 tokens/],
      [{ site: 'blocks.0.hook_resid_post', kind: 'replace', value: tensor([1, 2, 3]) }, /value of shape \[3\] does not broadcast to the activation's shape \[2,6,16\]/],
    ];
    for (const [p, message] of bad) assert.throws(() => run(model, ids, { interventions: [p] }), message);
    const captureOnly = name === 'mamba' ? 'blocks.0.mixer.hook_ssm_state' : 'blocks.0.attn.hook_pattern';
    assert.throws(() => run(model, ids, { interventions: [{ site: captureOnly, kind: 'scale', factor: 0 }] }), /can be captured but not patched/);
    if (name === 'gpt-neox') assert.throws(() => run(model, ids, { capture: ['blocks.0.hook_resid_mid'] }), /never reached .*\(hook_resid_mid exists only in sequential-residual models\)/);
    ids.dispose();
    model.dispose();
  });

  test(`${name}: gradients flow through a replaced activation to the value that replaced it`, async () => {
    const model = make();
    await tidyAsync(async () => {
      const value = tensor(new Float32Array(16).fill(0.1), [16]);
      const { grads: [g] } = valueAndGrad(() => {
        const r = run(model, ids2(), { interventions: [{ site: 'blocks.1.hook_resid_post', rows: [0], positions: [3], kind: 'replace', value }] });
        return sum(slice(r.logits, 1, 5, 6));
      }, [value]);
      const gv = Array.from(await g!.data());
      assert.ok(gv.some((v) => Math.abs(v) > 1e-6), 'the replaced value got no gradient');
      // A patch after the position read cannot influence it (causality): no gradient.
      const { grads: [g0] } = valueAndGrad(() => {
        const r = run(model, ids2(), { interventions: [{ site: 'blocks.1.hook_resid_post', positions: [5], kind: 'replace', value }] });
        return sum(slice(r.logits, 1, 4, 5));
      }, [value], { allowUnused: true });
      assert.ok(Array.from(await g0!.data()).every((v) => v === 0));
    });
    model.dispose();
  });
}

test('mamba: a patch at position t leaves every output before t unchanged', async () => {
  const model = randomModel(tinyMamba, 4);
  await tidyAsync(async () => {
    const plain = await rows(run(model, ids2()).logits);
    for (const site of ['mixer.hook_x', 'mixer.hook_s', 'mixer.hook_g', 'hook_mixer_out', 'hook_resid_post', 'mixer.hook_delta']) {
      const r = run(model, ids2(), { interventions: [{ site, layers: [1], positions: [3], kind: 'scale', factor: 3 }] });
      const patched = await rows(r.logits);
      const V = 40;
      for (let b = 0; b < 2; b++) {
        assert.deepEqual(patched[b]!.slice(0, 3 * V), plain[b]!.slice(0, 3 * V), `${site}: positions before 3 changed`);
        assert.notDeepEqual(patched[b]!.slice(3 * V), plain[b]!.slice(3 * V), `${site}: the patch had no effect`);
      }
    }
  });
  model.dispose();
});

test('mamba: capturing a site that is otherwise fused away (g, Δ) changes no output, and captures what the fused kernel used', async () => {
  const model = randomModel(tinyMamba, 6);
  await tidyAsync(async () => {
    const plain = await rows(run(model, ids2()).logits);
    for (const site of ['mixer.hook_g', 'mixer.hook_delta']) {
      const r = run(model, ids2(), { capture: [{ site, layers: [0, 1] }] });
      assert.deepEqual(await rows(r.logits), plain, `capturing ${site} changed the logits`);
      const captured = r.captures.get(`blocks.1.${site}`)!;
      const v = Array.from(await captured.data());
      // g = silu(z) lies above −0.279 (silu's minimum); Δ = softplus(·) is positive.
      assert.ok(v.length > 0 && v.every((x) => (site === 'mixer.hook_delta' ? x > 0 : x > -0.28)), `${site}: values outside its range`);
    }
  });
  model.dispose();
});

test('no tensors are left alive by runs and their disposal', () => {
  const model = randomModel(tinyMamba, 5);
  const before = liveTensors();
  for (let i = 0; i < 50; i++) {
    const ids = ids2();
    const r = run(model, ids, { capture: [{ site: 'mixer.hook_ssm_state', layers: [0] }], interventions: [{ site: 'hook_resid_post', layers: [0, 2], positions: [1], kind: 'scale', factor: 0.5 }] });
    r.dispose();
    ids.dispose();
  }
  assert.equal(liveTensors(), before);
  model.dispose();
});
