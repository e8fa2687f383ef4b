import type { TokenSpan } from '../../io/tokenizer/span.js';

/**
 * One prompt laid out for tracing, as token ids: row 0 is the clean prompt and row 1 the corrupted one, both T
 * columns wide. Subject swap left-pads the shorter row so that the two subjects end in the same column (and so do
 * the prompts, whose text after the subject is the same); noise leaves both rows the clean ids and adds noise to
 * the subject's embeddings.
 */
export interface TraceInput {
  /** [2, T] row-major: clean, corrupted. */
  ids: Int32Array;
  /** [2, T]: 1 on real tokens, 0 on left padding; null runs the pads as ordinary tokens (romba's Mamba). */
  mask: Int32Array | null;
  T: number;
  /** The clean subject's columns. */
  subject: TokenSpan;
  /** The clean prompt's first column: columns first..T−1 are traced (the rows of every matrix). */
  first: number;
  /** Noise corruption: one [T, d] addition to the embeddings per sample, zero outside the subject. */
  noise: Float32Array[] | null;
}

/** How the corrupted run differs from the clean one. */
export type Corruption =
  /** The paper's: the prompt with another subject of the same relation (whose object differs). */
  | { kind: 'swap' }
  /**
   * ROME's: Gaussian noise of std `scale`·σ on the subject's token embeddings, σ being the std of the embedding
   * matrix (or `std` if given), averaged over `samples` draws.
   */
  | { kind: 'noise'; samples?: number; scale?: number; std?: number };

/** The noise of a noise-corrupted trace: samples of N(0, std²) on the subject's embeddings, drawn from `seed`. */
export interface NoiseSettings { samples: number; scale: number; sigma: number; std: number; seed: number }

/** The first rows of the six-row aggregation, by name, in the paper's order. */
export const SIX_ROWS = ['prefix', 'subject_[:-2]', 'subject_2nd_last', 'subject_last', 'further_tokens', 'last_token'] as const;
export type SixRow = (typeof SIX_ROWS)[number];

/** p(answer) / (high − low) as romba's average_indirect_effects, or the true indirect effect (p − low) / (high − low). */
export type Normalisation = 'ie' | 'romba';

/** One site's matrix for one prompt. */
export interface SiteScores {
  name: string;
  site: string;
  window: number;
  /** scores[i][l]: p(answer) with the site restored at traced token i (column first + i) in the window of layer l. */
  scores: number[][];
}

/** Everything measured for one prompt. */
export interface FactTrace {
  prompt: string;
  subject: string;
  object?: string;
  /** Subject swap: the subject of the corrupted prompt. */
  altSubject?: string;
  corruption: 'swap' | 'noise';
  /** Noise: how it was drawn (std = scale·sigma, sigma the embedding matrix's std unless given), so a run can be repeated. */
  noise?: NoiseSettings;
  /** The clean prompt's tokens (decoded one by one), the rows of every matrix. */
  tokens: string[];
  /** The subject's tokens [start, end) in `tokens`. */
  subjectRange: [number, number];
  /** The clean run's top-1 next token, whose probability every number here is. */
  answer: { id: number; text: string };
  /** p(answer) in the clean run and in the corrupted run (the mean over noise samples). */
  high: number;
  low: number;
  sites: SiteScores[];
}
