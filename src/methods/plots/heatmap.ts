import { colorAt, type ColormapName } from './colormaps.js';

/** A matrix drawn as coloured cells: rows labelled on the left (tokens), columns numbered below (layers). */
export interface HeatmapSpec {
  title: string;
  subtitle?: string;
  rowLabels: readonly string[];
  /** values[row][column]; a null row has no data and is drawn grey. */
  values: readonly (readonly number[] | null)[];
  colormap: ColormapName;
  xLabel: string;
  colorbarLabel: string;
  /** Rows whose labels are bold (the subject's tokens). */
  emphasise?: readonly number[];
  /** Value range of the colour scale (default: from min(0, smallest) to the largest value). */
  domain?: readonly [number, number];
}

const FONT = "font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\"";
// DejaVu Sans averages about 0.6 em per character; labels are laid out from this estimate (no font metrics here).
const charWidth = (size: number) => 0.62 * size;

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Control characters (a newline token) made visible, so that every row has a readable label. */
export function visibleToken(s: string): string {
  return s.replace(/[\u0000-\u001f]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

function niceStep(span: number, target: number): number {
  const raw = span / target;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
}

function fmtTick(v: number, step: number): string {
  const digits = Math.max(0, -Math.floor(Math.log10(step)));
  return v.toFixed(digits);
}

export function heatmapSvg(spec: HeatmapSpec): string {
  const rows = spec.values.length;
  const cols = spec.values.find((r) => r)?.length ?? 1;
  const finite = spec.values.flatMap((r) => r ?? []).filter(Number.isFinite);
  let [lo, hi] = spec.domain ?? [Math.min(0, ...finite), Math.max(...finite, -Infinity)];
  if (!(hi > lo)) hi = lo + 1;
  const fs = 12;
  const cellW = Math.max(8, Math.min(28, Math.floor(600 / cols)));
  // Few rows get taller cells, so that the colour bar's label fits beside the bar.
  const cellH = Math.min(48, Math.max(20, Math.ceil((spec.colorbarLabel.length * charWidth(fs - 1) + 12) / rows)));
  const labelW = Math.ceil(Math.max(...spec.rowLabels.map((l) => l.length), 4) * charWidth(fs)) + 14;
  const titleH = spec.subtitle ? 52 : 34;
  const gridW = cols * cellW, gridH = rows * cellH;
  const x0 = labelW, y0 = titleH;
  const barX = x0 + gridW + 18, barW = 14;
  // The axis label is centred under the grid unless a narrow grid (few layers) would push its start off the page.
  const xLabelHalf = (spec.xLabel.length * charWidth(fs)) / 2;
  const xLabelX = Math.max(x0 + gridW / 2, xLabelHalf + 8);
  const width = Math.max(barX + barW + 66, Math.ceil(xLabelX + xLabelHalf) + 10, Math.ceil(Math.max(spec.title.length * charWidth(15), (spec.subtitle?.length ?? 0) * charWidth(fs))) + 20);
  const height = y0 + gridH + 46;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="10" y="20" font-size="15" font-weight="bold">${escapeXml(spec.title)}</text>`);
  if (spec.subtitle) out.push(`<text x="10" y="40" font-size="${fs}" fill="#444">${escapeXml(spec.subtitle)}</text>`);
  const emph = new Set(spec.emphasise ?? []);
  spec.values.forEach((row, r) => {
    const y = y0 + r * cellH;
    if (!row) out.push(`<rect x="${x0}" y="${y}" width="${gridW}" height="${cellH}" fill="#eeeeee"/><text x="${x0 + gridW / 2}" y="${y + cellH / 2 + 4}" font-size="${fs - 2}" fill="#888" text-anchor="middle">no token of this kind</text>`);
    else row.forEach((v, c) => out.push(`<rect x="${x0 + c * cellW}" y="${y}" width="${cellW}" height="${cellH}" fill="${colorAt(spec.colormap, (v - lo) / (hi - lo))}"/>`));
    out.push(`<text x="${x0 - 6}" y="${y + cellH / 2 + 4}" font-size="${fs}" text-anchor="end"${emph.has(r) ? ' font-weight="bold"' : ''} xml:space="preserve">${escapeXml(visibleToken(spec.rowLabels[r] ?? ''))}</text>`);
  });
  out.push(`<rect x="${x0}" y="${y0}" width="${gridW}" height="${gridH}" fill="none" stroke="#555" stroke-width="0.8"/>`);
  const xStep = Math.max(1, niceStep(cols, 10));
  for (let c = 0; c < cols; c += xStep) {
    const x = x0 + (c + 0.5) * cellW;
    out.push(`<line x1="${x}" y1="${y0 + gridH}" x2="${x}" y2="${y0 + gridH + 4}" stroke="#555"/><text x="${x}" y="${y0 + gridH + 16}" font-size="${fs - 1}" text-anchor="middle">${c}</text>`);
  }
  out.push(`<text x="${xLabelX}" y="${y0 + gridH + 36}" font-size="${fs}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`);
  const steps = 64;
  for (let i = 0; i < steps; i++) {
    const y = y0 + gridH - ((i + 1) * gridH) / steps;
    out.push(`<rect x="${barX}" y="${y.toFixed(2)}" width="${barW}" height="${(gridH / steps + 0.5).toFixed(2)}" fill="${colorAt(spec.colormap, (i + 0.5) / steps)}"/>`);
  }
  out.push(`<rect x="${barX}" y="${y0}" width="${barW}" height="${gridH}" fill="none" stroke="#555" stroke-width="0.8"/>`);
  const vStep = niceStep(hi - lo, Math.max(2, Math.min(6, Math.floor(gridH / 30))));
  for (let v = Math.ceil(lo / vStep) * vStep; v <= hi + 1e-12; v += vStep) {
    const y = y0 + gridH - ((v - lo) / (hi - lo)) * gridH;
    out.push(`<line x1="${barX + barW}" y1="${y}" x2="${barX + barW + 4}" y2="${y}" stroke="#555"/><text x="${barX + barW + 7}" y="${y + 4}" font-size="${fs - 1}">${fmtTick(v, vStep)}</text>`);
  }
  const cy = y0 + gridH / 2, cx = barX + barW + 58;
  out.push(`<text x="${cx}" y="${cy}" font-size="${fs - 1}" text-anchor="middle" transform="rotate(-90 ${cx} ${cy})">${escapeXml(spec.colorbarLabel)}</text>`);
  out.push('</svg>');
  return out.join('\n');
}
