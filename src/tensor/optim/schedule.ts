import { FactlabError } from '../errors.js';

export interface WarmupCosineOptions {
  /** The learning rate at the end of warm-up. */
  peak: number;
  warmupSteps: number;
  totalSteps: number;
  /** Where the cosine ends (default 0). */
  min?: number;
}

/**
 * Linear warm-up from peak/warmupSteps to peak over the first warmupSteps steps, then half a cosine from peak down
 * to min at totalSteps (and min after it). Step numbers start at 0.
 */
export function warmupCosine(o: WarmupCosineOptions): (step: number) => number {
  const min = o.min ?? 0;
  if (!(o.peak >= min) || !(min >= 0)) throw new FactlabError(`warmupCosine: need peak ≥ min ≥ 0, got peak ${o.peak}, min ${min}`);
  if (!Number.isInteger(o.warmupSteps) || o.warmupSteps < 0 || !Number.isInteger(o.totalSteps) || o.totalSteps < o.warmupSteps) {
    throw new FactlabError(`warmupCosine: need integers 0 ≤ warmupSteps ≤ totalSteps, got ${o.warmupSteps} and ${o.totalSteps}`);
  }
  return (step: number) => {
    if (step < o.warmupSteps) return (o.peak * (step + 1)) / o.warmupSteps;
    const span = o.totalSteps - o.warmupSteps;
    if (span === 0 || step >= o.totalSteps) return min;
    const progress = (step - o.warmupSteps) / span;
    return min + 0.5 * (o.peak - min) * (1 + Math.cos(Math.PI * progress));
  };
}
