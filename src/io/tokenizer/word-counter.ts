import { FactlabError } from '../../tensor/errors.js';
import { GPT2_PRETOKENIZE } from './byte-level.js';

export interface WordCounterOptions {
  /** Cut out of the text before counting, as the tokenizer cuts them out before pre-tokenizing. */
  specialTokens?: readonly string[];
  /** Count NFC-normalized text, for a tokenizer whose normalizer is NFC. */
  nfc?: boolean;
  /** Pre-tokenize long texts in pieces of about this many characters (default 2^20); tests make it small. */
  pieceChars?: number;
}

// Long texts are pre-tokenized in pieces of about this many characters, so that the array of matches stays small.
const PIECE = 1 << 20;
// A text with no safe place to cut (see safeCut) is taken whole once it reaches this many pieces.
const MAX_CARRY_PIECES = 16;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const LETTER = /^\p{L}$/u;
const NUMBER = /^\p{N}$/u;

function charClass(text: string, i: number): 'L' | 'N' | 'other' {
  const c = text.charCodeAt(i);
  if (c < 128) return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) ? 'L' : c >= 48 && c <= 57 ? 'N' : 'other';
  const ch = String.fromCodePoint(text.codePointAt(i)!);
  return LETTER.test(ch) ? 'L' : NUMBER.test(ch) ? 'N' : 'other';
}

/** A copy of a string that shares no memory with the string it was cut from (V8 keeps substrings of 13 or more
 *  characters as views of their parent; concatenating then slicing flattens into a new string of its own). */
const detach = (s: string): string => (s.length < 13 ? s : (' ' + s).slice(1));

/**
 * Counts the pre-tokenized words of a stream of texts: the whole input a BPE trainer needs, in memory bounded by
 * the number of distinct words (a few hundred thousand for 50 MB of Wikipedia), not by the size of the input.
 */
export class WordCounter {
  /** Each distinct pre-tokenized word (as text, before the byte mapping) and how often it occurred. */
  readonly counts = new Map<string, number>();
  texts = 0;
  /** UTF-16 code units read. */
  chars = 0;
  words = 0;
  private carry = '';
  private open = false;
  private readonly special: RegExp | null;
  private readonly specialTokens: readonly string[];
  private readonly nfc: boolean;
  private readonly piece: number;

  constructor(options: WordCounterOptions = {}) {
    this.specialTokens = options.specialTokens ?? [];
    this.nfc = options.nfc ?? false;
    this.piece = options.pieceChars ?? PIECE;
    // Longest first, so that a special token containing another is cut out whole.
    const sorted = [...this.specialTokens].sort((a, b) => b.length - a.length);
    this.special = sorted.length > 0 ? new RegExp(sorted.map(escapeRegExp).join('|'), 'g') : null;
  }

  /** Counts one whole text. */
  add(text: string): void {
    this.feed(text);
    this.end();
  }

  /** Counts part of a text that arrives in pieces (a file read in chunks); `end()` after its last piece. */
  feed(piece: string): void {
    if (typeof piece !== 'string') throw new FactlabError(`word counter: expected a string, got ${piece === null ? 'null' : typeof piece}`);
    this.chars += piece.length;
    this.open = true;
    let buf = this.carry + piece;
    while (buf.length >= this.piece) {
      let cut = this.safeCut(buf, this.piece);
      if (cut <= 0) {
        if (buf.length < MAX_CARRY_PIECES * this.piece) break;
        cut = buf.length;
      }
      this.count(buf.slice(0, cut));
      buf = buf.slice(cut);
    }
    this.carry = buf;
  }

  /** Ends the text that `feed` was given (nothing happens if nothing was fed since the last end). */
  end(): void {
    if (!this.open) return;
    if (this.carry.length > 0) this.count(this.carry);
    this.carry = '';
    this.open = false;
    this.texts++;
  }

  /**
   * A place at or after `from` where the text can be cut without changing its pre-tokenization, or -1. After a
   * letter or digit, where the next character is ASCII and not of the same class, the pattern's current match has
   * ended (letters and digits are matched by runs that stop there, contractions end in a letter) and the next
   * match starts afresh, as at the start of a text: the pattern looks only ahead, never behind. Requiring ASCII
   * at the cut also keeps combining marks together with what they combine with, for NFC.
   */
  private safeCut(text: string, from: number): number {
    for (let p = from; p < text.length; p++) {
      if (text.charCodeAt(p) >= 128) continue;
      const before = charClass(text, p - 1);
      if (before === 'other' || before === charClass(text, p)) continue;
      if (!this.insideSpecial(text, p)) return p;
    }
    return -1;
  }

  private insideSpecial(text: string, p: number): boolean {
    for (const s of this.specialTokens) {
      const at = text.indexOf(s, Math.max(0, p - s.length + 1));
      if (at >= 0 && at < p) return true;
    }
    return false;
  }

  private count(text: string): void {
    const parts = this.special === null ? [text] : text.split(this.special);
    for (let part of parts) {
      if (this.nfc) part = part.normalize('NFC');
      const words = part.match(GPT2_PRETOKENIZE);
      if (words === null) continue;
      this.words += words.length;
      const counts = this.counts;
      for (const w of words) {
        const n = counts.get(w);
        // A match is a slice that keeps its whole piece of text alive; a new word is stored as a copy, so that
        // memory follows the distinct words, not the text read.
        if (n === undefined) counts.set(detach(w), 1);
        else counts.set(w, n + 1);
      }
    }
  }
}
