import type { Shape } from '../../shape.js';
import { stridesOf } from '../../shape.js';

/**
 * Walks a broadcast of `a` and `b` to `out` one innermost row at a time, so that kernels run a tight loop per
 * row: fn(outStart, aStart, aStep, bStart, bStep, length), steps being 0 where that operand is broadcast.
 */
export function forEachBroadcastRow(
  out: Shape, a: Shape, b: Shape,
  fn: (oi: number, ai: number, as: number, bi: number, bs: number, len: number) => void,
): void {
  const n = out.length;
  if (n === 0) { fn(0, 0, 0, 0, 0, 1); return; }
  const bstr = (s: Shape) => {
    const st = stridesOf(s);
    return out.map((_, i) => {
      const j = i - (n - s.length);
      return j < 0 || s[j] === 1 ? 0 : st[j]!;
    });
  };
  const sa = bstr(a), sb = bstr(b);
  const len = out[n - 1]!;
  const rows = len === 0 ? 0 : out.reduce((x, d) => x * d, 1) / len;
  const idx = new Array<number>(n - 1).fill(0);
  let ai = 0, bi = 0;
  for (let r = 0; r < rows; r++) {
    fn(r * len, ai, sa[n - 1]!, bi, sb[n - 1]!, len);
    for (let d = n - 2; d >= 0; d--) {
      idx[d]!++;
      ai += sa[d]!; bi += sb[d]!;
      if (idx[d]! < out[d]!) break;
      ai -= sa[d]! * out[d]!; bi -= sb[d]! * out[d]!;
      idx[d] = 0;
    }
  }
}
