import { test } from 'node:test';
import assert from 'node:assert/strict';
import { predictNext } from '../data/known.js';
import { trainedTinyModel } from './tiny.js';

for (const kind of ['mamba', 'gptneox'] as const) {
  test(`a tiny ${kind} learns the synthetic world's facts`, async () => {
    const t0 = performance.now();
    const { model, world, loss } = await trainedTinyModel(kind);
    const facts = world.facts;
    const prompts = facts.map((f) => world.relation(f.relation).templates[0]!.replace('{}', f.subject));
    const preds = await predictNext(model, world.tokenizer, prompts);
    const right = preds.filter((p, i) => p.text.trim() === facts[i]!.object).length;
    const para = await predictNext(model, world.tokenizer, facts.map((f) => world.relation(f.relation).templates[1]!.replace('{}', f.subject)));
    const rightPara = para.filter((p, i) => p.text.trim() === facts[i]!.object).length;
    console.log(`${kind}: held-out loss ${loss.toFixed(3)}, ${right}/${facts.length} facts, ${rightPara} by paraphrase, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    assert.ok(right >= 0.9 * facts.length, `${right}/${facts.length}`);
    model.dispose();
  });
}
