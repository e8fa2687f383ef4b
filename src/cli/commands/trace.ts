import type { Command } from 'commander';
import { basename, join, resolve } from 'node:path';
import { loadPretrained } from '../../models/load.js';
import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import { FactlabError } from '../../tensor/errors.js';
import { loadFacts, isNontrivialPrefix } from '../../methods/data/index.js';
import { writeJsonAtomic } from '../../methods/data/cache.js';
import {
  averageHeatmap, factHeatmap, factTrace, normalise, pickAlternative, prepareFact, resolveSites, traceDataset, traceInput, writeFigure,
  SIX_ROWS, type Corruption, type DatasetSummary, type Normalisation, type TraceOptions, type TraceSite,
} from '../../methods/tracing/index.js';
import { sharedPath } from '../../io/shared-data.js';
import { emit, progressBar, table } from '../output.js';
import { choice, floatArg, intArg, MODEL_HELP, resolveModel } from '../options.js';

interface Opts {
  model: string; out: string; prompt?: string; subject?: string; object?: string; altSubject?: string; dataset?: string;
  sites?: string; window: number; corruption: 'swap' | 'noise'; noiseSamples: number; noiseScale: number; normalisation: Normalisation;
  batchSize: number; reuse: boolean; mask: boolean; seed: number; limit?: number; allFacts?: boolean; factFigures?: boolean; restart?: boolean; json?: boolean;
}

function traceOptions(o: Opts): TraceOptions {
  const corruption: Corruption = o.corruption === 'noise' ? { kind: 'noise', samples: o.noiseSamples, scale: o.noiseScale } : { kind: 'swap' };
  return { sites: o.sites?.split(',').map((s) => s.trim()).filter(Boolean), window: o.window, corruption, seed: o.seed, mask: o.mask, batchSize: o.batchSize, reuse: o.reuse };
}

/**
 * Where a matrix peaks: the token and layer of its largest value. A matrix without a finite value (no fact traced,
 * or high = low so that every effect is 0/0) says so instead of printing −Infinity.
 */
function peak(rows: readonly string[], values: readonly (readonly number[] | null)[]): string {
  let best = { v: -Infinity, r: 0, l: 0 };
  values.forEach((row, r) => row?.forEach((v, l) => { if (Number.isFinite(v) && v > best.v) best = { v, r, l }; }));
  if (best.v === -Infinity) return 'no finite value (nothing traced, or the corruption does not change p(answer))';
  return `${best.v.toFixed(3)} at ${JSON.stringify(rows[best.r])}, layer ${best.l}`;
}

/**
 * Without --alt-subject, subject swap takes a subject of known_1000 (the same template first) that changes the model's
 * prediction, and says which; without the shared data, or when none qualifies, the corruption becomes noise.
 */
async function autoAlternative(o: Opts, model: LanguageModel, tok: FactTokenizer): Promise<{ altSubject?: string; opts: TraceOptions }> {
  const opts = traceOptions(o);
  if (opts.corruption?.kind !== 'swap') return { opts };
  const knownPath = sharedPath('known', 'known_1000.json');
  const choice = knownPath ? await pickAlternative(model, tok, o.prompt!, o.subject!, loadFacts(knownPath), { seed: o.seed, mask: o.mask }) : null;
  if (choice) {
    process.stderr.write(`factlab: no --alt-subject: swapping in ${JSON.stringify(choice.alt)} (a known_1000 subject${choice.sameTemplate ? ' of the same template' : ''} that changes the prediction)\n`);
    return { altSubject: choice.alt, opts };
  }
  process.stderr.write(`factlab: no --alt-subject${knownPath ? ' and no known_1000 subject changes the prediction' : ' and no shared data'}: corrupting with noise instead (--corruption noise)\n`);
  return { opts: traceOptions({ ...o, corruption: 'noise' }) };
}

