import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomModel } from '../../models/random.js';
import { tinyMamba, tinyNeox } from '../../models/testing/tiny-configs.js';
import { liveTensors } from '../../tensor/lifetime.js';
import type { LanguageModel } from '../../models/model.js';
import { baseline, forwardPatches, patchedProbs, planBatches, sharedPrefix, type Patch } from './engine.js';
import { traceInput, tracePatches } from './trace.js';
import { resolveTraceSite } from './sites.js';
import { noiseInput, paddedSwapInput, swapInput } from './testing.js';
import type { TraceInput } from './types.js';

const all = (n: number) => Array.from({ length: n }, (_, i) => i);

const cases: [string, LanguageModel, string[]][] = [
  ['mamba', randomModel(tinyMamba, 21), ['residual', 's', 'g', 'o']],
  ['gpt-neox', randomModel(tinyNeox(), 22), ['residual', 'attn', 'mlp']],
];
const inputs: [string, (d: number) => TraceInput][] = [
  ['subject swap', () => swapInput()],
  ['left-padded subject swap', () => paddedSwapInput()],
  ['left-padded subject swap without a mask', () => paddedSwapInput(false)],
  ['noise (3 samples)', (d) => noiseInput(3, d)],
];

for (const [name, model, siteNames] of cases) {
  const n = model.config.nLayer;
  const sites = siteNames.map((s) => resolveTraceSite(model.config, s));
  for (const [what, make] of inputs) {
    test(`${name}, ${what}: restoring everything gives high, nothing gives low, the last layer's residual at the last token gives high`, async () => {
      const input = make(model.config.dModel);
      for (const reuse of [true, false]) {
        const base = await baseline(model, input, { reuse });
        assert.ok(base.high !== base.low, 'the corruption changes p(answer)');
        const everywhere = all(input.T);
        const patches: Patch[] = [
          { restores: [{ site: 'hook_embed' }, ...sites.map((s) => ({ site: s.site, layers: all(n) }))], positions: everywhere },
          ...all(n).map((l) => ({ restores: [{ site: 'hook_resid_post', layers: [l] }], positions: everywhere })),
          { restores: [], positions: everywhere },
          { restores: sites.map((s) => ({ site: s.site, layers: all(n) })), positions: [] },
          { restores: [{ site: 'hook_resid_post', layers: [n - 1] }], positions: [input.T - 1] },
        ];
        const p = await patchedProbs(model, input, base, patches, { reuse, batchSize: 1 + 3 * (input.noise?.length ?? 1) });
        // With a mask, a column that is padding in one row and a token in the other cannot be made clean by
        // restoring activations: the corrupted row's mask still decides whether the column is read.
        const sameMask = !input.mask || input.mask.subarray(0, input.T).every((m, t) => m === input.mask![input.T + t]);
        if (sameMask) {
          assert.equal(p[0], base.high, 'every site restored everywhere');
          for (let l = 0; l < n; l++) assert.equal(p[1 + l], base.high, `residual of layer ${l} restored at every position`);
        }
        assert.equal(p[n + 1], base.low, 'no site restored');
        assert.equal(p[n + 2], base.low, 'no position restored');
        assert.equal(p[n + 3], base.high, "the last layer's residual at the last token");
        base.dispose();
      }
    });

    test(`${name}, ${what}: batched tracing with reuse equals one forward per patch from the embeddings`, async () => {
      const input = make(model.config.dModel);
      const S = input.noise?.length ?? 1;
      const before = liveTensors();
      let forwards = 0;
      // 16 rows of 6 tokens keep every matmul below the CPU kernel's 128-row switch to packed panels (a
      // different summation order), as one-patch forwards are: the two agree to the bit.
      let reported = -1;
      const batched = await traceInput(model, input, sites, { batchSize: 16, onProgress: (done) => { if (reported >= 0) forwards++; reported = done; } });
      // Every patch computed, those before the subject too (which the batched run skips: they restore nothing new).
      const single = await traceInput(model, input, sites, { batchSize: 1 + S, reuse: false, skipUnchanged: false });
      assert.deepEqual(batched, single);
      const shared = sharedPrefix(input), skipped = sites.length * n * Math.max(0, shared - input.first);
      assert.equal(shared, input.ids[0] === input.ids[input.T] ? 1 : 0, 'the prompts share their first token, unless one is padded');
      const patches = sites.length * (input.T - input.first) * n;
      assert.equal(forwards, Math.ceil((patches - skipped) / Math.floor(15 / S)));
      assert.equal(reported, patches);
      // Larger batches cross that switch, and agree to float32 rounding.
      const large = await traceInput(model, input, sites, { batchSize: 64 });
      large.sites.forEach((s, k) => s.scores.forEach((row, t) => row.forEach((v, l) => assert.ok(Math.abs(v - single.sites[k]!.scores[t]![l]!) < 1e-6))));
      assert.equal(liveTensors(), before, 'no tensor is left behind');
    });
  }

  test(`${name}: a restored window covers L−5 … L+4, and the residual one layer`, async () => {
    const input = swapInput();
    const base = await baseline(model, input);
    const direct = await patchedProbs(model, input, base, [{ restores: [{ site: sites[1]!.site, layers: [0, 1] }], positions: [2] }]);
    const traced = await traceInput(model, input, [resolveTraceSite(model.config, `${siteNames[1]}:4`)]);
    // A window of 4 at layer 0 covers max(0, 0 − 2) … 0 − 2 + 3 = layers 0 and 1.
    assert.equal(traced.sites[0]!.scores[2]![0], direct[0]);
    base.dispose();
  });
}

