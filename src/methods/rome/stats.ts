import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FactlabError } from '../../tensor/errors.js';
import { tensor } from '../../tensor/creation.js';
import { tidy } from '../../tensor/lifetime.js';
import { matmul } from '../../tensor/ops/linear/matmul.js';
import { reshape } from '../../tensor/ops/shape/reshape.js';
import { indexSelect } from '../../tensor/ops/shape/index-select.js';
import type { LanguageModel } from '../../models/model.js';
import { parseSite } from '../../models/sites.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import { run } from '../../interventions/run.js';
import type { Corpus } from '../data/corpus.js';

/** E[kkᵀ] of one site's activations over a corpus: the uncentred second moment ROME whitens keys with. */
export interface SecondMoment {
  site: string;
  dim: number;
  /** Tokens (rows k) summed. */
  tokens: number;
  documents: number;
  /** Row-major dim × dim, float64. */
  mom2: Float64Array;
}

export interface StatsOptions {
  corpus: Corpus;
  /** Documents at most (ROME's sample count). */
  nSamples: number;
  /** Tokens kept per document (its beginning). */
  maxLength: number;
  /** Stop once this many tokens are summed (the last batch may pass it slightly). */
  maxTokens?: number;
  /** Tokens per forward pass, padding included (default 4096). */
  batchTokens?: number;
  /** Caches sums here, per model, site, corpus and sample count; a partial sum resumes. */
  cacheDir?: string;
  /** Names the model in the cache (see modelFingerprint); required with cacheDir. */
  modelId?: string;
  /** Seconds between saves of the partial sums (default 60). */
  checkpointSeconds?: number;
  onProgress?: (p: { documents: number; tokens: number; nSamples: number; maxTokens?: number }) => void;
  signal?: AbortSignal;
}

interface Meta {
  version: 1;
  site: string;
  dim: number;
  corpus: string;
  nSamples: number;
  maxLength: number;
  maxTokens: number | null;
  tokens: number;
  documents: number;
  done: boolean;
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9_.+-]/g, '_');

function cachePaths(o: StatsOptions, site: string): { meta: string; sums: string } | null {
  if (!o.cacheDir) return null;
  if (!o.modelId) throw new FactlabError('second moments: a cacheDir needs a modelId (see modelFingerprint)');
  const base = join(o.cacheDir, safe(o.modelId), `${safe(site)}.${safe(o.corpus.id)}.n${o.nSamples}.len${o.maxLength}${o.maxTokens ? `.tok${o.maxTokens}` : ''}`);
  return { meta: `${base}.json`, sums: `${base}.f64` };
}

function readCache(paths: { meta: string; sums: string }, site: string, dim: number): { meta: Meta; sum: Float64Array } | null {
  if (!existsSync(paths.meta) || !existsSync(paths.sums)) return null;
  try {
    const meta = JSON.parse(readFileSync(paths.meta, 'utf8')) as Meta;
    const buf = readFileSync(paths.sums);
    if (meta.version !== 1 || meta.site !== site || meta.dim !== dim || buf.byteLength !== dim * dim * 8) return null;
    return { meta, sum: new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)) };
  } catch {
    return null; // a damaged cache is recomputed
  }
}

function writeCache(paths: { meta: string; sums: string }, meta: Meta, sum: Float64Array): void {
  mkdirSync(join(paths.meta, '..'), { recursive: true });
  // The sums first, then the metadata that vouches for them: a crash between the two leaves an older pair or none.
  for (const [file, data] of [[paths.sums, Buffer.from(sum.buffer, sum.byteOffset, sum.byteLength)], [paths.meta, JSON.stringify(meta)]] as const) {
    writeFileSync(`${file}.tmp`, data);
    renameSync(`${file}.tmp`, file);
  }
}

/**
 * Second moments of several sites in one pass over a corpus: each batch of documents (right-padded, so real tokens
 * are computed exactly as alone) is run once with every site captured, the real tokens' rows are gathered, and
 * their Gram matrix KᵀK is formed on the backend and added into float64 sums. The first nSamples documents are
 * used, in corpus order. Sums are saved with their token and document counts, so an interrupted run resumes
 * after the last saved document.
 */