async function single(o: Opts, model: LanguageModel, tok: FactTokenizer, sites: TraceSite[], name: string): Promise<void> {
  if (!o.subject) throw new FactlabError('--prompt needs --subject');
  const { altSubject, opts } = o.altSubject !== undefined ? { altSubject: o.altSubject, opts: traceOptions(o) } : await autoAlternative(o, model, tok);
  const q = { prompt: o.prompt!, subject: o.subject, object: o.object, altSubject };
  const prepared = await prepareFact(model, tok, q, opts);
  const bar = progressBar('patched runs');
  const r = await traceInput(model, prepared.input, sites, { ...opts, onProgress: (d, t) => bar.update(d, t) });
  bar.stop();
  const trace = factTrace(tok, q, prepared, r);
  const effects = trace.sites.map((s) => s.scores.map((row) => row.map((p) => normalise(p, trace.high, trace.low, o.normalisation))));
  const known = o.object === undefined ? undefined : isNontrivialPrefix(trace.answer.text, o.object);
  writeJsonAtomic(join(o.out, 'trace.json'), { model: name, normalisation: o.normalisation, ...trace, ...(known !== undefined ? { known } : {}), effects });
  const files = [join(o.out, 'trace.json')];
  for (const s of sites) files.push(...await writeFigure(join(o.out, 'figures'), s.name.replace(/[^\w.-]/g, '_'), factHeatmap(trace, s, name, o.normalisation)));
  const summary = { prompt: trace.prompt, subject: trace.subject, altSubject: trace.altSubject, answer: trace.answer, high: trace.high, low: trace.low, known,
    peaks: sites.map((s, k) => ({ site: s.name, peak: peak(trace.tokens, effects[k]!) })), files };
  emit(!!o.json, summary, () => [
    `${JSON.stringify(trace.prompt)} → ${JSON.stringify(trace.answer.text)}: p = ${trace.high.toFixed(4)} clean, ${trace.low.toFixed(4)} corrupted (${trace.corruption === 'swap' ? `subject ${JSON.stringify(trace.altSubject)}` : 'noise'})` +
      (known === undefined ? '' : known ? `; the model knows ${JSON.stringify(o.object)}` : `; the top token is not a prefix of ${JSON.stringify(o.object)}`),
    table([['site', `largest ${o.normalisation === 'ie' ? 'indirect effect' : "romba's p/(high − low)"}`], ...summary.peaks.map((p) => [p.site, p.peak])]),
    `wrote ${files.join(', ')}`,
  ].join('\n'));
}

async function dataset(o: Opts, model: LanguageModel, tok: FactTokenizer, sites: TraceSite[], name: string): Promise<void> {
  const facts = loadFacts(o.dataset!);
  // A bar per stage, named for it: the known filter's forward per fact, then the traced facts.
  let bar: ReturnType<typeof progressBar> | null = null;
  let stage = '';
  const { summary, traces } = await traceDataset(model, tok, facts, {
    ...traceOptions(o), out: o.out, limit: o.limit, knownOnly: !o.allFacts, modelName: name, restart: o.restart,
    onProgress: (e) => {
      if (e.stage !== stage) { bar?.stop(); stage = e.stage; bar = progressBar(e.stage === 'known' ? 'known filter (facts)' : 'tracing (facts)'); }
      bar!.update(e.done, e.total);
    },
    onWarning: (m) => { bar?.stop(); process.stderr.write(`factlab: warning: ${m}\n`); },
  }).finally(() => bar?.stop());
  const files = [join(o.out, 'summary.json')];
  for (const [k, s] of sites.entries()) {
    if (traces.length) files.push(...await writeFigure(join(o.out, 'figures'), `aie-${s.name.replace(/[^\w.-]/g, '_')}`, averageHeatmap(summary.sites[k]![o.normalisation], s, name, o.normalisation)));
  }
  if (o.factFigures) {
    for (const [i, t] of traces.entries()) {
      for (const s of sites) files.push(...await writeFigure(join(o.out, 'figures', 'facts'), `${summary.traced[i]!.file.replace(/^facts\/|\.json$/g, '')}-${s.name.replace(/[^\w.-]/g, '_')}`, factHeatmap(t, s, name, o.normalisation)));
    }
  }
  emit(!!o.json, { ...summary, files }, () => datasetText(summary, o.normalisation, files));
}

