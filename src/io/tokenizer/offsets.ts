/**
 * Character offsets for tokens, computed here because `@huggingface/tokenizers` (JS) returns none.
 *
 * Convention, for every tokenizer:
 * - Offsets are [start, end) in UTF-16 code units of the text given to `encode`, the unit `String#slice` takes.
 * - A token covers every character it carries at least one byte of. Byte-level BPE can split one character
 *   (an emoji, a CJK character, an accented letter) over several tokens: each of those tokens gets the whole
 *   character's range, so neighbouring ranges overlap by that character. A token never covers half a surrogate pair.
 * - Whitespace belongs to the token that carries it (" world" → the range includes the space). This differs from
 *   Hugging Face's `trim_offsets`, and makes the ranges of a plain text tile it with no gaps.
 * - A token that spells nothing of the text (one a post-processor inserted, such as a BOS) gets an empty range
 *   [p, p] at the place it was inserted.
 * - Where the tokenizer's normalizer rewrote the text (NFC, lowercasing, stripping), a token that covers part of a
 *   rewritten stretch covers the whole original stretch.
 */

import { BYTE_OF_CHAR } from './byte-level.js';

/** A token's character range [start, end) in the encoded text. */
export type Offset = [number, number];

/** What the tokens spell, and the range of that string each token spells. */
export interface Surface {
  text: string;
  ranges: Offset[];
}

/** The bytes a byte-level vocabulary entry stands for, or null if it is not written in GPT-2's byte alphabet. */
export function byteLevelTokenBytes(token: string): Uint8Array | null {
  const out = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const b = BYTE_OF_CHAR.get(token[i]!);
    if (b === undefined) return null;
    out[i] = b;
  }
  return out;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The surface of byte-level tokens, located byte by byte, so that a token holding part of a multi-byte character
 * is credited with that character. Null if the bytes are not valid UTF-8 (they always are for `encode`'s output).
 */
export function byteLevelSurface(tokenBytes: readonly Uint8Array[]): Surface | null {
  let total = 0;
  for (const t of tokenBytes) total += t.length;
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const t of tokenBytes) {
    bytes.set(t, at);
    at += t.length;
  }
  let text: string;
  try {
    text = utf8Decoder.decode(bytes);
  } catch {
    return null;
  }
  // For each byte, the UTF-16 range of the character it belongs to.
  const charStart = new Int32Array(total);
  const charEnd = new Int32Array(total);
  let unit = 0;
  for (let b = 0; b < total; ) {
    const lead = bytes[b]!;
    const len = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
    const units = len === 4 ? 2 : 1;
    for (let k = 0; k < len; k++) {
      charStart[b + k] = unit;
      charEnd[b + k] = unit + units;
    }
    b += len;
    unit += units;
  }
  const ranges: Offset[] = [];
  at = 0;
  for (const t of tokenBytes) {
    if (t.length === 0) {
      const p = at < total ? charStart[at]! : text.length;
      ranges.push([p, p]);
    } else {
      ranges.push([charStart[at]!, charEnd[at + t.length - 1]!]);
    }
    at += t.length;
  }
  return { text, ranges };
}

function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

function codePointLength(s: string, i: number): number {
  const c = s.charCodeAt(i);
  return c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? 2 : 1;
}

/**
 * The surface of any tokenizer, found by decoding growing prefixes of the ids: token k spells what the prefix
 * of k+1 tokens adds to the prefix of k. A prefix that ends inside a character decodes it as U+FFFD; the token
 * responsible is then credited with that character, like the byte-level path does. Quadratic in the token count,
 * so it is the fallback for vocabularies that are not byte-level.
 */
