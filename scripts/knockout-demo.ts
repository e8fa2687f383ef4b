/**
 * Knockout and path blocking on the tiny trained models (the Mamba and GPT-NeoX that ROME's tests train on the
 * synthetic world's facts), for docs/knockout.md: every fact under every template, a window of one layer, both
 * methods for Mamba. The models are trained once (about a minute each on 2 cores) and kept in .cache/tiny-models.
 *   node dist/scripts/knockout-demo.js [out=.cache/knockout-demo] [figures=docs/knockout]
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { trainedTinyModel } from '../src/methods/train/tiny.js';
import { textCorpus } from '../src/methods/data/corpus.js';
import type { Fact } from '../src/methods/data/facts.js';
import { knockoutDataset } from '../src/methods/knockout/dataset.js';
import { comparisonChart, knockoutChart, pathBlockingChart } from '../src/methods/knockout/figures.js';
import { writeFigure } from '../src/methods/tracing/figures.js';

const out = process.argv[2] ?? '.cache/knockout-demo', figures = process.argv[3] ?? 'docs/knockout';
mkdirSync(figures, { recursive: true });
const fmt = (x: number) => (x >= 0 ? ' ' : '') + x.toFixed(2);
for (const kind of ['mamba', 'gptneox'] as const) {
  const { model, world } = await trainedTinyModel(kind, { cacheDir: '.cache/tiny-models' });
  const facts: Fact[] = world.facts.flatMap((f) => world.relation(f.relation).templates.map((t, k) => ({
    key: `${f.relation}/${f.subject}/${k}`, subject: f.subject, prompt: t.replace('{}', f.subject), object: f.object, relation: `${f.relation}/${k}`,
  })));
  const name = `tiny ${kind} (${model.config.nLayer} layers)`;
  const { summary } = await knockoutDataset(model, world.tokenizer, facts, {
    out: join(out, kind), window: 1, pathBlocking: true, corpus: textCorpus('synthetic-world-seed-7', world.documents(128, 7)), modelName: name,
  });
  const files: string[] = [];
  const methods = [...new Set(summary.knockout.map((a) => a.method))];
  for (const m of methods) files.push(...await writeFigure(join(out, kind, 'figures'), `knockout-${m}`, knockoutChart(summary.knockout, m, name, 1)));
  if (summary.comparison.length) files.push(...await writeFigure(join(out, kind, 'figures'), 'knockout-compare', comparisonChart(summary.knockout, name, 1)));
  for (const a of summary.pathBlocking) files.push(...await writeFigure(join(out, kind, 'figures'), `path-blocking-${a.token}`, pathBlockingChart(a, name)));
  for (const f of files.filter((p) => p.endsWith('.png'))) copyFileSync(f, join(figures, `${kind}-${f.split('/').pop()}`));
  console.log(`\n## ${name}: ${summary.facts.known} of ${summary.facts.total} prompts known, ${summary.facts.done} knocked out\n`);
  console.log(`| method | set | ${Array.from({ length: model.config.nLayer }, (_, l) => `layer ${l}`).join(' | ')} |`);
  console.log(`|---|---|${'---|'.repeat(model.config.nLayer)}`);
  for (const a of summary.knockout) console.log(`| ${a.method} | ${a.set} | ${a.mean.map((m, l) => `${fmt(m)} ± ${a.se[l]!.toFixed(2)}`).join(' | ')} |`);
  for (const c of summary.comparison) console.log(`\n${c.set}: correlation ${c.correlation.toFixed(2)} over (fact, layer); cut − mean per layer ${c.difference.map(fmt).join(', ')}`);
  for (const p of summary.pathBlocking) console.log(`\npath blocking at ${p.token} (n = ${p.restore.n}): restore ${p.restore.mean.map(fmt).join(', ')}; ${Object.entries(p.severed).map(([k, v]) => `${k} severed ${v.mean.map(fmt).join(', ')}`).join('; ')}`);
  model.dispose();
}
