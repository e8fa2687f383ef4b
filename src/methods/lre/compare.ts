import { join } from 'node:path';
import { barChartSvg } from '../plots/bar-chart.js';
import { writeChart } from '../plots/line-chart.js';
import type { LreRelationResult } from './sweep.js';

export interface LreRun {
  /** A label for the model (e.g. "Mamba", "Pythia"). */
  label: string;
  results: LreRelationResult[];
}

export interface LreComparisonRow {
  relation: string;
  /** Per run: best-layer faithfulness and causality (null where the relation was not run or nothing was scored). */
  faithfulness: (number | null)[];
  causality: (number | null)[];
}

/** The paper's per-relation comparison: each run's best-layer faithfulness and causality, relation by relation. */
export function compareLre(runs: readonly LreRun[]): { rows: LreComparisonRow[]; means: { faithfulness: (number | null)[]; causality: (number | null)[] } } {
  const relations = [...new Set(runs.flatMap((r) => r.results.map((x) => x.relation)))].sort();
  const rows = relations.map((relation) => {
    const best = runs.map((r) => r.results.find((x) => x.relation === relation)?.best);
    return { relation, faithfulness: best.map((b) => b?.faithfulness ?? null), causality: best.map((b) => b?.efficacy ?? null) };
  });
  const mean = (k: 'faithfulness' | 'causality', i: number) => {
    const v = rows.map((r) => r[k][i]).filter((x): x is number => x !== null);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };
  return { rows, means: { faithfulness: runs.map((_, i) => mean('faithfulness', i)), causality: runs.map((_, i) => mean('causality', i)) } };
}

const COLORS = ['#6a51a3', '#238b45', '#cb181d', '#2171b5'];

/** Grouped bar charts of faithfulness and causality per relation, one bar per run (lre-compare-*.svg/.png). */
export function plotComparison(runs: readonly LreRun[], outDir: string): string[] {
  const { rows } = compareLre(runs);
  return (['faithfulness', 'causality'] as const).map((k) => {
    const base = join(outDir, `lre-compare-${k}`);
    writeChart(base, barChartSvg({
      title: `LRE ${k} per relation (best layer)`, yTitle: k, seriesLabels: runs.map((r) => r.label), colors: COLORS,
      groups: rows.map((r) => ({ label: r.relation.replace(/_/g, ' '), values: r[k] })),
    }));
    return base;
  });
}
