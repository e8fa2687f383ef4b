/**
 * factlab's models against transformers 5.17 (test/fixtures/models, written by reference/make_fixtures.py):
 * logits within 1e-4 and every recorded intermediate at the matching hook site, with and without left padding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { join } from 'node:path';
import { loadModel } from './load.js';
import type { HookRunner } from './hooks.js';
import type { Tensor } from '../tensor/tensor.js';
import { openCheckpoint } from '../io/checkpoint/index.js';
import { tidyAsync } from '../tensor/lifetime.js';
import { concat } from '../tensor/ops/shape/concat.js';
import { slice } from '../tensor/ops/shape/slice.js';
import { reshape } from '../tensor/ops/shape/reshape.js';
import { liveTensors } from '../tensor/lifetime.js';

import { FIXTURES } from './testing/fixtures.js';

/** A hook runner that keeps a view of every activation (tests only; the interventions layer has the real one). */
export function recorder(): HookRunner & { got: Map<string, Tensor> } {
  const got = new Map<string, Tensor>();
  return { got, wants: () => true, at: (site, x) => { got.set(site, reshape(x, x.shape)); return x; } };
}

/** Max |a − b| over the elements where `keep(row, position)` holds, for [B, T, ...] tensors. */
async function maxDiff(a: Tensor, b: Tensor, keep?: (row: number, pos: number) => boolean, layout: 'BT' | 'BHT' = 'BT'): Promise<number> {
  assert.deepEqual(a.shape, b.shape, `shapes ${a.shape} vs ${b.shape}`);
  const x = await a.data(), y = await b.data();
  const [B, d1, d2] = a.shape as number[];
  const T = layout === 'BT' ? d1! : d2!;
  const H = layout === 'BT' ? 1 : d1!;
  const inner = x.length / (B! * H * T);
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    const row = Math.floor(i / (H * T * inner)), pos = Math.floor(i / inner) % T;
    if (keep && !keep(row, pos)) continue;
    worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  }
  return worst;
}

interface Case { dir: string; arch: 'mamba' | 'gptneox'; dtRank?: number; dState?: number; intermediates?: boolean }
const cases: Case[] = [
  { dir: 'mamba-tiny', arch: 'mamba', dtRank: 4, dState: 16, intermediates: true },
  { dir: 'mamba-dtrank', arch: 'mamba', dtRank: 5, dState: 8, intermediates: true },
  { dir: 'mamba-tiny-bf16', arch: 'mamba' },
  { dir: 'pythia-parallel', arch: 'gptneox', intermediates: true },
  { dir: 'pythia-sequential', arch: 'gptneox', intermediates: true },
];

