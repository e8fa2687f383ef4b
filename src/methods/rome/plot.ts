import { join } from 'node:path';
import { lineChartSvg, writeChart } from '../plots/line-chart.js';
import type { SweepPoint } from './sweep.js';

const NAMES: Record<string, string> = { o: 'W_o (out_proj)', a: 'W_a (in_proj, x)', g: 'W_g (in_proj, gate)', mlp: 'MLP dense_4h_to_h' };
const COLORS: Record<string, string> = { o: '#2171b5', a: '#cb181d', g: '#238b45', mlp: '#6a51a3' };

/**
 * The layer sweep as the paper draws it: S per layer for each matrix in one chart, and for each matrix its ES, PS and
 * NS. Writes SVG and PNG files into outDir and returns their base paths.
 */
export function plotSweep(points: readonly SweepPoint[], outDir: string, modelName: string): string[] {
  const layers = [...new Set(points.map((p) => p.layer))].sort((a, b) => a - b);
  const matrices = [...new Set(points.map((p) => p.matrix))];
  const at = (m: string, f: (p: SweepPoint) => number) => layers.map((l) => { const p = points.find((q) => q.layer === l && q.matrix === m); return p && Number.isFinite(f(p)) ? f(p) : null; });
  const xLabels = layers.map(String);
  const bases: string[] = [];
  const sBase = join(outDir, 'rome-sweep-S');
  writeChart(sBase, lineChartSvg({ title: `ROME layer sweep, S — ${modelName}`, xLabels, xTitle: 'edited layer', yTitle: 'score (×100)', yRange: [0, 100],
    series: matrices.map((m) => ({ label: NAMES[m] ?? m, values: at(m, (p) => p.S), color: COLORS[m] ?? '#444' })) }));
  bases.push(sBase);
  for (const m of matrices) {
    const base = join(outDir, `rome-sweep-${m}`);
    writeChart(base, lineChartSvg({ title: `${NAMES[m] ?? m} — ${modelName}`, xLabels, xTitle: 'edited layer', yTitle: 'score (×100)', yRange: [0, 100], series: [
      { label: 'S', values: at(m, (p) => p.S), color: '#000000' },
      { label: 'efficacy ES', values: at(m, (p) => p.ES), color: '#2171b5', dashed: true },
      { label: 'paraphrase PS', values: at(m, (p) => p.PS), color: '#238b45', dashed: true },
      { label: 'neighbourhood NS', values: at(m, (p) => p.NS), color: '#cb181d', dashed: true },
    ] }));
    bases.push(base);
  }
  return bases;
}
