import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../io/config/config.js';
import { randomModel } from '../../models/random.js';
import { byteTokenizer } from '../../models/testing/byte-tokenizer.js';
import { tensor } from '../../tensor/creation.js';
import { liveTensors } from '../../tensor/lifetime.js';
import { run } from '../../interventions/run.js';
import type { Cut, Intervention } from '../../interventions/types.js';
import type { LanguageModel } from '../../models/model.js';
import { answerProbs } from '../tracing/engine.js';
import { windowLayers } from '../tracing/sites.js';
import { prepareSwap } from '../tracing/prepare.js';
import { textCorpus } from '../data/corpus.js';
import { knockoutFact } from './knockout.js';
import { knockoutPrompt } from './prompt.js';
import { meanActivations } from './means.js';
import { pathBlockFact } from './path-blocking.js';
import { sourcePositions } from './sources.js';
import { replaceParam } from '../train/params.js';

const tok = byteTokenizer();
/**
 * Random Mamba weights pass little between tokens (Δ ≈ 0.01 keeps B̄·u small): Δ is raised to about 0.5 so that
 * knockouts move p(answer) enough for the comparisons to mean something.
 */
const mamba = () => {
  const m = randomModel(parseConfig({ model_type: 'mamba', hidden_size: 16, num_hidden_layers: 4, vocab_size: 264, state_size: 4, expand: 2, conv_kernel: 4, tie_word_embeddings: false }), 7);
  for (let l = 0; l < 4; l++) replaceParam(m, `backbone.layers.${l}.mixer.dt_proj.bias`, tensor(new Float32Array(32).fill(Math.log(Math.expm1(0.5))), [32])).dispose();
  return m;
};
const neox = () => randomModel(parseConfig({ model_type: 'gpt_neox', hidden_size: 16, num_hidden_layers: 4, num_attention_heads: 2, intermediate_size: 32, vocab_size: 264, rotary_pct: 0.5 }), 8);
const fact = { prompt: 'Rome is in', subject: 'Rome' };

/** p(answer) of one knocked-out row, run on its own beside a clean row: the reference the batched runner must match. */
async function alone(model: LanguageModel, ids: number[], answer: number, interventions: Intervention[], cuts: Cut[]): Promise<number> {
  const T = ids.length;
  const x = tensor(Int32Array.from([...ids, ...ids]), [2, T]);
  const r = run(model, x, { logits: 'last', interventions, cuts });
  const p = (await answerProbs(r.logits, answer))[1]!;
  r.dispose(); x.dispose();
  return p;
}

test('prompt: EOS prefix, subject span and source sets', () => {
  const p = knockoutPrompt(tok, fact.prompt, fact.subject);
  assert.equal(p.text, '<|endoftext|> Rome is in');
  assert.deepEqual(p.subject, { start: 2, end: 6 }); // EOS, " ", then "Rome" in bytes
  const T = p.ids.length;
  assert.equal(T, 12);
  assert.deepEqual(sourcePositions('subject', p.subject, T), [2, 3, 4, 5]);
  assert.deepEqual(sourcePositions('subject_last', p.subject, T), [5]);
  assert.deepEqual(sourcePositions('non_subject', p.subject, T), [0, 1, 6, 7, 8, 9, 10]);
  assert.deepEqual(sourcePositions('last', p.subject, T), [T - 1]);
  assert.throws(() => knockoutPrompt(tok, 'is in Rome', 'Rome'), /the subject "Rome" ends the prompt/);
});

for (const [name, make] of [['mamba', mamba], ['gpt-neox', neox]] as const) {
  test(`${name}: batched cut knockout equals each row run alone, and a knockout of nothing changes nothing`, async () => {
    const model = make();
    const before = liveTensors();
    const k = await knockoutFact(model, tok, fact, { methods: ['cut'], window: 2, batchSize: 5 });
    const p = knockoutPrompt(tok, fact.prompt, fact.subject);
    const T = p.ids.length;
    for (const c of k.curves) {
      for (const l of [0, 2, 3]) {
        const ref = await alone(model, p.ids, k.answer.id, [], [{ layers: windowLayers(l, 2, 4), rows: [1], sources: c.positions, targets: [T - 1] }]);
        assert.ok(Math.abs(c.probs[l]! - ref) < 1e-6, `${c.set} layer ${l}: ${c.probs[l]} vs ${ref}`);
        assert.ok(Math.abs(c.relative[l]! - (ref - k.p) / k.p) < 1e-5);
      }
    }
    assert.ok(k.curves.some((c) => c.relative.some((r) => Math.abs(r) > 1e-4)), 'some knockout changes p(answer)');
    assert.equal(liveTensors(), before);
    model.dispose();
  });
}

