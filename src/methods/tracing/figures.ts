import type * as Fs from 'node:fs';
import type * as Path from 'node:path';
import { requireNodeBuiltin } from '../../tensor/node-builtins.js';
import { heatmapSvg } from '../plots/heatmap.js';
import { svgToPng } from '../plots/png.js';
import { normalise, type SixRowAverage } from './aggregate.js';
import type { TraceSite } from './sites.js';
import type { FactTrace, Normalisation } from './types.js';

const EFFECT: Record<Normalisation, string> = { ie: 'indirect effect (p − low)/(high − low)', romba: "romba's p/(high − low)" };

const xLabel = (s: TraceSite) => (s.window > 1 ? `layer (centre of the ${s.window}-layer window restored)` : 'layer');

const fmtP = (p: number) => (p >= 0.01 ? p.toFixed(3) : p.toExponential(1));

/** One prompt's matrix at one site, as the paper draws it: tokens down, layers across, the subject in bold. */
export function factHeatmap(trace: FactTrace, site: TraceSite, model: string, kind: Normalisation = 'ie'): string {
  const scores = trace.sites.find((s) => s.name === site.name)!.scores;
  const [s, e] = trace.subjectRange;
  const corrupted = trace.corruption === 'swap' ? `subject swapped for "${trace.altSubject}"` : 'noise on the subject';
  return heatmapSvg({
    title: `${site.label} · ${model}`,
    subtitle: `"${trace.prompt}" → "${trace.answer.text}": p = ${fmtP(trace.high)} clean, ${fmtP(trace.low)} with the ${corrupted}`,
    rowLabels: trace.tokens.map((t, i) => (i >= s && i < e ? `${t}*` : t)),
    emphasise: Array.from({ length: e - s }, (_, i) => s + i),
    values: scores.map((row) => row.map((p) => normalise(p, trace.high, trace.low, kind))),
    colormap: site.colormap,
    xLabel: xLabel(site),
    colorbarLabel: EFFECT[kind],
  });
}

const ROW_LABELS = ['prefix', 'subject (all but the last 2)', 'subject 2nd-to-last', 'subject last', 'further tokens', 'last token'];

/** A site's average over facts in the paper's six rows; each row label says how many facts it averages. */
export function averageHeatmap(avg: SixRowAverage, site: TraceSite, model: string, kind: Normalisation = 'ie'): string {
  const facts = Math.max(...avg.count);
  return heatmapSvg({
    title: `Average ${kind === 'ie' ? 'indirect effect' : 'effect'}: ${site.label} · ${model}`,
    subtitle: `${facts} fact${facts === 1 ? '' : 's'}${avg.excluded ? ` (${avg.excluded} left out: the corruption did not lower p)` : ''}`,
    rowLabels: ROW_LABELS.map((l, r) => (avg.count[r] === facts ? l : `${l} (${avg.count[r]})`)),
    values: avg.mean,
    colormap: site.colormap,
    xLabel: xLabel(site),
    colorbarLabel: EFFECT[kind],
  });
}

/** Writes `<name>.svg` and `<name>.png` in `dir`; returns their paths. */
export async function writeFigure(dir: string, name: string, svg: string): Promise<string[]> {
  // Reached at run time, so that the heatmaps above also build in a browser.
  const { mkdirSync, renameSync, writeFileSync } = requireNodeBuiltin<typeof Fs>('node:fs', 'writing figures');
  const { join } = requireNodeBuiltin<typeof Path>('node:path', 'writing figures');
  mkdirSync(dir, { recursive: true });
  const svgPath = join(dir, `${name}.svg`), pngPath = join(dir, `${name}.png`);
  // Through a temporary file each, so that an interrupted run never leaves half a figure.
  const put = (file: string, data: string | Uint8Array) => { writeFileSync(`${file}.tmp`, data); renameSync(`${file}.tmp`, file); };
  put(svgPath, svg);
  put(pngPath, await svgToPng(svg));
  return [svgPath, pngPath];
}
