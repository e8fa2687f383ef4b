import type { Command } from 'commander';
import { basename, join, resolve } from 'node:path';
import { loadPretrained } from '../../models/load.js';
import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import { FactlabError } from '../../tensor/errors.js';
import { sharedData } from '../../io/shared-data.js';
import { loadFacts } from '../../methods/data/index.js';
import { writeJsonAtomic } from '../../methods/data/cache.js';
import { corpusFromSpec } from '../../methods/data/corpus.js';
import { prepareSwap } from '../../methods/tracing/prepare.js';
import { writeFigure } from '../../methods/tracing/figures.js';
import {
  KNOCKOUT_METHODS, SEVERABLE, checkMethods, averageKnockout, averagePathBlocking, comparisonChart, defaultMethods, knockoutChart, knockoutDataset,
  knockoutFact, meanActivations, parseSourceSets, pathBlockingChart, pathBlockFact, type KnockoutMethod, type KnockoutSummary,
} from '../../methods/knockout/index.js';
import { emit, progressBar, table } from '../output.js';
import { intArg, MODEL_HELP, resolveModel } from '../options.js';

interface Opts {
  model?: string; out: string; prompt?: string; subject?: string; altSubject?: string; dataset?: string; methods?: string; sets: string; window: number;
  corpus: string; meanDocs: number; meanTokens: number; pathBlocking?: boolean; components?: string; batchSize: number; eosPrefix: boolean; mask: boolean;
  seed: number; limit?: number; allFacts?: boolean; restart?: boolean; json?: boolean;
}

function methodsOf(o: Opts, model: LanguageModel): KnockoutMethod[] {
  if (!o.methods) return defaultMethods(model);
  const list = o.methods.split(',').map((m) => m.trim()).filter(Boolean);
  for (const m of list) if (!(KNOCKOUT_METHODS as readonly string[]).includes(m)) throw new FactlabError(`--methods: unknown method ${JSON.stringify(m)} (use ${KNOCKOUT_METHODS.join(', ')})`);
  checkMethods(model, list as KnockoutMethod[]);
  return list as KnockoutMethod[];
}

function componentsOf(o: Opts, model: LanguageModel): string[] {
  const known = Object.keys(SEVERABLE[model.config.arch]);
  if (!o.components) return known;
  const list = o.components.split(',').map((c) => c.trim()).filter(Boolean);
  for (const c of list) if (!known.includes(c)) throw new FactlabError(`--components: ${JSON.stringify(c)} is not a component of ${model.config.arch} (use ${known.join(', ')})`);
  return list;
}

/** The strongest average effect of each curve, for the text summary. */
function extremes(curves: readonly { label: string; values: readonly number[] }[]): string[][] {
  return curves.map((c) => {
    let at = 0;
    c.values.forEach((v, l) => { if (Math.abs(v) > Math.abs(c.values[at]!)) at = l; });
    return [c.label, `${c.values[at]!.toFixed(3)} at layer ${at}`];
  });
}