test('mamba: the mean knockout sets x at the sources to the mean and holds the other earlier tokens at their clean x', async () => {
  const model = mamba();
  const means = Array.from({ length: 4 }, (_, l) => Float32Array.from({ length: 32 }, (_, d) => Math.sin(l + d)));
  const k = await knockoutFact(model, tok, fact, { methods: ['mean'], sets: ['subject', 'last'], means, window: 2, batchSize: 7 });
  const p = knockoutPrompt(tok, fact.prompt, fact.subject);
  const T = p.ids.length;
  for (const c of k.curves) {
    const others = Array.from({ length: T - 1 }, (_, t) => t).filter((t) => !c.positions.includes(t));
    for (const l of [0, 1, 3]) {
      const interventions: Intervention[] = windowLayers(l, 2, 4).flatMap((w): Intervention[] => [
        { site: `blocks.${w}.mixer.hook_x`, rows: [1], positions: c.positions, kind: 'replace', value: tensor(means[w]!, [32]) },
        { site: `blocks.${w}.mixer.hook_x`, rows: [1], positions: others, kind: 'copyRow', fromRow: 0 },
      ]);
      const ref = await alone(model, p.ids, k.answer.id, interventions, []);
      for (const i of interventions) if (i.kind === 'replace') i.value.dispose();
      assert.ok(Math.abs(c.probs[l]! - ref) < 1e-6, `${c.set} layer ${l}`);
    }
  }
  assert.ok(k.curves[0]!.relative.some((r) => Math.abs(r) > 1e-3));
  await assert.rejects(knockoutFact(model, tok, fact, { methods: ['mean'] }), /method mean needs the mean of mixer.hook_x in each of the 4 layers/);
  model.dispose();
  const n = neox();
  await assert.rejects(knockoutFact(n, tok, fact, { methods: ['mean'], means }), /for gptneox use method cut/);
  n.dispose();
});

test('mean activations average over each document\'s tokens, then over documents', async () => {
  const model = mamba();
  const docs = ['Paris is a city', 'A river'];
  const means = await meanActivations(model, tok, textCorpus('t', docs), { site: 'mixer.hook_x', docs: 2 });
  const perDoc: number[][] = [];
  for (const d of docs) {
    const ids = tok.encode(d).ids;
    const x = tensor(Int32Array.from(ids), [1, ids.length]);
    const r = run(model, x, { capture: ['blocks.2.mixer.hook_x'] });
    const a = await r.captures.get('blocks.2.mixer.hook_x')!.data();
    perDoc.push(Array.from({ length: 32 }, (_, j) => { let s = 0; for (let t = 0; t < ids.length; t++) s += a[t * 32 + j]!; return s / ids.length; }));
    r.dispose(); x.dispose();
  }
  for (let j = 0; j < 32; j++) assert.ok(Math.abs(means[2]![j]! - (perDoc[0]![j]! + perDoc[1]![j]!) / 2) < 1e-6);
  model.dispose();
});

for (const [name, make] of [['mamba', mamba], ['gpt-neox', neox]] as const) {
  test(`${name}: path blocking restores fully at the last token's last layer, not at all at the subject's, and severs as a hand-built run`, async () => {
    const model = make();
    const prepared = prepareSwap(tok, 'Rome is in', 'Rome', 'Oslo');
    const r = await pathBlockFact(model, prepared, { batchSize: 6 });
    const L = 3;
    const last = r.curves.find((c) => c.token === 'last')!, subj = r.curves.find((c) => c.token === 'subject_last')!;
    assert.ok(Math.abs(last.restore[L]! - 1) < 1e-4, `restore at the last layer: ${last.restore[L]}`);
    assert.ok(Math.abs(subj.restore[L]!) < 1e-4, `restore at the subject's last layer: ${subj.restore[L]}`);
    const comp = Object.keys(last.severed)[0]!;
    const site = comp === 's' ? 'mixer.hook_s' : 'hook_attn_out';
    const { ids, T } = prepared.input;
    const x = tensor(Int32Array.from([...ids, ...ids.subarray(T, 2 * T)]), [3, T]);
    const run1 = run(model, x, { logits: 'last', interventions: [
      { site: 'blocks.1.hook_resid_post', rows: [2], positions: [subj.position], kind: 'copyRow', fromRow: 0 },
      { site, layers: [0, 1, 2, 3], rows: [2], positions: [subj.position], kind: 'copyRow', fromRow: 1 },
    ] });
    const p = await answerProbs(run1.logits, r.answer);
    assert.ok(Math.abs(subj.severed[comp]![1]! - (p[2]! - r.low) / (r.high - r.low)) < 1e-4);
    run1.dispose(); x.dispose();
    await assert.rejects(pathBlockFact(model, prepared, { components: ['nope'] }), /unknown component "nope"/);
    model.dispose();
  });
}
