import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import xzDecompress from 'xz-decompress';
import { FactlabError } from '../../tensor/errors.js';

/** Text for statistics: documents in a fixed order, and an id that names the corpus in cache keys. */
export interface Corpus {
  id: string;
  documents(): AsyncIterable<string>;
}

/** Documents given in memory (tests, or a user's own texts). */
export function textCorpus(id: string, texts: readonly string[]): Corpus {
  return { id, async *documents() { yield* texts; } };
}

// WikiText marks an article by a first-level heading line " = Title = "; deeper headings have more "=".
const ARTICLE = /^ = [^=].*[^=] = $/;

/**
 * Splits WikiText-103's word-level files into articles. WikiText keeps its tokenised spelling (" , ", " @-@ ");
 * the @-joined number and hyphen marks are undone, since no tokenizer of these models has seen them.
 */
export function wikitextArticles(text: string): string[] {
  const docs: string[] = [];
  let cur: string[] = [];
  for (const line of text.split('\n')) {
    if (ARTICLE.test(line) && cur.some((l) => l.trim() !== '')) { docs.push(cur.join('\n')); cur = []; }
    cur.push(line);
  }
  if (cur.some((l) => l.trim() !== '')) docs.push(cur.join('\n'));
  return docs.map((d) => d.replace(/ @([-,.])@ /g, '$1').trim());
}

/**
 * WikiText-103 (a .tokens file, or a folder of them: the shared copy holds the test, validation and the head of the
 * training split, read in that order).
 */
export function wikitextCorpus(path: string): Corpus {
  if (!existsSync(path)) throw new FactlabError(`corpus ${path} does not exist`);
  const files = statSync(path).isDirectory()
    ? readdirSync(path).filter((f) => f.endsWith('.tokens')).sort((a, b) => order(a) - order(b) || a.localeCompare(b)).map((f) => join(path, f))
    : [path];
  if (files.length === 0) throw new FactlabError(`corpus ${path} holds no .tokens files`);
  return {
    id: `wikitext103-${files.map((f) => basename(f).replace(/\.tokens$/, '')).join('+')}`,
    async *documents() { for (const f of files) yield* wikitextArticles(readFileSync(f, 'utf8')); },
  };
}

const order = (f: string) => (f.includes('test') ? 0 : f.includes('valid') ? 1 : 2);

const DOC_OPEN = /<doc [^>]*>\n?/g;

/** WikiExtractor output: <doc ...> blocks; an unfinished block at the end is returned as the remainder. */
export function splitWikiDocs(text: string): { docs: string[]; rest: string } {
  const docs: string[] = [];
  let at = 0;
  for (;;) {
    DOC_OPEN.lastIndex = at;
    const open = DOC_OPEN.exec(text);
    if (!open) return { docs, rest: '' };
    const end = text.indexOf('</doc>', DOC_OPEN.lastIndex);
    if (end < 0) return { docs, rest: text.slice(open.index) };
    const body = text.slice(DOC_OPEN.lastIndex, end).trim();
    if (body) docs.push(body);
    at = end + '</doc>'.length;
  }
}

/** The decompressed text of one xz file, streamed through a WebAssembly decoder (no native code, no xz binary). */
export async function readXz(file: string): Promise<string> {
  const { XzReadableStream } = xzDecompress as unknown as { XzReadableStream: new (s: WebReadableStream<Uint8Array>) => AsyncIterable<Uint8Array> };
  const chunks: Uint8Array[] = [];
  for await (const c of new XzReadableStream(Readable.toWeb(createReadStream(file)) as WebReadableStream<Uint8Array>)) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * English Wikipedia from the shared enwiki/ shards (xz-compressed WikiExtractor text), in page-id order; a document
 * that straddles two shards is joined. `shards` picks shard numbers (default all, in order).
 */
export function enwikiCorpus(dir: string, shards?: readonly number[]): Corpus {
  if (!existsSync(dir)) throw new FactlabError(`corpus ${dir} does not exist`);
  const all = readdirSync(dir).filter((f) => /^shard_\d+\.xz$/.test(f)).sort();
  if (all.length === 0) throw new FactlabError(`corpus ${dir} holds no shard_NN.xz files`);
  const files = shards ? shards.map((n) => { const f = `shard_${String(n).padStart(2, '0')}.xz`; if (!all.includes(f)) throw new FactlabError(`corpus ${dir} has no ${f}`); return f; }) : all;
  return {
    id: `enwiki-${shards ? shards.join('_') : 'all'}`,
    async *documents() {
      let carry = '';
      for (const f of files) {
        const { docs, rest } = splitWikiDocs(carry + (await readXz(join(dir, f))));
        yield* docs;
        carry = rest;
      }
    },
  };
}

/**
 * A corpus from a command-line spelling: "wikitext103" or "enwiki" (the shared data's copies; "enwiki:0,1" for some
 * shards), a folder of either, a .tokens file, or a text file of one document per blank-line-separated block.
 */
export function corpusFromSpec(spec: string, sharedData: string | null): Corpus {
  const [name, arg] = spec.split(':') as [string, string | undefined];
  const shards = arg ? arg.split(',').map(Number) : undefined;
  if (name === 'wikitext103' || name === 'enwiki') {
    if (!sharedData) throw new FactlabError(`corpus "${name}": the shared data folder was not found (set FACTLAB_SHARED_DATA)`);
    return name === 'enwiki' ? enwikiCorpus(join(sharedData, 'enwiki'), shards) : wikitextCorpus(join(sharedData, 'wikitext103'));
  }
  if (!existsSync(name)) throw new FactlabError(`corpus ${spec}: no such file or folder (use wikitext103, enwiki, or a path)`);
  if (statSync(name).isDirectory()) return readdirSync(name).some((f) => f.endsWith('.xz')) ? enwikiCorpus(name, shards) : wikitextCorpus(name);
  if (name.endsWith('.tokens')) return wikitextCorpus(name);
  const texts = readFileSync(name, 'utf8').split(/\n\s*\n/).map((t) => t.trim()).filter(Boolean);
  return textCorpus(`file-${basename(name)}-${statSync(name).size}`, texts);
}
