export interface BarGroup {
  label: string;
  /** One value per series; null draws no bar. */
  values: (number | null)[];
}

export interface BarChart {
  title: string;
  yTitle: string;
  seriesLabels: string[];
  colors: string[];
  groups: BarGroup[];
  yRange?: [number, number];
}

import { esc, frameAxes, frameStart, yScale, type Frame } from './chart-frame.js';

/** Grouped bars (one group per category, one bar per series) with rotated category labels, as SVG text. */
export function barChartSvg(c: BarChart): string {
  const groupW = 14 * c.seriesLabels.length + 10;
  const L = 56, R = 130, T = 36, B = 150;
  const W = Math.max(480, L + R + groupW * c.groups.length), H = 420;
  const [y0, y1] = c.yRange ?? [0, 1];
  const frame: Frame = { W, H, L, R, T, B, y0, y1 };
  const y = yScale(frame);
  const parts = frameStart(frame, c.title);
  c.groups.forEach((g, i) => {
    const gx = L + 6 + i * groupW;
    g.values.forEach((v, s) => {
      if (v === null || Number.isNaN(v)) return;
      parts.push(`<rect x="${gx + s * 14}" y="${y(v)}" width="12" height="${y(y0) - y(v)}" fill="${c.colors[s]}"/>`);
    });
    const cx = gx + (groupW - 10) / 2;
    parts.push(`<text transform="translate(${cx} ${H - B + 10}) rotate(55)" text-anchor="start">${esc(g.label)}</text>`);
  });
  parts.push(...frameAxes(frame, c.yTitle));
  c.seriesLabels.forEach((s, k) => {
    const ly = T + 14 + k * 16;
    parts.push(`<rect x="${W - R + 10}" y="${ly - 8}" width="12" height="10" fill="${c.colors[k]}"/>`, `<text x="${W - R + 28}" y="${ly + 1}">${esc(s)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
