import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { FactlabError } from '../../tensor/errors.js';
import { corpusFromSpec } from '../data/corpus.js';
import { writeJsonAtomic } from '../data/cache.js';
import { buildCatalogue, type CatalogueOptions } from './catalogue.js';
import { makeSplit, writeSplit } from './split.js';
import { trainingStatements } from './statements.js';
import { writeBinaryAtomic, type DataInfo } from './data-dir.js';

export interface PrepareOptions extends Omit<CatalogueOptions, 'sharedDir'> {
  sharedDir: string;
  tokenizerFile: string;
  out: string;
  /** The Wikipedia text, as corpusFromSpec spells it: "enwiki:0,1" (the default: shards 0 and 1), or a file. */
  corpus?: string;
  /** Tokens of whole articles, taken from the end, kept out of training for the validation loss (default 200,000). */
  validTokens?: number;
  heldOutFactFraction?: number;
  onProgress?: (message: string) => void;
}

/** The ids of a text, without offsets (the bulk path: hundreds of megabytes of Wikipedia). */
class IdEncoder {
  private readonly tok: Tokenizer;
  readonly eosId: number;
  readonly vocabSize: number;
  constructor(readonly file: string) {
    if (!existsSync(file)) throw new FactlabError(`${file}: no such tokenizer file`);
    let json: Record<string, unknown>;
    try { json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>; } catch (e) { throw new FactlabError(`${file}: not JSON (${(e as Error).message})`); }
    this.tok = new Tokenizer(json, {});
    const eos = this.tok.token_to_id('<|endoftext|>');
    if (eos === undefined) throw new FactlabError(`${file}: the tokenizer has no <|endoftext|> token, which separates the training documents`);
    this.eosId = eos;
    const model = json.model as { vocab?: Record<string, number> } | undefined;
    const ids = [...Object.values(model?.vocab ?? {}), ...((json.added_tokens as { id: number }[] | undefined) ?? []).map((t) => t.id)];
    this.vocabSize = Math.max(...ids) + 1;
    if (this.vocabSize > 65536) throw new FactlabError(`${file}: a vocabulary of ${this.vocabSize} does not fit the uint16 token files of a data folder`);
  }
  encode(text: string): number[] {
    return this.tok.encode(text, { add_special_tokens: false }).ids;
  }
}

function sha(parts: readonly (string | Uint8Array)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex').slice(0, 16);
}

/**
 * Writes a data folder for `factlab train` (data-dir.ts describes it): the fact catalogue and its split, every
 * training statement tokenized, and Wikipedia articles from the chosen shards, tokenized with the end-of-text
 * token before each. Deterministic: the same shared data, tokenizer and options give the same files.
 */
