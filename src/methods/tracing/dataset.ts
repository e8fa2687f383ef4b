import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FactlabError } from '../../tensor/errors.js';
import { Rng } from '../../tensor/random.js';
import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import type { Fact } from '../data/facts.js';
import { isKnown, predictNext, type Prediction } from '../data/known.js';
import { hash32, readJsonCache, writeJsonAtomic } from '../data/cache.js';
import { averageSixRows, type SixRowAverage } from './aggregate.js';
import { factTrace, prepareFact, resolveSites, traceInput, type TraceOptions } from './trace.js';
import { prepareSwap, type Prepared } from './prepare.js';
import type { TraceSite } from './sites.js';
import type { FactTrace } from './types.js';

export interface DatasetTraceOptions extends Omit<TraceOptions, 'onProgress'> {
  /** Where results are cached (facts/, known.jsonl, run.json) and the summary written. */
  out: string;
  /** Trace only the first `limit` facts that pass the filter; a later run with a larger limit goes on from there. */
  limit?: number;
  /** Keep only facts the model knows (default true). */
  knownOnly?: boolean;
  /** Names the model in run.json and in titles (default: the architecture and size). */
  modelName?: string;
  /** Start afresh: clears a previous run's cache in `out` instead of refusing different settings. */
  restart?: boolean;
  onProgress?: (e: { stage: 'known' | 'trace'; done: number; total: number }) => void;
  onWarning?: (message: string) => void;
  /** Stops between facts; what was traced stays cached. */
  signal?: AbortSignal;
}

export interface DatasetSummary {
  model: string;
  settings: RunSettings;
  facts: { total: number; known: number; traced: number; skipped: number };
  /** Per traced fact: its key, cache file, answer and the clean and corrupted probabilities. */
  traced: { key: string; file: string; answer: string; high: number; low: number }[];
  skipped: { key: string; reason: string }[];
  /** Per site, the six-row average indirect effect in both normalisations. */
  sites: { name: string; site: string; window: number; ie: SixRowAverage; romba: SixRowAverage }[];
}

interface RunSettings {
  version: 1;
  model: string;
  arch: string;
  nLayer: number;
  dataset: string;
  sites: { name: string; site: string; window: number }[];
  corruption: TraceOptions['corruption'];
  seed: number;
  mask: boolean;
  knownOnly: boolean;
}

type CachedFact = { key: string; status: 'traced'; trace: FactTrace } | { key: string; status: 'skipped'; reason: string };

function settingsOf(model: LanguageModel, facts: readonly Fact[], sites: readonly TraceSite[], opts: DatasetTraceOptions): RunSettings {
  const fingerprint = facts.reduce((h, f) => hash32(`${f.key}\u0000${f.prompt}\u0000${f.subject}\u0000${f.object}\u0000${f.relation ?? ''}\n`, h), hash32(''));
  return {
    version: 1, model: opts.modelName ?? `${model.config.arch}-${model.config.nLayer}x${model.config.dModel}`, arch: model.config.arch, nLayer: model.config.nLayer,
    dataset: `${facts.length} facts, fingerprint ${fingerprint.toString(16)}`,
    sites: sites.map((s) => ({ name: s.name, site: s.site, window: s.window })),
    corruption: opts.corruption ?? { kind: 'swap' }, seed: opts.seed ?? 0, mask: opts.mask ?? true, knownOnly: opts.knownOnly ?? true,
  };
}

/** Claims `out` for these settings: a new folder, the same settings again (resume), or a refusal naming what differs. */
function claim(out: string, settings: RunSettings, restart: boolean): void {
  const path = join(out, 'run.json');
  if (restart) for (const p of ['facts', 'known.jsonl', 'run.json', 'summary.json']) rmSync(join(out, p), { recursive: true, force: true });
  const prev = readJsonCache<RunSettings>(path, (v) => (typeof v === 'object' && v !== null ? null : 'not an object'));
  if (prev.state === 'ok') {
    const differ = (Object.keys(settings) as (keyof RunSettings)[]).filter((k) => JSON.stringify(prev.value[k]) !== JSON.stringify(settings[k]));
    if (differ.length) throw new FactlabError(`${out} holds a run with other settings (${differ.join(', ')}); use another output folder, or restart to clear it`);
    return;
  }
  writeJsonAtomic(path, settings);
}

