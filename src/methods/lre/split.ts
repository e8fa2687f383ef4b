import { Rng } from '../../tensor/random.js';

export interface Split {
  train: { subject: string; object: string }[];
  test: { subject: string; object: string }[];
}

/**
 * A train/test split for one trial. Training examples are drawn to cover as many distinct objects as possible
 * (Hernandez et al. cycle objects when they choose examples), so that the in-context prompt shows the relation
 * rather than one repeated answer; the rest are test samples.
 */
export function splitSamples(samples: readonly { subject: string; object: string }[], nTrain: number, seed: number): Split {
  const rng = new Rng(seed);
  const order = rng.shuffle([...samples.keys()]);
  const byObject = new Map<string, number[]>();
  for (const i of order) {
    const key = samples[i]!.object.trim().toLowerCase();
    byObject.set(key, [...(byObject.get(key) ?? []), i]);
  }
  const chosen: number[] = [];
  const queues = [...byObject.values()];
  for (let round = 0; chosen.length < Math.min(nTrain, samples.length); round++) {
    for (const q of queues) if (q.length > round && chosen.length < nTrain) chosen.push(q[round]!);
  }
  const inTrain = new Set(chosen);
  return { train: chosen.map((i) => samples[i]!), test: order.filter((i) => !inTrain.has(i)).map((i) => samples[i]!) };
}
