import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linalg } from '../../tensor/index.js';
import { tensor } from '../../tensor/creation.js';
import { trainedTinyModel } from '../train/tiny.js';
import { RomeEditor } from './editor.js';
import { answers, tinyRomeOptions } from './testing.js';
import type { RomeMatrix } from './hparams.js';

// The tiny models look a subject up in their first two layers (the layer sweep shows it), so edits go there. In the
// tiny Mamba only W_a rewrites facts cleanly; W_o and W_g edits reach v* but spill onto other tokens, as ROME does at
// many layers of Mamba-2.8b (paper-method.md §8), so for them only the algebra is checked.
const CASES: { kind: 'mamba' | 'gptneox'; matrix: RomeMatrix; layer: number; works: boolean }[] = [
  { kind: 'mamba', matrix: 'a', layer: 1, works: true }, { kind: 'gptneox', matrix: 'mlp', layer: 0, works: true },
  { kind: 'mamba', matrix: 'o', layer: 0, works: false }, { kind: 'mamba', matrix: 'g', layer: 0, works: false },
];

for (const { kind, matrix, layer, works } of CASES) {
  test(`ROME on a tiny trained ${kind} (${matrix}, layer ${layer}): ${works ? 'the new object wins, other facts stay, ' : 'v* is reached, '}ΔW has rank one, revert is exact`, async () => {
    const { model, world } = await trainedTinyModel(kind);
    const editor = new RomeEditor(model, world.tokenizer, tinyRomeOptions(world, { matrix, layer }));
    const before = await answers(model, world);
    const subject = world.subjects[3]!;
    const truth = world.object(subject, 'lives_in');
    const newCity = world.relation('lives_in').objects.find((o) => o !== truth)!;
    const target = editor.hparams.layer;
    const name = (await editor.compute({ prompt: '{} lives in', subject, target: newCity })).target.param;
    const W0 = Float32Array.from(await model.params.get(name)!.data());
    const t0 = performance.now();
    const edit = await editor.edit({ prompt: '{} lives in', subject, target: newCity });
    const seconds = (performance.now() - t0) / 1000;
    const after = await answers(model, world);
    const idx = world.facts.findIndex((f) => f.subject === subject && f.relation === 'lives_in');
    const para = (await answers(model, world, 1))[idx];
    const others = world.facts.map((_, i) => i).filter((i) => world.facts[i]!.subject !== subject);
    const kept = others.filter((i) => after[i] === before[i]).length;
    const last = edit.v.steps[edit.v.steps.length - 1]!;
    console.log(`${kind}/${matrix} layer ${target}: ${before[idx]} → ${after[idx]} (target ${newCity}; paraphrase ${para}); others kept ${kept}/${others.length}; ${edit.v.steps.length} steps, p ${last.meanProb.toFixed(3)}, stats ${edit.statsTokens} tokens, ${seconds.toFixed(1)} s`);
    assert.ok(last.meanProb > 0.5, `v* gives the target p ${last.meanProb}`);
    if (works) {
      assert.equal(after[idx], newCity, 'the new object is the top prediction');
      assert.ok(kept >= 0.8 * others.length, `${kept}/${others.length} unrelated facts kept`);
    }

    const W1 = Float32Array.from(await model.params.get(name)!.data());
    const [r0, r1] = edit.target.rows, k = W1.length / model.params.get(name)!.shape[0]!;
    for (let i = 0; i < r0 * k; i++) assert.equal(W1[i], W0[i]);
    for (let i = r1 * k; i < W1.length; i++) assert.equal(W1[i], W0[i]);
    const dW = Float32Array.from({ length: (r1 - r0) * k }, (_, i) => W1[r0 * k + i]! - W0[r0 * k + i]!);
    const { S } = await linalg.svd(tensor(dW, [r1 - r0, k]));
    const s = Array.from(await S.data());
    S.dispose();
    assert.ok(s[1]! < 1e-4 * s[0]!, `singular values ${s.slice(0, 3).join(', ')}: not rank one`);

    await editor.revert();
    const W2 = Float32Array.from(await model.params.get(name)!.data());
    assert.ok(W2.every((x, i) => Object.is(x, W0[i])), 'revert restores every bit');
    assert.deepEqual(await answers(model, world), before);
    model.dispose();
  });
}

test('sequential edits hold together, statistics come from the unedited weights, revertAll restores every bit', async () => {
  const { model, world } = await trainedTinyModel('mamba');
  const editor = new RomeEditor(model, world.tokenizer, tinyRomeOptions(world, { matrix: 'a', layer: 1 }));
  const snapshot = async () => new Map(await Promise.all([...model.params].map(async ([n, t]) => [n, Float32Array.from(await t.data())] as const)));
  const orig = await snapshot();
  const requests = [5, 9, 14].map((i) => {
    const subject = world.subjects[i]!;
    const truth = world.object(subject, 'lives_in');
    return { prompt: '{} lives in', subject, target: world.relation('lives_in').objects.find((o) => o !== truth && o !== 'Paris')! };
  });
  for (const r of requests) await editor.edit(r);
  // A second matrix edited after the first three: its statistics are gathered with the edits lifted.
  await editor.edit({ prompt: '{} is a', subject: world.subjects[20]!, target: 'pilot' === world.object(world.subjects[20]!, 'works_as') ? 'baker' : 'pilot' }, { matrix: 'g', layer: 0 });
  const now = await answers(model, world);
  for (const r of requests) assert.equal(now[world.facts.findIndex((f) => f.subject === r.subject && f.relation === 'lives_in')], r.target);
  await editor.revertAll();
  const back = await snapshot();
  for (const [n, w] of orig) assert.ok(back.get(n)!.every((x, i) => Object.is(x, w[i])), `${n} restored`);
  model.dispose();
});