/** The known filter's predictions, cached line by line so that an interrupted filter goes on where it stopped. */
async function predictions(model: LanguageModel, tok: FactTokenizer, facts: readonly Fact[], opts: DatasetTraceOptions): Promise<Prediction[]> {
  const path = join(opts.out, 'known.jsonl');
  const got = new Map<number, Prediction>();
  if (existsSync(path)) {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      try {
        const r = JSON.parse(line) as { i: number; key: string; id: number; text: string };
        if (facts[r.i]?.key === r.key && Number.isInteger(r.id) && typeof r.text === 'string') got.set(r.i, { id: r.id, text: r.text });
      } catch { /* a line cut by an interruption: predicted again */ }
    }
  }
  const todo = facts.map((_, i) => i).filter((i) => !got.has(i));
  const batch = opts.batchSize ?? 32;
  for (let k = 0; k < todo.length; k += batch) {
    opts.signal?.throwIfAborted();
    const idx = todo.slice(k, k + batch);
    const preds = await predictNext(model, tok, idx.map((i) => facts[i]!.prompt), batch);
    appendFileSync(path, idx.map((i, j) => `${JSON.stringify({ i, key: facts[i]!.key, ...preds[j] })}\n`).join(''));
    idx.forEach((i, j) => got.set(i, preds[j]!));
    opts.onProgress?.({ stage: 'known', done: facts.length - todo.length + k + idx.length, total: facts.length });
  }
  return facts.map((_, i) => got.get(i)!);
}

function validCached(fact: Fact, sites: readonly TraceSite[], nLayer: number) {
  return (v: unknown): string | null => {
    const c = v as CachedFact;
    if (typeof c !== 'object' || c === null || c.key !== fact.key) return 'it belongs to another fact';
    if (c.status === 'skipped') return typeof c.reason === 'string' ? null : 'no reason for the skip';
    if (c.status !== 'traced' || typeof c.trace !== 'object' || c.trace === null) return 'no trace';
    const t = c.trace;
    if (t.prompt !== fact.prompt || t.subject !== fact.subject || !Array.isArray(t.tokens) || typeof t.high !== 'number' || typeof t.low !== 'number') return 'the trace does not match the fact';
    const ok = Array.isArray(t.sites) && sites.every((s, k) => t.sites[k]?.name === s.name && Array.isArray(t.sites[k]!.scores) && t.sites[k]!.scores.length === t.tokens.length
      && t.sites[k]!.scores.every((row) => Array.isArray(row) && row.length === nLayer && row.every((x) => typeof x === 'number')));
    return ok ? null : 'its matrices are incomplete';
  };
}

/** Another subject of the fact's relation, with another object, whose prompt aligns; seeded by the fact, so resuming changes nothing. */
function chooseAlternative(tok: FactTokenizer, fact: Fact, pool: readonly Fact[], seed: number, mask: boolean): { alt: string; prepared: Prepared } | null {
  const candidates = [...new Set(pool.filter((f) => (f.relation ?? '') === (fact.relation ?? '') && f.subject !== fact.subject && f.object !== fact.object).map((f) => f.subject))];
  new Rng(hash32(fact.key, seed >>> 0)).shuffle(candidates);
  for (const alt of candidates) {
    try { return { alt, prepared: prepareSwap(tok, fact.prompt, fact.subject, alt, { mask }) }; } catch (e) { if (!(e instanceof FactlabError)) throw e; }
  }
  return null;
}