async function single(o: Opts, model: LanguageModel, tok: FactTokenizer, name: string): Promise<void> {
  if (!o.subject) throw new FactlabError('--prompt needs --subject');
  const methods = methodsOf(o, model);
  const bar = progressBar('means');
  const means = methods.includes('mean')
    ? await meanActivations(model, tok, corpusFromSpec(o.corpus, sharedData), { site: 'mixer.hook_x', docs: o.meanDocs, tokens: o.meanTokens, cache: join(o.out, 'means.json'), onProgress: (d, t) => bar.update(d, t) }).finally(() => bar.stop())
    : undefined;
  const k = await knockoutFact(model, tok, { prompt: o.prompt!, subject: o.subject }, { methods, sets: parseSourceSets(o.sets), window: o.window, batchSize: o.batchSize, means, eosPrefix: o.eosPrefix });
  const blocked = o.altSubject ? await pathBlockFact(model, prepareSwap(tok, o.prompt!, o.subject, o.altSubject, { mask: o.mask }), { components: componentsOf(o, model), batchSize: o.batchSize }) : undefined;
  const files = [join(o.out, 'knockout.json')];
  writeJsonAtomic(files[0]!, { model: name, ...k, ...(blocked ? { pathBlocking: { altSubject: o.altSubject, ...blocked } } : {}) });
  const avgs = averageKnockout([k]);
  for (const m of methods) files.push(...await writeFigure(join(o.out, 'figures'), `knockout-${m}`, knockoutChart(avgs, m, name, o.window)));
  if (blocked) for (const a of averagePathBlocking([blocked], true)) files.push(...await writeFigure(join(o.out, 'figures'), `path-blocking-${a.token}`, pathBlockingChart(a, name)));
  emit(!!o.json, { ...k, pathBlocking: blocked, files }, () => [
    `${JSON.stringify(k.prompt)} → ${JSON.stringify(k.answer.text)}: p = ${k.p.toFixed(4)}`,
    table([['knockout', 'largest relative change'], ...extremes(k.curves.map((c) => ({ label: `${c.set} (${c.method})`, values: c.relative })))]),
    ...(blocked ? [`path blocking with ${JSON.stringify(o.altSubject)}: p = ${blocked.high.toFixed(4)} clean, ${blocked.low.toFixed(4)} corrupted` +
      (blocked.high > blocked.low ? '' : ' (the corruption does not lower p, so the indirect effects mean little)')] : []),
    `wrote ${files.join(', ')}`,
  ].join('\n'));
}

async function dataset(o: Opts, model: LanguageModel, tok: FactTokenizer, name: string): Promise<void> {
  const facts = loadFacts(o.dataset!);
  const methods = methodsOf(o, model);
  const bar = progressBar('knockout');
  let stage = '';
  const { summary } = await knockoutDataset(model, tok, facts, {
    out: o.out, methods, sets: parseSourceSets(o.sets), window: o.window, batchSize: o.batchSize, eosPrefix: o.eosPrefix, mask: o.mask, seed: o.seed,
    corpus: methods.includes('mean') ? corpusFromSpec(o.corpus, sharedData) : undefined, meanDocs: o.meanDocs, meanTokens: o.meanTokens,
    pathBlocking: o.pathBlocking, components: o.pathBlocking ? componentsOf(o, model) : undefined,
    limit: o.limit, knownOnly: !o.allFacts, restart: o.restart, modelName: name,
    onProgress: (e) => { if (e.stage !== stage) { bar.stop(); stage = e.stage; } bar.update(e.done, e.total); },
    onWarning: (m) => { bar.stop(); process.stderr.write(`factlab: warning: ${m}\n`); },
  }).finally(() => bar.stop());
  const files = [join(o.out, 'summary.json')];
  if (summary.done.length) {
    for (const m of methods) files.push(...await writeFigure(join(o.out, 'figures'), `knockout-${m}`, knockoutChart(summary.knockout, m, name, o.window)));
    if (summary.comparison.length) files.push(...await writeFigure(join(o.out, 'figures'), 'knockout-compare', comparisonChart(summary.knockout, name, o.window)));
    for (const a of summary.pathBlocking) files.push(...await writeFigure(join(o.out, 'figures'), `path-blocking-${a.token}`, pathBlockingChart(a, name)));
  }
  emit(!!o.json, { ...summary, files }, () => datasetText(summary, files));
}

