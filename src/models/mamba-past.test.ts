import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomModel } from './random.js';
import { tinyMamba, tinyNeox } from './testing/tiny-configs.js';
import { tensor } from '../tensor/creation.js';
import { tidyAsync } from '../tensor/lifetime.js';
import { slice } from '../tensor/ops/shape/slice.js';
import { run } from '../interventions/run.js';
import { pastAfter, pastAt, type LayerCapture } from './mamba-past.js';
import type { MambaConfig } from '../io/config/config.js';

const T = 7;
const ids = () => tensor(new Int32Array([0, 0, 3, 17, 8, 22, 5, 6, 9, 1, 2, 30, 12, 4]), [2, T]);
const mask = () => tensor(new Int32Array([0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]), [2, T]);
const from = (t: ReturnType<typeof ids>, p: number) => slice(t, 1, p);

/** The full run with every layer's captures that a past is cut from, the residuals entering each layer, and hook_s. */
function fullRun(model: ReturnType<typeof randomModel>) {
  const n = model.config.nLayer, layers = Array.from({ length: n }, (_, l) => l);
  return run(model, ids(), {
    attentionMask: mask(),
    capture: [{ site: 'mixer.hook_x', layers }, { site: 'mixer.hook_ssm_state', layers }, { site: 'hook_resid_pre', layers }, { site: 'mixer.hook_s', layers }],
  });
}
const capturesOf = (r: ReturnType<typeof run>, n: number): LayerCapture[] =>
  Array.from({ length: n }, (_, l) => ({ x: r.captures.get(`blocks.${l}.mixer.hook_x`)!, ssm: r.captures.get(`blocks.${l}.mixer.hook_ssm_state`)! }));

for (const [name, config] of [['conv width 4', tinyMamba], ['conv width 2, biases', { ...tinyMamba, dConv: 2, projBias: true } as MambaConfig]] as const) {
  test(`mamba (${name}): a run continued from its past at position p gives the full run's logits and hooks from p on, exactly`, async () => {
    await tidyAsync(async () => {
      const model = randomModel(config, 31);
      const n = model.config.nLayer, V = model.config.vocabSize;
      const full = fullRun(model);
      const want = await full.logits.data();
      const layers = capturesOf(full, n);
      for (let p = 1; p < T; p++) {
        for (const k of [0, 1, n - 1]) {
          const past = pastAt(model.config as MambaConfig, layers.map((c, l) => (l >= k ? c : undefined)), p);
          const start = k === 0 ? undefined : { layer: k, residual: from(full.captures.get(`blocks.${k}.hook_resid_pre`)!, p) };
          const r = run(model, from(ids(), p), { attentionMask: from(mask(), p), past, ...(start ? { start } : {}), capture: [`blocks.${n - 1}.mixer.hook_s`] });
          const got = await r.logits.data();
          for (let b = 0; b < 2; b++) {
            assert.deepEqual(Array.from(got.subarray(b * (T - p) * V, (b + 1) * (T - p) * V)), Array.from(want.subarray((b * T + p) * V, (b + 1) * T * V)), `logits, row ${b}, p = ${p}, start layer ${k}`);
          }
          const s = full.captures.get(`blocks.${n - 1}.mixer.hook_s`)!;
          assert.deepEqual(Array.from(await r.captures.get(`blocks.${n - 1}.mixer.hook_s`)!.data()), Array.from(await from(s, p).data()), `hook_s, p = ${p}`);
          r.dispose(); past.dispose();
        }
      }
    });
  });
}

test('mamba: a past with rows lets a batch continue any of the run\'s rows, repeated', async () => {
  await tidyAsync(async () => {
    const model = randomModel(tinyMamba, 32);
    const n = model.config.nLayer, V = model.config.vocabSize, p = 3;
    const full = fullRun(model);
    const want = await full.logits.data();
    const rows = tensor(new Int32Array([1, 0, 1]), [3]);
    const past = { ...pastAt(tinyMamba, capturesOf(full, n), p), rows };
    const d = await from(ids(), p).data(), md = await from(mask(), p).data();
    const take = (src: ArrayLike<number>) => Int32Array.from([1, 0, 1].flatMap((i) => Array.from(src).slice(i * (T - p), (i + 1) * (T - p))));
    const r = run(model, tensor(take(d), [3, T - p]), { attentionMask: tensor(take(md), [3, T - p]), past });
    const got = await r.logits.data();
    [1, 0, 1].forEach((src, b) => {
      assert.deepEqual(Array.from(got.subarray(b * (T - p) * V, (b + 1) * (T - p) * V)), Array.from(want.subarray((src * T + p) * V, (src + 1) * T * V)), `row ${b} (the run's row ${src})`);
    });
  });
});

