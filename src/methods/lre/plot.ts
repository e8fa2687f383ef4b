import { join } from 'node:path';
import { lineChartSvg, writeChart } from '../plots/line-chart.js';
import type { LreRelationResult } from './sweep.js';

const mean = (xs: (number | null | undefined)[]) => {
  const v = xs.filter((x): x is number => typeof x === 'number');
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
};

/** Per relation: faithfulness (recall@1 at each cell's best β) and causality (at its best rank) across layers. */
export function plotRelation(r: LreRelationResult, outDir: string, modelName: string): string {
  const layers = [...new Set(r.cells.map((c) => String(c.layer)))];
  const at = (layer: string, f: (c: LreRelationResult['cells'][number]) => number | null | undefined) => mean(r.cells.filter((c) => String(c.layer) === layer).map(f));
  const faith = layers.map((l) => at(l, (c) => c.recallByBeta.find((b) => b.beta === c.bestBeta)?.recall[0]));
  const cause = layers.map((l) => at(l, (c) => c.efficacyByRank.find((b) => b.rank === c.bestRank)?.efficacy));
  const base = join(outDir, `lre-${r.relation}`);
  writeChart(base, lineChartSvg({
    title: `${r.relation} — ${modelName}`, xLabels: layers, xTitle: 'layer of h', yTitle: 'score',
    series: [{ label: 'faithfulness', values: faith, color: '#6a51a3' }, { label: 'causality', values: cause, color: '#cb181d', dashed: true }],
  }));
  return base;
}
