import { existsSync } from 'node:fs';
import { FactlabError } from '../../tensor/errors.js';
import { tensor } from '../../tensor/creation.js';
import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import { run } from '../../interventions/run.js';
import type { Corpus } from '../data/corpus.js';
import { readJsonCache, writeJsonAtomic } from '../data/cache.js';

export interface MeanOptions {
  /** A per-layer site ('mixer.hook_x', the x-branch input of conv+SSM, the paper's knockout site). */
  site: string;
  /** Documents averaged (the paper's default: 128). */
  docs?: number;
  /** Each document is cut to its first `tokens` tokens (128). */
  tokens?: number;
  /** A JSON file the means are kept in and read back from, if it was made from the same model, corpus and counts. */
  cache?: string;
  onProgress?: (done: number, total: number) => void;
}

interface Cached { site: string; corpus: string; docs: number; tokens: number; model: string; used: number; means: number[][] }

const modelTag = (m: LanguageModel) => `${m.config.arch}-${m.config.nLayer}x${m.config.dModel}`;

/**
 * The mean activation of a site in every layer, as the paper's knockout replaces it: averaged over the tokens of
 * each document, then over documents (so a long document weighs as much as a short one).
 */
export async function meanActivations(model: LanguageModel, tok: FactTokenizer, corpus: Corpus, o: MeanOptions): Promise<Float32Array[]> {
  const docs = o.docs ?? 128, maxTokens = o.tokens ?? 128;
  const key = { site: o.site, corpus: corpus.id, docs, tokens: maxTokens, model: modelTag(model) };
  if (o.cache && existsSync(o.cache)) {
    const c = readJsonCache<Cached>(o.cache, (v) => {
      const x = v as Cached;
      return Object.entries(key).every(([k, val]) => (x as unknown as Record<string, unknown>)[k] === val) && Array.isArray(x.means) && x.means.length === model.config.nLayer ? null : 'made from another model, corpus or count';
    });
    if (c.state === 'ok') return c.value.means.map((m) => Float32Array.from(m));
  }
  const L = model.config.nLayer;
  const sums: Float64Array[] = [];
  let n = 0;
  for await (const text of corpus.documents()) {
    if (n >= docs) break;
    const ids = tok.encode(text).ids.slice(0, maxTokens);
    if (ids.length === 0) continue;
    const input = tensor(Int32Array.from(ids), [1, ids.length]);
    const r = run(model, input, { capture: [{ site: o.site, layers: Array.from({ length: L }, (_, l) => l) }], logits: 'last' });
    for (let l = 0; l < L; l++) {
      const a = await r.captures.get(`blocks.${l}.${o.site}`)!.data();
      const D = a.length / ids.length;
      const s = (sums[l] ??= new Float64Array(D));
      for (let t = 0; t < ids.length; t++) for (let d = 0; d < D; d++) s[d] += a[t * D + d]! / ids.length;
    }
    r.dispose(); input.dispose();
    n++;
    o.onProgress?.(n, docs);
  }
  if (n === 0) throw new FactlabError(`knockout means: corpus ${corpus.id} has no document with text`);
  const means = sums.map((s) => Float32Array.from(s, (v) => v / n));
  if (o.cache) writeJsonAtomic(o.cache, { ...key, used: n, means: means.map((m) => Array.from(m)) });
  return means;
}
