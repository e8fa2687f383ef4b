import type { Command } from 'commander';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { loadPretrained } from '../../models/load.js';
import { findRelation, listRelations, loadRelation, relationsDir, type Relation } from '../../methods/data/relations.js';
import { sweepRelation, type LreRelationResult } from '../../methods/lre/sweep.js';
import { plotRelation } from '../../methods/lre/plot.js';
import { compareLre, plotComparison } from '../../methods/lre/compare.js';
import { basename } from 'node:path';
import type { HLayer } from '../../methods/lre/types.js';
import { FactlabError } from '../../tensor/errors.js';
import { emit, table } from '../output.js';
import { intArg, MODEL_HELP, resolveModel } from '../options.js';

interface Opts { model: string; relation: string[]; layers?: string; nTrain: number; trials: number; maxTests?: number; seed: number; chunk: number; out: string; json?: boolean }

function relations(specs: string[]): Relation[] {
  const dir = relationsDir();
  return specs.flatMap((s) => (s === 'all' ? listRelations(dir).map(loadRelation) : ['factual', 'commonsense', 'linguistic', 'bias'].includes(s) ? listRelations(dir, s).map(loadRelation) : [findRelation(s, dir)]));
}

function parseLayers(spec: string | undefined, nLayer: number): HLayer[] | undefined {
  if (!spec) return undefined;
  return spec.split(',').map((p) => {
    if (p === 'emb') return 'emb';
    const l = Number(p);
    if (!Number.isInteger(l) || l < 0 || l >= nLayer) throw new FactlabError(`--layers: "${p}" is not "emb" or a layer in 0..${nLayer - 1}`);
    return l;
  });
}

const fmt = (x: number | null) => (x === null ? '–' : x.toFixed(2));

export function registerLre(program: Command): void {
  program.command('lre')
    .description('linear relational embeddings: estimate LREs and score faithfulness and causality over layers (resumable)')
    .option('-m, --model <dir>', MODEL_HELP)
    .option('-r, --relation <name...>', 'relations: names (country_capital_city), kinds (factual), paths, or all', ['factual'])
    .option('-l, --layers <list>', 'h layers, e.g. emb,0,4,8 (default: the embeddings and every layer)')
    .option('--n-train <n>', 'in-context training examples per estimate', intArg('--n-train', 1), 5)
    .option('--trials <n>', 'train/test splits per relation', intArg('--trials', 1), 3)
    .option('--max-tests <n>', 'test samples per trial at most', intArg('--max-tests', 1))
    .option('-s, --seed <seed>', 'seed for splits and causality targets', intArg('--seed'), 0)
    .option('--chunk <n>', 'Jacobian rows per batched backward pass', intArg('--chunk', 1), 64)
    .option('-o, --out <dir>', 'results, cache and figures', 'lre-results')
    .option('--json', 'machine-readable output')
    .action(async (o: Opts) => {
      o.model = resolveModel(o.model);
      const rels = relations(o.relation);
      const { model, tokenizer } = await loadPretrained(o.model);
      const layers = parseLayers(o.layers, model.config.nLayer);
      mkdirSync(o.out, { recursive: true });
      const bar = new cliProgress.SingleBar({ format: 'lre {relation} [{bar}] {value}/{total} (trial, layer) cells | {eta_formatted} left', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
      const results: LreRelationResult[] = [];
      for (const rel of rels) {
        bar.start(1, 0, { relation: rel.id });
        results.push(await sweepRelation(model, tokenizer, rel, {
          layers, nTrain: o.nTrain, trials: o.trials, maxTests: o.maxTests, seed: o.seed, chunk: o.chunk, cacheDir: join(o.out, 'cache'),
          onStep: (done, total) => { bar.setTotal(total); bar.update(done, { relation: rel.id }); },
        }));
        bar.stop();
        plotRelation(results[results.length - 1]!, o.out, basename(o.model));
      }
      const file = join(o.out, 'lre.json');
      writeFileSync(`${file}.tmp`, JSON.stringify({ model: o.model, options: { ...o, out: undefined }, results }, null, 1));
      renameSync(`${file}.tmp`, file);
      emit(!!o.json, { file, best: results.map((r) => ({ relation: r.relation, ...r.best })) }, () => [
        table([['relation', 'best layer', 'faithfulness', 'causality', 'β', 'rank'], ...results.map((r) => [r.relation, String(r.best.layer), fmt(r.best.faithfulness), fmt(r.best.efficacy), r.best.beta.toFixed(2), String(r.best.rank)])]),
        `\nall figures in ${file}; plots lre-<relation>.svg/.png in ${o.out}`,
      ].join('\n'));
      model.dispose();
    });
}

export function registerLreCompare(program: Command): void {
  program.command('lre-compare')
    .description('compare LRE results of several models relation by relation (table and grouped bar charts)')
    .requiredOption('--run <label=file...>', 'a label and the lre.json that `factlab lre` wrote, e.g. Mamba=mamba-lre/lre.json')
    .option('-o, --out <dir>', 'where the charts go', 'lre-compare')
    .option('--json', 'machine-readable output')
    .action((o: { run: string[]; out: string; json?: boolean }) => {
      const runs = o.run.map((spec) => {
        const eq = spec.indexOf('=');
        if (eq <= 0) throw new FactlabError(`--run: "${spec}" is not LABEL=FILE`);
        const file = spec.slice(eq + 1);
        let parsed: { results?: LreRelationResult[] };
        try { parsed = JSON.parse(readFileSync(file, 'utf8')); } catch (e) { throw new FactlabError(`--run ${spec}: cannot read ${file} (${(e as Error).message})`); }
        if (!Array.isArray(parsed.results)) throw new FactlabError(`--run ${spec}: ${file} is not a results file written by factlab lre`);
        return { label: spec.slice(0, eq), results: parsed.results };
      });
      mkdirSync(o.out, { recursive: true });
      const cmp = compareLre(runs);
      const charts = plotComparison(runs, o.out);
      emit(!!o.json, { runs: runs.map((r) => r.label), ...cmp, charts }, () => [
        table([['relation', ...runs.flatMap((r) => [`${r.label} faith.`, `${r.label} caus.`])],
          ...cmp.rows.map((row) => [row.relation, ...runs.flatMap((_, i) => [fmt(row.faithfulness[i]!), fmt(row.causality[i]!)])]),
          ['mean', ...runs.flatMap((_, i) => [fmt(cmp.means.faithfulness[i]!), fmt(cmp.means.causality[i]!)])]]),
        `\ncharts: ${charts.map((c) => `${c}.svg/.png`).join(', ')}`,
      ].join('\n'));
    });
}
