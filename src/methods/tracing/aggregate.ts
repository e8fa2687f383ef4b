import { SIX_ROWS, type FactTrace, type Normalisation, type SixRow } from './types.js';

/**
 * The traced tokens of each of the paper's six rows, for n tokens whose subject is [start, end). A row with no
 * token is empty: the prefix of a prompt that starts with its subject, the subject's second-to-last and earlier
 * tokens of a single-token subject, the tokens between a subject and the last token when there are none. romba
 * averages an empty slice (NaN) or fills zeros there, and for a single-token subject takes the token before it as
 * the "second-to-last"; here an empty row is left out of that fact, and averages count the facts that have it.
 * When the subject ends the prompt, its last token is also the last token, and both rows take it, as in romba.
 */
export function sixRowTokens(n: number, [start, end]: readonly [number, number]): Record<SixRow, number[]> {
  const range = (a: number, b: number) => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
  return {
    prefix: range(0, start),
    'subject_[:-2]': range(start, end - 2),
    subject_2nd_last: end - start >= 2 ? [end - 2] : [],
    subject_last: [end - 1],
    further_tokens: range(end, n - 1),
    last_token: [n - 1],
  };
}

/**
 * The indirect effect of p(answer) = p: (p − low)/(high − low), 0 when restoring does nothing and 1 when it
 * restores the clean probability ('ie', the default); or romba's aggregate p/(high − low), which does not
 * subtract low and so is offset by low/(high − low) everywhere ('romba').
 */
export function normalise(p: number, high: number, low: number, kind: Normalisation): number {
  return (kind === 'ie' ? p - low : p) / (high - low);
}

/** One fact's matrix (tokens × layers) collapsed to the six rows: each row's tokens averaged, or null where it has none. */
export function collapseSixRows(matrix: readonly (readonly number[])[], subjectRange: readonly [number, number]): (number[] | null)[] {
  const rows = sixRowTokens(matrix.length, subjectRange);
  const L = matrix[0]?.length ?? 0;
  return SIX_ROWS.map((name) => {
    const idx = rows[name];
    if (idx.length === 0) return null;
    return Array.from({ length: L }, (_, l) => idx.reduce((a, t) => a + matrix[t]![l]!, 0) / idx.length);
  });
}

export interface SixRowAverage {
  rows: readonly SixRow[];
  /** mean[r][l] over the facts that have row r (null where none has it). */
  mean: (number[] | null)[];
  /** How many facts each row's mean is over. */
  count: number[];
  /** Facts left out because the corruption did not lower p(answer) (high ≤ low: nothing to restore). */
  excluded: number;
}

/**
 * The average indirect effect of a site over facts, in the six rows: each fact's matrix normalised by its own
 * high and low, collapsed, then averaged row by row.
 */
export function averageSixRows(traces: readonly FactTrace[], siteName: string, kind: Normalisation = 'ie'): SixRowAverage {
  const sum: (number[] | null)[] = SIX_ROWS.map(() => null);
  const count = SIX_ROWS.map(() => 0);
  let excluded = 0;
  for (const f of traces) {
    const site = f.sites.find((s) => s.name === siteName);
    if (!site) continue;
    if (!(f.high > f.low)) { excluded++; continue; }
    const normalised = site.scores.map((row) => row.map((p) => normalise(p, f.high, f.low, kind)));
    collapseSixRows(normalised, f.subjectRange).forEach((row, r) => {
      if (!row) return;
      const acc = (sum[r] ??= new Array<number>(row.length).fill(0));
      row.forEach((v, l) => { acc[l]! += v; });
      count[r]!++;
    });
  }
  return { rows: SIX_ROWS, mean: sum.map((s, r) => s && s.map((v) => v / count[r]!)), count, excluded };
}
