import { join } from 'node:path';
import { FactlabError } from '../../tensor/errors.js';
import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import type { Fact } from '../data/facts.js';
import { hash32, writeJsonAtomic } from '../data/cache.js';
import { datasetFingerprint, runOverFacts, type FactOutcome, type FactRunOptions } from '../data/fact-runs.js';
import { averageSixRows, type SixRowAverage } from './aggregate.js';
import { factTrace, prepareFact, resolveSites, traceInput, type TraceOptions } from './trace.js';
import { chooseAlternative, type Prepared } from './prepare.js';
import type { TraceSite } from './sites.js';
import type { FactTrace } from './types.js';

export interface DatasetTraceOptions extends Omit<TraceOptions, 'onProgress'>, Omit<FactRunOptions, 'onProgress'> {
  /** Names the model in run.json and in titles (default: the architecture and size). */
  modelName?: string;
  onProgress?: (e: { stage: 'known' | 'trace'; done: number; total: number }) => void;
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
  version: 2;
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


function settingsOf(model: LanguageModel, facts: readonly Fact[], sites: readonly TraceSite[], opts: DatasetTraceOptions): RunSettings {
  return {
    version: 2, model: opts.modelName ?? `${model.config.arch}-${model.config.nLayer}x${model.config.dModel}`, arch: model.config.arch, nLayer: model.config.nLayer,
    dataset: datasetFingerprint(facts),
    sites: sites.map((s) => ({ name: s.name, site: s.site, window: s.window })),
    corruption: opts.corruption ?? { kind: 'swap' }, seed: opts.seed ?? 0, mask: opts.mask ?? true, knownOnly: opts.knownOnly ?? true,
  };
}

async function traceOne(model: LanguageModel, tok: FactTokenizer, fact: Fact, pool: readonly Fact[], sites: readonly TraceSite[], opts: DatasetTraceOptions): Promise<FactOutcome<FactTrace>> {
  const seed = opts.seed ?? 0;
  let prepared: Prepared, altSubject: string | undefined;
  if ((opts.corruption ?? { kind: 'swap' }).kind === 'swap') {
    const choice = chooseAlternative(tok, fact, pool, seed, opts.mask ?? true);
    if (!choice) return { key: fact.key, status: 'skipped', reason: 'no other subject of its relation (with another object) aligns with it' };
    ({ alt: altSubject, prepared } = choice);
  } else {
    prepared = await prepareFact(model, tok, fact, { corruption: opts.corruption, noiseSeed: hash32(fact.key, seed >>> 0) });
  }
  const trace = factTrace(tok, { ...fact, altSubject }, prepared, await traceInput(model, prepared.input, sites, { batchSize: opts.batchSize, reuse: opts.reuse, reusePositions: opts.reusePositions }));
  return { key: fact.key, status: 'done', result: trace };
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
  const nLayer = model.config.nLayer;
  const run = await runOverFacts<FactTrace>(model, tok, facts, { ...settings }, {
    invalid: (fact, t) => {
      if (t.prompt !== fact.prompt || t.subject !== fact.subject || !Array.isArray(t.tokens) || typeof t.high !== 'number' || typeof t.low !== 'number') return 'the trace does not match the fact';
      const ok = Array.isArray(t.sites) && sites.every((s, k) => t.sites[k]?.name === s.name && Array.isArray(t.sites[k]!.scores) && t.sites[k]!.scores.length === t.tokens.length
        && t.sites[k]!.scores.every((row) => Array.isArray(row) && row.length === nLayer && row.every((x) => typeof x === 'number')));
      return ok ? null : 'its matrices are incomplete';
    },
    run: (fact, pool) => traceOne(model, tok, fact, pool, sites, opts),
  }, { ...opts, onProgress: opts.onProgress && ((e) => opts.onProgress!({ ...e, stage: e.stage === 'fact' ? 'trace' : 'known' })) });
  const traces = run.done.map((d) => d.result);
  const summary: DatasetSummary = {
    model: settings.model, settings, facts: { total: run.facts.total, known: run.facts.known, traced: run.facts.done, skipped: run.facts.skipped },
    traced: run.done.map(({ key, file, result: t }) => ({ key, file, answer: t.answer.text, high: t.high, low: t.low })), skipped: run.skipped,
    sites: sites.map((s) => ({ name: s.name, site: s.site, window: s.window, ie: averageSixRows(traces, s.name, 'ie'), romba: averageSixRows(traces, s.name, 'romba') })),
  };
  writeJsonAtomic(join(opts.out, 'summary.json'), summary);
  return { summary, traces };
}