test('mamba: a patch at position t leaves every output before t unchanged', async () => {
  const [, model] = cases[0]!;
  const input = swapInput();
  const base = await baseline(model, input);
  const V = model.config.vocabSize, T = input.T;
  for (const site of ['hook_resid_post', 'mixer.hook_s', 'mixer.hook_g', 'hook_mixer_out']) {
    for (const t of [1, 3]) {
      // Row 1: the corrupted run restored at (t, layer 1); row 2: the corrupted run itself.
      const { run } = forwardPatches(model, input, base, [{ restores: [{ site, layers: [1] }], positions: [t] }, { restores: [], positions: [] }], { logits: 'all' });
      const logits = await run.logits.data() as Float32Array;
      const row = (r: number) => Array.from(logits.subarray(r * T * V, (r + 1) * T * V));
      assert.deepEqual(row(1).slice(0, t * V), row(2).slice(0, t * V), `${site} at ${t}: earlier positions changed`);
      assert.notDeepEqual(row(1).slice(t * V), row(2).slice(t * V), `${site} at ${t}: the patch did nothing`);
      run.dispose();
    }
  }
  base.dispose();
});

test('mamba: passes start at the first position their patches change, and give the same matrices as passes from position 0', async () => {
  const [, model] = cases[0]!;
  const n = model.config.nLayer;
  const sites = ['residual', 's', 'g', 'o'].map((s) => resolveTraceSite(model.config, s));
  for (const input of [swapInput(), paddedSwapInput(), noiseInput(2, model.config.dModel)]) {
    const before = liveTensors();
    const patches = tracePatches(input, sites, n);
    const S = input.noise?.length ?? 1;
    const plan = (reuse: 'layers' | 'positions') => planBatches(patches, { nLayer: n, T: input.T, batchSize: 9, samples: S, reuse });
    const byPosition = plan('positions'), byLayer = plan('layers');
    assert.ok(byPosition.groups.some((g) => g.position > 0), 'some pass starts after position 0');
    assert.ok(byPosition.work < byLayer.work, `position reuse does less work (${byPosition.work} against ${byLayer.work})`);
    for (const g of byPosition.groups) for (const j of g.patches) assert.ok(patches[j]!.positions.every((t) => t >= g.position), 'no patch before its pass\'s start');
    const base = await baseline(model, input);
    assert.ok(base.past, 'the baseline keeps the states');
    const { run, position } = forwardPatches(model, input, base, [{ restores: [{ site: 'hook_resid_post', layers: [1] }], positions: [3] }]);
    assert.equal(position, 3);
    run.dispose(); base.dispose();
    const withPositions = await traceInput(model, input, sites, { batchSize: 9 });
    const withoutPositions = await traceInput(model, input, sites, { batchSize: 9, reusePositions: false });
    assert.deepEqual(withPositions, withoutPositions);
    assert.equal(liveTensors(), before, 'no tensor is left behind');
  }
});

test('gpt-neox: the baseline keeps no states and passes start at position 0', async () => {
  const [, model] = cases[1]!;
  const input = swapInput();
  const base = await baseline(model, input);
  assert.equal(base.past, null);
  const { run, position } = forwardPatches(model, input, base, [{ restores: [{ site: 'hook_resid_post', layers: [1] }], positions: [3] }]);
  assert.equal(position, 0);
  run.dispose(); base.dispose();
});

test('a pass that fails rejects the trace with its error, after the pass in flight before it has settled', async () => {
  const [, model] = cases[0]!;
  const input = swapInput();
  const base = await baseline(model, input);
  let forwards = 0, progress = 0;
  const failing = Object.create(model) as LanguageModel;
  failing.forward = (ids, opts) => { if (++forwards === 3) throw new Error('pass 3 failed'); return model.forward(ids, opts); };
  const patches = tracePatches(input, [resolveTraceSite(model.config, 'residual')], model.config.nLayer);
  await assert.rejects(patchedProbs(failing, input, base, patches, { batchSize: 3, onProgress: () => { progress++; } }), /pass 3 failed/);
  // The first report, then the two passes that ran: the second settled before the failure was reported.
  assert.equal(progress, 3);
  base.dispose();
});
