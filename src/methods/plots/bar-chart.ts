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

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Grouped bars (one group per category, one bar per series) with rotated category labels, as SVG text. */
export function barChartSvg(c: BarChart): string {
  const groupW = 14 * c.seriesLabels.length + 10;
  const L = 56, R = 130, T = 36, B = 150;
  const W = Math.max(480, L + R + groupW * c.groups.length), H = 420;
  const [y0, y1] = c.yRange ?? [0, 1];
  const y = (v: number) => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${(L + W - R) / 2}" y="20" text-anchor="middle" font-size="13">${esc(c.title)}</text>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const v = y0 + ((y1 - y0) * k) / 4;
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`, `<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${+v.toFixed(2)}</text>`);
  }
  c.groups.forEach((g, i) => {
    const gx = L + 6 + i * groupW;
    g.values.forEach((v, s) => {
      if (v === null || Number.isNaN(v)) return;
      parts.push(`<rect x="${gx + s * 14}" y="${y(v)}" width="12" height="${y(y0) - y(v)}" fill="${c.colors[s]}"/>`);
    });
    const cx = gx + (groupW - 10) / 2;
    parts.push(`<text transform="translate(${cx} ${H - B + 10}) rotate(55)" text-anchor="start">${esc(g.label)}</text>`);
  });
  parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(y0)}" y2="${y(y0)}" stroke="#444"/>`, `<line x1="${L}" x2="${L}" y1="${T}" y2="${y(y0)}" stroke="#444"/>`,
    `<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(c.yTitle)}</text>`);
  c.seriesLabels.forEach((s, k) => {
    const ly = T + 14 + k * 16;
    parts.push(`<rect x="${W - R + 10}" y="${ly - 8}" width="12" height="10" fill="${c.colors[k]}"/>`, `<text x="${W - R + 28}" y="${ly + 1}">${esc(s)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
