import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomModel } from '../../models/random.js';
import { parseConfig } from '../../io/config/config.js';
import { byteTokenizer } from '../../models/testing/byte-tokenizer.js';
import type { LanguageModel } from '../../models/model.js';
import { tensor } from '../../tensor/creation.js';
import { liveTensors } from '../../tensor/lifetime.js';
import { estimateLre } from './estimate.js';
import { iclPrompt } from './prompts.js';
import { hSite, hToZ, readHz } from './probe.js';
import { reshape } from '../../tensor/ops/shape/reshape.js';
import { LreOperator } from './operator.js';
import { causality, causalityByRank, faithfulness, faithfulnessByBeta, probe } from './metrics.js';
import { Rng } from '../../tensor/random.js';
import { run } from '../../interventions/run.js';
import { mv } from './operator.js';
import { recallAtK, tokenMatchesObject } from './match.js';

const tok = byteTokenizer();
const mambaConfig = parseConfig({ model_type: 'mamba', hidden_size: 16, num_hidden_layers: 3, vocab_size: 257, state_size: 4 });
const neoxConfig = parseConfig({ model_type: 'gpt_neox', hidden_size: 16, num_hidden_layers: 3, num_attention_heads: 2, intermediate_size: 32, vocab_size: 257, rotary_pct: 0.5 });
const train = [{ subject: 'Qa', object: 'x' }, { subject: 'Zu', object: 'y' }, { subject: 'Mo', object: 'x' }];

/** Zeroes every layer after `layer`, so that those layers pass the residual stream through unchanged. */
function cutAfter(model: LanguageModel, layer: number): void {
  for (const [name, t] of model.params) {
    const m = /layers\.(\d+)\.(mixer\.out_proj\.weight|attention\.dense\.(weight|bias)|mlp\.dense_4h_to_h\.(weight|bias))$/.exec(name);
    if (m && Number(m[1]) > layer) (t.storage as unknown as { data: Float32Array }).data.fill(0, t.offset, t.offset + t.size);
  }
}

test('the batched Jacobian of h ↦ z agrees with central finite differences', async () => {
  const model = randomModel(mambaConfig, 3);
  const p = iclPrompt(tok, '{} is', train.slice(1), 'Qa');
  const { h, z } = readHz(model, p.ids, 1, p.subjectLast);
  const est = estimateLre(model, tok, '{} is', train, 1, { chunk: 5 });
  // J of the first example alone, from the estimator's pieces: compare a few columns with finite differences.
  const f = hToZ(model, p.ids, 1, p.subjectLast);
  // Started at the layer after h from the cached residual, the map gives the full forward pass's z at the clean h.
  const z0 = f(reshape(h, [1, h.shape[0]!]));
  const [za, zb] = [await z0.data(), await z.data()];
  assert.ok(za.every((v, i) => Math.abs(v - zb[i]!) < 1e-5));
  z0.dispose();
  const { jacobian } = await import('../../tensor/jacobian.js');
  const J = await jacobian(f, h, { chunk: 7 }).data();
  const h0 = Float32Array.from(await h.data());
  const d = h0.length;
  for (const col of [0, 5, 11, 15]) {
    const at = async (delta: number) => {
      const hp = Float32Array.from(h0); hp[col] += delta;
      const out = f(tensor(hp, [1, d]));
      const v = Float64Array.from(await out.data());
      out.dispose();
      return [v, hp[col]! - h0[col]!] as const;
    };
    const [zp, dp] = await at(1e-2), [zm, dm] = await at(-1e-2);
    for (let row = 0; row < d; row++) {
      const numeric = (zp[row]! - zm[row]!) / (dp - dm);
      const analytic = J[row * d + col]!;
      assert.ok(Math.abs(numeric - analytic) <= 2e-3 + 2e-2 * Math.abs(numeric), `J[${row},${col}] ${analytic} vs finite differences ${numeric}`);
    }
  }
  h.dispose(); z.dispose(); est.dispose(); f.dispose(); model.dispose();
});

for (const [name, config] of [['mamba', mambaConfig], ['gpt-neox', neoxConfig]] as const) {
  test(`${name}: with the layers after ℓ cut, the LRE reproduces the model exactly`, async () => {
    const model = randomModel(config, 5);
    cutAfter(model, 0);
    const before = liveTensors();
    // Subject at the end of the prompt: z = h, so W = I and b = 0 exactly.
    const est = estimateLre(model, tok, '{}', train, 0, { chunk: 16 });
    const W = await est.W.data(), b = await est.b.data();
    const d = 16;
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) assert.ok(Math.abs(W[i * d + j]! - (i === j ? 1 : 0)) < 1e-6, `W[${i},${j}] = ${W[i * d + j]}`);
    for (const v of b) assert.ok(Math.abs(v) < 1e-5, `b has ${v}`);
    // Objects are what the model itself says, so every test sample is one the model "gets right".
    const op = await LreOperator.from(est);
    const subjects = ['Ab', 'Cd', 'Ef', 'Gh', 'Ij', 'Kl'];
    const raw = await probe(model, tok, op, subjects.map((s) => ({ subject: s, object: '?' })));
    const tests = raw.map((p) => ({ subject: p.subject, object: p.modelTop }));
    const probes = await probe(model, tok, op, tests);
    assert.ok(probes.every((p) => p.modelCorrect));
    const faith = await faithfulness(model, tok, op, probes, { beta: 1 });
    assert.deepEqual(faith.recall.slice(0, 1), [1]);
    // Causality: Δh = pinv(W)(z_t − z_o) = h_t − h_o turns h into the target's, so every edit succeeds.
    const cause = await causality(model, tok, op, probes, { beta: 1, seed: 1 });
    assert.ok(cause.n > 0);
    assert.equal(cause.efficacy, 1, JSON.stringify(cause.edits));
    est.dispose();
    assert.equal(liveTensors(), before, 'tensors left alive');
    // Subject before the end: z does not depend on h, so W = 0 and b = z, and LRE(h) is the model's answer.
    const est2 = estimateLre(model, tok, '{} is', train, 0, { chunk: 16 });
    for (const v of await est2.W.data()) assert.ok(Math.abs(v) < 1e-6);
    est2.dispose();
    model.dispose();
  });
}

