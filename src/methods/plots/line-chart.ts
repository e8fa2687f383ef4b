import { renameSync, writeFileSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';

export interface Series {
  label: string;
  /** One value per x position; null leaves a gap. */
  values: (number | null)[];
  color: string;
  dashed?: boolean;
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

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A line chart as SVG text: axes, gridlines, one polyline per series (gaps where values are null), a legend. */
export function lineChartSvg(c: LineChart): string {
  const W = 640, H = 360, L = 56, R = 150, T = 36, B = 48;
  const [y0, y1] = c.yRange ?? [0, 1];
  const n = c.xLabels.length;
  const x = (i: number) => L + (n <= 1 ? 0 : (i * (W - L - R)) / (n - 1));
  const y = (v: number) => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${(L + W - R) / 2}" y="20" text-anchor="middle" font-size="13">${esc(c.title)}</text>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const v = y0 + ((y1 - y0) * k) / 4;
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`, `<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${+v.toFixed(2)}</text>`);
  }
  const step = Math.max(1, Math.ceil(n / 16));
  c.xLabels.forEach((lab, i) => { if (i % step === 0 || i === n - 1) parts.push(`<text x="${x(i)}" y="${H - B + 16}" text-anchor="middle">${esc(lab)}</text>`); });
  parts.push(
    `<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#444"/>`, `<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#444"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 10}" text-anchor="middle">${esc(c.xTitle)}</text>`,
    `<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(c.yTitle)}</text>`,
  );
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