export async function secondMoments(model: LanguageModel, tok: FactTokenizer, sites: readonly string[], o: StatsOptions): Promise<Map<string, SecondMoment>> {
  const uniq = [...new Set(sites)];
  const dims = uniq.map((s) => siteDim(model, s));
  const batchTokens = o.batchTokens ?? 4096;
  if (o.maxLength < 1 || o.nSamples < 1) throw new FactlabError(`second moments: nSamples ${o.nSamples} and maxLength ${o.maxLength} must be ≥ 1`);
  const state = uniq.map((site, i) => {
    const paths = cachePaths(o, site);
    const cached = paths ? readCache(paths, site, dims[i]!) : null;
    return { site, dim: dims[i]!, paths, sum: cached?.sum ?? new Float64Array(dims[i]! ** 2), tokens: cached?.meta.tokens ?? 0, documents: cached?.meta.documents ?? 0, done: cached?.meta.done ?? false };
  });
  // Sites resume together from the least advanced one; sites already past a document skip it.
  const start = Math.min(...state.map((s) => (s.done ? Infinity : s.documents)));
  const meta = (s: (typeof state)[number]): Meta => ({ version: 1, site: s.site, dim: s.dim, corpus: o.corpus.id, nSamples: o.nSamples, maxLength: o.maxLength, maxTokens: o.maxTokens ?? null, tokens: s.tokens, documents: s.documents, done: s.done });
  const save = () => { for (const s of state) if (s.paths) writeCache(s.paths, meta(s), s.sum); };
  if (start !== Infinity) {
    const active = (s: (typeof state)[number]) => !s.done && (o.maxTokens === undefined || s.tokens < o.maxTokens);
    // A batch never straddles the point where a site that is ahead (from an earlier run) joins in.
    const joins = new Set(state.filter((s) => !s.done && s.documents > start).map((s) => s.documents));
    let docIndex = 0, first = start, lastSave = performance.now();
    let pending: number[][] = [];
    const flush = async () => {
      if (pending.length === 0) return;
      await accumulate(model, pending, state.filter((s) => active(s) && s.documents === first));
      first += pending.length;
      pending = [];
      const now = performance.now();
      if (now - lastSave > (o.checkpointSeconds ?? 60) * 1000) { save(); lastSave = now; }
      o.onProgress?.({ documents: first, tokens: Math.min(...state.map((s) => s.tokens)), nSamples: o.nSamples, maxTokens: o.maxTokens });
    };
    for await (const text of o.corpus.documents()) {
      if (docIndex >= o.nSamples || !state.some(active)) break;
      o.signal?.throwIfAborted();
      if (docIndex++ < start) continue;
      const ids = tok.encode(text).ids.slice(0, o.maxLength);
      const longest = Math.max(ids.length, ...pending.map((p) => p.length));
      if (pending.length && ((pending.length + 1) * longest > batchTokens || joins.has(docIndex - 1))) await flush();
      pending.push(ids);
      if (o.maxTokens !== undefined && pending.reduce((n, p) => n + p.length, 0) + Math.min(...state.filter(active).map((s) => s.tokens)) >= o.maxTokens) await flush();
    }
    await flush();
    for (const s of state) s.done = true;
    save();
  }
  const out = new Map<string, SecondMoment>();
  for (const s of state) {
    if (s.tokens === 0) throw new FactlabError(`second moments of ${s.site}: corpus ${o.corpus.id} gave no tokens`);
    const mom2 = new Float64Array(s.sum.length);
    for (let i = 0; i < mom2.length; i++) mom2[i] = s.sum[i]! / s.tokens;
    out.set(s.site, { site: s.site, dim: s.dim, tokens: s.tokens, documents: s.documents, mom2 });
  }
  return out;
}

function siteDim(model: LanguageModel, site: string): number {
  const { info } = parseSite(model.config, site);
  const c = model.config;
  const dims: Record<string, number> = c.arch === 'mamba' ? { d: c.dModel, D: c.dInner } : { d: c.dModel, '4d': c.dMlp };
  const axes = info.shape.replace(/[[\]]/g, '').split(',');
  const dim = dims[axes[axes.length - 1]!];
  if (dim === undefined || axes.length !== 3) throw new FactlabError(`second moments: site ${site} ${info.shape} is not a [B,T,features] activation`);
  return dim;
}

/** Adds KᵀK of the real tokens of one batch to each site's sums. */
async function accumulate(model: LanguageModel, docs: number[][], sites: { site: string; dim: number; sum: Float64Array; tokens: number; documents: number }[]): Promise<void> {
  const real = docs.filter((d) => d.length > 0);
  for (const s of sites) s.documents += docs.length;
  if (real.length === 0 || sites.length === 0) return;
  const T = Math.max(...real.map((d) => d.length));
  const ids = new Int32Array(real.length * T);
  const rows: number[] = [];
  real.forEach((d, b) => { ids.set(d, b * T); for (let t = 0; t < d.length; t++) rows.push(b * T + t); });
  const input = tensor(ids, [real.length, T]), index = tensor(Int32Array.from(rows), [rows.length]);
  const r = run(model, input, { capture: sites.map((s) => s.site), logits: 'last' });
  try {
    for (const s of sites) {
      const gram = tidy(() => {
        const k = indexSelect(reshape(r.captures.get(s.site)!, [real.length * T, s.dim]), 0, index);
        return matmul(k, k, { transA: true });
      });
      const g = await gram.data();
      gram.dispose();
      for (let i = 0; i < g.length; i++) s.sum[i] += g[i]!;
      s.tokens += rows.length;
    }
  } finally {
    r.dispose(); input.dispose(); index.dispose();
  }
}

/** Removes a model's cached statistics (all sites and corpora). */
export function clearStatsCache(cacheDir: string, modelId: string): void {
  rmSync(join(cacheDir, safe(modelId)), { recursive: true, force: true });
}
