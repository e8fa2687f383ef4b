import { Rng } from '../../tensor/random.js';
import type { TraceInput } from './types.js';

/**
 * Hand-made trace inputs for tests, as token ids (no tokenizer): a clean prompt of 6 tokens whose subject is
 * columns 1..3, corrupted by another two-token subject; the same with a one-token clean subject, left-padded so
 * that the subjects end together; and noise on the subject's embeddings.
 */
export function swapInput(mask = true): TraceInput {
  return { ids: new Int32Array([5, 9, 2, 7, 31, 4, 5, 12, 13, 7, 31, 4]), mask: mask ? new Int32Array(12).fill(1) : null, T: 6, subject: { start: 1, end: 3 }, first: 0, noise: null };
}

export function paddedSwapInput(mask = true): TraceInput {
  // Clean: [pad] 5 9 | 7 31 4 (subject "9" at column 2); corrupted: 5 12 13 | 7 31 4 (subject columns 1..2).
  return {
    ids: new Int32Array([0, 5, 9, 7, 31, 4, 5, 12, 13, 7, 31, 4]),
    mask: mask ? new Int32Array([0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]) : null,
    T: 6, subject: { start: 2, end: 3 }, first: 1, noise: null,
  };
}

export function noiseInput(samples: number, dModel: number, seed = 1): TraceInput {
  const rng = new Rng(seed);
  const T = 6, subject = { start: 1, end: 3 };
  const noise = Array.from({ length: samples }, () => {
    const x = new Float32Array(T * dModel);
    for (let t = subject.start; t < subject.end; t++) for (let j = 0; j < dModel; j++) x[t * dModel + j] = 3 * rng.normal();
    return x;
  });
  return { ids: new Int32Array([5, 9, 2, 7, 31, 4, 5, 9, 2, 7, 31, 4]), mask: null, T, subject, first: 0, noise };
}