test('recall@k and object matching on hand-made cases', () => {
  assert.equal(tokenMatchesObject(' Par', 'Paris'), true);
  assert.equal(tokenMatchesObject('paris', ' PARIS '), true);
  assert.equal(tokenMatchesObject(' ', 'Paris'), false);
  assert.equal(tokenMatchesObject('Pari', 'Pa'), false);
  const preds = [[' Rome', ' Paris', ' Lyon'], [' Lyon', ' Nice', ' Berlin'], [' Berlin', ' Bonn', ' Ber']];
  assert.deepEqual(recallAtK(preds, ["Paris", "Berlin", "Berlin"], 3), [1 / 3, 2 / 3, 1]);
  assert.deepEqual(recallAtK([], [], 2).map(Number.isNaN), [true, true]);
});

test('LRE prompts put the examples as context lines and find the query subject even when an example repeats it', () => {
  const p = iclPrompt(tok, '{} plays', [{ subject: 'Ann', object: 'golf' }, { subject: 'Bo', object: 'Ann' }], 'Ann');
  assert.equal(p.text, '<|endoftext|>Ann plays golf\nBo plays Ann\nAnn plays');
  assert.equal(tok.decode([p.ids[p.subjectLast]!]), 'n');
  assert.equal(p.subjectLast, p.ids.length - 1 - ' plays'.length);
});

for (const [name, config] of [['mamba', mambaConfig], ['gpt-neox', neoxConfig]] as const) {
  test(`${name}: batched causality over ranks and faithfulness over β agree with one full forward pass per edit`, async () => {
    const model = randomModel(config, 11);
    const before = liveTensors();
    for (const layer of ['emb', 0, 1, 2] as const) {
      const est = estimateLre(model, tok, '{} is', train, layer, { chunk: 16 });
      const op = await LreOperator.from(est);
      const subjects = ['Ab', 'Cd', 'Ef', 'Gh', 'Ij', 'Kl', 'Mn'];
      // Every sample counts as one the model gets right, with two objects so that every sample has targets.
      const probes = (await probe(model, tok, op, subjects.map((s) => ({ subject: s, object: '?' })))).map((p, i) => ({ ...p, object: i % 3 ? 'x' : 'y', modelCorrect: true }));
      const ranks = [0, 3, 8, undefined];
      const batched = await causalityByRank(model, tok, op, probes, { ranks, beta: 0.7, seed: 2, chunk: 3 });
      // Reference: the model run whole for each edit, Δh added at h's site by an intervention.
      for (const [ri, rank] of ranks.entries()) {
        const rng = new Rng(2);
        const scored = probes.filter((p) => p.modelCorrect), words: string[] = [];
        for (const p of scored) {
          const others = scored.filter((q) => q.object.trim().toLowerCase() !== p.object.trim().toLowerCase());
          if (others.length === 0) continue;
          const target = others[rng.int(others.length)]!;
          const zo = op.apply(p.h, 0.7), zt = op.apply(target.h, 0.7);
          const delta = mv(op.inverse(rank), zt.map((v, i) => v - zo[i]!));
          const input = tensor(Int32Array.from(p.prompt.ids), [1, p.prompt.ids.length]), value = tensor(Float32Array.from(delta), [delta.length]);
          const r = run(model, input, { logits: 'last', interventions: [{ site: hSite(layer), positions: [p.prompt.subjectLast], kind: 'add', value }] });
          const logits = Array.from(await r.logits.data());
          words.push(tok.decode([logits.indexOf(Math.max(...logits))]));
          r.dispose(); input.dispose(); value.dispose();
        }
        assert.ok(words.length > 0);
        assert.deepEqual(batched[ri]!.edits.map((e) => e.top), words, `layer ${layer}, rank ${rank}`);
      }
      const betas = [0, 1, 2.5];
      const byBeta = await faithfulnessByBeta(model, tok, op, probes, { betas, k: 3 });
      for (const [bi, beta] of betas.entries()) {
        for (const [i, p] of probes.filter((q) => q.modelCorrect).entries()) {
          const zt = tensor(Float32Array.from(op.apply(p.h, beta)), [1, 16]);
          const logits = model.unembed(zt);
          const v = Array.from(await logits.data());
          zt.dispose(); logits.dispose();
          const sorted = v.map((x, id) => [x, id] as const).sort((a, b) => b[0] - a[0]).slice(0, 3).map(([, id]) => tok.decode([id]));
          assert.deepEqual(byBeta[bi]!.predictions[i]!.top, sorted, `layer ${layer}, β ${beta}`);
        }
      }
      est.dispose();
    }
    assert.equal(liveTensors(), before, 'tensors left alive');
    model.dispose();
  });
}