export function decodedSurface(count: number, decodePrefix: (k: number) => string): Surface {
  const text = decodePrefix(count);
  const ranges: Offset[] = [];
  let committed = 0;
  for (let k = 1; k <= count; k++) {
    const prefix = k === count ? text : decodePrefix(k);
    const agreed = Math.max(committed, commonPrefixLength(prefix, text));
    let end = agreed;
    if (agreed < text.length && prefix.length > agreed && prefix.charCodeAt(agreed) === 0xfffd) {
      end = agreed + codePointLength(text, agreed);
    }
    ranges.push([committed, end]);
    committed = agreed;
  }
  return { text, ranges };
}

// How many characters must agree again before a rewritten stretch is considered over: one is too few (a single
// common letter inside two different words would end it too early), and rewrites are short.
const RESYNC_RUN = 3;
// How far (in characters of text plus surface) to look for the end of a rewritten stretch.
const RESYNC_REACH = 64;

function sameChar(a: number, b: number): boolean {
  if (a === b) return true;
  // Lowercasing normalizers are common and change no lengths: treat case as equal so they stay one-to-one.
  const ca = String.fromCharCode(a);
  const cb = String.fromCharCode(b);
  return ca.toLowerCase() === cb.toLowerCase();
}

function runMatches(text: string, i: number, surface: string, j: number, len: number): boolean {
  for (let k = 0; k < len; k++) if (!sameChar(text.charCodeAt(i + k), surface.charCodeAt(j + k))) return false;
  return true;
}

/** Where text and surface agree again after a mismatch at (i, j): the nearest point, most balanced first. */
function resync(text: string, i: number, surface: string, j: number): [number, number] | null {
  const n = text.length;
  const m = surface.length;
  const reach = Math.min(RESYNC_REACH, n - i + (m - j));
  for (let d = 1; d <= reach; d++) {
    const mid = Math.floor(d / 2);
    for (let t = 0; t <= d; t++) {
      // mid, mid+1, mid-1, mid+2, ...: substitutions (NFC, accents) are more common than pure insertions.
      const di = t % 2 === 0 ? mid - t / 2 : mid + (t + 1) / 2;
      if (di < 0 || di > d) continue;
      const ii = i + di;
      const jj = j + d - di;
      if (ii > n || jj > m) continue;
      if (ii === n && jj === m) return [ii, jj];
      const len = Math.min(RESYNC_RUN, n - ii, m - jj);
      if (len > 0 && runMatches(text, ii, surface, jj, len)) return [ii, jj];
    }
  }
  return null;
}

/**
 * Maps ranges in the surface onto the original text. The two differ only where the normalizer rewrote something
 * (or a post-processor inserted a token); the alignment walks both strings and pairs each rewritten stretch of
 * the text with the stretch of the surface it became.
 */
export function alignToText(text: string, surface: Surface): Offset[] {
  if (surface.text === text) return surface.ranges.map(([a, b]) => [a, b]);
  const s = surface.text;
  const n = text.length;
  const m = s.length;
  // startAt[j]: text index where surface char j begins; endAt[j]: text index where surface char j-1 ends.
  const startAt = new Int32Array(m + 1);
  const endAt = new Int32Array(m + 1);
  startAt[m] = n;
  endAt[0] = 0;
  const rewritten = (i0: number, i1: number, j0: number, j1: number) => {
    for (let j = j0; j < j1; j++) {
      startAt[j] = i0;
      endAt[j + 1] = i1;
    }
  };
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && sameChar(text.charCodeAt(i), s.charCodeAt(j))) {
      startAt[j] = i;
      endAt[j + 1] = i + 1;
      i++;
      j++;
      continue;
    }
    let next = i < n && j < m ? resync(text, i, s, j) : [n, m] as [number, number];
    // Nothing agrees nearby: pair one character with one and try again after it, so the cost stays linear.
    next ??= [i + 1, j + 1];
    rewritten(i, next[0], j, next[1]);
    i = next[0];
    j = next[1];
  }
  return surface.ranges.map(([a, b]): Offset => {
    if (a >= b) {
      const p = startAt[a]!;
      return [p, p];
    }
    return [startAt[a]!, Math.max(startAt[a]!, endAt[b]!)];
  });
}
