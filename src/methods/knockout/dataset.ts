import { join } from 'node:path';
import { FactlabError } from '../../tensor/errors.js';
import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import type { Fact } from '../data/facts.js';
import type { Corpus } from '../data/corpus.js';
import { writeJsonAtomic } from '../data/cache.js';
import { datasetFingerprint, runOverFacts, type FactRunOptions } from '../data/fact-runs.js';
import { chooseAlternative } from '../tracing/prepare.js';
import { averageKnockout, averagePathBlocking, compareMethods, type KnockoutAverage, type MethodComparison, type PathBlockingAverage } from './aggregate.js';
import { checkMethods, defaultMethods, knockoutFact, type FactKnockout, type KnockoutOptions } from './knockout.js';
import { meanActivations } from './means.js';
import { pathBlockFact, SEVERABLE, type FactPathBlocking } from './path-blocking.js';
import { SOURCE_SETS } from './sources.js';

export interface KnockoutDatasetOptions extends Omit<KnockoutOptions, 'means'>, Omit<FactRunOptions, 'onProgress'> {
  /** The corpus the mean activations are taken over (method mean). */
  corpus?: Corpus;
  meanDocs?: number;
  meanTokens?: number;
  /** Also run the paper's path blocking (subject swap within the relation). */
  pathBlocking?: boolean;
  components?: readonly string[];
  /** Run left padding of the swapped prompts masked (default true). */
  mask?: boolean;
  /** Seeds the choice of alternative subjects. */
  seed?: number;
  modelName?: string;
  onProgress?: (e: { stage: 'means' | 'known' | 'fact'; done: number; total: number }) => void;
}

export interface FactKnockoutResult {
  knockout: FactKnockout;
  /** Path blocking, or why it could not run on this fact. */
  pathBlocking?: (FactPathBlocking & { altSubject: string }) | { skipped: string };
}

export interface KnockoutSummary {
  model: string;
  settings: Record<string, unknown>;
  facts: { total: number; known: number; done: number; skipped: number };
  done: { key: string; file: string; answer: string; p: number }[];
  skipped: { key: string; reason: string }[];
  knockout: KnockoutAverage[];
  /** Mamba with both methods: where the paper's approximation and the exact cut disagree. */
  comparison: MethodComparison[];
  pathBlocking: PathBlockingAverage[];
}

/**
 * Knockout (and optionally path blocking) over a data set: resumable per fact, with the averages the paper plots
 * (mean ± standard error per layer) and, for Mamba, the comparison of its mean-ablation with the exact cut.
 */
export async function knockoutDataset(model: LanguageModel, tok: FactTokenizer, facts: readonly Fact[], o: KnockoutDatasetOptions): Promise<{ summary: KnockoutSummary; results: FactKnockoutResult[] }> {
  if (facts.length === 0) throw new FactlabError('knockout: the data set has no facts');
  const methods = o.methods ?? defaultMethods(model), sets = o.sets ?? SOURCE_SETS;
  const components = o.components ?? Object.keys(SEVERABLE[model.config.arch]);
  checkMethods(model, methods, o.meanSite);
  const usesMeans = methods.includes('mean');
  if (usesMeans && !o.corpus) throw new FactlabError('knockout: method mean needs a corpus for the mean activations');
  const settings = {
    version: 1, model: o.modelName ?? `${model.config.arch}-${model.config.nLayer}x${model.config.dModel}`, dataset: datasetFingerprint(facts),
    methods, sets, window: o.window ?? 10, eosPrefix: o.eosPrefix ?? true, knownOnly: o.knownOnly ?? true,
    means: usesMeans ? { corpus: o.corpus!.id, docs: o.meanDocs ?? 128, tokens: o.meanTokens ?? 128 } : null,
    pathBlocking: o.pathBlocking ? { components, seed: o.seed ?? 0, mask: o.mask ?? true } : null,
  };
  const means = usesMeans ? await meanActivations(model, tok, o.corpus!, {
    site: o.meanSite ?? 'mixer.hook_x', docs: o.meanDocs, tokens: o.meanTokens, cache: join(o.out, 'means.json'),
    onProgress: (done, total) => o.onProgress?.({ stage: 'means', done, total }),
  }) : undefined;
  const nLayer = model.config.nLayer;
  const run = await runOverFacts<FactKnockoutResult>(model, tok, facts, settings, {
    invalid: (fact, r) => {
      const k = r.knockout;
      if (!k || k.subject !== fact.subject || !Array.isArray(k.curves)) return 'the knockout does not match the fact';
      const complete = k.curves.length === methods.length * sets.length && k.curves.every((c) => Array.isArray(c.relative) && c.relative.length === nLayer && c.relative.every((x) => typeof x === 'number'));
      if (!complete) return 'its curves are incomplete';
      if (o.pathBlocking && !r.pathBlocking) return 'no path blocking';
      return null;
    },
    run: async (fact, pool) => {
      let knockout: FactKnockout;
      try {
        knockout = await knockoutFact(model, tok, fact, { ...o, methods, sets, means });
      } catch (e) {
        if (e instanceof FactlabError) return { key: fact.key, status: 'skipped', reason: e.message };
        throw e;
      }
      const result: FactKnockoutResult = { knockout };
      if (o.pathBlocking) {
        const choice = chooseAlternative(tok, fact, pool, o.seed ?? 0, o.mask ?? true);
        result.pathBlocking = choice
          ? { altSubject: choice.alt, ...await pathBlockFact(model, choice.prepared, { components, batchSize: o.batchSize }) }
          : { skipped: 'no other subject of its relation (with another object) aligns with it' };
      }
      return { key: fact.key, status: 'done', result };
    },
  }, o);
  const results = run.done.map((d) => d.result);
  const knocked = results.map((r) => r.knockout);
  const knockout = averageKnockout(knocked);
  const blocked = results.map((r) => r.pathBlocking).filter((p): p is FactPathBlocking & { altSubject: string } => !!p && !('skipped' in p));
  const summary: KnockoutSummary = {
    model: settings.model, settings, facts: run.facts, skipped: run.skipped,
    done: run.done.map((d) => ({ key: d.key, file: d.file, answer: d.result.knockout.answer.text, p: d.result.knockout.p })),
    knockout, comparison: compareMethods(knocked, knockout), pathBlocking: averagePathBlocking(blocked),
  };
  writeJsonAtomic(join(o.out, 'summary.json'), summary);
  return { summary, results };
}
