import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FactlabError } from '../../tensor/errors.js';
import { sharedPath, skipWithoutData } from '../shared-data.js';
import { textPrefix } from '../text-stream.js';
import { serializeTokenizerJson, trainByteLevelBpe, WordCounter, type TokenizerJson, type TrainBpeOptions } from './index.js';

// ---- An independent reference: GPT-2's scheme written out plainly, recounting every pair at every merge. ----

const PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** bytes_to_unicode() of GPT-2's encoder.py, transcribed. */
function gpt2ByteChars(): string[] {
  const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
  const bs = [...range(0x21, 0x7e), ...range(0xa1, 0xac), ...range(0xae, 0xff)];
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const out: string[] = new Array(256);
  bs.forEach((b, i) => { out[b] = String.fromCharCode(cs[i]!); });
  return out;
}

/** Text between special tokens, cut leftmost first, the longest at a place. */
function cutSpecials(text: string, specials: readonly string[]): string[] {
  const parts: string[] = [];
  let rest = text;
  for (;;) {
    let at = -1;
    let len = 0;
    for (const s of specials) {
      const i = rest.indexOf(s);
      if (i >= 0 && (at < 0 || i < at || (i === at && s.length > len))) { at = i; len = s.length; }
    }
    if (at < 0) break;
    parts.push(rest.slice(0, at));
    rest = rest.slice(at + len);
  }
  parts.push(rest);
  return parts;
}

function referenceWordCounts(texts: readonly string[], specials: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const part of cutSpecials(text, specials)) for (const w of part.match(PATTERN) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  return counts;
}

/**
 * Naive BPE: count every adjacent pair in every word (weighted by the word's count), merge the most frequent,
 * ties to the smallest (left id, right id); ids are special tokens, the bytes in code-point order, then merges.
 */
function naiveBpe(texts: readonly string[], vocabSize: number, specials: readonly string[], minFrequency: number): { vocab: string[]; merges: string[] } {
  const byteChar = gpt2ByteChars();
  const vocab = [...specials, ...[...byteChar].sort()];
  const id = new Map(vocab.map((t, i) => [t, i]));
  const utf8 = new TextEncoder();
  const words = [...referenceWordCounts(texts, specials)].map(([w, count]) => ({ syms: [...utf8.encode(w)].map((b) => byteChar[b]!), count }));
  const merges: string[] = [];
  while (vocab.length < vocabSize) {
    const pairs = new Map<string, { a: string; b: string; count: number }>();
    for (const { syms, count } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const key = `${syms[i]}\u0000${syms[i + 1]}`;
        const p = pairs.get(key);
        if (p) p.count += count;
        else pairs.set(key, { a: syms[i]!, b: syms[i + 1]!, count });
      }
    }
    let best: { a: string; b: string; count: number } | undefined;
    for (const p of pairs.values()) {
      if (!best || p.count > best.count) { best = p; continue; }
      if (p.count < best.count) continue;
      const [pa, pb, ba, bb] = [id.get(p.a)!, id.get(p.b)!, id.get(best.a)!, id.get(best.b)!];
      if (pa < ba || (pa === ba && pb < bb)) best = p;
    }
    if (!best || best.count < minFrequency) break;
    const merged = best.a + best.b;
    if (!id.has(merged)) {
      id.set(merged, vocab.length);
      vocab.push(merged);
    }
    merges.push(`${best.a} ${best.b}`);
    for (const w of words) {
      const out: string[] = [];
      for (let i = 0; i < w.syms.length; i++) {
        if (i + 1 < w.syms.length && w.syms[i] === best.a && w.syms[i + 1] === best.b) {
          out.push(merged);
          i++;
        } else out.push(w.syms[i]!);
      }
      w.syms = out;
    }
  }
  return { vocab, merges };
}

function assertSameAsReference(json: TokenizerJson, ref: { vocab: string[]; merges: string[] }, where: string) {
  assert.deepEqual(json.model.merges, ref.merges, `${where}: merges`);
  assert.deepEqual(Object.entries(json.model.vocab).sort((a, b) => a[1] - b[1]).map(([t]) => t), ref.vocab, `${where}: vocab`);
}

/** Seeded random words over a tiny alphabet: long runs ("aaaa") and many ties. */
function randomTexts(seed: number, n: number): string[] {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const letters = ['a', 'b', 'c', 'é', '1', "'", ' '];
  return Array.from({ length: n }, () => Array.from({ length: 1 + Math.floor(rand() * 30) }, () => letters[Math.floor(rand() * letters.length)]).join(''));
}

