import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor } from '../../tensor/creation.js';
import { Rng } from '../../tensor/random.js';
import { gaussSolve } from '../../tensor/linalg/naive.js';
import { parseConfig } from '../../io/config/config.js';
import { randomModel } from '../../models/random.js';
import type { LanguageModel } from '../../models/model.js';
import { run } from '../../interventions/run.js';
import { textCorpus, type Corpus } from '../data/corpus.js';
import { SyntheticWorld } from '../train/synthetic.js';
import { secondMoments } from './stats.js';
import { leftVector, momentFactor } from './keys.js';

const world = new SyntheticWorld(24, 0);
const tok = world.tokenizer;
const V = Math.ceil(tok.vocabSize / 8) * 8;
const mamba = () => randomModel(parseConfig({ model_type: 'mamba', hidden_size: 16, num_hidden_layers: 2, vocab_size: V, state_size: 4 }), 1);
const neox = () => randomModel(parseConfig({ model_type: 'gpt_neox', hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 24, vocab_size: V, rotary_pct: 0.5 }), 2);
const docs = world.documents(40, 3);

/** Σ kkᵀ/n over every token, each document run alone, in float64: the one-pass reference. */
async function direct(model: LanguageModel, texts: readonly string[], site: string, maxLength: number): Promise<{ mom2: Float64Array; tokens: number }> {
  let sum: Float64Array | null = null, tokens = 0;
  for (const t of texts) {
    const ids = tok.encode(t).ids.slice(0, maxLength);
    const r = run(model, tensor(Int32Array.from(ids), [1, ids.length]), { capture: [site] });
    const k = await r.captures.get(site)!.data();
    const d = k.length / ids.length;
    sum ??= new Float64Array(d * d);
    for (let p = 0; p < ids.length; p++) for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) sum[i * d + j] += k[p * d + i]! * k[p * d + j]!;
    tokens += ids.length;
    r.dispose();
  }
  return { mom2: sum!.map((x) => x / tokens), tokens };
}

function assertClose(a: Float64Array, b: Float64Array, what: string): void {
  const scale = Math.max(...b.map(Math.abs));
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= 2e-6 * scale, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

for (const [name, make, sites] of [['mamba', mamba, ['blocks.1.mixer.hook_gated', 'blocks.1.hook_norm']], ['gptneox', neox, ['blocks.0.mlp.hook_post']]] as const) {
  test(`${name}: streamed second moments equal one pass over all tokens, whatever the batch size`, async () => {
    const model = make();
    for (const site of sites) {
      const ref = await direct(model, docs, site, 12);
      for (const batchTokens of [16, 100, 1e6]) {
        const got = (await secondMoments(model, tok, [site], { corpus: textCorpus('docs', docs), nSamples: 1000, maxLength: 12, batchTokens })).get(site)!;
        assert.equal(got.tokens, ref.tokens);
        assert.equal(got.documents, docs.length);
        assertClose(got.mom2, ref.mom2, `${site} batch ${batchTokens}`);
      }
    }
    model.dispose();
  });
}

test('an interrupted statistics run resumes from its saved partial sums and ends where an uninterrupted one does', async () => {
  const model = mamba();
  const sites = ['blocks.0.mixer.hook_gated', 'blocks.1.hook_norm'];
  const cacheDir = mkdtempSync(join(tmpdir(), 'factlab-stats-'));
  const opts = { nSamples: 30, maxLength: 16, batchTokens: 40, cacheDir, modelId: 'm', checkpointSeconds: 0 };
  const whole = await secondMoments(model, tok, sites, { ...opts, corpus: textCorpus('docs', docs), cacheDir: undefined });
  const stop = new AbortController();
  let calls = 0;
  await assert.rejects(secondMoments(model, tok, sites, { ...opts, corpus: textCorpus('docs', docs), signal: stop.signal, onProgress: () => { if (++calls === 3) stop.abort(); } }));
  let resumedFrom = -1;
  const seen: number[] = [];
  const counting: Corpus = { id: 'docs', async *documents() { for (const [i, d] of docs.entries()) { seen.push(i); yield d; } } };
  const resumed = await secondMoments(model, tok, sites, { ...opts, corpus: counting, onProgress: (p) => { if (resumedFrom < 0) resumedFrom = p.documents; } });
  assert.ok(resumedFrom > 0 && calls === 3, 'the second run started from saved documents');
  for (const s of sites) {
    assert.equal(resumed.get(s)!.tokens, whole.get(s)!.tokens);
    assertClose(resumed.get(s)!.mom2, whole.get(s)!.mom2, s);
  }
  // A finished cache is read without touching the corpus.
  const never: Corpus = { id: 'docs', documents() { throw new Error('the corpus was read'); } };
  const cached = await secondMoments(model, tok, sites, { ...opts, corpus: never });
  assert.equal(cached.get(sites[0]!)!.tokens, whole.get(sites[0]!)!.tokens);
  // A token budget stops early and records what was used.
  const few = await secondMoments(model, tok, sites, { ...opts, corpus: textCorpus('docs', docs), cacheDir: undefined, maxTokens: 50 });
  assert.ok(few.get(sites[0]!)!.tokens >= 50 && few.get(sites[0]!)!.tokens < whole.get(sites[0]!)!.tokens);
  model.dispose();
});

test('u = C⁻¹k*/‖C⁻¹k*‖ by Cholesky agrees with naive Gaussian elimination', () => {
  const rng = new Rng(5);
  const n = 24, m = 60;
  const K = Array.from({ length: m }, () => Array.from({ length: n }, () => rng.normal()));
  const C = new Float64Array(n * n);
  for (const k of K) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) C[i * n + j] += (k[i]! * k[j]!) / m;
  const kStar = Float64Array.from({ length: n }, () => rng.normal());
  const u = leftVector(kStar, C);
  const x = gaussSolve(C, kStar, n, 1);
  const norm = Math.hypot(...x);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(u[i]! - x[i]! / norm) < 1e-10, `${u[i]} vs ${x[i]! / norm}`);
  assert.ok(Math.abs(Math.hypot(...u) - 1) < 1e-12);
  const plain = leftVector(kStar, null);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(plain[i]! - kStar[i]! / Math.hypot(...kStar)) < 1e-12);
  const singular = new Float64Array(n * n);
  assert.throws(() => leftVector(kStar, singular), /mom2Ridge/);
  // The factor kept per layer (momentFactor) gives the same u as factoring C in place, and a ridge changes it.
  const fromFactor = leftVector(kStar, momentFactor(C, n));
  for (let i = 0; i < n; i++) assert.ok(Math.abs(fromFactor[i]! - u[i]!) < 1e-12);
  const ridged = leftVector(kStar, momentFactor(C, n, 0.5));
  assert.ok(ridged.some((v, i) => Math.abs(v - u[i]!) > 1e-6));
  assert.deepEqual(Array.from(ridged), Array.from(leftVector(kStar, C, 0.5)));
  assert.throws(() => leftVector(kStar.subarray(1), momentFactor(C, n)), /factor is 24×24, but the key has 23 entries/);
});