async function traceOne(model: LanguageModel, tok: FactTokenizer, fact: Fact, pool: readonly Fact[], sites: readonly TraceSite[], opts: DatasetTraceOptions): Promise<CachedFact> {
  const seed = opts.seed ?? 0;
  let prepared: Prepared, altSubject: string | undefined;
  if ((opts.corruption ?? { kind: 'swap' }).kind === 'swap') {
    const choice = chooseAlternative(tok, fact, pool, seed, opts.mask ?? true);
    if (!choice) return { key: fact.key, status: 'skipped', reason: 'no other subject of its relation (with another object) aligns with it' };
    ({ alt: altSubject, prepared } = choice);
  } else {
    prepared = await prepareFact(model, tok, fact, { corruption: opts.corruption, noiseSeed: hash32(fact.key, seed >>> 0) });
  }
  const trace = factTrace(tok, { ...fact, altSubject }, prepared, await traceInput(model, prepared.input, sites, { batchSize: opts.batchSize, reuse: opts.reuse }));
  return { key: fact.key, status: 'traced', trace };
}

/**
 * Causal tracing over a data set, resumable: the known filter's predictions and each fact's trace are cached in
 * `out` as they are made (each fact's file written whole or not at all), so an interrupted run, run again with
 * the same settings, traces only what is missing and ends with the same summary. A cache file that does not parse
 * or does not match its fact is reported and traced again.
 */
export async function traceDataset(model: LanguageModel, tok: FactTokenizer, facts: readonly Fact[], opts: DatasetTraceOptions): Promise<{ summary: DatasetSummary; traces: FactTrace[] }> {
  if (facts.length === 0) throw new FactlabError('tracing: the data set has no facts');
  const sites = resolveSites(model, { sites: opts.sites, window: opts.window });
  const settings = settingsOf(model, facts, sites, opts);
  mkdirSync(opts.out, { recursive: true });
  claim(opts.out, settings, opts.restart ?? false);
  const knownOnly = opts.knownOnly ?? true;
  const preds = knownOnly ? await predictions(model, tok, facts, opts) : null;
  const pool = facts.filter((f, i) => !preds || isKnown(preds[i]!, f.object));
  const chosen = facts.map((f, i) => ({ f, i })).filter(({ f, i }) => !preds || isKnown(preds[i]!, f.object)).slice(0, opts.limit ?? Infinity);
  const width = String(facts.length - 1).length;
  const traces: FactTrace[] = [];
  const summary: DatasetSummary = { model: settings.model, settings, facts: { total: facts.length, known: pool.length, traced: 0, skipped: 0 }, traced: [], skipped: [], sites: [] };
  for (const [done, { f, i }] of chosen.entries()) {
    opts.signal?.throwIfAborted();
    const file = join('facts', `${String(i).padStart(width, '0')}.json`);
    const path = join(opts.out, file);
    const cached = readJsonCache<CachedFact>(path, validCached(f, sites, model.config.nLayer));
    if (cached.state === 'corrupt') opts.onWarning?.(`${path}: ${cached.why}; tracing fact ${f.key} again`);
    let entry: CachedFact;
    if (cached.state === 'ok') entry = cached.value;
    else {
      entry = await traceOne(model, tok, f, pool, sites, opts);
      writeJsonAtomic(path, entry);
    }
    if (entry.status === 'traced') {
      traces.push(entry.trace);
      summary.traced.push({ key: f.key, file, answer: entry.trace.answer.text, high: entry.trace.high, low: entry.trace.low });
    } else summary.skipped.push({ key: f.key, reason: entry.reason });
    opts.onProgress?.({ stage: 'trace', done: done + 1, total: chosen.length });
  }
  summary.facts.traced = summary.traced.length;
  summary.facts.skipped = summary.skipped.length;
  summary.sites = sites.map((s) => ({ name: s.name, site: s.site, window: s.window, ie: averageSixRows(traces, s.name, 'ie'), romba: averageSixRows(traces, s.name, 'romba') }));
  writeJsonAtomic(join(opts.out, 'summary.json'), summary);
  return { summary, traces };
}
