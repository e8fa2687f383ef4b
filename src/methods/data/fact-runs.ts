import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FactlabError } from '../../tensor/errors.js';
import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import type { Fact } from './facts.js';
import { isKnown, predictNext, type Prediction } from './known.js';
import { hash32, readJsonCache, writeJsonAtomic } from './cache.js';

/** How a method's run over a data set is cached, filtered and reported (tracing, knockout, ...). */
export interface FactRunOptions {
  /** Where results are cached (facts/, known.jsonl, run.json) and the summary written. */
  out: string;
  /** Only the first `limit` facts that pass the filter; a later run with a larger limit goes on from there. */
  limit?: number;
  /** Keep only facts the model knows (default true). */
  knownOnly?: boolean;
  /** Start afresh: clears a previous run's cache in `out` instead of refusing different settings. */
  restart?: boolean;
  /** Batch size of the known filter. */
  batchSize?: number;
  onProgress?: (e: { stage: 'known' | 'fact'; done: number; total: number }) => void;
  onWarning?: (message: string) => void;
  /** Stops between facts; what was done stays cached. */
  signal?: AbortSignal;
}

/** One fact's cached outcome: a result, or why the method could not run on it. */
export type FactOutcome<R> = { key: string; status: 'done'; result: R } | { key: string; status: 'skipped'; reason: string };

/** The work a method does per fact, and how a cached result is recognised as its own. */
export interface PerFact<R> {
  /** Why a cached result cannot be used for this fact (null: it can). */
  invalid(fact: Fact, result: R): string | null;
  /** `pool` is every fact that passed the filter (the alternatives of subject swap). */
  run(fact: Fact, pool: readonly Fact[]): Promise<FactOutcome<R>>;
}

export interface FactRun<R> {
  facts: { total: number; known: number; done: number; skipped: number };
  done: { key: string; file: string; result: R }[];
  skipped: { key: string; reason: string }[];
}

/** A data set's fingerprint for run.json: any change to a fact's text changes it. */
export function datasetFingerprint(facts: readonly Fact[]): string {
  const h = facts.reduce((acc, f) => hash32(`${f.key}\u0000${f.prompt}\u0000${f.subject}\u0000${f.object}\u0000${f.relation ?? ''}\n`, acc), hash32(''));
  return `${facts.length} facts, fingerprint ${h.toString(16)}`;
}

/** Claims `out` for these settings: a new folder, the same settings again (resume), or a refusal naming what differs. */
function claim(out: string, settings: Record<string, unknown>, restart: boolean): void {
  if (restart) for (const p of ['facts', 'known.jsonl', 'run.json', 'summary.json']) rmSync(join(out, p), { recursive: true, force: true });
  claimSettings(join(out, 'run.json'), settings, `${out} holds a run`);
}

/**
 * Records the settings a cache's results depend on in `path`, or, where it already holds settings, refuses other
 * ones (naming what differs), so that results made under different settings are never mixed.
 */
export function claimSettings(path: string, settings: Record<string, unknown>, what = `${path} was written by a run`): void {
  const prev = readJsonCache<Record<string, unknown>>(path, (v) => (typeof v === 'object' && v !== null ? null : 'not an object'));
  if (prev.state === 'ok') {
    const keys = [...new Set([...Object.keys(settings), ...Object.keys(prev.value)])];
    const differ = keys.filter((k) => JSON.stringify(prev.value[k]) !== JSON.stringify(settings[k]));
    if (differ.length) throw new FactlabError(`${what} with other settings (${differ.join(', ')}); use another output folder, or restart to clear it`);
    return;
  }
  writeJsonAtomic(path, settings);
}

/** The known filter's predictions, cached line by line so that an interrupted filter goes on where it stopped. */
async function predictions(model: LanguageModel, tok: FactTokenizer, facts: readonly Fact[], opts: FactRunOptions): Promise<Prediction[]> {
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

function validOutcome<R>(fact: Fact, method: PerFact<R>) {
  return (v: unknown): string | null => {
    const c = v as FactOutcome<R>;
    if (typeof c !== 'object' || c === null || c.key !== fact.key) return 'it belongs to another fact';
    if (c.status === 'skipped') return typeof c.reason === 'string' ? null : 'no reason for the skip';
    if (c.status !== 'done' || typeof c.result !== 'object' || c.result === null) return 'no result';
    return method.invalid(fact, c.result);
  };
}

/**
 * A method run over a data set, resumable: the known filter's predictions and each fact's result are cached in
 * `out` as they are made (each fact's file written whole or not at all), so an interrupted run, run again with the
 * same settings, computes only what is missing and ends with the same results. A cache file that does not parse or
 * does not match its fact is reported and computed again. `settings` (JSON) names what the results depend on;
 * another run in the same folder with other settings is refused.
 */
export async function runOverFacts<R>(model: LanguageModel, tok: FactTokenizer, facts: readonly Fact[], settings: Record<string, unknown>, method: PerFact<R>, opts: FactRunOptions): Promise<FactRun<R>> {
  mkdirSync(opts.out, { recursive: true });
  claim(opts.out, settings, opts.restart ?? false);
  const preds = opts.knownOnly ?? true ? await predictions(model, tok, facts, opts) : null;
  const passes = (f: Fact, i: number) => !preds || isKnown(preds[i]!, f.object);
  const pool = facts.filter(passes);
  const chosen = facts.map((f, i) => ({ f, i })).filter(({ f, i }) => passes(f, i)).slice(0, opts.limit ?? Infinity);
  const width = String(facts.length - 1).length;
  const out: FactRun<R> = { facts: { total: facts.length, known: pool.length, done: 0, skipped: 0 }, done: [], skipped: [] };
  mkdirSync(join(opts.out, 'facts'), { recursive: true });
  for (const [n, { f, i }] of chosen.entries()) {
    opts.signal?.throwIfAborted();
    const file = join('facts', `${String(i).padStart(width, '0')}.json`);
    const path = join(opts.out, file);
    const cached = readJsonCache<FactOutcome<R>>(path, validOutcome(f, method));
    if (cached.state === 'corrupt') opts.onWarning?.(`${path}: ${cached.why}; computing fact ${f.key} again`);
    let entry: FactOutcome<R>;
    if (cached.state === 'ok') entry = cached.value;
    else {
      entry = await method.run(f, pool);
      writeJsonAtomic(path, entry);
    }
    if (entry.status === 'done') out.done.push({ key: f.key, file, result: entry.result });
    else out.skipped.push({ key: f.key, reason: entry.reason });
    opts.onProgress?.({ stage: 'fact', done: n + 1, total: chosen.length });
  }
  out.facts.done = out.done.length;
  out.facts.skipped = out.skipped.length;
  return out;
}
