import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTokenizer } from '../../io/tokenizer/index.js';
import { neoxTokenizerPath, skipWithoutData } from '../../io/shared-data.js';
import { dirname } from 'node:path';
import { prepareNoise, prepareSwap } from './prepare.js';
import { factTrace, prepareFact } from './trace.js';
import { randomModel } from '../../models/random.js';
import { parseConfig } from '../../io/config/config.js';

test('subject swap left-pads the shorter prompt so that the subjects, and the prompts, end in the same column', { skip: skipWithoutData }, async () => {
  const tok = await loadTokenizer(dirname(neoxTokenizerPath!));
  const { input, tokens, altPrompt } = prepareSwap(tok, 'The Eiffel Tower is in', 'Eiffel Tower', 'Big Ben');
  assert.equal(altPrompt, 'The Big Ben is in');
  assert.deepEqual(tokens, ['The', ' E', 'iff', 'el', ' Tower', ' is', ' in']);
  const clean = tok.encode('The Eiffel Tower is in').ids, alt = tok.encode('The Big Ben is in').ids;
  assert.equal(input.T, 7);
  assert.deepEqual(Array.from(input.ids), [...clean, 0, 0, ...alt]);
  assert.deepEqual(Array.from(input.mask!), [1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
  assert.deepEqual(input.subject, { start: 1, end: 5 });
  // The corrupted subject (" Big Ben", two tokens after two pads and "The") also ends at column 5.
  assert.deepEqual(Array.from(input.ids.subarray(7 + 5)), Array.from(input.ids.subarray(5, 7)));
  // The other way round, the clean row is the padded one and tracing starts at its first token.
  const back = prepareSwap(tok, 'The Big Ben is in', 'Big Ben', 'Eiffel Tower', { mask: false });
  assert.equal(back.input.first, 2);
  assert.deepEqual(back.input.subject, { start: 3, end: 5 });
  assert.equal(back.input.mask, null);
  assert.throws(() => prepareSwap(tok, 'Berliner Dom is in', 'Berlin', 'Rome'), /tokens after "Berlin" and after "Rome" differ/);
  assert.throws(() => prepareSwap(tok, 'The Eiffel Tower is in', 'Big Ben', 'Eiffel Tower'), /subject "Big Ben" does not occur/);
});

test('noise corruption keeps the clean ids and draws seeded noise on the subject only', { skip: skipWithoutData }, async () => {
  const tok = await loadTokenizer(dirname(neoxTokenizerPath!));
  const a = prepareNoise(tok, 'The Eiffel Tower is in', 'Eiffel Tower', { samples: 2, std: 0.5, dModel: 4, seed: 7 });
  const b = prepareNoise(tok, 'The Eiffel Tower is in', 'Eiffel Tower', { samples: 2, std: 0.5, dModel: 4, seed: 7 });
  assert.deepEqual(a.input.noise, b.input.noise);
  assert.deepEqual(Array.from(a.input.ids.subarray(0, 7)), Array.from(a.input.ids.subarray(7)));
  const n = a.input.noise![0]!;
  for (let t = 0; t < 7; t++) {
    const row = Array.from(n.subarray(t * 4, t * 4 + 4));
    assert.equal(row.some((v) => v !== 0), t >= 1 && t < 5, `token ${t}`);
  }
  assert.notDeepEqual(a.input.noise![0], a.input.noise![1]);
});

test("noise by default: ten samples of 3× the embedding matrix's std on the subject, recorded in the trace", { skip: skipWithoutData }, async () => {
  const tok = await loadTokenizer(dirname(neoxTokenizerPath!));
  const model = randomModel(parseConfig({ model_type: 'mamba', hidden_size: 16, num_hidden_layers: 2, vocab_size: 50280, state_size: 4 }), 3);
  const q = { prompt: 'The Eiffel Tower is in', subject: 'Eiffel Tower' };
  const prepared = await prepareFact(model, tok, q, { corruption: { kind: 'noise' }, seed: 5 });
  // σ of the embedding matrix, computed here in float64 from its values.
  const w = Array.from(await model.params.get('backbone.embeddings.weight')!.data());
  const mean = w.reduce((a, b) => a + b, 0) / w.length;
  const sigma = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
  assert.equal(prepared.noise!.samples, 10);
  assert.equal(prepared.noise!.scale, 3);
  assert.ok(Math.abs(prepared.noise!.sigma - sigma) < 1e-6 * sigma, `σ ${prepared.noise!.sigma} against ${sigma}`);
  assert.equal(prepared.input.noise!.length, 10);
  // The drawn values (the subject's 4 tokens × 16 channels × 10 samples) have about 3σ as their std.
  const drawn = prepared.input.noise!.flatMap((n) => Array.from(n).filter((v) => v !== 0));
  assert.equal(drawn.length, 10 * 4 * 16);
  const sd = Math.sqrt(drawn.reduce((a, b) => a + b * b, 0) / drawn.length);
  assert.ok(Math.abs(sd / (3 * sigma) - 1) < 0.1, `drawn std ${sd} against 3σ = ${3 * sigma}`);
  const again = await prepareFact(model, tok, q, { corruption: { kind: 'noise' }, seed: 5 });
  assert.deepEqual(again.input.noise, prepared.input.noise, 'the same seed draws the same noise');
  const trace = factTrace(tok, q, prepared, { answer: 0, high: 1, low: 0, sites: [] });
  assert.deepEqual(trace.noise, { samples: 10, scale: 3, sigma: prepared.noise!.sigma, std: 3 * prepared.noise!.sigma, seed: 5 });
});