const expectError = async (p: Promise<unknown>, ...parts: string[]) =>
  assert.rejects(p, (e: unknown) => e instanceof FactlabError && parts.every((s) => e.message.includes(s)));

async function enwikiSample(shard: string, chars: number): Promise<string[]> {
  const text = await textPrefix(join(sharedPath('enwiki')!, shard), chars);
  return text.split(/^<doc [^>]*>\n|^<\/doc>\n/m).filter((t) => t.trim() !== '');
}

// ---- Tests ----

test('the same merges, in the same order, as the naive reference on random small corpora', async () => {
  for (let seed = 1; seed <= 12; seed++) {
    const texts = randomTexts(seed, 40);
    const specials = seed % 3 === 0 ? [] : ['<|endoftext|>'];
    const minFrequency = 1 + (seed % 2);
    // Asks for more than the corpus can give: learning ends when no pair is left (or reaches minFrequency).
    const json = await trainByteLevelBpe(texts, { vocabSize: 2000, specialTokens: specials, minFrequency });
    const ref = naiveBpe(texts, 2000, specials, minFrequency);
    assertSameAsReference(json, ref, `seed ${seed}`);
    assert.ok(ref.vocab.length < 2000);
  }
});

test('the same merges as the naive reference on Wikipedia text, to the exact vocabulary size', { skip: skipWithoutData }, async () => {
  const texts = await enwikiSample('shard_00.xz', 60_000);
  const vocabSize = 257 + 400;
  const json = await trainByteLevelBpe(texts, { vocabSize });
  assertSameAsReference(json, naiveBpe(texts, vocabSize, ['<|endoftext|>'], 2), 'enwiki');
  assert.equal(Object.keys(json.model.vocab).length, vocabSize);
});

test('ties go to the smallest left id, then the smallest right id', async () => {
  // Every pair occurs once: "a b" (ids of a, b) beats "x y", and "a b" beats "a c" on the right id.
  const json = await trainByteLevelBpe(['xy', 'ac', 'ab'], { vocabSize: 260, minFrequency: 1 });
  assert.deepEqual(json.model.merges, ['a b', 'a c', 'x y']);
  // A higher count wins over a smaller id.
  const json2 = await trainByteLevelBpe(['xy', 'xy', 'ab'], { vocabSize: 258, minFrequency: 1 });
  assert.deepEqual(json2.model.merges, ['x y']);
});

test('runs of one symbol are merged left to right and counted exactly', async () => {
  // "aaaaa" has (a,a) four times; merging gives [aa, aa, a], where (aa,aa) and (aa,a) tie at one each and "a" has
  // the smaller id; then [aa, aaa] leaves one pair.
  const json = await trainByteLevelBpe(['aaaaa'], { vocabSize: 300, minFrequency: 1 });
  assert.deepEqual(json.model.merges, ['a a', 'aa a', 'aa aaa']);
  assert.deepEqual(Object.keys(json.model.vocab).slice(-3), ['aa', 'aaa', 'aaaaa']);
});

test('word counting in pieces is the same as pre-tokenizing each whole text', () => {
  const texts = [
    ...randomTexts(7, 30),
    "It's 2024: naïve café — 北京市 и Москва, 𝐀𝐁𝐂 letters\n\n\tindented  spaces   here don't we'll",
    'Cafe\u0301 e\u0301 o\u0308 x<|endoftext|>y <|endoftext|><|endoftext|> z',
    'no-spaces-at-all-中文文本没有空格。还有更多的文字123456789',
  ];
  const whole = referenceWordCounts(texts, ['<|endoftext|>']);
  for (const pieceChars of [3, 7, 64]) {
    const counter = new WordCounter({ specialTokens: ['<|endoftext|>'], pieceChars });
    let s = pieceChars;
    for (const text of texts) {
      // Fed in pieces of varying size, cut anywhere (even inside a special token or a surrogate pair's string).
      for (let at = 0; at < text.length; ) {
        const n = 1 + ((s = (s * 31 + 7) % 101) % 13);
        counter.feed(text.slice(at, at + n));
        at += n;
      }
      counter.end();
    }
    assert.deepEqual(new Map([...counter.counts].sort()), new Map([...whole].sort()), `pieceChars ${pieceChars}`);
    assert.equal(counter.texts, texts.length);
  }
});