for (const c of cases) {
  test(`${c.dir}: logits and hook sites equal transformers'`, async () => {
    const before = liveTensors();
    const model = await loadModel(join(FIXTURES, c.dir));
    const ref = await openCheckpoint(join(FIXTURES, c.dir), { file: 'reference.safetensors' });
    await tidyAsync(async () => {
      for (const kase of ['plain', 'left_padded']) {
        const ids = await ref.load(`${kase}.input_ids`);
        const mask = await ref.load(`${kase}.attention_mask`);
        const m = await mask.data();
        const T = ids.shape[1]!;
        const real = (row: number, pos: number) => m[row * T + pos] === 1;
        const rec = recorder();
        const logits = model.forward(ids, { attentionMask: mask, hooks: rec });
        // Mamba with a mask is exact at every position; GPT-NeoX's padded queries differ by design (see gptneox.ts).
        const keep = c.arch === 'mamba' ? undefined : real;
        const dl = await maxDiff(logits, await ref.load(`${kase}.logits`), keep);
        assert.ok(dl <= 1e-4, `${kase} logits: max |Δ| ${dl}`);
        if (c.arch === 'mamba') {
          const nomask = model.forward(ids);
          const dn = await maxDiff(nomask, await ref.load(`${kase}.nomask.logits`));
          assert.ok(dn <= 1e-4, `${kase} logits without a mask (pads as tokens): max |Δ| ${dn}`);
        }
        if (!c.intermediates) continue;
        for (let l = 0; l < model.config.nLayer; l++) {
          const s = (n: string) => rec.got.get(`blocks.${l}.${n}`)!;
          const r = (n: string) => ref.load(`${kase}.layers.${l}.${n}`);
          if (c.arch === 'mamba') {
            const N = c.dState!, R = c.dtRank!;
            const xproj = await r('x_proj.output');
            assert.ok(await maxDiff(concat([s('mixer.hook_x'), s('mixer.hook_z')], 2), await r('in_proj.output')) <= 1e-4, `layer ${l} x|z`);
            assert.ok(await maxDiff(s('mixer.hook_x_act'), await r('x_proj.input')) <= 1e-4, `layer ${l} x_act`);
            assert.ok(await maxDiff(s('mixer.hook_B'), slice(xproj, 2, R, R + N)) <= 1e-4, `layer ${l} B`);
            assert.ok(await maxDiff(s('mixer.hook_C'), slice(xproj, 2, R + N, R + 2 * N)) <= 1e-4, `layer ${l} C`);
            assert.ok(await maxDiff(s('mixer.hook_gated'), await r('out_proj.input')) <= 1e-4, `layer ${l} gated`);
            assert.ok(await maxDiff(s('hook_mixer_out'), await r('out_proj.output')) <= 1e-4, `layer ${l} o`);
            assert.ok(await maxDiff(s('hook_resid_post'), await r('output')) <= 1e-4, `layer ${l} residual`);
          } else {
            assert.ok(await maxDiff(s('hook_resid_post'), await r('output'), real) <= 1e-4, `layer ${l} residual`);
            assert.ok(await maxDiff(s('hook_attn_out'), await r('attention.output'), real) <= 1e-4, `layer ${l} attention out`);
            assert.ok(await maxDiff(s('hook_mlp_out'), await r('mlp.output'), real) <= 1e-4, `layer ${l} mlp out`);
            assert.ok(await maxDiff(s('mlp.hook_post'), await r('mlp.dense_4h_to_h.input'), real) <= 1e-4, `layer ${l} mlp post`);
            assert.ok(await maxDiff(s('attn.hook_pattern'), await r('attention.probs'), real, 'BHT') <= 1e-5, `layer ${l} attention pattern`);
          }
        }
        for (const t of rec.got.values()) t.dispose();
      }
    });
    ref.close();
    model.dispose();
    assert.equal(liveTensors(), before, 'the test left tensors alive');
  });
}

test("mamba-tiny in state-spaces' layout (pytorch_model.bin, mamba_ssm config) gives identical logits", async () => {
  const a = await loadModel(join(FIXTURES, 'mamba-tiny'));
  const b = await loadModel(join(FIXTURES, 'mamba-tiny-state-spaces'));
  assert.equal(b.config.vocabSize, 512, 'vocab_size 509 is padded to a multiple of 8');
  await tidyAsync(async () => {
    const ref = await openCheckpoint(join(FIXTURES, 'mamba-tiny'), { file: 'reference.safetensors' });
    const ids = await ref.load('plain.input_ids');
    assert.deepEqual(Array.from(await b.forward(ids).data()), Array.from(await a.forward(ids).data()));
    ref.close();
  });
  a.dispose(); b.dispose();
});

test('unembed of the last layer residual equals the logits (both architectures)', async () => {
  for (const dir of ['mamba-tiny', 'pythia-parallel']) {
    const model = await loadModel(join(FIXTURES, dir));
    await tidyAsync(async () => {
      const ref = await openCheckpoint(join(FIXTURES, dir), { file: 'reference.safetensors' });
      const ids = await ref.load('plain.input_ids');
      const rec = recorder();
      const logits = model.forward(ids, { hooks: rec });
      const h = rec.got.get(`blocks.${model.config.nLayer - 1}.hook_resid_post`)!;
      assert.deepEqual(Array.from(await model.unembed(h).data()), Array.from(await logits.data()));
      for (const t of rec.got.values()) t.dispose();
      ref.close();
    });
    model.dispose();
  }
});
