import { FactlabError } from '../../tensor/errors.js';
import type { Offset } from './offsets.js';
import { subjectSpanInOffsets, type SubjectSpanOptions, type TokenSpan } from './span.js';
import type { FactTokenizer } from './tokenizer.js';

export interface BatchOptions {
  /** romba pads on the left, so that every row's last token is in the last column. */
  padding: 'left' | 'right';
  /** Default: the tokenizer's padId (EOS, id 0, for GPT-NeoX-20B). */
  padId?: number;
  addSpecialTokens?: boolean;
}

export interface EncodedBatch {
  /** Row-major [B, T]. */
  ids: Int32Array;
  /** 1 on real tokens, 0 on padding. Mamba has no mask, so there the pads are real input. */
  attentionMask: Int32Array;
  shape: [number, number];
  texts: string[];
  /** Per row, the character ranges of that row's own tokens: offsets[r][k] is the token in column k + padOffsets[r]. */
  offsets: Offset[][];
  /** Per row, the column of its first token: its number of left pads, or 0 when padding on the right. */
  padOffsets: number[];
  /** Per row, its number of real tokens. */
  lengths: number[];
}

export function encodeBatch(tok: FactTokenizer, texts: readonly string[], options: BatchOptions): EncodedBatch {
  const { padding } = options;
  if (padding !== 'left' && padding !== 'right') {
    throw new FactlabError(`encodeBatch: padding must be 'left' or 'right', got ${JSON.stringify(padding)}`);
  }
  const padId = options.padId ?? tok.padId;
  if (padId === null || !Number.isInteger(padId) || padId < 0) {
    throw new FactlabError(`encodeBatch: ${tok.source} has no pad or EOS token; pass padId`);
  }
  const rows = texts.map((t) => tok.encode(t, { addSpecialTokens: options.addSpecialTokens }));
  const B = rows.length;
  const T = rows.reduce((m, r) => Math.max(m, r.ids.length), 0);
  const ids = new Int32Array(B * T).fill(padId);
  const attentionMask = new Int32Array(B * T);
  const padOffsets: number[] = [];
  rows.forEach((row, r) => {
    const pad = padding === 'left' ? T - row.ids.length : 0;
    padOffsets.push(pad);
    ids.set(row.ids, r * T + pad);
    attentionMask.fill(1, r * T + pad, r * T + pad + row.ids.length);
  });
  return {
    ids,
    attentionMask,
    shape: [B, T],
    texts: [...texts],
    offsets: rows.map((r) => r.offsets),
    padOffsets,
    lengths: rows.map((r) => r.ids.length),
  };
}

/** A span found in a row's own tokens, moved to that row's columns of the padded batch. */
export function shiftSpan(batch: EncodedBatch, row: number, span: TokenSpan): TokenSpan {
  const pad = batch.padOffsets[row];
  if (pad === undefined) throw new FactlabError(`shiftSpan: row ${row} is outside the batch of ${batch.shape[0]} rows`);
  return { start: span.start + pad, end: span.end + pad };
}

/** The subject's token span in one row, in the padded batch's columns. */
export function batchSubjectSpan(batch: EncodedBatch, row: number, subject: string, options: SubjectSpanOptions = {}): TokenSpan {
  const text = batch.texts[row];
  if (text === undefined) throw new FactlabError(`batchSubjectSpan: row ${row} is outside the batch of ${batch.shape[0]} rows`);
  return shiftSpan(batch, row, subjectSpanInOffsets(text, batch.offsets[row]!, subject, options));
}
