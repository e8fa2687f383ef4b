import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tinyMamba, tinyNeox } from '../../models/testing/tiny-configs.js';
import { resolveTraceSite, windowLayers } from './sites.js';

test("the paper's sites resolve per architecture, with its colours and windows", () => {
  const pick = (c: typeof tinyMamba | ReturnType<typeof tinyNeox>, s: string) => { const r = resolveTraceSite(c, s); return [r.site, r.window, r.colormap]; };
  assert.deepEqual(pick(tinyMamba, 'residual'), ['hook_resid_post', 1, 'Purples']);
  assert.deepEqual(pick(tinyMamba, 's'), ['mixer.hook_s', 10, 'Reds']);
  assert.deepEqual(pick(tinyMamba, 'g'), ['mixer.hook_g', 10, 'Greens']);
  assert.deepEqual(pick(tinyMamba, 'o'), ['hook_mixer_out', 10, 'Blues']);
  assert.deepEqual(pick(tinyNeox(), 'attn'), ['hook_attn_out', 10, 'Reds']);
  assert.deepEqual(pick(tinyNeox(), 'mlp'), ['hook_mlp_out', 10, 'Greens']);
  assert.deepEqual(pick(tinyMamba, 'mixer.hook_x:3'), ['mixer.hook_x', 3, 'Reds']);
  assert.deepEqual(pick(tinyMamba, 'blocks.{l}.hook_resid_pre'), ['hook_resid_pre', 10, 'Purples']);
  assert.equal(resolveTraceSite(tinyMamba, 'residual:4').window, 4);
  assert.equal(resolveTraceSite(tinyMamba, 'o', 6).window, 6);
});

test('unknown, capture-only and heads-first sites are refused with the valid names', () => {
  assert.throws(() => resolveTraceSite(tinyMamba, 'attn'), /unknown trace site "attn" for a mamba model: use residual, s, g, o or a per-layer hook site \(hook_resid_pre, hook_norm, mixer.hook_x/);
  assert.throws(() => resolveTraceSite(tinyNeox(), 's'), /unknown trace site "s" for a gptneox model: use residual, attn, mlp/);
  assert.throws(() => resolveTraceSite(tinyMamba, 'mixer.hook_ssm_state'), /can be captured but not patched/);
  assert.throws(() => resolveTraceSite(tinyNeox(), 'attn.hook_q'), /heads before positions/);
  assert.throws(() => resolveTraceSite(tinyMamba, 'o:0'), /the window must be a positive number/);
});

test("windows are romba's range(max(0, L − w/2), min(n, L − w/2 + w))", () => {
  assert.deepEqual(windowLayers(0, 10, 64), [0, 1, 2, 3, 4]);
  assert.deepEqual(windowLayers(20, 10, 64), [15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
  assert.deepEqual(windowLayers(62, 10, 64), [57, 58, 59, 60, 61, 62, 63]);
  assert.deepEqual(windowLayers(7, 1, 64), [7]);
});
