import { FactlabError } from '../../tensor/errors.js';
import { byteAlphabet, CHAR_OF_BYTE } from './byte-level.js';
import { PairHeap } from './pair-heap.js';

export interface LearnMergesOptions {
  /** Entries of the final vocabulary: special tokens, the 256 byte symbols and the merged tokens. */
  vocabSize: number;
  /** Given the first ids, in this order. */
  specialTokens: readonly string[];
  /** Learning stops when the most frequent pair occurs fewer times than this. */
  minFrequency: number;
  onProgress?: (merges: number, vocab: number) => void;
}

export interface LearnedBpe {
  /** vocab[id] is the token's byte-level spelling (special tokens as they are). */
  vocab: string[];
  /** In the order learned, which is the order of priority when encoding. */
  merges: [string, string][];
}

// Pair keys are left·2^21 + right (exact in a double), so ids must stay below 2^21.
const ID_LIMIT = 1 << 21;
export const MAX_VOCAB_SIZE = ID_LIMIT;

/**
 * Learns byte-level BPE merges from word counts. Each step merges, in every word, the pair of adjacent tokens
 * with the highest count (occurrences weighted by the word's count); among equal counts the pair whose left
 * token has the smallest id wins, then the smallest right id. Ids are numbered as in the output: special tokens,
 * then the byte symbols in code-point order, then merged tokens in the order learned. This is the rule of Hugging
 * Face's BpeTrainer, and simple for a reference to replicate.
 *
 * Learning goes on until the vocabulary has `vocabSize` entries, or no pair reaches `minFrequency`. A merge whose
 * result were already in the vocabulary ("ab"+"c" after "a"+"bc") would be kept as a merge without adding an
 * entry, as in Hugging Face's trainer; no corpus tried (random ones included) has produced one.
 *
 * Cost: the counts are updated incrementally, touching only the words that contain the merged pair (found through
 * a list of words per pair), and the next pair comes from a heap, never from a recount.
 */
export function learnMerges(wordCounts: ReadonlyMap<string, number>, options: LearnMergesOptions): LearnedBpe {
  const { vocabSize, specialTokens, minFrequency, onProgress } = options;
  if (vocabSize > ID_LIMIT) throw new FactlabError(`vocabSize ${vocabSize} is above the limit of ${ID_LIMIT}`);

  const vocab: string[] = [...specialTokens, ...byteAlphabet()];
  const idOf = new Map<string, number>();
  vocab.forEach((t, id) => idOf.set(t, id));
  const idOfByte = Int32Array.from(CHAR_OF_BYTE, (c) => idOf.get(c)!);

  // Words as runs of token ids in one pool, merged in place (a word only gets shorter).
  const encoder = new TextEncoder();
  let total = 0;
  const bytesOf: Uint8Array[] = [];
  const freq = new Float64Array(wordCounts.size);
  let nWords = 0;
  for (const [word, count] of wordCounts) {
    const b = encoder.encode(word);
    bytesOf.push(b);
    freq[nWords++] = count;
    total += b.length;
  }
  const sym = new Int32Array(total);
  const start = new Int32Array(nWords);
  const len = new Int32Array(nWords);
  let at = 0;
  for (let w = 0; w < nWords; w++) {
    const b = bytesOf[w]!;
    start[w] = at;
    len[w] = b.length;
    for (let i = 0; i < b.length; i++) sym[at++] = idOfByte[b[i]!]!;
  }
  bytesOf.length = 0;

  const pairCount = new Map<number, number>();
  // The words that may hold each pair: a word is listed when the pair appears in it, and not unlisted when the
  // pair disappears, so entries can be stale or repeated; the merge step checks the word itself.
  const pairWords = new Map<number, number[]>();
  const listWord = (key: number, w: number) => {
    const list = pairWords.get(key);
    if (list === undefined) pairWords.set(key, [w]);
    else if (list[list.length - 1] !== w) list.push(w);
  };
  for (let w = 0; w < nWords; w++) {
    const s = start[w]!;
    const f = freq[w]!;
    for (let i = s; i < s + len[w]! - 1; i++) {
      const key = sym[i]! * ID_LIMIT + sym[i + 1]!;
      pairCount.set(key, (pairCount.get(key) ?? 0) + f);
      listWord(key, w);
    }
  }
  const heap = new PairHeap();
  for (const [key, count] of pairCount) heap.push(count, key);

  // Pairs whose count rose during one merge step; pushed once at the end of the step.
  const risen = new Set<number>();
  const add = (a: number, b: number, f: number, w: number) => {
    const key = a * ID_LIMIT + b;
    pairCount.set(key, (pairCount.get(key) ?? 0) + f);
    listWord(key, w);
    risen.add(key);
  };
  const sub = (a: number, b: number, f: number) => {
    const key = a * ID_LIMIT + b;
    const c = pairCount.get(key)! - f;
    if (c === 0) {
      pairCount.delete(key);
      pairWords.delete(key);
    } else pairCount.set(key, c);
  };

  const seen = new Int32Array(nWords).fill(-1);
  const merges: [string, string][] = [];
  while (vocab.length < vocabSize) {
    const top = heap.pop();
    if (top === undefined) break;
    const live = pairCount.get(top.key) ?? 0;
    if (live !== top.count) {
      // Stale. A count that rose was pushed anew when it rose; one that fell goes back with its live value.
      if (live > 0 && live < top.count) heap.push(live, top.key);
      continue;
    }
    if (top.count < minFrequency) break;

    const left = Math.floor(top.key / ID_LIMIT);
    const right = top.key - left * ID_LIMIT;
    const merged = vocab[left]! + vocab[right]!;
    let id = idOf.get(merged);
    if (id === undefined) {
      id = vocab.length;
      vocab.push(merged);
      idOf.set(merged, id);
    }
    merges.push([vocab[left]!, vocab[right]!]);

    const words = pairWords.get(top.key)!;
    const step = merges.length;
    for (const w of words) {
      if (seen[w] === step) continue;
      seen[w] = step;
      const s = start[w]!;
      const end = s + len[w]!;
      const f = freq[w]!;
      // Left to right, non-overlapping, as encoding does; neighbours are read from the already merged prefix
      // (j), so that runs such as "a a a" are counted exactly.
      let j = s;
      let i = s;
      while (i < end) {
        if (i + 1 < end && sym[i] === left && sym[i + 1] === right) {
          if (j > s) {
            sub(sym[j - 1]!, left, f);
            add(sym[j - 1]!, id, f, w);
          }
          if (i + 2 < end) {
            sub(right, sym[i + 2]!, f);
            add(id, sym[i + 2]!, f, w);
          }
          sub(left, right, f);
          sym[j++] = id;
          i += 2;
        } else {
          sym[j++] = sym[i++]!;
        }
      }
      len[w] = j - s;
    }
    for (const key of risen) {
      const c = pairCount.get(key);
      if (c !== undefined) heap.push(c, key);
    }
    risen.clear();
    if (onProgress && (step & 63) === 0) onProgress(step, vocab.length);
  }
  onProgress?.(merges.length, vocab.length);
  return { vocab, merges };
}
