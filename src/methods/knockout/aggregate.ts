import type { FactKnockout, KnockoutMethod } from './knockout.js';
import type { FactPathBlocking } from './path-blocking.js';
import type { SourceSet } from './sources.js';

/** Mean and standard error of the mean per layer, over facts. */
export interface MeanSe {
  mean: number[];
  se: number[];
  n: number;
}

export function meanSe(rows: readonly (readonly number[])[]): MeanSe {
  const n = rows.length, L = rows[0]?.length ?? 0;
  const mean = Array.from({ length: L }, (_, l) => rows.reduce((s, r) => s + r[l]!, 0) / n);
  const se = mean.map((m, l) => (n < 2 ? 0 : Math.sqrt(rows.reduce((s, r) => s + (r[l]! - m) ** 2, 0) / (n - 1) / n)));
  return { mean, se, n };
}

export interface KnockoutAverage extends MeanSe { method: KnockoutMethod; set: SourceSet }

export function averageKnockout(facts: readonly FactKnockout[]): KnockoutAverage[] {
  const first = facts[0];
  if (!first) return [];
  return first.curves.map((c, k) => ({ method: c.method, set: c.set, ...meanSe(facts.map((f) => f.curves[k]!.relative)) }));
}

/** Where the paper's mean-ablation and the exact cut disagree, for one source set. */
export interface MethodComparison {
  set: SourceSet;
  /** Per layer: mean over facts of (cut − mean) relative change. */
  difference: number[];
  /** Pearson correlation of the two methods' relative changes over all (fact, layer) pairs. */
  correlation: number;
  /** The layers where the two means differ most, largest first. */
  largest: { layer: number; mean: number; cut: number }[];
}

function pearson(a: readonly number[], b: readonly number[]): number {
  const n = a.length, ma = a.reduce((s, x) => s + x, 0) / n, mb = b.reduce((s, x) => s + x, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) { sab += (a[i]! - ma) * (b[i]! - mb); saa += (a[i]! - ma) ** 2; sbb += (b[i]! - mb) ** 2; }
  return saa === 0 || sbb === 0 ? NaN : sab / Math.sqrt(saa * sbb);
}

export function compareMethods(facts: readonly FactKnockout[], averages: readonly KnockoutAverage[]): MethodComparison[] {
  const out: MethodComparison[] = [];
  for (const m of averages.filter((a) => a.method === 'mean')) {
    const c = averages.find((a) => a.method === 'cut' && a.set === m.set);
    if (!c) continue;
    const all = (method: KnockoutMethod) => facts.flatMap((f) => f.curves.find((x) => x.method === method && x.set === m.set)!.relative);
    const difference = c.mean.map((v, l) => v - m.mean[l]!);
    const largest = difference.map((d, layer) => ({ layer, d })).sort((x, y) => Math.abs(y.d) - Math.abs(x.d)).slice(0, 3)
      .map(({ layer }) => ({ layer, mean: m.mean[layer]!, cut: c.mean[layer]! }));
    out.push({ set: m.set, difference, correlation: pearson(all('mean'), all('cut')), largest });
  }
  return out;
}

export interface PathBlockingAverage {
  token: string;
  restore: MeanSe;
  severed: Record<string, MeanSe>;
}

/**
 * Averages over facts whose corruption lowered p(answer) (high > low): the others have no indirect effect to take
 * (`all` keeps them, to draw a single fact whatever its numbers).
 */
export function averagePathBlocking(facts: readonly FactPathBlocking[], all = false): PathBlockingAverage[] {
  const ok = facts.filter((f) => all || f.high > f.low);
  const first = ok[0];
  if (!first) return [];
  return first.curves.map((c, k) => ({
    token: c.token,
    restore: meanSe(ok.map((f) => f.curves[k]!.restore)),
    severed: Object.fromEntries(Object.keys(c.severed).map((comp) => [comp, meanSe(ok.map((f) => f.curves[k]!.severed[comp]!))])),
  }));
}
