import { interpolateBlues, interpolateGreens, interpolateGreys, interpolateOranges, interpolatePurples, interpolateReds } from 'd3-scale-chromatic';

/** The sequential schemes the paper's figures use (matplotlib's, which d3 reproduces from ColorBrewer). */
export type ColormapName = 'Purples' | 'Greens' | 'Reds' | 'Blues' | 'Oranges' | 'Greys';

const SCHEMES: Record<ColormapName, (t: number) => string> = {
  Purples: interpolatePurples,
  Greens: interpolateGreens,
  Reds: interpolateReds,
  Blues: interpolateBlues,
  Oranges: interpolateOranges,
  Greys: interpolateGreys,
};

/** The colour of t ∈ [0, 1] (clamped) in a scheme, as a CSS colour. */
export function colorAt(scheme: ColormapName, t: number): string {
  return SCHEMES[scheme](Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)));
}
