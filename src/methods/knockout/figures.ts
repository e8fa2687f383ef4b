import { lineChartSvg, type Series } from '../plots/line-chart.js';
import { barChartSvg } from '../plots/bar-chart.js';
import type { KnockoutAverage, PathBlockingAverage } from './aggregate.js';
import type { KnockoutMethod } from './knockout.js';

const SET_COLORS: Record<string, string> = { subject: '#d62728', subject_last: '#ff7f0e', non_subject: '#2ca02c', last: '#1f77b4' };
const PART_COLORS: Record<string, string> = { restore: '#7f7f7f', s: '#d62728', g: '#2ca02c', o: '#1f77b4', attn: '#9467bd', mlp: '#2ca02c' };
const METHOD_NAMES: Record<KnockoutMethod, string> = { mean: 'mean-ablated SSM input (paper)', cut: 'exact cut' };

/** A y range that holds every value ± its band, and 0, with a little room. */
function rangeOf(values: readonly number[], floor?: [number, number]): [number, number] {
  let lo = Math.min(0, ...values, floor?.[0] ?? 0), hi = Math.max(0, ...values, floor?.[1] ?? 0);
  if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

/** Relative change of p(answer) per window centre, one line per source set with its standard-error band. */
export function knockoutChart(avgs: readonly KnockoutAverage[], method: KnockoutMethod, model: string, window = 10): string {
  const rows = avgs.filter((a) => a.method === method);
  const L = rows[0]?.mean.length ?? 0;
  const series: Series[] = rows.map((a) => ({ label: a.set, values: a.mean, band: a.se, color: SET_COLORS[a.set] ?? '#444' }));
  return lineChartSvg({
    title: `${model}: knockout to the last token, ${METHOD_NAMES[method]} (n = ${rows[0]?.n ?? 0})`, xTitle: `centre of the ${window}-layer window`, yTitle: 'relative change in p(answer)',
    xLabels: Array.from({ length: L }, (_, l) => String(l)), series, yRange: rangeOf(rows.flatMap((a) => a.mean.flatMap((m, l) => [m - a.se[l]!, m + a.se[l]!]))),
  });
}

/** Both methods on one chart: the paper's solid, the exact cut dashed, one colour per source set. */
export function comparisonChart(avgs: readonly KnockoutAverage[], model: string, window = 10): string {
  const L = avgs[0]?.mean.length ?? 0;
  const series: Series[] = avgs.map((a) => ({ label: `${a.set} (${a.method})`, values: a.mean, color: SET_COLORS[a.set] ?? '#444', dashed: a.method === 'cut' }));
  return lineChartSvg({
    title: `${model}: mean-ablation (solid) vs exact cut (dashed)`, xTitle: `centre of the ${window}-layer window`, yTitle: 'relative change in p(answer)',
    xLabels: Array.from({ length: L }, (_, l) => String(l)), series, yRange: rangeOf(avgs.flatMap((a) => a.mean)),
  });
}

/** Path blocking: per layer, the restoration's indirect effect alone and with each component severed. */
export function pathBlockingChart(avg: PathBlockingAverage, model: string): string {
  const parts = ['restore', ...Object.keys(avg.severed)];
  const of = (p: string) => (p === 'restore' ? avg.restore : avg.severed[p]!);
  return barChartSvg({
    title: `${model}: path blocking at the ${avg.token.replace('_', ' ')} token (n = ${avg.restore.n})`, yTitle: 'indirect effect (p − low)/(high − low)',
    seriesLabels: parts.map((p) => (p === 'restore' ? 'restored' : `${p} severed`)), colors: parts.map((p) => PART_COLORS[p] ?? '#444'),
    groups: avg.restore.mean.map((_, l) => ({ label: `layer ${l}`, values: parts.map((p) => of(p).mean[l]!) })),
    yRange: rangeOf(parts.flatMap((p) => of(p).mean), [0, 1]),
  });
}