test('a bad past is refused with one error naming the layer; GPT-NeoX and flow cuts refuse a past', async () => {
  await tidyAsync(async () => {
    const model = randomModel(tinyMamba, 33);
    const n = model.config.nLayer;
    const full = fullRun(model);
    const layers = capturesOf(full, n);
    const past = pastAt(tinyMamba, layers, 2);
    assert.throws(() => run(model, from(ids(), 2), { past: { conv: past.conv.slice(0, 1), ssm: past.ssm } }), /forward: the past state has no conv input for layer 1 \(layers from 0 on need one\)/);
    assert.throws(() => run(model, from(ids(), 2), { past: { conv: past.conv, ssm: [past.ssm[0], undefined, past.ssm[2]] } }), /forward: the past state has no SSM state for layer 1/);
    assert.throws(() => run(model, from(ids(), 2), { past: { conv: [past.conv[0], tensor(new Float32Array(2 * 4 * 32), [2, 4, 32]), past.conv[2]], ssm: past.ssm } }), /forward: the past conv input of layer 1 .*\[2,4,32\].* must be \[2, k ≤ 3, 32\]/);
    assert.throws(() => run(model, from(ids(), 2), { past: { conv: past.conv, ssm: [past.ssm[0], tensor(new Float32Array(2 * 32 * 5), [2, 32, 5]), past.ssm[2]] } }), /forward: the past SSM state of layer 1 .* must be \[2, 32, 4\] \(the batch, D_inner, N\)/);
    assert.throws(() => run(model, tensor(new Int32Array(3 * 5), [3, 5]), { past }), /past conv input of layer 0 .* must be \[3,/);
    assert.throws(() => run(model, from(ids(), 2), { past, cuts: [{ layers: [1], rows: [0], sources: [0], targets: [-1] }] }), /flow cuts cannot be applied to a run continued from a past state/);
    assert.throws(() => pastAt(tinyMamba, layers, 0), /pastAt: position 0 is outside 1\.\.7/);
    assert.throws(() => run(model, from(ids(), 2), { past: { ...past, rows: tensor(new Int32Array([0, 1, 1]), [3]) } }), /the past's rows .* must be int32 \[2\] \(one past row per batch row\)/);
    assert.throws(() => run(model, from(ids(), 2), { past: { ...past, rows: tensor(new Int32Array([0, 2]), [2]) } }), /the past's row 2 for row 1 of x is outside its 2 rows/);
    const neox = randomModel(tinyNeox(), 34);
    assert.throws(() => run(neox, from(ids(), 2), { past }), /GPT-NeoX cannot continue a run from a past state/);
    neox.dispose(); model.dispose();
  });
});

test('mamba: pastAfter carries a run one token at a time, and every step gives the full run\'s logits exactly', async () => {
  await tidyAsync(async () => {
    const model = randomModel(tinyMamba, 35);
    const n = model.config.nLayer, V = model.config.vocabSize;
    const layers = Array.from({ length: n }, (_, l) => l);
    const capture = [{ site: 'mixer.hook_x', layers }, { site: 'mixer.hook_ssm_state', layers }];
    const full = run(model, ids(), { attentionMask: mask() });
    const want = await full.logits.data();
    const d = await ids().data(), m = await mask().data();
    const column = (src: ArrayLike<number>, t: number) => tensor(Int32Array.from([src[t]!, src[T + t]!]), [2, 1]);
    let past: ReturnType<typeof pastAfter> | undefined;
    for (let t = 0; t < T; t++) {
      const r = run(model, column(d, t), { attentionMask: column(m, t), capture, ...(past ? { past } : {}) });
      const got = await r.logits.data();
      for (let b = 0; b < 2; b++) assert.deepEqual(Array.from(got.subarray(b * V, (b + 1) * V)), Array.from(want.subarray((b * T + t) * V, (b * T + t + 1) * V)), `row ${b}, position ${t}`);
      const next = pastAfter(tinyMamba, capturesOf(r, n), past);
      past?.dispose();
      past = next;
    }
  });
});