function datasetText(s: KnockoutSummary, files: string[]): string {
  const lines = [`${s.facts.total} facts, ${s.settings.knownOnly ? `${s.facts.known} known to the model, ` : ''}${s.facts.done} knocked out, ${s.facts.skipped} skipped`];
  if (s.knockout.length) lines.push(table([['knockout (mean over facts)', 'largest relative change'], ...extremes(s.knockout.map((a) => ({ label: `${a.set} (${a.method})`, values: a.mean })))]));
  for (const c of s.comparison) lines.push(`${c.set}: mean-ablation vs exact cut, correlation ${c.correlation.toFixed(2)} over (fact, layer); largest gap at layer ${c.largest[0]!.layer} (${c.largest[0]!.mean.toFixed(3)} vs ${c.largest[0]!.cut.toFixed(3)})`);
  for (const a of s.pathBlocking) lines.push(`path blocking at ${a.token}: restore peaks at ${Math.max(...a.restore.mean).toFixed(3)}; ${Object.entries(a.severed).map(([c, v]) => `${c} severed ${Math.max(...v.mean).toFixed(3)}`).join(', ')} (n = ${a.restore.n})`);
  lines.push(`wrote ${files.length > 4 ? `${files.slice(0, 4).join(', ')} and ${files.length - 4} more` : files.join(', ')}`);
  return lines.join('\n');
}

export function registerKnockout(program: Command): void {
  program.command('knockout')
    .description('knock out the flow from subject, subject-last, non-subject or last tokens to the last token over a window of layers (the paper\'s mean-ablation for Mamba, an exact cut for both architectures), and path blocking')
    .option('-m, --model <dir>', MODEL_HELP)
    .option('-o, --out <dir>', 'output folder: JSON, SVG and PNG figures, and the cache of a data set run', 'knockout-results')
    .option('-p, --prompt <text>', 'one prompt')
    .option('-s, --subject <text>', 'the subject, as it occurs in the prompt')
    .option('--alt-subject <text>', 'with --prompt: also run path blocking with this subject in the corrupted prompt')
    .option('-d, --dataset <path>', 'an LRE relation file or folder, ROME\'s known_1000.json, or JSON / JSON lines of {subject, prompt or template, object}')
    .option('--methods <list>', 'mean (the paper\'s, Mamba only) and/or cut (exact; attention knockout for GPT-NeoX); default: both for Mamba, cut for GPT-NeoX')
    .option('--sets <list>', 'source sets: subject, subject_last, non_subject, last', 'subject,subject_last,non_subject,last')
    .option('--window <n>', 'layers knocked out around each layer (10: L−5 … L+4)', intArg('--window', 1), 10)
    .option('--corpus <spec>', 'text the mean activations are taken over: wikitext103, enwiki[:shards], or a path', 'wikitext103')
    .option('--mean-docs <n>', 'documents averaged for the means', intArg('--mean-docs', 1), 128)
    .option('--mean-tokens <n>', 'tokens kept of each document', intArg('--mean-tokens', 1), 128)
    .option('--path-blocking', 'with --dataset: also run the paper\'s path blocking (subject swap within each relation)')
    .option('--components <list>', 'components severed in path blocking: s, g, o (Mamba); attn, mlp (GPT-NeoX)')
    .option('-b, --batch-size <n>', 'rows per forward pass (results do not depend on it)', intArg('--batch-size', 3), 32)
    .option('--no-eos-prefix', 'run the bare prompt instead of "<|endoftext|> " + prompt')
    .option('--no-mask', 'path blocking: run left padding as ordinary tokens')
    .option('--seed <n>', 'seeds the choice of alternative subjects', intArg('--seed'), 0)
    .option('--limit <n>', 'only the first n known facts (a later run with a larger limit goes on)', intArg('--limit', 1))
    .option('--all-facts', 'every fact, not only those whose object the model predicts')
    .option('--restart', 'clear a previous run\'s cache in --out')
    .option('--json', 'machine-readable summary on stdout')
    .action(async (o: Opts) => {
      if (!!o.prompt === !!o.dataset) throw new FactlabError('give either --prompt (with --subject) or --dataset');
      if (o.pathBlocking && o.prompt) throw new FactlabError('--path-blocking is for --dataset; with --prompt give --alt-subject');
      o.model = resolveModel(o.model);
      const { model, tokenizer } = await loadPretrained(o.model);
      try {
        const name = basename(resolve(o.model));
        await (o.prompt !== undefined ? single(o, model, tokenizer, name) : dataset(o, model, tokenizer, name));
      } finally {
        model.dispose();
      }
    });
}
