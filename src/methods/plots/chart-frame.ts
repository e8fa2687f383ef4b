/** The parts every chart shares: the SVG header, title, y gridlines with their labels, and the y-axis title. */
export interface Frame {
  W: number; H: number; L: number; R: number; T: number; B: number;
  y0: number; y1: number;
}

export const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Maps a value to its y pixel inside the frame. */
export function yScale(f: Frame): (v: number) => number {
  return (v: number) => f.T + (1 - (v - f.y0) / (f.y1 - f.y0)) * (f.H - f.T - f.B);
}

/** Opening tag, white background, title and five y gridlines with labels. */
export function frameStart(f: Frame, title: string): string[] {
  const y = yScale(f);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.W}" height="${f.H}" viewBox="0 0 ${f.W} ${f.H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">`,
    `<rect width="${f.W}" height="${f.H}" fill="white"/>`,
    `<text x="${(f.L + f.W - f.R) / 2}" y="20" text-anchor="middle" font-size="13">${esc(title)}</text>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const v = f.y0 + ((f.y1 - f.y0) * k) / 4;
    parts.push(`<line x1="${f.L}" x2="${f.W - f.R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`, `<text x="${f.L - 6}" y="${y(v) + 4}" text-anchor="end">${+v.toFixed(2)}</text>`);
  }
  return parts;
}

/** Both axes and the rotated y-axis title. */
export function frameAxes(f: Frame, yTitle: string): string[] {
  const base = yScale(f)(f.y0);
  return [
    `<line x1="${f.L}" x2="${f.W - f.R}" y1="${base}" y2="${base}" stroke="#444"/>`, `<line x1="${f.L}" x2="${f.L}" y1="${f.T}" y2="${base}" stroke="#444"/>`,
    `<text transform="translate(16 ${(f.T + f.H - f.B) / 2}) rotate(-90)" text-anchor="middle">${esc(yTitle)}</text>`,
  ];
}