export async function prepareData(o: PrepareOptions): Promise<DataInfo> {
  const say = o.onProgress ?? (() => {});
  const enc = new IdEncoder(o.tokenizerFile);
  mkdirSync(o.out, { recursive: true });
  const seed = o.seed ?? 0;
  const catalogue = buildCatalogue({ ...o, seed });
  const split = makeSplit(catalogue, seed, o.heldOutFactFraction ?? 0.1);
  const stmts = trainingStatements(catalogue, split);
  say(`${catalogue.facts.length} facts in ${catalogue.relations.length} relations, ${split.heldOutFacts.length} held out; ${stmts.length} training statements`);
  const flat: number[] = [], idx = new Int32Array(stmts.length * 3);
  stmts.forEach((s, k) => {
    const a = enc.encode(s.text), b = enc.encode(` ${s.text}`);
    idx[3 * k] = s.fact; idx[3 * k + 1] = a.length; idx[3 * k + 2] = b.length;
    for (const t of a) flat.push(t);
    for (const t of b) flat.push(t);
  });
  const statementTokens = Uint16Array.from(flat);

  const corpus = corpusFromSpec(o.corpus ?? 'enwiki:0,1', o.sharedDir);
  const docs: Uint16Array[] = [];
  let chars = 0, tokens = 0;
  const t0 = performance.now();
  for await (const d of corpus.documents()) {
    const ids = enc.encode(d);
    const doc = new Uint16Array(ids.length + 1);
    doc[0] = enc.eosId;
    doc.set(ids, 1);
    docs.push(doc);
    chars += d.length; tokens += doc.length;
    if (docs.length % 200 === 0) say(`${corpus.id}: ${docs.length} articles, ${(tokens / 1e6).toFixed(1)}M tokens, ${(chars / tokens).toFixed(2)} characters per token, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  if (docs.length < 2) throw new FactlabError(`${corpus.id}: holds ${docs.length} document(s); training and validation need at least two`);
  const validTarget = o.validTokens ?? 200_000;
  let cut = docs.length, validCount = 0;
  while (cut > 1 && validCount < validTarget) validCount += docs[--cut]!.length;
  const concat = (list: Uint16Array[]) => { const out = new Uint16Array(list.reduce((a, d) => a + d.length, 0)); let at = 0; for (const d of list) { out.set(d, at); at += d.length; } return out; };
  const wikiTrain = concat(docs.slice(0, cut)), wikiValid = concat(docs.slice(cut));

  writeJsonAtomic(join(o.out, 'catalogue.json'), catalogue);
  writeSplit(join(o.out, 'split.json'), split);
  writeBinaryAtomic(join(o.out, 'statements.u16.gz'), statementTokens);
  writeBinaryAtomic(join(o.out, 'statements.idx.gz'), idx);
  writeBinaryAtomic(join(o.out, 'wiki-train.u16.gz'), wikiTrain);
  writeBinaryAtomic(join(o.out, 'wiki-valid.u16.gz'), wikiValid);
  const tokTmp = join(o.out, `tokenizer.json.${process.pid}.tmp`);
  copyFileSync(o.tokenizerFile, tokTmp);
  chmodSync(tokTmp, 0o644);
  renameSync(tokTmp, join(o.out, 'tokenizer.json'));
  const tokenizerBytes = readFileSync(o.tokenizerFile);
  const bytes = (a: Uint16Array | Int32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const info: DataInfo = {
    version: 1,
    fingerprint: sha([tokenizerBytes, JSON.stringify(split), JSON.stringify(catalogue), bytes(statementTokens), bytes(idx), bytes(wikiTrain), bytes(wikiValid)]),
    tokenizerHash: sha([tokenizerBytes]), vocabSize: enc.vocabSize, eosId: enc.eosId,
    wiki: { corpus: corpus.id, trainTokens: wikiTrain.length, trainDocs: cut, validTokens: wikiValid.length, validDocs: docs.length - cut },
    statements: { count: stmts.length, tokens: idx.reduce((a, _, i) => (i % 3 === 1 ? a + idx[i]! : a), 0), facts: new Set(stmts.map((s) => s.fact)).size },
    created: new Date().toISOString(),
  };
  writeJsonAtomic(join(o.out, 'data.json'), info);
  writeFileSync(join(o.out, 'README.txt'), 'Written by `factlab prepare-data`; read by `factlab train --data` (src/methods/organisms/data-dir.ts describes the files).\n');
  return info;
}

/**
 * The training statements as plain text, one per line: with Wikipedia, what the organisms' tokenizer is trained on
 * (factlab train-tokenizer), so that it is fitted to the same mix as the models. Needs no tokenizer.
 */
export function writeStatementsText(o: Omit<PrepareOptions, 'tokenizerFile' | 'out' | 'corpus' | 'validTokens' | 'onProgress'> & { file: string }): { statements: number; facts: number } {
  const seed = o.seed ?? 0;
  const catalogue = buildCatalogue({ ...o, seed });
  const split = makeSplit(catalogue, seed, o.heldOutFactFraction ?? 0.1);
  const stmts = trainingStatements(catalogue, split);
  const tmp = `${o.file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${stmts.map((s) => s.text).join('\n')}\n`);
  renameSync(tmp, o.file);
  return { statements: stmts.length, facts: catalogue.facts.length };
}
