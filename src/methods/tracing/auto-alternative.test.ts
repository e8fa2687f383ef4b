import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../io/config/config.js';
import { randomModel } from '../../models/random.js';
import { byteTokenizer } from '../../models/testing/byte-tokenizer.js';
import { FactlabError } from '../../tensor/errors.js';
import type { Fact } from '../data/facts.js';
import { predictNext } from '../data/known.js';
import { pickAlternative } from './auto-alternative.js';

const tok = byteTokenizer();
// A transformer whose next token after these prompts depends on the subject (for some subjects, not for all).
const model = randomModel(parseConfig({ model_type: 'gpt_neox', hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, vocab_size: 257, tie_word_embeddings: false }), 7);
const fact = (subject: string, prompt: string): Fact => ({ key: subject, subject, prompt, object: 'x' });
const pool = [
  ...['Rome', 'Oslo', 'Lima', 'Kyiv', 'Bern', 'Riga', 'Baku', 'Doha'].map((s) => fact(s, `${s} is the capital of`)),
  ...['Zeus', 'Thor', 'Odin', 'Ra'].map((s) => fact(s, `${s} is a god of`)),
];

test('pickAlternative: a subject that changes the prediction, the same template first, deterministic under the seed', async () => {
  const prompt = 'Paris is the capital of';
  const [clean] = await predictNext(model, tok, [prompt]);
  const swapped = async (alt: string) => (await predictNext(model, tok, [prompt.replace('Paris', alt)]))[0]!.id;
  let picked = 0;
  for (const seed of [0, 1, 2, 3]) {
    const r = await pickAlternative(model, tok, prompt, 'Paris', pool, { seed });
    assert.deepEqual(await pickAlternative(model, tok, prompt, 'Paris', pool, { seed }), r);
    if (r === null) continue;
    picked++;
    assert.notEqual(await swapped(r.alt), clean!.id, 'the swap changes the top token');
    const sameTemplate = pool.filter((f) => f.prompt.endsWith('is the capital of')).map((f) => f.subject);
    assert.equal(r.sameTemplate, sameTemplate.includes(r.alt));
    if (!r.sameTemplate) for (const s of sameTemplate) assert.equal(await swapped(s), clean!.id, 'a same-template subject would have been taken');
  }
  assert.ok(picked > 0, 'some seed finds a subject');
  // When every same-template subject leaves the prediction alone, another template's subject is taken.
  const sameInert = pool.filter((f) => f.prompt.endsWith('is the capital of'));
  const inertSame = [];
  for (const f of sameInert) if (await swapped(f.subject) === clean!.id) inertSame.push(f);
  const movers = [];
  for (const f of pool.filter((f) => f.prompt.endsWith('is a god of'))) if (await swapped(f.subject) !== clean!.id) movers.push(f);
  assert.ok(inertSame.length > 0 && movers.length > 0, 'the fixture has both kinds');
  const other = await pickAlternative(model, tok, prompt, 'Paris', [...inertSame, movers[0]!]);
  assert.deepEqual(other, { alt: movers[0]!.subject, sameTemplate: false });
  // With only subjects that leave the prediction as it is, there is none to take.
  const inert = [];
  for (const f of pool) if (await swapped(f.subject) === clean!.id) inert.push(f);
  if (inert.length) assert.equal(await pickAlternative(model, tok, prompt, 'Paris', inert), null);
  assert.equal(await pickAlternative(model, tok, prompt, 'Paris', [fact('Paris', 'Paris is the capital of')]), null, 'never the subject itself');
  await assert.rejects(pickAlternative(model, tok, prompt, 'London', pool), (e: unknown) => e instanceof FactlabError && /London/.test(e.message));
});
