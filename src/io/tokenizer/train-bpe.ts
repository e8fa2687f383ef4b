import { FactlabError } from '../../tensor/errors.js';
import { BYTE_OF_CHAR } from './byte-level.js';
import { learnMerges, MAX_VOCAB_SIZE } from './bpe-merges.js';
import { byteLevelBpeJson, type TokenizerJson } from './tokenizer-json.js';
import { WordCounter } from './word-counter.js';

export const DEFAULT_SPECIAL_TOKENS: readonly string[] = ['<|endoftext|>'];
export const DEFAULT_MIN_FREQUENCY = 2;

export type TrainBpeProgress =
  | { phase: 'count'; texts: number; chars: number; uniqueWords: number }
  | { phase: 'merge'; merges: number; vocab: number; target: number };

export interface TrainBpeOptions {
  /** Entries in the vocabulary, special tokens and the 256 byte symbols included. */
  vocabSize: number;
  /** Ids 0, 1, ... in this order; default ["<|endoftext|>"]. The first is end of text in tokenizer_config.json. */
  specialTokens?: readonly string[];
  /** A pair must occur at least this often to be merged (default 2). When no pair does any more, learning stops
   *  and the vocabulary is smaller than `vocabSize`. */
  minFrequency?: number;
  /** Give the tokenizer an NFC normalizer (as GPT-NeoX-20B's), and train on NFC text. Default false: no
   *  normalizer, so that decode inverts encode on every string. */
  nfc?: boolean;
  onProgress?: (progress: TrainBpeProgress) => void;
}

interface Checked {
  vocabSize: number;
  specialTokens: readonly string[];
  minFrequency: number;
  nfc: boolean;
}

/** Checks the options before any text is read, so that a mistake costs nothing. */
export function checkTrainBpeOptions(options: TrainBpeOptions): Checked {
  const specialTokens = options.specialTokens ?? DEFAULT_SPECIAL_TOKENS;
  if (!Array.isArray(specialTokens)) throw new FactlabError('specialTokens: expected an array of strings');
  const seen = new Set<string>();
  for (const t of specialTokens) {
    if (typeof t !== 'string' || t.length === 0) throw new FactlabError(`specialTokens: ${JSON.stringify(t)} is not a non-empty string`);
    if (seen.has(t)) throw new FactlabError(`specialTokens: ${JSON.stringify(t)} is given twice`);
    if (BYTE_OF_CHAR.has(t)) throw new FactlabError(`specialTokens: ${JSON.stringify(t)} is one of the 256 byte symbols`);
    seen.add(t);
  }
  const minimum = specialTokens.length + 256;
  const { vocabSize } = options;
  if (!Number.isInteger(vocabSize) || vocabSize < minimum || vocabSize > MAX_VOCAB_SIZE) {
    throw new FactlabError(`vocabSize must be an integer from ${minimum} (256 byte symbols + ${specialTokens.length} special tokens) to ${MAX_VOCAB_SIZE}, got ${vocabSize}`);
  }
  const minFrequency = options.minFrequency ?? DEFAULT_MIN_FREQUENCY;
  if (!Number.isInteger(minFrequency) || minFrequency < 1) throw new FactlabError(`minFrequency must be an integer ≥ 1, got ${minFrequency}`);
  return { vocabSize, specialTokens: [...specialTokens], minFrequency, nfc: options.nfc ?? false };
}

/** A word counter set up for these options (special tokens cut out, NFC if asked), for callers that stream text. */
export function wordCounterFor(options: TrainBpeOptions): WordCounter {
  const o = checkTrainBpeOptions(options);
  return new WordCounter({ specialTokens: o.specialTokens, nfc: o.nfc });
}

/** Learns the merges from counted words (made by `wordCounterFor` with the same options) and builds tokenizer.json. */
export function trainByteLevelBpeFromCounts(counter: WordCounter, options: TrainBpeOptions): TokenizerJson {
  const o = checkTrainBpeOptions(options);
  const { vocab, merges } = learnMerges(counter.counts, {
    vocabSize: o.vocabSize,
    specialTokens: o.specialTokens,
    minFrequency: o.minFrequency,
    onProgress: (m, v) => options.onProgress?.({ phase: 'merge', merges: m, vocab: v, target: o.vocabSize }),
  });
  return byteLevelBpeJson(vocab, merges, o.specialTokens, o.nfc);
}

/**
 * Trains a GPT-2-style byte-level BPE tokenizer and returns its tokenizer.json (write it with
 * `writeTokenizerJson`). Every string encodes, since all 256 bytes are in the vocabulary; the same texts and
 * options give the same file, byte for byte. Memory grows with the number of distinct words, not with the text.
 */
export async function trainByteLevelBpe(texts: Iterable<string> | AsyncIterable<string>, options: TrainBpeOptions): Promise<TokenizerJson> {
  const counter = wordCounterFor(options);
  let n = 0;
  for await (const text of texts) {
    if (typeof text !== 'string') throw new FactlabError(`texts: item ${n} is ${text === null ? 'null' : typeof text}, not a string`);
    counter.add(text);
    n++;
    options.onProgress?.({ phase: 'count', texts: counter.texts, chars: counter.chars, uniqueWords: counter.counts.size });
  }
  return trainByteLevelBpeFromCounts(counter, options);
}