function datasetText(s: DatasetSummary, kind: Normalisation, files: string[]): string {
  const lines = [`${s.facts.total} facts, ${s.settings.knownOnly ? `${s.facts.known} known to the model, ` : ''}${s.facts.traced} traced, ${s.facts.skipped} skipped`];
  for (const site of s.sites) {
    const avg = site[kind];
    lines.push(`${site.name}: ${peak(SIX_ROWS, avg.mean)}`);
  }
  lines.push(`wrote ${files.length > 4 ? `${files.slice(0, 4).join(', ')} and ${files.length - 4} more` : files.join(', ')}`);
  return lines.join('\n');
}

export function registerTrace(program: Command): void {
  program.command('trace')
    .description('causal tracing: where the clean run\'s activations restore the answer in a corrupted run (one prompt, or a data set averaged in the paper\'s six rows)')
    .option('-m, --model <dir>', MODEL_HELP)
    .option('-o, --out <dir>', 'output folder: JSON, SVG and PNG figures, and the cache of a data set run', 'trace-results')
    .option('-p, --prompt <text>', 'one prompt to trace')
    .option('-s, --subject <text>', 'the subject, as it occurs in the prompt')
    .option('--object <text>', 'the expected object: reports whether the model knows it')
    .option('--alt-subject <text>', 'the corrupted prompt\'s subject (subject swap, one prompt)')
    .option('-d, --dataset <path>', 'an LRE relation file or folder, ROME\'s known_1000.json, or JSON / JSON lines of {subject, prompt or template, object}')
    .option('--sites <list>', 'comma-separated: residual, s, g, o (Mamba), attn, mlp (GPT-NeoX) or hook sites, each optionally :window (default: the paper\'s)')
    .option('--window <n>', 'layers restored together at every site but the residual stream (L−5 … L+4 for 10)', intArg('--window', 1), 10)
    .option('--corruption <kind>', 'swap (another subject of the relation) or noise (on the subject\'s embeddings)', choice('--corruption', ['swap', 'noise'] as const), 'swap')
    .option('--noise-samples <n>', 'noise draws averaged per patched run', intArg('--noise-samples', 1), 10)
    .option('--noise-scale <x>', 'noise std in multiples of the embedding matrix\'s std', floatArg('--noise-scale'), 3)
    .option('--normalisation <kind>', 'ie: (p − low)/(high − low); romba: p/(high − low), as romba averages (the JSON has both)', choice('--normalisation', ['ie', 'romba'] as const), 'ie')
    .option('-b, --batch-size <n>', 'rows per forward pass (results do not depend on it)', intArg('--batch-size', 2), 256)
    .option('--no-reuse', 'run every patched row from the embeddings instead of from the cached residual stream (and, for Mamba, the cached states at its first patched position): slower, for comparison')
    .option('--no-mask', 'run left padding as ordinary tokens, as romba runs Mamba (default: masked, each prompt as if alone)')
    .option('--seed <n>', 'seeds the choice of alternative subjects and the noise', intArg('--seed'), 0)
    .option('--limit <n>', 'trace only the first n known facts (a later run with a larger limit goes on)', intArg('--limit', 1))
    .option('--all-facts', 'trace every fact, not only those whose object the model predicts')
    .option('--fact-figures', 'with --dataset, also draw every fact\'s heatmaps')
    .option('--restart', 'clear a previous run\'s cache in --out')
    .option('--json', 'machine-readable summary on stdout')
    .action(async (o: Opts) => {
      o.model = resolveModel(o.model);
      if (!!o.prompt === !!o.dataset) throw new FactlabError('give either --prompt (with --subject) or --dataset');
      const { model, tokenizer } = await loadPretrained(o.model);
      try {
        const sites = resolveSites(model, traceOptions(o));
        const name = basename(resolve(o.model));
        await (o.prompt !== undefined ? single(o, model, tokenizer, sites, name) : dataset(o, model, tokenizer, sites, name));
      } finally {
        model.dispose();
      }
    });
}
