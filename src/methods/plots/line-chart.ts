import { renameSync, writeFileSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';

export interface Series {
  label: string;
  /** One value per x position; null leaves a gap. */
  values: (number | null)[];
  color: string;
  dashed?: boolean;
  /** Half-width of a shaded band around each value (a standard error, say); null leaves none there. */
  band?: (number | null)[];
}

export interface LineChart {
  title: string;
  xLabels: string[];
  xTitle: string;
  yTitle: string;
  series: Series[];
  /** Fixed y range (default: 0 to 1, the range of every LRE and tracing score). */
  yRange?: [number, number];
}

import { esc, frameAxes, frameStart, yScale, type Frame } from './chart-frame.js';

/** A line chart as SVG text: axes, gridlines, one polyline per series (gaps where values are null), a legend. */
export function lineChartSvg(c: LineChart): string {
  const W = 640, H = 360, L = 56, R = 150, T = 36, B = 48;
  const [y0, y1] = c.yRange ?? [0, 1];
  const n = c.xLabels.length;
  const x = (i: number) => L + (n <= 1 ? 0 : (i * (W - L - R)) / (n - 1));
  const frame: Frame = { W, H, L, R, T, B, y0, y1 };
  const y = yScale(frame);
  const parts = frameStart(frame, c.title);
  const step = Math.max(1, Math.ceil(n / 16));
  c.xLabels.forEach((lab, i) => { if (i % step === 0 || i === n - 1) parts.push(`<text x="${x(i)}" y="${H - B + 16}" text-anchor="middle">${esc(lab)}</text>`); });
  parts.push(...frameAxes(frame, c.yTitle), `<text x="${(L + W - R) / 2}" y="${H - 10}" text-anchor="middle">${esc(c.xTitle)}</text>`);
  for (const s of c.series) parts.push(...bandPolygons(s, x, y));
  c.series.forEach((s, k) => {
    let path = '';
    s.values.forEach((v, i) => { if (v === null || Number.isNaN(v)) { path += ' '; return; } path += `${path.endsWith(' ') || path === '' ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`; });
    parts.push(`<path d="${path.trim()}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    const ly = T + 14 + k * 16;
    parts.push(`<line x1="${W - R + 10}" x2="${W - R + 30}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`, `<text x="${W - R + 35}" y="${ly + 4}">${esc(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Writes `<base>.svg` and `<base>.png` (each to a temporary name first, then renamed). */
export function writeChart(base: string, svg: string): void {
  const put = (file: string, data: string | Buffer) => { writeFileSync(`${file}.tmp`, data); renameSync(`${file}.tmp`, file); };
  put(`${base}.svg`, svg);
  put(`${base}.png`, new Resvg(svg, { background: 'white', fitTo: { mode: 'zoom', value: 2 } }).render().asPng());
}

/** The shaded band of a series as one polygon per run of positions that have both a value and a band. */
function bandPolygons(s: Series, x: (i: number) => number, y: (v: number) => number): string[] {
  if (!s.band) return [];
  const ok = (i: number) => s.values[i] != null && !Number.isNaN(s.values[i]) && s.band![i] != null && !Number.isNaN(s.band![i]);
  const out: string[] = [];
  for (let i = 0; i < s.values.length;) {
    if (!ok(i)) { i++; continue; }
    let j = i;
    while (j + 1 < s.values.length && ok(j + 1)) j++;
    const idx = Array.from({ length: j - i + 1 }, (_, k) => i + k);
    const pt = (n: number, sign: number) => `${x(n).toFixed(1)},${y(s.values[n]! + sign * s.band![n]!).toFixed(1)}`;
    out.push(`<polygon points="${[...idx.map((n) => pt(n, 1)), ...idx.reverse().map((n) => pt(n, -1))].join(' ')}" fill="${s.color}" fill-opacity="0.18" stroke="none"/>`);
    i = j + 1;
  }
  return out;
}
