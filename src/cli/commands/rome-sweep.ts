import type { Command } from 'commander';
import { basename, join } from 'node:path';
import { loadPretrained } from '../../models/load.js';
import { FactlabError } from '../../tensor/errors.js';
import { sharedData } from '../../io/shared-data.js';
import { loadCounterFact } from '../../methods/data/counterfact.js';
import { corpusFromSpec } from '../../methods/data/corpus.js';
import { buildReferences } from '../../methods/evaluation/consistency.js';
import { RomeEditor } from '../../methods/rome/editor.js';
import { romeSweep } from '../../methods/rome/sweep.js';
import { plotSweep } from '../../methods/rome/plot.js';
import { progressBar } from '../../methods/rome/progress.js';
import { MAMBA_MATRICES, type RomeMatrix } from '../../methods/rome/hparams.js';
import { emit, table } from '../output.js';
import { intArg, MODEL_HELP, resolveModel } from '../options.js';
import { addStatsOptions, editorOptions, hparamOverrides, type StatsCliOptions } from './rome-options.js';

interface Opts extends StatsCliOptions {
  model: string; cases: number; offset: number; counterfact?: string; split?: string; layers: string; matrices: string;
  generation?: boolean; genTokens: number; refs: string; refsDocs: number; out: string; restart?: boolean; json?: boolean;
}

/** "all", "0,5,10" or ranges "0-63:5" (every 5th layer from 0 to 63). */
export function parseLayers(spec: string, nLayer: number): number[] {
  if (spec === 'all') return Array.from({ length: nLayer }, (_, l) => l);
  const out = spec.split(',').flatMap((part) => {
    const m = /^(\d+)-(\d+)(?::(\d+))?$/.exec(part);
    if (m) { const [a, b, s] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 1)]; return Array.from({ length: Math.floor((b - a) / s) + 1 }, (_, i) => a + i * s); }
    if (!/^\d+$/.test(part)) throw new FactlabError(`--layers: "${part}" is not a layer, a range a-b[:step], or all`);
    return [Number(part)];
  });
  const bad = out.find((l) => l >= nLayer);
  if (bad !== undefined) throw new FactlabError(`--layers: layer ${bad} is outside 0..${nLayer - 1}`);
  return [...new Set(out)];
}

export function registerRomeSweep(program: Command): void {
  addStatsOptions(program.command('rome-sweep')
    .description('ROME across layers and matrices on a CounterFact slice: efficacy, paraphrase, neighbourhood, S (resumable), with plots')
    .option('-m, --model <dir>', MODEL_HELP)
    .requiredOption('--cases <n>', 'CounterFact cases to edit', intArg('--cases', 1))
    .option('--offset <n>', 'skip this many cases first', intArg('--offset'), 0)
    .option('--counterfact <path>', 'CounterFact file or folder (default: the shared copy)')
    .option('--split <name>', 'edit, train or val (default: all three, in that order)')
    .option('-l, --layers <list>', 'all, 0,5,10, or ranges such as 0-63:5', 'all')
    .option('--matrices <list>', 'all, or some of o,a,g (Mamba) / mlp (GPT-NeoX)', 'all')
    .option('--generation', 'also generate (from the rewrite prompt and paraphrase) and score fluency and consistency')
    .option('--gen-tokens <n>', 'new tokens per generation', intArg('--gen-tokens', 1), 100)
    .option('--refs <spec>', 'corpus for consistency references and idf', 'enwiki:0')
    .option('--refs-docs <n>', 'documents read for references and idf', intArg('--refs-docs', 1), 2000)
    .option('-o, --out <dir>', 'results (cells.jsonl, sweep.json) and plots', 'rome-sweep')
    .option('--restart', 'clear an earlier sweep in --out with other settings')
    .option('--json', 'machine-readable output'))
    .action(async (o: Opts) => {
      o.model = resolveModel(o.model);
      const cfPath = o.counterfact ?? (sharedData ? join(sharedData, 'counterfact') : null);
      if (!cfPath) throw new FactlabError('--counterfact: no path given and the shared data folder was not found (set FACTLAB_SHARED_DATA)');
      const cases = loadCounterFact(cfPath, { split: o.split }).slice(o.offset, o.offset + o.cases);
      if (cases.length === 0) throw new FactlabError(`--offset ${o.offset}: no cases left in ${cfPath}`);
      const { model, tokenizer } = await loadPretrained(o.model);
      const layers = parseLayers(o.layers, model.config.nLayer);
      const valid: RomeMatrix[] = model.config.arch === 'mamba' ? [...MAMBA_MATRICES] : ['mlp'];
      const matrices = (o.matrices === 'all' ? valid : o.matrices.split(',')) as RomeMatrix[];
      for (const m of matrices) if (!valid.includes(m)) throw new FactlabError(`--matrices: "${m}" is not one of ${valid.join(', ')} for a ${model.config.arch} model`);
      const eo = editorOptions(o.model, o, hparamOverrides(o));
      const editor = new RomeEditor(model, tokenizer, eo);
      const references = o.generation ? await buildReferences(corpusFromSpec(o.refs, sharedData), cases.map((c) => c.targetNew), { maxDocuments: o.refsDocs }) : undefined;
      const bar = progressBar('rome-sweep (layer, matrix, case)');
      const r = await romeSweep(editor, { layers, matrices, cases, out: o.out, restart: o.restart, generation: o.generation ? { maxNewTokens: o.genTokens, references } : undefined, onProgress: (d, t) => { eo.stop(); bar.update(d, t); } });
      bar.stop();
      const plots = plotSweep(r.points, o.out, basename(o.model));
      const f = (x: number | null) => (x === null || Number.isNaN(x) ? '–' : x.toFixed(1));
      emit(!!o.json, { file: join(o.out, 'sweep.json'), plots: plots.map((p) => `${p}.svg`), points: r.points }, () => [
        table([['layer', 'matrix', 'S', 'ES', 'PS', 'NS', 'EM', 'PM', 'NM', ...(o.generation ? ['GE', 'RS'] : [])],
          ...r.points.map((p) => [String(p.layer), p.matrix, f(p.S), f(p.ES), f(p.PS), f(p.NS), f(p.EM), f(p.PM), f(p.NM), ...(o.generation ? [f(p.GE), f(p.RS)] : [])])]),
        `\n${cases.length} cases per point; results in ${join(o.out, 'sweep.json')}; plots ${plots.map((p) => `${basename(p)}.svg`).join(', ')}`,
      ].join('\n'));
      model.dispose();
    });
}
