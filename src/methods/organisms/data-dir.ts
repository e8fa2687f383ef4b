import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { FactlabError } from '../../tensor/errors.js';
import type { Catalogue } from './catalogue.js';
import { readSplit, type Split } from './split.js';

/**
 * A prepared data folder: everything a training run reads, tokenized, so that the GPU machine needs neither the
 * shared data nor a tokenizer pass. Token files are gzip-compressed little-endian uint16 (every vocabulary here is
 * under 65,536): the folder travels to the GPU machine with the code, within its size limit.
 *
 *   data.json        what is here, the tokenizer's fingerprint, counts; its `fingerprint` names the whole folder
 *   tokenizer.json   the tokenizer everything was encoded with
 *   catalogue.json   relations and facts (catalogue.ts)
 *   split.json       held-out templates and facts (split.ts)
 *   statements.u16.gz  every training statement twice: as a document's first sentence, and after a space
 *   statements.idx.gz  int32 per statement: fact, length of the first form, length of the second
 *   wiki-train.u16.gz  Wikipedia articles, each preceded by the end-of-text token
 *   wiki-valid.u16.gz  held-out articles, for the validation loss
 */
export interface DataInfo {
  version: 1;
  fingerprint: string;
  tokenizerHash: string;
  vocabSize: number;
  eosId: number;
  /** The Wikipedia text: its corpus id ("enwiki-0_1"), tokens and articles for training and for validation. */
  wiki: { corpus: string; trainTokens: number; trainDocs: number; validTokens: number; validDocs: number };
  statements: { count: number; tokens: number; facts: number };
  created: string;
}

export interface PreparedData {
  dir: string;
  info: DataInfo;
  catalogue: Catalogue;
  split: Split;
  /** Token ids of statement k's two forms: first[k] (no leading space) and spaced[k]. */
  statements: { fact: Int32Array; first: Uint16Array[]; spaced: Uint16Array[] };
  wikiTrain: Uint16Array;
  wikiValid: Uint16Array;
}

export function writeBinaryAtomic(path: string, data: Uint16Array | Int32Array): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, gzipSync(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { level: 9 }));
  renameSync(tmp, path);
}

function readBinary<T extends Uint16Array | Int32Array>(path: string, make: (b: ArrayBuffer) => T): T {
  if (!existsSync(path)) throw new FactlabError(`${path}: missing from the prepared data folder (run factlab prepare-data again)`);
  let raw: Buffer;
  try { raw = gunzipSync(readFileSync(path)); } catch (e) { throw new FactlabError(`${path}: not a gzip file (${(e as Error).message})`); }
  const copy = new ArrayBuffer(raw.length);
  new Uint8Array(copy).set(raw);
  return make(copy);
}

function readJson<T>(path: string): T {
  if (!existsSync(path)) throw new FactlabError(`${path}: missing (a prepared data folder comes from factlab prepare-data)`);
  try { return JSON.parse(readFileSync(path, 'utf8')) as T; } catch (e) { throw new FactlabError(`${path}: not JSON (${(e as Error).message})`); }
}

export function readDataInfo(dir: string): DataInfo {
  const info = readJson<DataInfo>(join(dir, 'data.json'));
  if (info.version !== 1 || typeof info.fingerprint !== 'string') throw new FactlabError(`${join(dir, 'data.json')}: not a factlab data folder description (version 1)`);
  return info;
}

/** Reads a folder written by prepareData, checking that its parts agree with data.json. */
export function readPreparedData(dir: string): PreparedData {
  const info = readDataInfo(dir);
  const catalogue = readJson<Catalogue>(join(dir, 'catalogue.json'));
  const split = readSplit(join(dir, 'split.json'));
  const idx = readBinary(join(dir, 'statements.idx.gz'), (b) => new Int32Array(b));
  const flat = readBinary(join(dir, 'statements.u16.gz'), (b) => new Uint16Array(b));
  const n = idx.length / 3;
  if (!Number.isInteger(n) || n !== info.statements.count) throw new FactlabError(`${dir}: statements.idx.gz holds ${idx.length / 3} statements, data.json says ${info.statements.count}`);
  const fact = new Int32Array(n), first: Uint16Array[] = [], spaced: Uint16Array[] = [];
  let at = 0;
  for (let k = 0; k < n; k++) {
    fact[k] = idx[3 * k]!;
    const a = idx[3 * k + 1]!, b = idx[3 * k + 2]!;
    first.push(flat.subarray(at, at + a)); at += a;
    spaced.push(flat.subarray(at, at + b)); at += b;
  }
  if (at !== flat.length) throw new FactlabError(`${dir}: statements.u16.gz holds ${flat.length} tokens, its index ${at}`);
  const wikiTrain = readBinary(join(dir, 'wiki-train.u16.gz'), (b) => new Uint16Array(b));
  const wikiValid = readBinary(join(dir, 'wiki-valid.u16.gz'), (b) => new Uint16Array(b));
  if (wikiTrain.length !== info.wiki.trainTokens || wikiValid.length !== info.wiki.validTokens) throw new FactlabError(`${dir}: the Wikipedia token files do not hold the counts data.json gives`);
  return { dir, info, catalogue, split, statements: { fact, first, spaced }, wikiTrain, wikiValid };
}