test('special tokens: ids 0.. in order, never learned from, cut out of the training text', async () => {
  const texts = ['<|endoftext|> The cat<|endoftext|>sat.', '<|pad|><|pad|>The cat sat on the mat.'];
  const json = await trainByteLevelBpe(texts, { vocabSize: 270, specialTokens: ['<|endoftext|>', '<|pad|>'], minFrequency: 1 });
  assert.deepEqual(json.added_tokens.map((t) => [t.id, t.content, t.special, t.normalized]), [[0, '<|endoftext|>', true, false], [1, '<|pad|>', true, false]]);
  assert.equal(json.model.vocab['<|endoftext|>'], 0);
  assert.equal(json.model.vocab['<|pad|>'], 1);
  assert.equal(json.model.vocab['!'], 2);
  assert.ok(!json.model.merges.some((m) => m.includes('|')), 'no merge learned from the special tokens\' characters');
  const defaults = await trainByteLevelBpe(['a'], { vocabSize: 257 });
  assert.deepEqual(defaults.added_tokens.map((t) => t.content), ['<|endoftext|>']);
  assert.equal(Object.keys(defaults.model.vocab).length, 257);
});

test('deterministic: the same file, whatever the order of the texts', async () => {
  const texts = [...randomTexts(3, 200), 'The quick brown fox jumps over the lazy dog. '.repeat(20)];
  const a = serializeTokenizerJson(await trainByteLevelBpe(texts, { vocabSize: 320 }));
  const b = serializeTokenizerJson(await trainByteLevelBpe(texts, { vocabSize: 320 }));
  const c = serializeTokenizerJson(await trainByteLevelBpe([...texts].reverse(), { vocabSize: 320 }));
  assert.equal(a, b);
  assert.equal(a, c);
});

test('async iterables of texts, and progress reports', async () => {
  async function* gen() { yield 'hello hello'; yield 'help'; }
  const seen: string[] = [];
  const json = await trainByteLevelBpe(gen(), { vocabSize: 260, minFrequency: 1, onProgress: (p) => seen.push(p.phase) });
  // "hello", "Ġhello", "help": (h,e) and (e,l) tie at 3 and "e" has the smaller id; then (hel,l) and (l,o) tie.
  assert.deepEqual(json.model.merges.slice(0, 3), ['e l', 'h el', 'l o']);
  assert.deepEqual(seen, ['count', 'count', 'merge']);
});

test('the file lists the vocabulary in id order and parses back to the same object', async () => {
  const json = await trainByteLevelBpe(['1999 2000 1999 7 77 777'], { vocabSize: 262, minFrequency: 1 });
  const text = serializeTokenizerJson(json);
  assert.deepEqual(JSON.parse(text), json);
  const vocabLines = text.slice(text.indexOf('"vocab": {'), text.indexOf('"merges"')).split('\n').slice(1, -2);
  const ids = vocabLines.map((l) => Number(l.slice(l.lastIndexOf(':') + 1).replace(',', '')));
  assert.deepEqual(ids, ids.map((_, i) => i));
});

test('bad options and inputs are one clear error each', async () => {
  const train = (opts: Partial<TrainBpeOptions>, texts: unknown[] = ['x']) => trainByteLevelBpe(texts as string[], { vocabSize: 300, ...opts });
  await expectError(train({ vocabSize: 100 }), 'vocabSize must be an integer from 257', 'got 100');
  await expectError(train({ vocabSize: 300, specialTokens: ['a', 'b'] }), 'specialTokens', '"a"', 'byte symbols');
  await expectError(train({ vocabSize: 257, specialTokens: ['<a>', '<b>'] }), 'from 258', '2 special tokens');
  await expectError(train({ vocabSize: 1000.5 }), 'vocabSize', '1000.5');
  await expectError(train({ specialTokens: ['<s>', '<s>'] }), '"<s>" is given twice');
  await expectError(train({ specialTokens: [''] }), 'specialTokens', 'not a non-empty string');
  await expectError(train({ minFrequency: 0 }), 'minFrequency must be an integer ≥ 1, got 0');
  await expectError(train({}, ['ok', 42]), 'texts: item 1 is number');
  await expectError(train({ vocabSize: 1 << 22 }), 'vocabSize', String(1 << 22));
});
